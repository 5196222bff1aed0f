"""Process-wide logging: structured one-line records routed to files, never raising into callers.

One responsibility: configure the stdlib root logger so that every record, from our actors or
from libraries, becomes one line

    2026-11-21T15:45:00.123Z INFO  window/BTC-15m-2026-11-21T15:45Z#2 entry_refused reason=cap_exceeded

and lands in `polyactor.log` (everything), `errors.log` (ERROR and above, with tracebacks),
`windows/<window key>.log` (records of a window's actors and of its positions) and the console.

Design notes (why it is shaped like this):

- A single *pipeline* handler sits on the root logger and does the once-per-record work (render
  the message safely, mask secrets, collapse repeats, stamp the clock time), then hands the
  record to its sinks. Logger-level filters would not see records propagated from child loggers,
  and per-handler filters would count one repeat once per file.
- Repeats are collapsed, never dropped (invariant 10): the first record of a (logger, level,
  actor, incarnation, message) passes, identical ones within `repeat_window_s` are counted, and
  the count is written as "<message> (repeated N times in S.Ss)" when the window has passed and
  any record arrives, on `LoggingHandle.flush_repeats()`, and on `close()`.
- Logging never raises into the caller (invariant 10): a message that cannot be formatted is
  written with its raw template and a note; a value whose `__str__` raises is written as a
  placeholder; a sink that fails (closed stream, full disk) is skipped for that record. Every such
  failure increments `LoggingHandle.errors` and is reported on stderr at most once a minute.
  Our handlers override `handleError` and never consult `logging.raiseExceptions`: the stdlib
  either prints a traceback per failure (True) or drops it silently (False), and we want neither.
  The global flag is left as is, so foreign handlers keep the stdlib's behaviour.
- Secrets registered with `register_secret` are masked in the message, the fields and the
  traceback text of every record before any sink sees it (invariant 12).
- Timestamps and the repeat window use the injected `Clock` when one is given, so a paper run at
  100x speed logs simulated time, the same time the journal and window keys use.
- Per-window files are kept open in an LRU of bounded size: a bot running for days sees
  thousands of windows and must not run out of file descriptors.

Actors log through `actor_logger(self.ctx.name, self.ctx.incarnation)`, which puts the actor id
and incarnation in the line and on `record.actor` / `record.incarnation`; one shared stdlib
logger backs all of them, so short-lived window actors do not leak `Logger` objects.
"""

# This module's job is to contain every failure on the logging path (invariant 10), so it
# catches Exception on purpose; each site says what it saves and counts what it caught.
# ruff: noqa: BLE001

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from runtime.clock import Clock

__all__ = [
    "ActorLogger",
    "LoggingHandle",
    "actor_logger",
    "redact",
    "register_secret",
    "render_event",
    "render_fields",
    "safe_file_stem",
    "setup_logging",
    "status",
    "window_log_key",
]

ACTOR_LOGGER_NAME: Final = "polyactor.actor"
STATUS_LOGGER_NAME: Final = "polyactor.status"
MAIN_LOG_NAME: Final = "polyactor.log"
ERRORS_LOG_NAME: Final = "errors.log"
WINDOWS_DIR_NAME: Final = "windows"
REDACTED: Final = "[REDACTED]"
ERROR_REPORT_INTERVAL_S: Final = 60.0
MIN_SECRET_LENGTH: Final = 4
_MAX_FILE_STEM_LENGTH: Final = 150
_WINDOW_PREFIX: Final = "window/"
_POSITION_PREFIX: Final = "position/"
_UNSAFE_FILE_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]")
_NEEDS_QUOTES: Final = re.compile(r'[\s"=]')

# Attributes this module sets on LogRecords. `actor`/`incarnation` are public (handlers route on
# them); the rest are private bookkeeping.
_ACTOR_ATTR: Final = "actor"
_INCARNATION_ATTR: Final = "incarnation"
_FIELDS_ATTR: Final = "fields"
_RENDER_FAILURES_ATTR: Final = "_polyactor_render_failures"
_CLOCK_TIME_ATTR: Final = "_polyactor_time"
_LINE_ATTR: Final = "_polyactor_line"
_PREPARED_ATTR: Final = "_polyactor_prepared"
_STATUS_ATTR: Final = "_polyactor_status"


# --- secrets -----------------------------------------------------------------------------------


class _SecretRegistry:
    """The process's secret values and one compiled pattern that masks all of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        if len(value) < MIN_SECRET_LENGTH:
            # Never echo the value: it is a secret, even when it is a bad one.
            msg = (
                f"a secret of {len(value)} characters is too short to mask without "
                f"mangling every log line (minimum {MIN_SECRET_LENGTH})"
            )
            raise ValueError(msg)
        with self._lock:
            self._values.add(value)
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(REDACTED, text)


_SECRETS: Final = _SecretRegistry()


def register_secret(value: str) -> None:
    """Mask `value` in every log record and every `redact()` call from now on.

    Raises:
        ValueError: the value is shorter than MIN_SECRET_LENGTH characters (masking it would
            mangle ordinary text, and a key that short is broken anyway).
    """
    _SECRETS.register(value)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by REDACTED."""
    return _SECRETS.redact(text)


# --- pure rendering helpers ----------------------------------------------------------------------


def _unprintable(value: object, error: Exception) -> str:
    return f"<unprintable {type(value).__name__}: {type(error).__name__}>"


def _safe_str(value: object) -> tuple[str, bool]:
    """str(value), or a placeholder when its __str__ raises; the flag says whether it failed."""
    try:
        return str(value), False
    except Exception as e:  # a broken __str__ must not take the caller down
        return _unprintable(value, e), True


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as e:  # a broken __repr__ must not take the caller down
        return _unprintable(value, e)


def _quote_if_needed(text: str) -> str:
    if text and _NEEDS_QUOTES.search(text) is None:
        return text
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _render_value(value: object) -> tuple[str, bool]:
    if isinstance(value, Decimal):
        # str, not float(): a price must appear exactly as the Decimal holds it.
        return str(value), False
    text, failed = _safe_str(value)
    if failed:
        return text, True  # the placeholder is ours; quoting it would hide that it is one
    return _quote_if_needed(text), False


def _render_args(args: object) -> str:
    if isinstance(args, tuple):
        return f"({', '.join(_safe_repr(arg) for arg in args)})"
    return _safe_repr(args)


def render_fields(fields: Mapping[str, object]) -> tuple[tuple[tuple[str, str], ...], int]:
    """Each field's value as log text, and how many values could not be converted.

    Decimals appear exactly, strings with spaces, quotes or `=` are quoted and escaped, and a
    value whose `__str__` raises becomes an `<unprintable ...>` placeholder (counted).
    """
    rendered: list[tuple[str, str]] = []
    failures = 0
    for key, value in fields.items():
        text, failed = _render_value(value)
        failures += failed
        rendered.append((key, text))
    return tuple(rendered), failures


def render_event(event: str, rendered_fields: tuple[tuple[str, str], ...]) -> str:
    """`event key=value ...` from fields already rendered by `render_fields`."""
    return " ".join([event, *(f"{key}={text}" for key, text in rendered_fields)])


def window_log_key(actor_id: str) -> str | None:
    """The window whose file an actor's records also go to, or None for non-window actors.

    `window/<key>` -> `<key>`; `position/<key>/<side>` -> `<key>` (everything up to the last `/`).
    """
    if actor_id.startswith(_WINDOW_PREFIX):
        key = actor_id[len(_WINDOW_PREFIX) :]
    elif actor_id.startswith(_POSITION_PREFIX):
        rest = actor_id[len(_POSITION_PREFIX) :]
        head, separator, _side = rest.rpartition("/")
        key = head if separator else rest
    else:
        return None
    return key or None


def safe_file_stem(key: str) -> str:
    """`key` made safe as a file name: no separators, no dot-names, bounded length."""
    stem = _UNSAFE_FILE_CHARS.sub("_", key)[:_MAX_FILE_STEM_LENGTH].strip(".")
    return stem or "_"


def _iso_utc(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


# --- failure accounting ------------------------------------------------------------------------


class _FailureReporter:
    """Counts logging failures and tells stderr about them at most once per interval."""

    def __init__(self, monotonic: Callable[[], float], interval_s: float) -> None:
        self._monotonic = monotonic
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self.count = 0
        self.stderr_failures = 0
        self._unreported = 0
        self._latest = ""
        self._last_report_at: float | None = None

    def record(self, where: str, detail: str) -> None:
        with self._lock:
            self.count += 1
            self._unreported += 1
            self._latest = f"{where}: {detail}"
            now = self._monotonic()
            due = self._last_report_at is None or now - self._last_report_at >= self._interval_s
            if due:
                self._report_locked(now)

    def flush(self) -> None:
        """Report any failures not yet reported, whatever the interval (used at shutdown)."""
        with self._lock:
            if self._unreported:
                self._report_locked(self._monotonic())

    def _report_locked(self, now: float) -> None:
        line = (
            f"polyactor logging: {self._unreported} logging failure(s) since the last report "
            f"({self.count} in total); latest in {redact(self._latest)}\n"
        )
        self._unreported = 0
        self._last_report_at = now
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            # stderr itself is gone; the failure stays visible in LoggingHandle.errors.
            self.stderr_failures += 1


_fallback_reporter = _FailureReporter(time.monotonic, ERROR_REPORT_INTERVAL_S)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "no exception information"
    text, _failed = _safe_str(error)
    return f"{type(error).__name__}: {text}"


def _report_failure(where: str, detail: str) -> None:
    reporter = _active_reporter
    (_fallback_reporter if reporter is None else reporter).record(where, detail)


# --- formatter and sinks -----------------------------------------------------------------------


class OneLineFormatter(logging.Formatter):
    """`<UTC ISO time> <LEVEL> <actor#incarnation or logger> <message>` plus any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        cached = record.__dict__.get(_LINE_ATTR)
        if isinstance(cached, str):
            return cached
        when = record.__dict__.get(_CLOCK_TIME_ATTR, record.created)
        actor = getattr(record, _ACTOR_ATTR, None)
        incarnation = getattr(record, _INCARNATION_ATTR, None)
        if actor is None:
            who = record.name
        elif incarnation is None:
            who = str(actor)
        else:
            who = f"{actor}#{incarnation}"
        line = f"{_iso_utc(when)} {record.levelname:<5} {who} {record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{record.stack_info}"
        if record.__dict__.get(_PREPARED_ATTR):
            # Every sink uses this formatter: format a prepared record once, not once per file.
            record.__dict__[_LINE_ATTR] = line
        return line


class _CountingHandlerMixin:
    """Sends a handler's failures to the failure reporter instead of the stdlib's handleError."""

    name: str | None

    def handleError(self, record: logging.LogRecord) -> None:
        _report_failure(f"handler {self.name}", _describe(sys.exc_info()[1]))


class _FileSink(_CountingHandlerMixin, logging.FileHandler):
    pass


class _StreamSink(_CountingHandlerMixin, logging.StreamHandler):  # type: ignore[type-arg]
    pass


class _NotStatusFilter(logging.Filter):
    """Status lines already went to stdout; the console does not print them twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.__dict__.get(_STATUS_ATTR, False)


class _WindowFileRouter(_CountingHandlerMixin, logging.Handler):
    """Appends window and position records to `windows/<window key>.log`, via a bounded LRU."""

    def __init__(self, directory: Path, formatter: logging.Formatter, max_open: int) -> None:
        super().__init__()
        self.name = "window-files"
        self._directory = directory
        self._formatter = formatter
        self._max_open = max_open
        self._open: OrderedDict[str, _FileSink] = OrderedDict()

    @property
    def open_file_count(self) -> int:
        return len(self._open)

    def emit(self, record: logging.LogRecord) -> None:
        actor = getattr(record, _ACTOR_ATTR, None)
        if not isinstance(actor, str):
            return
        key = window_log_key(actor)
        if key is None:
            return
        try:
            self._sink_for(safe_file_stem(key)).handle(record)
        except Exception:  # an unopenable file loses only this copy; the main log has it
            self.handleError(record)

    def _sink_for(self, stem: str) -> _FileSink:
        sink = self._open.get(stem)
        if sink is not None:
            self._open.move_to_end(stem)
            return sink
        while len(self._open) >= self._max_open:
            _stem, oldest = self._open.popitem(last=False)
            oldest.close()
        sink = _FileSink(self._directory / f"{stem}.log", encoding="utf-8")
        sink.name = f"window-file {stem}"
        sink.setFormatter(self._formatter)
        self._open[stem] = sink
        return sink

    def flush(self) -> None:
        for sink in self._open.values():
            sink.flush()

    def close(self) -> None:
        while self._open:
            _stem, sink = self._open.popitem(last=False)
            sink.close()
        super().close()


# --- the pipeline --------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _PendingRepeat:
    """A message seen once in the current window, and how many identical copies were held back."""

    first_at: float
    last_at: float
    suppressed: int
    template: logging.LogRecord


_RepeatKey = tuple[str, int, object, object, str]


class _PipelineHandler(logging.Handler):
    """The root handler: prepares each record once, collapses repeats, fans out to the sinks."""

    def __init__(
        self,
        *,
        sinks: tuple[logging.Handler, ...],
        reporter: _FailureReporter,
        now: Callable[[], float],
        monotonic: Callable[[], float],
        repeat_window_s: float,
    ) -> None:
        super().__init__()
        self.name = "polyactor-pipeline"
        self._sinks = sinks
        self._reporter = reporter
        self._now = now
        self._monotonic = monotonic
        self._repeat_window_s = repeat_window_s
        # Insertion order is first-seen order, and every window has the same length, so the
        # entries expire front to back: sweeping is a peek at the head.
        self._pending: OrderedDict[_RepeatKey, _PendingRepeat] = OrderedDict()
        self.records = 0
        self.suppressed = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self._reporter.record("handler polyactor-pipeline", _describe(sys.exc_info()[1]))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records += 1
            self._prepare(record)
            now = self._monotonic()
            self._emit_expired_repeats(now)
            if self._is_repeat(record, now):
                self.suppressed += 1
                return
            self._dispatch(record)
        except Exception:  # last line of defence: logging never raises into the caller
            self.handleError(record)

    def flush_repeats(self) -> None:
        """Write every pending repeat count now and start fresh windows."""
        self.acquire()
        try:
            pending = tuple(self._pending.values())
            self._pending.clear()
            for entry in pending:
                self._emit_summary(entry)
        except Exception as e:  # flushing is part of the logging path: it never raises either
            self._reporter.record("flushing repeat counts", _describe(e))
        finally:
            self.release()

    def flush(self) -> None:
        for sink in self._sinks:
            try:
                sink.flush()
            except Exception as e:  # a sink that cannot flush is counted, the rest still flush
                self._reporter.record(f"flush of {sink.name}", _describe(e))

    def close(self) -> None:
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as e:  # a sink that cannot close is counted, the rest still close
                self._reporter.record(f"close of {sink.name}", _describe(e))
        super().close()

    def _prepare(self, record: logging.LogRecord) -> None:
        attrs = record.__dict__
        if attrs.get(_PREPARED_ATTR):
            return
        problems: list[str] = []
        unprintable_fields = int(attrs.get(_RENDER_FAILURES_ATTR, 0))
        if unprintable_fields:
            problems.append(f"{unprintable_fields} field value(s) whose __str__ raised")
        try:
            message = record.getMessage()
        except Exception as e:  # bad %-args or a raising __str__: keep the template, note why
            problems.append(f"message could not be formatted: {_describe(e)}")
            template, _failed = _safe_str(record.msg)
            message = (
                f"{template} <unformattable: {type(e).__name__}; args={_render_args(record.args)}>"
            )
        record.msg = _one_line(redact(message))
        record.args = ()
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            except Exception as e:  # a traceback we cannot render must not lose the record
                problems.append(f"traceback could not be rendered: {_describe(e)}")
                record.exc_text = f"<traceback unavailable: {type(e).__name__}>"
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        fields = attrs.get(_FIELDS_ATTR)
        if isinstance(fields, tuple):
            attrs[_FIELDS_ATTR] = tuple((key, redact(value)) for key, value in fields)
        attrs.setdefault(_ACTOR_ATTR, None)
        attrs.setdefault(_INCARNATION_ATTR, None)
        attrs[_CLOCK_TIME_ATTR] = self._now()
        attrs[_PREPARED_ATTR] = True
        for problem in problems:
            self._reporter.record(f"a record of logger {record.name}", problem)

    def _is_repeat(self, record: logging.LogRecord, now: float) -> bool:
        if self._repeat_window_s <= 0:
            return False
        key: _RepeatKey = (
            record.name,
            record.levelno,
            record.__dict__[_ACTOR_ATTR],
            record.__dict__[_INCARNATION_ATTR],
            str(record.msg),
        )
        entry = self._pending.get(key)
        if entry is None:
            self._pending[key] = _PendingRepeat(
                first_at=now, last_at=now, suppressed=0, template=record
            )
            return False
        entry.suppressed += 1
        entry.last_at = now
        return True

    def _emit_expired_repeats(self, now: float) -> None:
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if now - entry.first_at < self._repeat_window_s:
                return
            del self._pending[key]
            self._emit_summary(entry)

    def _emit_summary(self, entry: _PendingRepeat) -> None:
        if entry.suppressed == 0:
            return
        summary = logging.makeLogRecord(dict(entry.template.__dict__))
        span_s = entry.last_at - entry.first_at
        summary.msg = f"{entry.template.msg} (repeated {entry.suppressed} times in {span_s:.1f}s)"
        summary.args = ()
        summary.exc_info = None
        summary.exc_text = None
        summary.stack_info = None
        summary.__dict__[_CLOCK_TIME_ATTR] = self._now()
        summary.__dict__.pop(_LINE_ATTR, None)
        self._dispatch(summary)

    def _dispatch(self, record: logging.LogRecord) -> None:
        for sink in self._sinks:
            if record.levelno < sink.level:
                continue
            try:
                sink.handle(record)
            except Exception as e:  # one broken sink must not starve the others
                self._reporter.record(f"handler {sink.name}", _describe(e))


# --- public API --------------------------------------------------------------------------------


class LoggingHandle:
    """What `setup_logging` returns: counters for the summary, and `close()` for shutdown.

    `records` counts every record that reached the pipeline, `suppressed` how many of those
    were collapsed into a repeat count, `errors` every logging failure (unformattable message,
    unprintable value, failed sink write).
    """

    def __init__(
        self,
        *,
        pipeline: _PipelineHandler,
        reporter: _FailureReporter,
        window_router: _WindowFileRouter | None,
        log_dir: Path,
    ) -> None:
        self._pipeline = pipeline
        self._reporter = reporter
        self._window_router = window_router
        self.log_dir = log_dir
        self._closed = False

    @property
    def records(self) -> int:
        return self._pipeline.records

    @property
    def suppressed(self) -> int:
        return self._pipeline.suppressed

    @property
    def errors(self) -> int:
        return self._reporter.count

    @property
    def open_window_files(self) -> int:
        return 0 if self._window_router is None else self._window_router.open_file_count

    @property
    def is_closed(self) -> bool:
        return self._closed

    def flush_repeats(self) -> None:
        """Write every pending "(repeated N times ...)" line now, due or not."""
        self._pipeline.flush_repeats()
        self._pipeline.flush()

    def close(self) -> None:
        """Write pending repeat counts, report unreported failures, close every file. Idempotent."""
        global _active_handle, _active_reporter  # noqa: PLW0603 - one logging configuration per process
        if self._closed:
            return
        self._closed = True
        # Detach first, then flush under the pipeline lock: a record logged concurrently either
        # made it in before (and its repeat count is flushed) or goes only to other handlers.
        logging.getLogger().removeHandler(self._pipeline)
        self._pipeline.flush_repeats()
        self._pipeline.flush()
        self._pipeline.close()
        self._reporter.flush()
        with _setup_lock:
            if _active_handle is self:
                _active_handle = None
                _active_reporter = None


_setup_lock: Final = threading.Lock()
_active_handle: LoggingHandle | None = None
_active_reporter: _FailureReporter | None = None


def _level_number(level: str, *, parameter: str) -> int:
    levels = logging.getLevelNamesMapping()
    number = levels.get(level.upper())
    if number is None:
        msg = f"{parameter}={level!r} is not a logging level; expected one of {sorted(levels)}"
        raise ValueError(msg)
    return number


QUIET_LIBRARIES = {
    # One INFO line per HTTP request drowns the bot's own lines.
    "httpx": logging.WARNING,
    # It logs every non-200 answer at ERROR, expected refusals included (a FAK that found no
    # match, a cancel of an order already gone); the venue gateway reports what matters.
    "py_clob_client_v2": logging.CRITICAL,
}


def _install(pipeline: logging.Handler, root_level: int) -> None:
    root = logging.getLogger()
    root.setLevel(root_level)
    root.addHandler(pipeline)
    for library, library_level in QUIET_LIBRARIES.items():
        logging.getLogger(library).setLevel(library_level)


def setup_logging(
    log_dir: Path,
    level: str = "INFO",
    *,
    repeat_window_s: float = 10.0,
    per_window_files: bool = True,
    clock: Clock | None = None,
    console: bool = True,
    console_level: str | None = None,
    console_stream: TextIO | None = None,
    max_open_window_files: int = 64,
) -> LoggingHandle:
    """Configure the root logger for the whole process and return the handle that closes it.

    Calling it again closes the previous configuration first. Handlers that others put on the
    root logger (pytest's caplog, a debugger) are left in place.

    Args:
        log_dir: created if missing; holds polyactor.log, errors.log and windows/.
        level: the root level (DEBUG, INFO, ...).
        repeat_window_s: identical records within this many seconds are collapsed; 0 disables.
        per_window_files: also write window and position records to windows/<key>.log.
        clock: time source for timestamps and the repeat window; wall time when None.
        console: also write records to `console_stream` (stderr by default).
        console_level: the console's own level; `level` when None.
        console_stream: where console lines go; sys.stderr (as of this call) when None.
        max_open_window_files: how many window files stay open at once (least recently used
            are closed and reopened in append mode on their next record).
    """
    global _active_handle, _active_reporter  # noqa: PLW0603 - one logging configuration per process
    root_level = _level_number(level, parameter="level")
    shown_level = (
        root_level
        if console_level is None
        else _level_number(console_level, parameter="console_level")
    )
    if repeat_window_s < 0:
        msg = f"repeat_window_s must be >= 0, got {repeat_window_s!r}"
        raise ValueError(msg)
    if max_open_window_files < 1:
        msg = f"max_open_window_files must be >= 1, got {max_open_window_files!r}"
        raise ValueError(msg)

    with _setup_lock:
        previous = _active_handle
    if previous is not None:
        previous.close()

    if clock is None:
        now: Callable[[], float] = time.time
        monotonic: Callable[[], float] = time.monotonic
    else:
        now = clock.now
        monotonic = clock.monotonic
    reporter = _FailureReporter(monotonic, ERROR_REPORT_INTERVAL_S)
    formatter = OneLineFormatter()
    log_dir.mkdir(parents=True, exist_ok=True)

    main_file = _FileSink(log_dir / MAIN_LOG_NAME, encoding="utf-8")
    main_file.name = "main-file"
    errors_file = _FileSink(log_dir / ERRORS_LOG_NAME, encoding="utf-8")
    errors_file.name = "errors-file"
    errors_file.setLevel(logging.ERROR)
    sinks: list[logging.Handler] = [main_file, errors_file]
    window_router = None
    if per_window_files:
        windows_dir = log_dir / WINDOWS_DIR_NAME
        windows_dir.mkdir(exist_ok=True)
        window_router = _WindowFileRouter(windows_dir, formatter, max_open_window_files)
        sinks.append(window_router)
    if console:
        console_sink = _StreamSink(sys.stderr if console_stream is None else console_stream)
        console_sink.name = "console"
        console_sink.setLevel(shown_level)
        console_sink.addFilter(_NotStatusFilter())
        sinks.append(console_sink)
    for sink in sinks:
        sink.setFormatter(formatter)

    pipeline = _PipelineHandler(
        sinks=tuple(sinks),
        reporter=reporter,
        now=now,
        monotonic=monotonic,
        repeat_window_s=repeat_window_s,
    )
    handle = LoggingHandle(
        pipeline=pipeline, reporter=reporter, window_router=window_router, log_dir=log_dir
    )
    _install(pipeline, root_level)
    with _setup_lock:
        _active_handle = handle
        _active_reporter = reporter
    return handle


class ActorLogger:
    """Structured logging for one actor incarnation: `log.info("entry_refused", reason="cap")`.

    Every method takes the event name positionally and the fields as keywords, renders them as
    `event key=value ...` (Decimals exactly, strings with spaces quoted, unprintable values as a
    placeholder) and never raises.
    """

    __slots__ = ("_logger", "actor", "incarnation")

    def __init__(self, actor: str, incarnation: int, logger: logging.Logger) -> None:
        self.actor = actor
        self.incarnation = incarnation
        self._logger = logger

    def debug(self, event: str, /, **fields: object) -> None:
        self._log(logging.DEBUG, event, fields, with_traceback=False)

    def info(self, event: str, /, **fields: object) -> None:
        self._log(logging.INFO, event, fields, with_traceback=False)

    def warning(self, event: str, /, **fields: object) -> None:
        self._log(logging.WARNING, event, fields, with_traceback=False)

    def error(self, event: str, /, **fields: object) -> None:
        self._log(logging.ERROR, event, fields, with_traceback=False)

    def exception(self, event: str, /, **fields: object) -> None:
        """Log at ERROR with the traceback of the exception being handled."""
        self._log(logging.ERROR, event, fields, with_traceback=True)

    def _log(
        self, level: int, event: str, fields: Mapping[str, object], *, with_traceback: bool
    ) -> None:
        try:
            if not self._logger.isEnabledFor(level):
                return
            rendered_fields, failures = render_fields(fields)
            text = render_event(event, rendered_fields)
            # The rendered text is the message (no %-args), so foreign handlers such as pytest's
            # caplog see the same line our files do.
            self._logger.log(
                level,
                text,
                exc_info=with_traceback,
                stacklevel=3,
                extra={
                    _ACTOR_ATTR: self.actor,
                    _INCARNATION_ATTR: self.incarnation,
                    _FIELDS_ATTR: rendered_fields,
                    _RENDER_FAILURES_ATTR: failures,
                },
            )
        except Exception as e:  # logging never raises into an actor's handler
            _report_failure(f"actor logger {self.actor}#{self.incarnation}", _describe(e))


def actor_logger(name: str, incarnation: int) -> ActorLogger:
    """The structured logger for actor `name` in its `incarnation` (use `self.ctx` for both)."""
    return ActorLogger(name, incarnation, logging.getLogger(ACTOR_LOGGER_NAME))


def status(line: str) -> None:
    """Write the periodic status line to stdout and to the main log (not to the console)."""
    visible = redact(line)
    try:
        sys.stdout.write(f"{visible}\n")
        sys.stdout.flush()
    except (OSError, ValueError) as e:  # a closed stdout must not stop the bot
        _report_failure("status line on stdout", _describe(e))
    try:
        logging.getLogger(STATUS_LOGGER_NAME).info(visible, extra={_STATUS_ATTR: True})
    except Exception as e:  # logging never raises into the caller
        _report_failure("status line in the log", _describe(e))
