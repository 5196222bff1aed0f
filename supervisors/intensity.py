"""Restart intensity: OTP's `add_restart/3` as a pure function of the clock reading."""

from __future__ import annotations

__all__ = ["add_restart"]


def add_restart(
    restarts: tuple[float, ...], now: float, *, intensity: int, period_s: float
) -> tuple[tuple[float, ...], bool]:
    """Record a restart at `now`.

    Keeps the restarts within the last `period_s` seconds (inclusive), adds `now`, and reports
    whether their count exceeds `intensity`, in which case the supervisor must give up.

    Returns:
        The restarts still inside the window, and True when the limit is exceeded.
    """
    recent = (*(t for t in restarts if t >= now - period_s), now)
    return recent, len(recent) > intensity
