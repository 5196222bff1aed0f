"""Replay of recorded websocket frames through the wire parser: counts frames, events and
rejected frames, and hands every parsed event to a callback (the replay mode's actors).

A recording is a file with one raw frame per line, or one frame per line wrapped in the live
recorder's envelope `{"t": <epoch s>, "channel": "...", "frame": "<raw text>"}`
(venues/live/recorder.py), a directory of JSON files with one frame each (like
shared/fixtures/polymarket/ws_messages), or one such file.
Reading is lazy, line by line, so a long recording is never held in memory. This module only
reads files; it starts no threads and takes no clock: events carry their recorded timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from venues.live.wire import DEFAULT_TICK_SIZE, Identity, WireEvent, parse_frame

__all__ = ["MAX_KEPT_ERRORS", "ReplayResult", "iter_frames", "replay_frames"]

MAX_KEPT_ERRORS = 20
"""How many rejection reasons a result keeps; the counts are always complete."""

EventCallback = Callable[[WireEvent], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    """What one replay saw. `rejected_frames` counts frames with at least one message the
    parser refused; `rejected_messages` counts those messages."""

    frames: int
    events: int
    rejected_frames: int
    rejected_messages: int
    notices: int
    errors: tuple[str, ...]  # the first MAX_KEPT_ERRORS reasons, "<where>: <path>: <problem>"

    def summary(self) -> dict[str, int]:
        """The counts for `run.py replay --summary-json`."""
        return {
            "frames": self.frames,
            "events": self.events,
            "rejected_frames": self.rejected_frames,
            "rejected_messages": self.rejected_messages,
            "notices": self.notices,
        }


def iter_frames(source: Path | Iterable[str]) -> Iterator[tuple[str, str]]:
    """(where, frame text) for each frame of a recording: a directory (each `*.json` file is
    one frame, in name order), a `.json` file (one frame), any other file (one frame per line,
    e.g. `.jsonl`; blank lines are skipped), or already-read lines."""
    if isinstance(source, Path):
        if source.is_dir():
            for path in sorted(source.glob("*.json")):
                yield path.name, path.read_text(encoding="utf-8")
            return
        if source.suffix == ".json":  # one frame, possibly pretty-printed over many lines
            yield source.name, source.read_text(encoding="utf-8")
            return
        with source.open(encoding="utf-8") as lines:
            yield from _non_blank(lines, source.name)
        return
    yield from _non_blank(source, "line")


def _non_blank(lines: Iterable[str], name: str) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield f"{name}:{number}", _unwrapped(line)


_ENVELOPE_KEYS = frozenset({"t", "channel", "frame"})


def _unwrapped(line: str) -> str:
    """The raw frame of a recorder line; any other line as it is. The recorder writes `t`
    first, so only lines opening with `{"t":` are decoded twice; no venue message has exactly
    the envelope's three keys."""
    if not line.lstrip().startswith('{"t":'):
        return line
    try:
        decoded = json.loads(line)
    except json.JSONDecodeError:
        return line  # the parser reports it
    if (
        isinstance(decoded, dict)
        and decoded.keys() == _ENVELOPE_KEYS
        and isinstance(decoded["frame"], str)
    ):
        return decoded["frame"]
    return line


def replay_frames(
    source: Path | Iterable[str],
    on_event: EventCallback | None = None,
    *,
    identity: Identity | None = None,
    tick_size_if_absent: Decimal = DEFAULT_TICK_SIZE,
) -> ReplayResult:
    """Parse every frame of `source` (see `iter_frames`) and push each event to `on_event`.

    `identity` is the account of a recorded user feed. Without one, it is learned from the
    feed's own `order` events (the user channel only sends our orders), so maker fills are
    still told apart from other makers'. A rejected message is counted, never fatal."""
    frames = events = rejected_frames = rejected_messages = notices = 0
    errors: list[str] = []
    learn = identity is None
    known = identity if identity is not None else Identity()
    for where, text in iter_frames(source):
        frames += 1
        parsed = parse_frame(
            text, known, learn_identity=learn, tick_size_if_absent=tick_size_if_absent
        )
        known = parsed.identity
        notices += len(parsed.notices)
        if parsed.rejected_count:
            rejected_frames += 1
            rejected_messages += parsed.rejected_count
            room = MAX_KEPT_ERRORS - len(errors)
            errors.extend(f"{where}: {error}" for error in parsed.errors[:room])
        for event in parsed.events:
            events += 1
            if on_event is not None:
                on_event(event)
    return ReplayResult(
        frames=frames,
        events=events,
        rejected_frames=rejected_frames,
        rejected_messages=rejected_messages,
        notices=notices,
        errors=tuple(errors),
    )
