"""Config actor: hot reload to subscribers, invalid edits rejected, restart keys named."""

import logging
import queue
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from actors.config import ConfigActor
from config.loader import load_settings
from config.messages import ConfigChanged, GetSettings, Subscribe, Unsubscribe
from config.settings import Settings
from runtime.api import Actor
from runtime.clock import ManualClock, RealClock, SimulatedClock
from runtime.deterministic import DeterministicRuntime
from runtime.pykka_backend import PykkaRuntime

POLL_S = 0.5
BASE = "status_interval_s: 60\nrisk:\n  max_position_pct: 10\n"


class Recorder(Actor):
    """A subscriber that keeps every `ConfigChanged` it is told."""

    def __init__(self, inbox):
        self.inbox = inbox

    def receive(self, message):
        match message:
            case ConfigChanged():
                if isinstance(self.inbox, list):
                    self.inbox.append(message)
                else:
                    self.inbox.put((time.monotonic(), message))
                return None
            case _:
                return super().receive(message)


@pytest.fixture
def runtime():
    rt = DeterministicRuntime(ManualClock())
    yield rt
    rt.shutdown()


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = tmp_path / "polyactor.yaml"
    path.write_text(BASE, encoding="utf-8")
    return path


def start(runtime, path, *, subscribe=("recorder",), **kwargs):
    """Spawn the config actor and a recorder; return (config ref, recorder inbox)."""
    inbox: list[ConfigChanged] = []
    runtime.spawn(lambda: Recorder(inbox), name="recorder")
    settings = load_settings(path, kwargs.get("overrides", {}))
    config = runtime.spawn(lambda: ConfigActor(path, settings, POLL_S, **kwargs), name="config")
    for name in subscribe:
        config.ask(Subscribe(name=name))
    runtime.advance(POLL_S)  # the first poll re-reads the file as it is at start
    return config, inbox


def edit(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_subscribing_replies_with_the_settings_in_force(runtime, config_path):
    config, _ = start(runtime, config_path, subscribe=())
    settings = config.ask(Subscribe(name="recorder"))
    assert settings.risk.max_position_pct == Decimal(10)
    assert config.ask(GetSettings()) == settings


def test_an_unchanged_file_announces_nothing(runtime, config_path):
    _, inbox = start(runtime, config_path)
    runtime.advance(10 * POLL_S)
    assert inbox == []


def test_a_hot_edit_reaches_subscribers_within_two_polls(runtime, config_path):
    config, inbox = start(runtime, config_path)
    edit(config_path, BASE.replace("max_position_pct: 10", "max_position_pct: 15"))
    runtime.advance(2 * POLL_S)
    (change,) = inbox
    assert change.changed == ("risk.max_position_pct",)
    assert change.needs_restart == ()
    assert change.settings.risk.max_position_pct == Decimal(15)
    assert config.ask(GetSettings()) == change.settings


def test_a_file_caught_half_written_is_not_applied_before_it_settles(runtime, config_path):
    _, inbox = start(runtime, config_path)
    edit(config_path, "")  # an editor truncating: valid YAML that would reset every key
    runtime.advance(POLL_S)
    edit(config_path, BASE.replace("max_position_pct: 10", "max_position_pct: 12"))
    runtime.advance(2 * POLL_S)
    assert [c.settings.risk.max_position_pct for c in inbox] == [Decimal(12)]


def test_an_invalid_edit_is_logged_and_the_old_config_stays_in_force(runtime, config_path, caplog):
    config, inbox = start(runtime, config_path)
    before = config.ask(GetSettings())
    with caplog.at_level(logging.ERROR, logger="actors.config"):
        edit(config_path, BASE + "journal:\n  batch_size: lots\n")
        runtime.advance(2 * POLL_S)
    assert inbox == []
    assert config.ask(GetSettings()) == before
    assert "journal.batch_size: expected an integer, got 'lots'" in caplog.text
    assert "the config in force stays" in caplog.text
    edit(config_path, BASE.replace("max_position_pct: 10", "max_position_pct: 11"))
    runtime.advance(2 * POLL_S)
    assert [c.changed for c in inbox] == [("risk.max_position_pct",)]


def test_an_inverted_threshold_in_an_edit_is_rejected(runtime, config_path, caplog):
    config, inbox = start(runtime, config_path)
    with caplog.at_level(logging.ERROR, logger="actors.config"):
        edit(config_path, BASE + "  halt_drawdown_pct: 2\n")
        runtime.advance(2 * POLL_S)
    assert inbox == []
    assert config.ask(GetSettings()).risk.halt_drawdown_pct == Decimal(12)
    assert "risk.halt_drawdown_pct=2" in caplog.text


def test_a_restart_key_is_reported_by_name_and_not_applied(runtime, config_path, caplog):
    config, inbox = start(runtime, config_path)
    with caplog.at_level(logging.WARNING, logger="actors.config"):
        edit(config_path, BASE.replace("10", "20") + "journal:\n  path: elsewhere.duckdb\n")
        runtime.advance(2 * POLL_S)
    assert "config#1: journal.path changed; restart to apply" in caplog.text
    (change,) = inbox
    assert change.changed == ("risk.max_position_pct",)
    assert change.needs_restart == ("journal.path",)
    assert change.settings.journal.path == Path("data/journal.duckdb")
    assert change.settings.risk.max_position_pct == Decimal(20)
    assert config.ask(GetSettings()).journal.path == Path("data/journal.duckdb")


def test_an_edit_of_restart_keys_only_is_logged_and_announces_nothing(runtime, config_path, caplog):
    config, inbox = start(runtime, config_path)
    with caplog.at_level(logging.WARNING, logger="actors.config"):
        edit(config_path, BASE + "mode: replay\n")
        runtime.advance(2 * POLL_S)
    assert "mode changed; restart to apply" in caplog.text
    assert inbox == []
    assert config.ask(GetSettings()).mode == "paper"


def test_command_line_overrides_keep_winning_after_a_reload(runtime, config_path):
    config, inbox = start(runtime, config_path, overrides={"status_interval_s": 7})
    edit(config_path, BASE.replace("60", "30").replace("10", "13"))
    runtime.advance(2 * POLL_S)
    (change,) = inbox
    assert change.changed == ("risk.max_position_pct",)
    assert config.ask(GetSettings()).status_interval_s == 7.0


def test_a_dead_subscriber_is_skipped_and_hears_later_changes_once_back(runtime, config_path):
    config, inbox = start(runtime, config_path, subscribe=("ghost", "recorder"))
    edit(config_path, BASE.replace("10", "14"))
    runtime.advance(2 * POLL_S)
    assert len(inbox) == 1
    assert config.is_alive()
    ghost_inbox: list[ConfigChanged] = []
    runtime.spawn(lambda: Recorder(ghost_inbox), name="ghost")
    edit(config_path, BASE.replace("10", "16"))
    runtime.advance(2 * POLL_S)
    assert [c.settings.risk.max_position_pct for c in ghost_inbox] == [Decimal(16)]


def test_a_restarted_subscriber_keeps_its_subscription(runtime, config_path):
    config, _ = start(runtime, config_path, subscribe=("recorder",))
    runtime.lookup("recorder").stop()
    second_life: list[ConfigChanged] = []
    runtime.spawn(lambda: Recorder(second_life), name="recorder", incarnation=2)
    edit(config_path, BASE.replace("10", "17"))
    runtime.advance(2 * POLL_S)
    assert len(second_life) == 1
    assert config.is_alive()


def test_an_unsubscribed_actor_hears_nothing(runtime, config_path):
    config, inbox = start(runtime, config_path)
    config.tell(Unsubscribe(name="recorder"))
    edit(config_path, BASE.replace("10", "18"))
    runtime.advance(2 * POLL_S)
    assert inbox == []


def test_subscribers_given_at_start_are_told_without_subscribing(runtime, config_path):
    _, inbox = start(runtime, config_path, subscribe=(), subscribers=("recorder",))
    edit(config_path, BASE.replace("10", "19"))
    runtime.advance(2 * POLL_S)
    assert len(inbox) == 1


def test_a_deleted_file_is_logged_and_the_config_stays_in_force(runtime, config_path, caplog):
    config, inbox = start(runtime, config_path)
    with caplog.at_level(logging.ERROR, logger="actors.config"):
        config_path.unlink()
        runtime.advance(2 * POLL_S)
    assert "cannot read config file" in caplog.text
    assert config.is_alive()
    assert config.ask(GetSettings()).risk.max_position_pct == Decimal(10)
    assert inbox == []


def test_the_poll_interval_is_kept_in_real_seconds_on_a_sped_up_clock(config_path):
    actor = ConfigActor(config_path, Settings(), POLL_S)
    actor.ctx = SimpleNamespace(clock=SimulatedClock(start=0.0, speed=100.0))
    assert actor._poll_delay_s() == pytest.approx(50.0)  # 50 simulated s = 0.5 real s
    actor.ctx = SimpleNamespace(clock=ManualClock())
    assert actor._poll_delay_s() == POLL_S


def test_a_non_positive_poll_interval_is_refused(config_path):
    with pytest.raises(ValueError, match="poll_interval_s must be > 0, got 0"):
        ConfigActor(config_path, Settings(), 0)


@pytest.mark.integration
def test_editing_the_real_file_reaches_a_subscribed_pykka_actor_within_two_seconds(config_path):
    runtime = PykkaRuntime(RealClock())
    try:
        inbox: queue.Queue = queue.Queue()
        runtime.spawn(lambda: Recorder(inbox), name="recorder")
        settings = load_settings(config_path)
        config = runtime.spawn(lambda: ConfigActor(config_path, settings), name="config")
        config.ask(Subscribe(name="recorder"), timeout_s=2.0)
        time.sleep(0.6)  # past the first poll, which re-reads the file as it was at start
        edited_at = time.monotonic()
        edit(config_path, BASE.replace("max_position_pct: 10", "max_position_pct: 22"))
        received_at, change = inbox.get(timeout=2.0)
        assert received_at - edited_at < 2.0
        assert change.settings.risk.max_position_pct == Decimal(22)
        assert config.ask(GetSettings(), timeout_s=2.0) == change.settings
    finally:
        runtime.shutdown()
