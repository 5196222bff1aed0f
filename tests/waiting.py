"""Waiting, in real time and bounded, for something other threads or processes do."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0, poll_s: float = 0.01) -> bool:
    """Whether `condition` came true within `timeout_s` (asked once more at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return bool(condition())
