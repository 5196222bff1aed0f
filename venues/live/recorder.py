"""Raw frame recording: every websocket frame received, appended as one JSON line
`{"t": <epoch s>, "channel": "<market|user|rtds>", "frame": "<the frame's text>"}`.

`venues.live.replay` reads these lines back (it unwraps the envelope), so a recording of a live
session replays through the same parser with `python run.py replay --feed FILE`. Lines are
flushed one by one: a crash loses at most the frame being written. No rotation.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TextIO

from runtime.clock import Clock

__all__ = ["FrameRecorder"]


class FrameRecorder:
    """Appends frames to `path` (created with its directory); safe to share between sockets."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = path.open("a", encoding="utf-8")
        self._written = 0

    @property
    def frames_written(self) -> int:
        return self._written

    def write(self, channel: str, frame: str) -> None:
        # `t` first: replay recognises an envelope by its opening `{"t":`.
        line = json.dumps({"t": self._clock.now(), "channel": channel, "frame": frame})
        with self._lock:
            if self._file is None:
                return  # closed while a socket was still delivering its last frame
            self._file.write(line + "\n")
            self._file.flush()
            self._written += 1

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
