"""The config actor: watches the YAML file and pushes validated, applicable changes to subscribers.

A thin shell over `config.loader` (validation) and `config.diff` (what changed, what may be
applied live). It polls on its own runtime timer; it has no thread of its own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pydantic import ValidationError

from config.diff import apply_hot, diff_settings
from config.errors import ConfigError
from config.loader import settings_from_text
from config.messages import ConfigChanged, GetSettings, Subscribe, Unsubscribe
from config.settings import Settings
from runtime.api import Actor, ActorDead, Timer

__all__ = ["ConfigActor", "PollConfigFile"]

log = logging.getLogger(__name__)

_NO_OVERRIDES: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class PollConfigFile:
    """The actor's own timer tick: look at the file again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _FileSnapshot:
    """What one poll saw. `fingerprint` covers mtime, size and content, so an edit that keeps
    the size and lands within the file system's mtime granularity is still seen."""

    fingerprint: tuple[object, ...]
    content: bytes | None = None
    error: str | None = None


def _snapshot(path: Path) -> _FileSnapshot:
    try:
        status = path.stat()
        content = path.read_bytes()
    except OSError as e:
        return _FileSnapshot(fingerprint=("unreadable", e.strerror), error=str(e.strerror))
    digest = hashlib.sha256(content).hexdigest()
    return _FileSnapshot(fingerprint=(status.st_mtime_ns, status.st_size, digest), content=content)


class ConfigActor(Actor):
    """Owns the running configuration.

    Accepts:
        Subscribe(name): replies with the `Settings` in force; `name` is told every later
            `ConfigChanged`, resolved by name on each send, so it survives the subscriber's
            restarts. A subscriber that is not alive is skipped (and kept).
        Unsubscribe(name).
        GetSettings(): replies with the `Settings` in force.
        PollConfigFile(): its own timer.

    Emits `ConfigChanged` when an edit validates and changes at least one hot key. Keys that
    need a restart are logged at WARNING by name and not applied. An invalid edit is logged at
    ERROR and the settings in force stay.

    A crash loses the settings applied since start and the dynamic subscriptions; the restarted
    incarnation starts from `settings` and `subscribers` again and re-reads the file on its
    first polls, so the file's current content is applied again and announced to `subscribers`.
    """

    def __init__(
        self,
        path: Path,
        settings: Settings,
        poll_interval_s: float = 0.5,
        *,
        overrides: Mapping[str, object] = _NO_OVERRIDES,
        subscribers: tuple[str, ...] = (),
    ) -> None:
        if poll_interval_s <= 0:
            msg = f"poll_interval_s must be > 0, got {poll_interval_s!r}"
            raise ValueError(msg)
        self._path = path
        self._settings = settings
        self._poll_interval_s = poll_interval_s
        # The command line's overrides keep winning over every later version of the file.
        self._overrides = MappingProxyType(dict(overrides))
        self._subscribers: dict[str, None] = dict.fromkeys(subscribers)
        self._seen: tuple[object, ...] | None = None
        self._applied: tuple[object, ...] | None = None
        self._timer: Timer | None = None

    def on_start(self) -> None:
        # Not marked applied: the first settled poll re-validates what is on disk now, so an
        # edit made between the program's first load and this start is not lost.
        self._seen = _snapshot(self._path).fingerprint
        self._schedule_poll()

    def on_stop(self) -> None:
        self._cancel_poll()

    def on_crash(self) -> None:
        self._cancel_poll()

    def receive(self, message: object) -> object:
        match message:
            case PollConfigFile():
                self._schedule_poll()
                self._on_poll_config_file()
                return None
            case Subscribe(name=name):
                self._subscribers[name] = None
                return self._settings
            case Unsubscribe(name=name):
                self._subscribers.pop(name, None)
                return None
            case GetSettings():
                return self._settings
            case _:
                return super().receive(message)

    # --- handlers -------------------------------------------------------------------------------

    def _on_poll_config_file(self) -> None:
        snapshot = _snapshot(self._path)
        if snapshot.fingerprint != self._seen:
            # Seen changing: wait one more poll, so a half-written file (an editor truncating,
            # then writing) is never mistaken for the user's edit. An empty file is valid YAML.
            self._seen = snapshot.fingerprint
            return
        if snapshot.fingerprint == self._applied:
            return
        self._applied = snapshot.fingerprint
        self._reload(snapshot)

    def _reload(self, snapshot: _FileSnapshot) -> None:
        if snapshot.content is None:
            log.error(
                "%s: cannot read config file %s (%s); the config in force stays",
                self._who(),
                self._path,
                snapshot.error,
            )
            return
        try:
            text = snapshot.content.decode("utf-8")
            candidate = settings_from_text(text, self._overrides, source=str(self._path))
        except UnicodeDecodeError as e:
            log.error(
                "%s: %s is not UTF-8 (%s); the config in force stays", self._who(), self._path, e
            )
            return
        except ConfigError as e:
            log.error("%s: edit rejected, the config in force stays. %s", self._who(), e)
            return
        diff = diff_settings(self._settings, candidate)
        for key in diff.needs_restart:
            log.warning("%s: %s changed; restart to apply", self._who(), key)
        if not diff.hot:
            return
        try:
            in_force = apply_hot(self._settings, candidate)
        except ValidationError as e:
            # The edit is valid as a whole but not with its restart-only keys held back.
            log.error(
                "%s: edit rejected: its live part is inconsistent with the keys that wait for a "
                "restart (%s); the config in force stays. %s",
                self._who(),
                ", ".join(diff.needs_restart),
                e,
            )
            return
        self._settings = in_force
        log.info("%s: config reloaded, applied %s", self._who(), ", ".join(diff.hot))
        self._publish(
            ConfigChanged(settings=in_force, changed=diff.hot, needs_restart=diff.needs_restart)
        )

    # --- helpers --------------------------------------------------------------------------------

    def _publish(self, change: ConfigChanged) -> None:
        for name in tuple(self._subscribers):
            try:
                self.ctx.runtime.address(name).tell(change)
            except ActorDead:
                # It may be restarting; it keeps its subscription and hears the next change.
                log.info("%s: subscriber %s is not alive; change not delivered", self._who(), name)

    def _schedule_poll(self) -> None:
        self._timer = self.ctx.schedule(self._poll_delay_s(), PollConfigFile())

    def _cancel_poll(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _poll_delay_s(self) -> float:
        # The interval is meant in real seconds: on a clock running 100x, polling every 0.5
        # simulated seconds would re-read the file 200 times a second.
        real_per_clock_second = self.ctx.clock.real_delay(1.0)
        if not real_per_clock_second:
            return self._poll_interval_s  # manual clock: time moves only when advanced
        return self._poll_interval_s / real_per_clock_second

    def _who(self) -> str:
        return f"{self.ctx.name}#{self.ctx.incarnation}"
