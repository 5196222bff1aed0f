"""Watching the sandbox's exchange while the live bot trades on it: every placement and cancel
it serves, how long each held position goes without resting SELLs covering it, and the checks
every live test makes of a run:
- no order was sent twice: the sandbox refused no order as a duplicate;
- no exit was over-committed: whenever a SELL reached the exchange, it and our resting SELLs of
  that token together asked for no more than we held (save a replacement the exchange refused
  after the bot's cancel of that token's SELL failed without an answer: invariant 4 has the
  bot place the new plan whatever the cancel answers, and the exchange keeps it from selling
  what the old one offers);
- no market sell of a position the bot did not decide to sell: every FOK/FAK SELL the exchange
  accepted is one of the bot's own journaled stop-loss intents.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import duckdb

from tests.integration.live_harness import SPEED, BotProcess, LiveBot, stop
from venues.errors import OrderNotFound, VenueError
from venues.paper.faults import FaultInjector, FaultSettings
from venues.paper.ledger import Account
from venues.sandbox import SandboxServer
from venues.sandbox.state import SandboxState
from venues.types import OrderRequest, OrderType, Side, TokenId

_T = TypeVar("_T")

_MARKET_TYPES = frozenset({OrderType.FOK, OrderType.FAK})
SHARE_STEP = Decimal("0.01")
# Simulated seconds a held position may wait for its exit plan: the fill reaches the bot over
# the user channel and the exit goes back over REST, each a fraction of a real second that the
# sandbox's 60x turns into tens of simulated seconds on a loaded machine.
COVER_WITHIN_S = 180.0


@dataclass(frozen=True, slots=True)
class Placement:
    """One order that reached the sandbox's exchange, and what we held when it did."""

    at: float  # sandbox (simulated) time
    order_id: str  # the venue's id (the signed order's digest)
    token: TokenId
    side: Side
    size: Decimal
    order_type: OrderType
    over_committed: Decimal  # SELL: resting SELLs + this order - holding (> 0 is wrong)
    error: str | None  # the error kind the exchange refused it with, if it did


@dataclass(frozen=True, slots=True)
class Uncovered:
    """The longest stretch one held token spent without resting SELLs covering it."""

    token: TokenId
    label: str  # the window's slug and the outcome
    since: float  # sandbox (simulated) time
    until: float
    held: Decimal  # when it started
    resting: Decimal
    # The longest real-time gap between two coverage samples inside it: the sandbox's thread
    # starved, which on a loaded machine stalls the bot too (each real second is SPEED
    # simulated seconds of the market).
    stalled_s: float = 0.0

    @property
    def seconds(self) -> float:
        return self.until - self.since

    def __str__(self) -> str:
        return (
            f"{self.label} (token ...{self.token[-12:]}): {self.held} held, {self.resting} "
            f"resting, uncovered from {_iso(self.since)} to {_iso(self.until)} "
            f"({self.seconds:.0f} simulated s); the sandbox stalled up to {self.stalled_s:.1f} "
            f"real s ({self.stalled_s * SPEED:.0f} simulated s) inside it"
        )


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


@dataclass(slots=True)
class Watch:
    """What a test saw on the sandbox's exchange: every placement and cancel, and how long
    each held position of an open window went without resting SELLs covering it."""

    placements: list[Placement] = field(default_factory=list)
    cancels: int = 0
    cancels_not_found: int = 0
    # Tokens whose SELL the bot tried to cancel and got an error for, not "not found": whether
    # the old order still rests is unknown to the bot then (sandbox time of each such cancel).
    cancels_unanswered: dict[TokenId, list[float]] = field(default_factory=dict)
    not_found_at: list[float] = field(default_factory=list)  # sandbox time of each
    uncovered_now: dict[TokenId, Uncovered] = field(default_factory=dict)  # the spans going on
    uncovered: dict[TokenId, Uncovered] = field(default_factory=dict)  # longest, per token
    stopped: set[TokenId] = field(default_factory=set)  # tokens the bot tried to market-sell
    max_positions_held: int = 0
    sample_misses: int = 0  # coverage samples the sandbox did not answer in time
    last_sample_at: float | None = None  # time.monotonic() of the last coverage sample

    def placed(self, *, side: Side | None = None, after: float = 0.0) -> list[Placement]:
        return [
            p
            for p in self.placements
            if p.error is None and p.at >= after and (side is None or p.side is side)
        ]

    def refused(self, kind: str) -> list[Placement]:
        return [p for p in self.placements if p.error == kind]

    @property
    def longest_uncovered(self) -> Uncovered | None:
        """The longest stretch a position went without its exit plan, leaving out the
        positions the bot decided to sell: a stop-loss takes the exit plan down first, and
        when its FAK finds no buyer the position waits for the next attempt or resolution
        (the strategy's choice, not a fault's effect)."""
        kept = [u for token, u in self.uncovered.items() if token not in self.stopped]
        return max(kept, key=lambda u: u.seconds, default=None)

    @property
    def longest_uncovered_s(self) -> float:
        longest = self.longest_uncovered
        return 0.0 if longest is None else longest.seconds

    def over_committed(self) -> list[Placement]:
        return [
            p
            for p in self.placements
            if p.side is Side.SELL and p.over_committed > 0 and not self._replaced_unknown(p)
        ]

    def _replaced_unknown(self, placement: Placement) -> bool:
        """Refused, and sent after a cancel of this token's SELL that failed without an answer."""
        return placement.error is not None and any(
            at <= placement.at for at in self.cancels_unanswered.get(placement.token, ())
        )


def resting_sells(state: SandboxState, token: TokenId) -> Decimal:
    return sum(
        (
            o.original_size - o.size_matched
            for o in state.exchange.open_orders()
            if o.side is Side.SELL and o.token_id == token
        ),
        Decimal(0),
    )


def _instrument(state: SandboxState, watch: Watch) -> None:
    """Record every placement and cancel the sandbox serves (runs on the server's thread)."""
    place, place_batch, cancel = state.place, state.place_batch, state.cancel

    def before(request: OrderRequest, pending_sells: Decimal) -> Decimal:
        if request.side is not Side.SELL:
            return Decimal(0)
        held = state.exchange.holding(Account.US, request.token_id)
        return resting_sells(state, request.token_id) + pending_sells + request.size - held

    def record(request: OrderRequest, over: Decimal, error: str | None) -> None:
        if request.side is Side.SELL and request.order_type in _MARKET_TYPES:
            watch.stopped.add(request.token_id)
        watch.placements.append(
            Placement(
                at=state.clock.now(),
                order_id=request.client_id,
                token=request.token_id,
                side=request.side,
                size=request.size,
                order_type=request.order_type,
                over_committed=over,
                error=error,
            )
        )

    def watched_place(request: OrderRequest) -> dict[str, Any]:
        over = before(request, Decimal(0))
        try:
            answer = place(request)
        except VenueError as e:
            record(request, over, type(e).__name__)
            raise
        record(request, over, None)
        return answer

    def watched_place_batch(requests: tuple[OrderRequest, ...]) -> list[dict[str, Any]]:
        overs, pending = [], Decimal(0)
        for request in requests:
            overs.append(before(request, pending))
            if request.side is Side.SELL:
                pending += request.size
        try:
            answers = place_batch(requests)
        except VenueError as e:
            for request, over in zip(requests, overs, strict=True):
                record(request, over, type(e).__name__)
            raise
        for request, over, answer in zip(requests, overs, answers, strict=True):
            record(request, over, None if answer.get("success") else "Rejected")
        return answers

    def watched_cancel(order_ids: tuple[str, ...]) -> dict[str, Any]:
        watch.cancels += 1
        rows = [state.order(order_id) for order_id in order_ids]
        sells = {
            order_id: TokenId(row["asset_id"])
            for order_id, row in zip(order_ids, rows, strict=True)
            if row is not None and row["side"] == Side.SELL.value
        }
        try:
            return cancel(order_ids)
        except OrderNotFound:
            watch.cancels_not_found += 1
            watch.not_found_at.append(state.clock.now())
            raise
        except VenueError:
            for order_id in order_ids:
                if order_id in sells:
                    watch.cancels_unanswered.setdefault(sells[order_id], []).append(
                        state.clock.now()
                    )
            raise

    state.place = watched_place  # type: ignore[method-assign]
    state.place_batch = watched_place_batch  # type: ignore[method-assign]
    state.cancel = watched_cancel  # type: ignore[method-assign]


def _sample_coverage(state: SandboxState, watch: Watch) -> None:
    """Track how long each position of an open window stays without an exit covering it."""
    now = state.clock.now()
    wall = time.monotonic()
    gap_s = 0.0 if watch.last_sample_at is None else wall - watch.last_sample_at
    watch.last_sample_at = wall
    held_tokens = 0
    for window in state.windows.values():
        if now >= window.end:
            continue  # nothing rests on a closed book: resolution settles it
        for token in window.tokens:
            held = state.exchange.holding(Account.US, token)
            if held > 0:
                held_tokens += 1
            resting = resting_sells(state, token)
            # Shares trade in hundredths: a remainder below that cannot be offered.
            if held >= window.min_order_size and held - resting >= SHARE_STEP:
                outcome = "Up" if token == window.up_token else "Down"
                span = watch.uncovered_now.get(token) or Uncovered(
                    token=token,
                    label=f"{window.slug} {outcome}",
                    since=now,
                    until=now,
                    held=held,
                    resting=resting,
                )
                span = replace(span, until=now, stalled_s=max(span.stalled_s, gap_s))
                watch.uncovered_now[token] = span
                longest = watch.uncovered.get(token)
                if longest is None or span.seconds >= longest.seconds:
                    watch.uncovered[token] = span
            else:
                watch.uncovered_now.pop(token, None)
    watch.max_positions_held = max(watch.max_positions_held, held_tokens)


@contextmanager
def periodically(action: Callable[[], None], every_s: float, name: str) -> Iterator[None]:
    """Run `action` on a thread of its own every `every_s` until the block ends."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every_s):
            action()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


@contextmanager
def watching(server: SandboxServer, sample_s: float = 0.05) -> Iterator[Watch]:
    watch = Watch()
    server.call(lambda state: _instrument(state, watch))

    def sample() -> None:
        try:
            server.call(lambda state: _sample_coverage(state, watch))
        except TimeoutError:
            watch.sample_misses += 1  # the sandbox's thread starved (a loaded machine)

    with periodically(sample, sample_s, "coverage-sampler"):
        yield watch


def holding_anything(server: SandboxServer) -> bool:
    def held(state: SandboxState) -> bool:
        now = state.clock.now()
        return any(
            state.exchange.holding(Account.US, token) >= window.min_order_size
            for window in state.windows.values()
            if now < window.end
            for token in window.tokens
        )

    return server.call(held)


def set_faults(server: SandboxServer, faults: FaultSettings) -> None:
    """Turn the exchange's request faults to `faults` from now on (a burst, a 425 window)."""

    def swap(state: SandboxState) -> None:
        state.exchange._faults = FaultInjector(faults)  # a test's fault switch

    server.call(swap)


def first_found(find: Callable[[], _T | None], timeout_s: float) -> _T | None:
    """The first thing `find` finds within `timeout_s` real seconds, or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = find()
        except TimeoutError:
            continue  # the sandbox's thread starved (a loaded machine): ask again
        if found is not None:
            return found
        time.sleep(0.1)
    return find()


def subscribers(server: SandboxServer) -> set[int]:
    return server.call(lambda state: set(state.market_subscribers) | set(state.user_subscribers))


def sandbox_now(server: SandboxServer) -> float:
    return server.call(lambda state: state.clock.now())


def journal_intents(bot: LiveBot) -> dict[str, str]:
    """The purpose of each order the bot placed, by the venue's order id."""
    with duckdb.connect(str(bot.data_dir / "journal.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT type, CAST(payload AS VARCHAR) FROM events "
            "WHERE type IN ('OrderIntent', 'OrderAccepted')"
        ).fetchall()
    purpose_of_client: dict[str, str] = {}
    client_of_order: dict[str, str] = {}
    for kind, payload in rows:
        event = json.loads(payload)
        if kind == "OrderIntent":
            purpose_of_client[event["client_id"]] = event["purpose"]
        else:
            client_of_order[event["order_id"]] = event["client_id"]
    return {
        order: purpose_of_client.get(client, "<no intent>")
        for order, client in client_of_order.items()
    }


def log_times(bot: LiveBot, pattern: str) -> list[float]:
    """The (simulated) times of the main log's lines matching `pattern`."""
    text = (bot.log_dir / "polyactor.log").read_text(errors="replace")
    return [
        datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
        for line in text.splitlines()
        if re.search(pattern, line)
    ]


def bot_logs(bot: LiveBot) -> str:
    return "\n".join(p.read_text(errors="replace") for p in bot.log_dir.rglob("*.log"))


def finish(process: BotProcess, timeout_s: float) -> str:
    """Wait for the run to end by itself (its --duration), then its output."""
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return stop(process)
    return process.output()


def assert_clean_run(
    returncode: int | None, output: str, bot: LiveBot, server_refusals: list[str], watch: Watch
) -> dict[str, Any]:
    assert returncode == 0, output[-3000:]
    summary = bot.summary_json()
    assert summary["invariant_violations"] == 0, summary
    duplicates = [r for r in server_refusals if "duplicate" in r]
    assert duplicates == [], duplicates
    assert watch.over_committed() == [], watch.over_committed()
    purposes = journal_intents(bot)
    market_sells = [p for p in watch.placed(side=Side.SELL) if p.order_type in _MARKET_TYPES]
    undecided = [p for p in market_sells if purposes.get(p.order_id) != "stop"]
    assert undecided == [], [(p, purposes.get(p.order_id)) for p in undecided]
    return summary


def figures(name: str, summary: dict[str, Any], watch: Watch, **extra: object) -> None:
    keys = ("orders_placed", "orders_rejected", "fills", "windows_traded", "restarts", "errors")
    figures = {k: summary.get(k) for k in keys}
    figures |= {
        "exchange_placements": len(watch.placed()),
        "exchange_refusals": len(watch.placements) - len(watch.placed()),
        "cancels": watch.cancels,
        "longest_uncovered_s": round(watch.longest_uncovered_s, 1),
        "longest_uncovered": str(watch.longest_uncovered),
        "max_positions_held": watch.max_positions_held,
        "sample_misses": watch.sample_misses,
        **extra,
    }
    print(f"\nFAULT {name}: {figures}")


def run_then_stop(
    bot: LiveBot, act: Callable[[], dict[str, _T]]
) -> tuple[int | None, str, dict[str, _T]]:
    """Run the bot while `act` injects faults and watches what follows, then stop it with
    SIGTERM: the run lasts as long as the test has something to see, not a fixed span."""
    process = bot.start("2h")
    try:
        extra = act()
    finally:
        output = stop(process)
    return process.returncode, output, extra


def refusals(server: SandboxServer) -> list[str]:
    return server.call(lambda state: list(state.protocol_refusals))
