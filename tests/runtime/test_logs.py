"""Tests for runtime.logs: line format, routing to files, repeat collapsing, failure containment."""

from __future__ import annotations

import io
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.clock import ManualClock
from runtime.logs import (
    REDACTED,
    LoggingHandle,
    actor_logger,
    redact,
    register_secret,
    safe_file_stem,
    setup_logging,
    status,
    window_log_key,
)

START = datetime(2026, 11, 21, 15, 45, 0, 123000, tzinfo=UTC).timestamp()
WINDOW_ACTOR = "window/BTC-15m-2026-11-21T15:45Z"
WINDOW_FILE = "BTC-15m-2026-11-21T15_45Z.log"


@pytest.fixture(autouse=True)
def isolated_root_logger():
    root = logging.getLogger()
    saved_handlers = tuple(root.handlers)
    saved_level = root.level
    yield
    for handler in tuple(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved_level)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def handle(tmp_path: Path, clock: ManualClock):
    logging_handle = setup_logging(tmp_path, "DEBUG", clock=clock, console=False)
    yield logging_handle
    logging_handle.close()


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def message_of(line: str) -> str:
    """The part of a log line after time, level and actor."""
    return line.split(None, 3)[3]


def main_log(handle: LoggingHandle) -> list[str]:
    return lines_of(handle.log_dir / "polyactor.log")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom in __str__")

    def __repr__(self) -> str:
        raise RuntimeError("boom in __repr__")


class BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


# --- format ----------------------------------------------------------------------------------


def test_an_actor_record_is_one_line_with_utc_time_level_actor_incarnation_event_and_fields(handle):
    actor_logger(WINDOW_ACTOR, 2).info("entry_refused", reason="cap_exceeded", size=Decimal("10"))

    assert main_log(handle) == [
        "2026-11-21T15:45:00.123Z INFO  window/BTC-15m-2026-11-21T15:45Z#2 "
        "entry_refused reason=cap_exceeded size=10"
    ]


def test_field_values_keep_decimal_digits_and_quote_strings_with_spaces_or_newlines(handle):
    actor_logger("risk", 1).warning(
        "reservation_resized",
        price=Decimal("0.50"),
        note="over the cap",
        empty="",
        multi="a\nb",
        side=("UP", 1),
    )

    (line,) = main_log(handle)
    assert line.endswith(
        'WARNING risk#1 reservation_resized price=0.50 note="over the cap" empty="" '
        'multi="a\\nb" side="(\'UP\', 1)"'
    )


def test_a_field_named_event_does_not_clash_with_the_event_argument(handle):
    actor_logger("risk", 1).info("forwarded", event="OrderFilled")

    assert main_log(handle)[0].endswith("risk#1 forwarded event=OrderFilled")


def test_records_from_plain_loggers_show_the_logger_name_and_are_kept_on_one_line(handle):
    logging.getLogger("venues.paper").info("line one\nline two %s", 7)

    assert main_log(handle) == ["2026-11-21T15:45:00.123Z INFO  venues.paper line one\\nline two 7"]


def test_handlers_can_route_on_the_actor_and_incarnation_attributes(handle):
    seen: list[tuple[object, object, object]] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.actor, record.incarnation, record.fields))  # type: ignore[attr-defined]

    spy = Spy()
    logging.getLogger().addHandler(spy)
    actor_logger("position/BTC-15m-2026-11-21T15:45Z/UP", 3).info("filled", size=Decimal("5"))

    assert seen == [("position/BTC-15m-2026-11-21T15:45Z/UP", 3, (("size", "5"),))]


def test_debug_records_below_the_configured_level_are_not_written(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, "INFO", clock=clock, console=False)
    actor_logger("risk", 1).debug("noise")
    actor_logger("risk", 1).info("signal")
    logging_handle.close()

    assert [line.split()[-1] for line in main_log(logging_handle)] == ["signal"]


def test_an_unknown_level_name_is_refused_and_named(tmp_path):
    with pytest.raises(ValueError, match="console_level='LOUD'"):
        setup_logging(tmp_path, "INFO", console_level="LOUD")


def test_the_console_gets_the_same_line_at_its_own_level(tmp_path, clock):
    console = io.StringIO()
    logging_handle = setup_logging(
        tmp_path, "DEBUG", clock=clock, console_stream=console, console_level="WARNING"
    )
    actor_logger("risk", 1).info("quiet")
    actor_logger("risk", 1).warning("loud", level=Decimal("0.9"))
    logging_handle.close()

    assert console.getvalue() == "2026-11-21T15:45:00.123Z WARNING risk#1 loud level=0.9\n"
    assert len(main_log(logging_handle)) == 2


# --- errors file -------------------------------------------------------------------------------


def test_the_errors_file_gets_error_records_with_their_full_traceback_and_nothing_below(handle):
    log = actor_logger(WINDOW_ACTOR, 1)
    log.warning("slow_book")
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        log.exception("score_failed", asset="BTC")

    errors = (handle.log_dir / "errors.log").read_text(encoding="utf-8")
    assert errors.startswith(
        f"2026-11-21T15:45:00.123Z ERROR {WINDOW_ACTOR}#1 score_failed asset=BTC\n"
    )
    assert "Traceback (most recent call last):" in errors
    assert "_ = 1 / 0" in errors
    assert errors.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "slow_book" not in errors
    main = (handle.log_dir / "polyactor.log").read_text(encoding="utf-8")
    assert "slow_book" in main
    assert "ZeroDivisionError: division by zero" in main


# --- per-window files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor_id", "expected"),
    [
        ("window/BTC-15m-2026-11-21T15:45Z", "BTC-15m-2026-11-21T15:45Z"),
        ("position/BTC-15m-2026-11-21T15:45Z/UP", "BTC-15m-2026-11-21T15:45Z"),
        ("position/ETH-1h-x/y/DOWN", "ETH-1h-x/y"),
        ("position/lonely", "lonely"),
        ("window/", None),
        ("risk", None),
        ("windows/not-a-window", None),
    ],
)
def test_window_log_key_is_the_window_part_of_a_window_or_position_actor_id(actor_id, expected):
    assert window_log_key(actor_id) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("BTC-15m-2026-11-21T15:45Z", "BTC-15m-2026-11-21T15_45Z"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "_"),
        ("a b\\c", "a_b_c"),
    ],
)
def test_safe_file_stem_removes_separators_and_dot_names(key, expected):
    assert safe_file_stem(key) == expected


def test_safe_file_stem_bounds_the_length():
    assert len(safe_file_stem("x" * 10_000)) <= 150


def test_window_and_position_records_also_land_in_their_window_file(handle):
    actor_logger(WINDOW_ACTOR, 1).info("window_opened")
    actor_logger("position/BTC-15m-2026-11-21T15:45Z/UP", 1).info("entry_filled")
    actor_logger("window/ETH-5m-2026-11-21T15:50Z", 1).info("other_window")
    actor_logger("risk", 1).info("not_a_window")

    window_lines = lines_of(handle.log_dir / "windows" / WINDOW_FILE)
    assert [message_of(line) for line in window_lines] == ["window_opened", "entry_filled"]
    assert window_lines[1].split()[2] == "position/BTC-15m-2026-11-21T15:45Z/UP#1"
    assert sorted(p.name for p in (handle.log_dir / "windows").iterdir()) == [
        WINDOW_FILE,
        "ETH-5m-2026-11-21T15_50Z.log",
    ]
    assert len(main_log(handle)) == 4


def test_window_files_can_be_turned_off(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, clock=clock, per_window_files=False, console=False)
    actor_logger(WINDOW_ACTOR, 1).info("window_opened")
    logging_handle.close()

    assert not (tmp_path / "windows").exists()
    assert len(main_log(logging_handle)) == 1


def open_descriptors_under(directory: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    count = 0
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith(str(directory)):
            count += 1
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to count descriptors")
def test_open_window_files_are_bounded_and_evicted_files_reopen_in_append_mode(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, clock=clock, console=False, max_open_window_files=4)
    for index in range(10):
        actor_logger(f"window/W{index}", 1).info("opened", index=index)

    assert logging_handle.open_window_files == 4
    assert open_descriptors_under(tmp_path / "windows") == 4
    assert len(list((tmp_path / "windows").iterdir())) == 10

    actor_logger("window/W0", 1).info("again")
    assert open_descriptors_under(tmp_path / "windows") == 4
    logging_handle.close()

    assert open_descriptors_under(tmp_path) == 0
    assert [message_of(line) for line in lines_of(tmp_path / "windows" / "W0.log")] == [
        "opened index=0",
        "again",
    ]


# --- repeats -----------------------------------------------------------------------------------


def test_identical_records_within_the_window_are_collapsed_into_one_counted_line(handle, clock):
    log = actor_logger(WINDOW_ACTOR, 1)
    for _ in range(42):
        log.warning("book_stale", age_s=3)
        clock.advance(0.2)  # 42 records over 8.4 s, inside the 10 s window
    assert main_log(handle) == [
        f"2026-11-21T15:45:00.123Z WARNING {WINDOW_ACTOR}#1 book_stale age_s=3"
    ]

    clock.advance(5.0)
    log.warning("book_stale", age_s=3)

    assert main_log(handle)[1:] == [
        f"2026-11-21T15:45:13.523Z WARNING {WINDOW_ACTOR}#1 book_stale age_s=3 "
        "(repeated 41 times in 8.2s)",
        f"2026-11-21T15:45:13.523Z WARNING {WINDOW_ACTOR}#1 book_stale age_s=3",
    ]
    assert handle.suppressed == 41
    assert handle.records == 43


def test_a_due_repeat_count_is_written_when_any_other_record_arrives(handle, clock):
    logging.getLogger("venues.feed").info("reconnecting")
    logging.getLogger("venues.feed").info("reconnecting")
    clock.advance(11)
    logging.getLogger("actors.risk").info("tick")

    assert [line.split(None, 2)[2] for line in main_log(handle)] == [
        "venues.feed reconnecting",
        "venues.feed reconnecting (repeated 1 times in 0.0s)",
        "actors.risk tick",
    ]


def test_records_differing_in_level_actor_incarnation_or_text_are_not_collapsed(handle):
    actor_logger("risk", 1).info("same")
    actor_logger("risk", 1).warning("same")
    actor_logger("risk", 2).info("same")
    actor_logger("journal", 1).info("same")
    actor_logger("risk", 1).info("same", extra=1)

    assert len(main_log(handle)) == 5
    assert handle.suppressed == 0


def test_pending_repeat_counts_are_written_on_close(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, clock=clock, console=False)
    for _ in range(5):
        actor_logger(WINDOW_ACTOR, 1).error("order_rejected", code=425)
        clock.advance(1)
    logging_handle.close()

    expected_summary = "order_rejected code=425 (repeated 4 times in 4.0s)"
    for path in (
        tmp_path / "polyactor.log",
        tmp_path / "errors.log",
        tmp_path / "windows" / WINDOW_FILE,
    ):
        assert [message_of(line) for line in lines_of(path)] == [
            "order_rejected code=425",
            expected_summary,
        ]


def test_flush_repeats_writes_counts_now_and_starts_a_fresh_window(handle):
    for _ in range(3):
        logging.getLogger("x").info("same")
    handle.flush_repeats()
    logging.getLogger("x").info("same")

    assert [message_of(line) for line in main_log(handle)] == [
        "same",
        "same (repeated 2 times in 0.0s)",
        "same",
    ]


def test_a_zero_repeat_window_disables_collapsing(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, clock=clock, console=False, repeat_window_s=0)
    for _ in range(3):
        logging.getLogger("x").info("same")
    logging_handle.close()

    assert len(main_log(logging_handle)) == 3
    assert logging_handle.suppressed == 0


# --- logging never raises ----------------------------------------------------------------------


def test_a_field_whose_str_raises_is_written_as_a_placeholder_and_counted(handle, capsys):
    actor_logger("risk", 1).info("odd_value", value=Unprintable(), size=Decimal("1"))
    after = "the caller continued"

    assert after == "the caller continued"
    assert main_log(handle)[0].endswith(
        "risk#1 odd_value value=<unprintable Unprintable: RuntimeError> size=1"
    )
    assert handle.errors == 1
    assert "field value(s) whose __str__ raised" in capsys.readouterr().err


def test_a_bad_format_string_is_written_with_its_template_and_counted(handle):
    logging.getLogger("venues.paper").info("%d orders for %s", "many")  # noqa: PLE1206 - the point
    logging.getLogger("venues.paper").info("%s", Unprintable())

    first, second = main_log(handle)
    assert first.endswith("venues.paper %d orders for %s <unformattable: TypeError; args=('many')>")
    assert second.endswith(
        "venues.paper %s <unformattable: RuntimeError; "
        "args=(<unprintable Unprintable: RuntimeError>)>"
    )
    assert handle.errors == 2


def test_an_exception_whose_str_raises_still_logs_its_traceback(handle):
    class Opaque(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    try:
        raise Opaque
    except Opaque:
        actor_logger("risk", 1).exception("crashed")

    errors = (handle.log_dir / "errors.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last):" in errors
    assert "Opaque" in errors


def test_a_console_stream_raising_oserror_does_not_reach_the_caller_or_the_files(
    tmp_path, clock, capsys
):
    logging_handle = setup_logging(tmp_path, clock=clock, console_stream=BrokenStream())
    for index in range(3):
        actor_logger("risk", 1).info("still_running", index=index)
    logging_handle.close()

    assert [line.split()[-1] for line in main_log(logging_handle)] == [
        "index=0",
        "index=1",
        "index=2",
    ]
    assert logging_handle.errors == 3
    reports = capsys.readouterr().err.splitlines()
    assert reports[0] == (
        "polyactor logging: 1 logging failure(s) since the last report (1 in total); "
        "latest in handler console: OSError: [Errno 28] No space left on device"
    )
    # The two failures after the first report are not lost: close() reports them.
    assert reports[1].startswith("polyactor logging: 2 logging failure(s) since the last report")
    assert len(reports) == 2


def test_a_closed_console_stream_does_not_reach_the_caller(tmp_path, clock):
    stream = io.StringIO()
    logging_handle = setup_logging(tmp_path, clock=clock, console_stream=stream)
    stream.close()
    actor_logger("risk", 1).info("after_close")
    logging_handle.close()

    assert logging_handle.errors == 1
    assert main_log(logging_handle)[0].endswith("after_close")


def test_failures_are_reported_on_stderr_at_most_once_a_minute(tmp_path, clock, capsys):
    logging_handle = setup_logging(tmp_path, clock=clock, console_stream=BrokenStream())
    log = actor_logger("risk", 1)
    log.info("a")
    clock.advance(30)
    log.info("b")
    clock.advance(29)
    log.info("c")
    assert len(capsys.readouterr().err.splitlines()) == 1

    clock.advance(1)
    log.info("d")
    report = capsys.readouterr().err
    assert report.startswith(
        "polyactor logging: 3 logging failure(s) since the last report (4 in total)"
    )
    logging_handle.close()
    assert capsys.readouterr().err == ""


def test_a_failing_window_file_keeps_the_record_in_the_main_log(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, clock=clock, console=False)
    (tmp_path / "windows" / "blocked.log").mkdir()  # a directory where the file would go
    actor_logger("window/blocked", 1).info("opened")
    logging_handle.close()

    assert logging_handle.errors == 1
    assert main_log(logging_handle)[0].endswith("window/blocked#1 opened")


# --- secrets -----------------------------------------------------------------------------------


def test_registered_secrets_are_masked_in_messages_args_fields_and_tracebacks(handle):
    secret = secrets.token_hex(16)
    register_secret(secret)
    logging.getLogger("venues.live").info("signing with %s", secret)
    actor_logger("venue", 1).info("auth", key=secret, header=f"Bearer {secret}")
    try:
        raise ValueError(f"bad key {secret}")
    except ValueError:
        actor_logger("venue", 1).exception("auth_failed")

    for name in ("polyactor.log", "errors.log"):
        text = (handle.log_dir / name).read_text(encoding="utf-8")
        assert secret not in text
    main = main_log(handle)
    assert main[0].endswith(f"signing with {REDACTED}")
    assert main[1].endswith(f'auth key={REDACTED} header="Bearer {REDACTED}"')
    assert f"ValueError: bad key {REDACTED}" in (handle.log_dir / "errors.log").read_text(
        encoding="utf-8"
    )


def test_redact_masks_every_registered_secret_and_longer_ones_whole():
    short, long = secrets.token_hex(4), secrets.token_hex(12)
    register_secret(short)
    register_secret(long + short)

    assert redact(f"a={short} b={long}{short} c=plain") == f"a={REDACTED} b={REDACTED} c=plain"


def test_a_secret_too_short_to_mask_is_refused_without_echoing_it():
    with pytest.raises(ValueError, match="3 characters") as raised:
        register_secret("xyz")
    assert "xyz" not in str(raised.value)


def test_status_lines_go_to_stdout_and_the_main_log_but_not_the_console(tmp_path, clock, capsys):
    console = io.StringIO()
    logging_handle = setup_logging(tmp_path, clock=clock, console_stream=console)
    secret = secrets.token_hex(8)
    register_secret(secret)
    status(f"positions=2 pnl=1.50 key={secret}")
    logging_handle.close()

    assert capsys.readouterr().out == f"positions=2 pnl=1.50 key={REDACTED}\n"
    assert main_log(logging_handle) == [
        f"2026-11-21T15:45:00.123Z INFO  polyactor.status positions=2 pnl=1.50 key={REDACTED}"
    ]
    assert console.getvalue() == ""


# --- lifecycle and concurrency -----------------------------------------------------------------


def test_setting_up_again_closes_the_previous_configuration(tmp_path, clock):
    first = setup_logging(tmp_path / "one", clock=clock, console=False)
    second = setup_logging(tmp_path / "two", clock=clock, console=False)
    logging.getLogger("x").info("hello")
    second.close()

    assert first.is_closed
    assert main_log(first) == []
    assert len(main_log(second)) == 1
    assert second.is_closed
    second.close()  # idempotent


def test_records_from_many_threads_are_all_written_whole(tmp_path, clock):
    logging_handle = setup_logging(tmp_path, clock=clock, console=False)
    per_thread = 300

    def worker(number: int) -> None:
        log = actor_logger(f"window/T{number}", 1)
        for index in range(per_thread):
            log.info("tick", index=index)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    logging_handle.close()

    lines = main_log(logging_handle)
    assert len(lines) == 8 * per_thread
    assert all(" tick index=" in line for line in lines)
    assert logging_handle.records == 8 * per_thread
    assert logging_handle.errors == 0
    assert len(lines_of(tmp_path / "windows" / "T3.log")) == per_thread
