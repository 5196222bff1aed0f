"""Waiting, in real time and bounded, for something other threads or processes do."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from runtime.api import ActorDead, AskTimeout

T = TypeVar("T")


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0, poll_s: float = 0.01) -> bool:
    """Whether `condition` came true within `timeout_s` (asked once more at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return bool(condition())


RAY_RESTART_S = 120.0
"""How long a test waits for a Ray actor to come back. A restart starts a worker process that
imports Ray: measured 0.6 s on a quiet 2-core machine, 5 s beside two busy processes and 10 s
beside four; CI once took over 30 s."""


def eventually(probe: Callable[[], T], timeout_s: float = RAY_RESTART_S, poll_s: float = 0.1) -> T:
    """`probe()`'s answer once it stops failing an assertion or finding its actor dead or busy
    (an old incarnation on its way out, a new one starting); its last failure at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return probe()
        except (AssertionError, ActorDead, AskTimeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(poll_s)
