"""The journal actor: the one writer of the DuckDB event journal (invariant 1).

Every other component tells or asks this actor; nobody else opens the journal file while the
bot runs, so "database is locked" cannot happen. Events are encoded in the *sender's* thread
when the message is built (`Append(event)` calls `to_record`), so a badly typed event fails in
the code that made it, and the journal itself never needs to import trading event modules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from runtime.api import Actor, Address, Ref, Reply, Timer, UnhandledMessage
from state.events import Event, EventRecord, decode_all, to_record
from state.journal_store import JournalStore, QueryRejected

__all__ = [
    "Append",
    "AppendDurable",
    "Flush",
    "JournalActor",
    "JournalCommand",
    "JournalStats",
    "LastSeqByType",
    "Query",
    "QueryRefused",
    "ReadStream",
    "Stats",
    "query",
    "read_stream",
]

log = logging.getLogger(__name__)


# --- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Append:
    """Tell: buffer one event; it is committed at the next flush (not acknowledged)."""

    event: Event
    record: EventRecord = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "record", to_record(self.event))


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendDurable:
    """Ask: commit these events (after everything told earlier); replies with their seqs."""

    events: tuple[Event, ...]
    records: tuple[EventRecord, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(to_record(e) for e in self.events))


@dataclass(frozen=True, slots=True, kw_only=True)
class Flush:
    """Ask: commit everything buffered; replies with how many records were committed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadStream:
    """Ask: reply with the stream's records after `after_seq`, oldest first, its buffered ones
    committed first (a reader sees its own writes; other streams' stay buffered).

    The reply is `tuple[EventRecord, ...]`; decode it with `state.events.decode_all` in the
    reader (or call `read_stream` below), so the journal never needs the reader's event classes.
    """

    stream_id: str
    after_seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """Ask: flush, then run one read-only SELECT; replies rows or `QueryRefused`."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LastSeqByType:
    """Ask: reply with a `dict[str, int]`, each event type to the seq of its last committed
    event, from memory: a periodic reader asks it to skip a query that nothing new can change
    (a query costs a millisecond or more, this a dictionary copy)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """Ask: reply with `JournalStats`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryRefused:
    """A report query was not one SELECT, or DuckDB refused it. The journal keeps running."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalStats:
    """Counters of this incarnation (they restart at zero after a restart)."""

    appended: int  # records received (told or asked)
    flushed: int  # records in committed batches (a resent duplicate counts, it is not stored twice)
    batches: int  # committed transactions
    pending: int  # records buffered, not yet committed
    last_flush_ms: float  # wall time of the last commit


@dataclass(frozen=True, slots=True, kw_only=True)
class _FlushTick:
    """The interval timer's message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _CommitWaiting:
    """Told to itself behind the first durable append that waits: every durable append queued
    before it by then shares its commit."""


JournalCommand: TypeAlias = (
    Append
    | AppendDurable
    | Flush
    | ReadStream
    | Query
    | LastSeqByType
    | Stats
    | _FlushTick
    | _CommitWaiting
)


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A durable append staged in the buffer, answered once the commit holding it is done."""

    reply: Reply
    end: int  # its records are buffer[end - count : end]
    count: int


# --- the actor -----------------------------------------------------------------------------


class JournalActor(Actor):
    """Single writer of the event journal: buffers appends, commits them in batches.

    Accepts:
        Append(event): tell. Buffered; committed when the buffer reaches `batch_size`, on the
            `flush_interval_s` timer, before any read or query, and on an orderly stop.
        AppendDurable(events): ask -> `tuple[int, ...]` seqs, one per event, in order.
            Group commit: durable appends that queue up while a commit runs share the next
            one (DuckDB's ~1.5 ms per commit is per transaction, hardly per row), each asker
            answered only once that commit is done. Where the runtime answers asks on return
            (deterministic, Ray) each one commits on its own.
        Flush(): ask -> int, records committed by this flush.
        ReadStream(stream_id, after_seq): ask -> `tuple[EventRecord, ...]`. Commits first only
            when that stream has buffered events (a reader sees its own writes, and a window
            starting does not pay a commit for the facts its neighbours told); a stream with no
            event, committed or buffered, answers () without touching the file.
        Query(sql, params): ask -> `list[tuple]` or `QueryRefused` (flushes first).
        LastSeqByType(): ask -> `dict[str, int]`, committed events only (no flush).
        Stats(): ask -> `JournalStats`.

    What an acknowledged append guarantees:
        When `AppendDurable` replies, its events (and every event told to the journal before it)
        are committed in the DuckDB file: a process crash or power loss after the reply does
        not lose them, and every later read sees them. The same events sent again are not
        stored twice (idempotent on `event_id`) and get the same seqs back. If the ask raises
        or times out, the outcome is unknown: the events may or may not be committed, and
        resending the same event objects is safe.
        `Append` is not acknowledged: it is lost if the process dies within `flush_interval_s`
        of the tell, or if the journal crashes before flushing it.
        A failed commit fails every durable append waiting on it with the write's error.

    How readers read:
        While the bot runs, DuckDB lets only this process hold the file, and only this actor
        uses it: readers ask (`ReadStream`, `read_stream(...)`, `Query` for reports). When the
        bot is not running, tools open `JournalStore(path, read_only=True)` directly.

    A crash (a failed write, or any unexpected error) loses the buffered, unacknowledged events
    and is never silent: the write error propagates (to the asker of `AppendDurable`, `Flush`
    or a read, and to the supervisor), the store is closed so the restarted incarnation can
    open the file, and nothing of the failed batch is stored. A restart replays nothing: the
    journal's state *is* the file.
    """

    def __init__(
        self,
        store_factory: Callable[[], JournalStore],
        *,
        flush_interval_s: float = 0.2,
        batch_size: int = 500,
    ) -> None:
        if flush_interval_s <= 0:
            msg = f"flush_interval_s must be > 0, got {flush_interval_s!r}"
            raise ValueError(msg)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size!r}"
            raise ValueError(msg)
        self._store_factory = store_factory
        self._flush_interval_s = flush_interval_s
        self._batch_size = batch_size
        self._store: JournalStore | None = None
        self._pending: list[EventRecord] = []
        self._waiting: list[_Waiting] = []  # durable appends in `_pending`, not answered yet
        self._commit_told = False  # a _CommitWaiting is on its way to our own mailbox
        # Streams with committed events: reading one that has none (a window or position
        # starting for the first time) answers at once, without a commit and a query.
        self._streams: set[str] = set()
        self._last_seq_by_type: dict[str, int] = {}
        self._timer: Timer | None = None
        self._appended = 0
        self._flushed = 0
        self._batches = 0
        self._last_flush_ms = 0.0

    def on_start(self) -> None:
        # Opened here, on the actor's own thread, never in __init__ (which may run elsewhere).
        self._store = self._store_factory()
        self._streams = self._store.stream_ids()
        self._last_seq_by_type = self._store.last_seq_by_type()
        self._timer = self.ctx.schedule(self._flush_interval_s, _FlushTick())

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        try:
            self._flush()
        finally:
            self._close_store()

    def receive(self, message: object) -> object:
        try:
            return self._dispatch(message)
        except Exception as e:
            # Let it crash, but release the file first: the restarted incarnation must open it.
            # Whoever waits on a durable append hears why, as a lone asker would.
            self._close_store()
            self._fail_waiting(e)
            raise

    def _dispatch(self, message: object) -> object:
        match message:
            case Append(record=record):
                self._pending.append(record)
                self._appended += 1
                if len(self._pending) >= self._batch_size:
                    self._flush()
                return None
            case AppendDurable(records=records):
                self._pending.extend(records)
                self._appended += len(records)
                reply = self.ctx.defer_reply()
                if reply is None:
                    seqs = self._flush()
                    return seqs[len(seqs) - len(records) :]
                self._waiting.append(_Waiting(reply, len(self._pending), len(records)))
                if not self._commit_told:
                    # Not committed now: the appends already queued behind this one join it.
                    # Alone, it costs one pass through the mailbox (microseconds).
                    self._commit_told = True
                    self.ctx.self_ref.tell(_CommitWaiting())
                return None
            case _CommitWaiting():
                self._commit_told = False
                self._flush()
                return None
            case Flush():
                return len(self._flush())
            case ReadStream(stream_id=stream_id, after_seq=after_seq):
                if any(r.stream_id == stream_id for r in self._pending):
                    self._flush()
                elif stream_id not in self._streams:
                    return ()
                return tuple(self._open_store().read_stream_records(stream_id, after_seq))
            case Query(sql=sql, params=params):
                self._flush()
                try:
                    return self._open_store().query(sql, params)
                except QueryRejected as e:
                    log.warning("journal refused a report query: %s", e)
                    return QueryRefused(reason=str(e))
            case LastSeqByType():
                return dict(self._last_seq_by_type)  # a copy: plain, so any runtime can send it
            case Stats():
                return JournalStats(
                    appended=self._appended,
                    flushed=self._flushed,
                    batches=self._batches,
                    pending=len(self._pending),
                    last_flush_ms=self._last_flush_ms,
                )
            case _FlushTick():
                self._flush()
                self._timer = self.ctx.schedule(self._flush_interval_s, _FlushTick())
                return None
            case _:
                msg = f"journal {self.ctx.name} has no case for {message!r}"
                raise UnhandledMessage(msg)

    def _flush(self) -> tuple[int, ...]:
        """Commit the buffer, then answer the durable appends it held (never before)."""
        if not self._pending:
            return ()
        batch, self._pending = self._pending, []
        waiting, self._waiting = self._waiting, []
        # perf_counter, not the runtime clock: this is the real I/O cost, even in simulated time.
        started = time.perf_counter()
        try:
            seqs = tuple(self._open_store().append_records(batch))
        except Exception as e:
            for w in waiting:
                w.reply.fail(e)
            raise
        self._streams.update(r.stream_id for r in batch)
        last = self._last_seq_by_type
        for record, seq in zip(batch, seqs, strict=True):
            # max: a resent duplicate gets the older seq of its stored copy
            if seq > last.get(record.type_name, 0):
                last[record.type_name] = seq
        self._last_flush_ms = (time.perf_counter() - started) * 1000.0
        self._flushed += len(batch)
        self._batches += 1
        for w in waiting:
            w.reply.send(seqs[w.end - w.count : w.end])
        return seqs

    def _fail_waiting(self, error: Exception) -> None:
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.reply.fail(error)

    def _open_store(self) -> JournalStore:
        if self._store is None:
            msg = f"journal {self.ctx.name}#{self.ctx.incarnation} has no open store"
            raise RuntimeError(msg)
        return self._store

    def _close_store(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()


def read_stream(
    journal: Ref | Address, stream_id: str, *, after_seq: int = 0, timeout_s: float = 5.0
) -> list[Event]:
    """Ask the journal for a stream and decode it in the caller (who knows its event types)."""
    records = journal.ask(ReadStream(stream_id=stream_id, after_seq=after_seq), timeout_s)
    return decode_all(records)


def query(
    journal: Ref | Address, sql: str, params: tuple[Any, ...] = (), *, timeout_s: float = 10.0
) -> list[tuple[Any, ...]]:
    """Ask the journal for a report query's rows. A refusal is a bug in the caller's SQL, so it
    raises (crashing the caller, whose supervisor retries it) rather than passing as no rows."""
    rows = journal.ask(Query(sql=sql, params=params), timeout_s)
    if isinstance(rows, QueryRefused):
        msg = f"the journal refused a query: {rows.reason}"
        raise RuntimeError(msg)  # noqa: TRY004 - a refusal value, not a type error
    return list(rows)
