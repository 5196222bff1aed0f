"""Rebuilding state from events: the one left fold every event-sourced actor uses.

An actor's state is `evolve` applied to each of its events in journal order, starting from
`initial`. After a restart an actor reads its stream and calls `rebuild`; while running it calls
`evolve` on each new event, so both paths go through the same function and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

__all__ = ["rebuild"]

StateT = TypeVar("StateT")
EventT = TypeVar("EventT")


def rebuild(
    events: Iterable[EventT], initial: StateT, evolve: Callable[[StateT, EventT], StateT]
) -> StateT:
    """Fold `events` (in order) over `initial` with `evolve`, which must be pure.

    Args:
        events: the stream, oldest first (as the journal returns it).
        initial: the state before any event.
        evolve: `(state, event) -> new state`; never mutates its input.

    Returns:
        The state after the last event (`initial` for an empty stream).
    """
    state = initial
    for evt in events:
        state = evolve(state, evt)
    return state
