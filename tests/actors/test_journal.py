"""JournalActor: the single writer under concurrency, its flush triggers, its acknowledged
appends, its crashes, and an event-sourced actor rebuilt from its stream after a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from actors.journal import (
    Append,
    AppendDurable,
    Flush,
    JournalActor,
    JournalStats,
    LastSeqByType,
    Query,
    QueryRefused,
    ReadStream,
    Stats,
    read_stream,
)
from runtime.api import Actor, ActorDead, ChildExited, Crash, Ref
from runtime.clock import ManualClock, RealClock
from runtime.deterministic import DeterministicRuntime
from runtime.pykka_backend import PykkaRuntime
from state.events import Event, EventEncodeError, EventRecord, event
from state.fold import rebuild
from state.journal_store import FaultHook, JournalStore
from supervisors import ChildSpec, Flags, Supervisor
from tests.waiting import wait_for

JOURNAL = "journal"
D1 = Decimal(1)


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class JournalTestNoted(Event):
    n: int


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class JournalTestDeposited(Event):
    amount: Decimal


def noted(stream_id: str, n: int) -> JournalTestNoted:
    return JournalTestNoted(stream_id=stream_id, ts=1_767_225_600.0 + n, n=n)


class WriteFailed(Exception):
    pass


def fail_when(predicate: Callable[[EventRecord], bool]) -> FaultHook:
    def hook(records: Sequence[EventRecord]) -> None:
        if any(predicate(r) for r in records):
            msg = "simulated disk failure"
            raise WriteFailed(msg)

    return hook


class Opened:
    """A store factory that remembers what it opened, so tests can look inside."""

    def __init__(self, path: Path | str, fault: FaultHook | None = None) -> None:
        self.path = path
        self.fault = fault
        self.stores: list[JournalStore] = []

    def __call__(self) -> JournalStore:
        store = JournalStore(self.path, fault=self.fault)
        self.stores.append(store)
        return store


def committed_count(path: Path) -> int:
    """Rows committed, seen through a separate connection (what another reader would see)."""
    with duckdb.connect(str(path)) as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


class Watcher(Actor):
    def __init__(self, seen: list[ChildExited]) -> None:
        self.seen = seen

    def receive(self, message: object) -> object:
        match message:
            case ChildExited():
                self.seen.append(message)
                return None
            case _:
                return super().receive(message)


@pytest.fixture
def det() -> Iterator[DeterministicRuntime]:
    runtime = DeterministicRuntime(ManualClock())
    yield runtime
    runtime.shutdown()


@pytest.fixture
def threaded() -> Iterator[PykkaRuntime]:
    runtime = PykkaRuntime(RealClock())
    yield runtime
    runtime.shutdown(timeout_s=5.0)


def spawn_journal(
    runtime: DeterministicRuntime | PykkaRuntime,
    opened: Opened,
    *,
    flush_interval_s: float = 60.0,
    batch_size: int = 500,
    watcher: Ref | None = None,
) -> Ref:
    return runtime.spawn(
        lambda: JournalActor(opened, flush_interval_s=flush_interval_s, batch_size=batch_size),
        name=JOURNAL,
        watcher=watcher,
    )


# --- 50 writers at once --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Produce:
    count: int
    durable_every: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Produced:
    """Ask, queued behind Produce: the ids this producer sent and what it read back."""


class Producer(Actor):
    """Tells (and every so often durably asks) the journal events of its own stream."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.read_back: list[str] = []
        self.errors: list[BaseException] = []

    def receive(self, message: object) -> object:
        match message:
            case Produce(count=count, durable_every=durable_every):
                self._produce(count, durable_every)
                return None
            case Produced():
                return (tuple(self.sent), tuple(self.read_back), tuple(self.errors))
            case _:
                return super().receive(message)

    def _produce(self, count: int, durable_every: int) -> None:
        journal = self.ctx.runtime.address(JOURNAL)
        stream = f"producer/{self.ctx.name}"
        try:
            for n in range(count):
                evt = noted(stream, n)
                if n % durable_every == durable_every - 1:
                    journal.ask(AppendDurable(events=(evt,)), 10.0)
                else:
                    journal.tell(Append(event=evt))
                self.sent.append(evt.event_id)
            # A reader sees its own writes, even those still buffered a moment ago.
            self.read_back = [e.event_id for e in read_stream(journal, stream, timeout_s=10.0)]
        except Exception as e:  # collected and asserted on by the test
            self.errors.append(e)


def test_fifty_actors_appending_at_once_store_every_event_exactly_once(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    producers, per_producer = 50, 200
    opened = Opened(tmp_path / "journal.duckdb")
    journal = spawn_journal(threaded, opened, flush_interval_s=0.05, batch_size=100)
    refs = [threaded.spawn(Producer, name=f"p{i:02d}") for i in range(producers)]
    for ref in refs:
        ref.tell(Produce(count=per_producer, durable_every=25))
    results = [ref.ask(Produced(), 60.0) for ref in refs]

    errors = [e for _, _, errs in results for e in errs]
    assert errors == []  # no lock errors, no timeouts, no refusals
    for sent, read_back, _ in results:
        assert read_back == sent  # own stream, complete and in send order
    all_sent = [event_id for sent, _, _ in results for event_id in sent]
    assert len(set(all_sent)) == producers * per_producer
    assert journal.ask(Flush()) == 0  # the reads already flushed everything
    assert journal.ask(Query(sql="SELECT count(*), count(DISTINCT event_id) FROM events")) == [
        (producers * per_producer, producers * per_producer)
    ]
    stored = {row[0] for row in journal.ask(Query(sql="SELECT event_id FROM events"))}
    assert stored == set(all_sent)
    assert journal.is_alive()
    stats = journal.ask(Stats())
    assert stats.appended == stats.flushed == producers * per_producer
    assert stats.pending == 0


# --- flush triggers ------------------------------------------------------------------------


def test_told_events_are_committed_when_the_flush_interval_passes(
    det: DeterministicRuntime,
) -> None:
    opened = Opened(":memory:")
    journal = spawn_journal(det, opened, flush_interval_s=0.5)
    journal.tell(Append(event=noted("s", 1)))
    journal.tell(Append(event=noted("s", 2)))
    det.run_until_idle()
    store = opened.stores[0]
    assert store.count() == 0
    det.advance(0.4)
    assert store.count() == 0
    det.advance(0.1)
    assert store.count() == 2
    journal.tell(Append(event=noted("s", 3)))
    det.advance(0.5)  # the timer re-arms itself
    assert store.count() == 3
    assert journal.ask(Stats()) == JournalStats(
        appended=3,
        flushed=3,
        batches=2,
        pending=0,
        last_flush_ms=journal.ask(Stats()).last_flush_ms,
    )


def test_reaching_the_batch_size_commits_without_waiting_for_the_timer(
    det: DeterministicRuntime,
) -> None:
    opened = Opened(":memory:")
    journal = spawn_journal(det, opened, flush_interval_s=60.0, batch_size=3)
    for n in range(2):
        journal.tell(Append(event=noted("s", n)))
    det.run_until_idle()
    assert opened.stores[0].count() == 0
    journal.tell(Append(event=noted("s", 2)))
    det.run_until_idle()
    assert opened.stores[0].count() == 3


def test_stopping_the_journal_commits_what_it_buffered(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    journal = spawn_journal(threaded, Opened(path), flush_interval_s=60.0)
    for n in range(5):
        journal.tell(Append(event=noted("s", n)))
    assert journal.ask(Stats()).pending == 5
    assert journal.stop(5.0)
    with JournalStore(path, read_only=True) as store:  # the file was released
        assert [e.n for e in store.read_stream("s")] == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]


def test_a_read_flushes_first_so_a_reader_sees_its_own_writes(det: DeterministicRuntime) -> None:
    journal = spawn_journal(det, Opened(":memory:"), flush_interval_s=60.0)
    journal.tell(Append(event=noted("s", 1)))
    records = journal.ask(ReadStream(stream_id="s"))
    assert [r.type_name for r in records] == ["JournalTestNoted"]
    assert [e.n for e in read_stream(journal, "s")] == [1]  # type: ignore[attr-defined]
    assert read_stream(journal, "s", after_seq=records[0].seq) == []


def test_reading_a_stream_with_no_events_answers_without_a_commit(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    with JournalStore(path) as store:
        store.append_batch([noted("old", 0)])
    journal = spawn_journal(threaded, Opened(path), flush_interval_s=60.0)
    journal.tell(Append(event=noted("s", 1)))
    assert journal.ask(ReadStream(stream_id="never-written")) == ()
    assert journal.ask(Stats()).batches == 0  # the buffered append still waits
    assert [e.n for e in read_stream(journal, "old")] == [0]  # type: ignore[attr-defined]
    assert [e.n for e in read_stream(journal, "s")] == [1]  # type: ignore[attr-defined]


def test_a_read_commits_first_only_when_its_own_stream_has_buffered_events(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    with JournalStore(path) as store:
        store.append_batch([noted("known", 0)])
    journal = spawn_journal(threaded, Opened(path), flush_interval_s=60.0)
    journal.tell(Append(event=noted("neighbour", 1)))
    assert [e.n for e in read_stream(journal, "known")] == [0]  # type: ignore[attr-defined]
    assert journal.ask(Stats()).batches == 0  # the neighbour's fact was not this read's business
    journal.tell(Append(event=noted("known", 2)))
    assert [e.n for e in read_stream(journal, "known")] == [0, 2]  # type: ignore[attr-defined]
    stats = journal.ask(Stats())
    assert (stats.batches, stats.pending) == (1, 0)  # one commit, the neighbour's fact with it


def test_the_last_seq_of_each_type_comes_from_memory_and_counts_committed_events_only(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    with JournalStore(path) as store:
        store.append_batch([noted("old", 0), noted("old", 1)])  # seqs 1 and 2, before the start
    journal = spawn_journal(threaded, Opened(path), flush_interval_s=60.0)
    assert journal.ask(LastSeqByType()) == {"JournalTestNoted": 2}
    journal.tell(Append(event=noted("s", 2)))
    assert journal.ask(LastSeqByType()) == {"JournalTestNoted": 2}  # buffered, not committed
    journal.ask(AppendDurable(events=(JournalTestDeposited(stream_id="s", ts=0.0, amount=D1),)))
    assert journal.ask(LastSeqByType()) == {"JournalTestNoted": 3, "JournalTestDeposited": 4}
    assert journal.ask(Stats()).batches == 1  # answering it never committed anything itself


# --- acknowledged appends ------------------------------------------------------------------


def test_an_acknowledged_append_is_committed_with_everything_told_before_it(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    journal = spawn_journal(threaded, Opened(path), flush_interval_s=60.0)
    journal.tell(Append(event=noted("s", 1)))
    journal.tell(Append(event=noted("s", 2)))
    assert committed_count(path) == 0  # buffered: not yet a fact
    seqs = journal.ask(AppendDurable(events=(noted("s", 3), noted("t", 4))))
    assert seqs == (3, 4)
    assert committed_count(path) == 4  # readable by another connection as soon as acked


def test_resending_an_acknowledged_append_stores_nothing_twice_and_returns_the_same_seqs(
    det: DeterministicRuntime,
) -> None:
    journal = spawn_journal(det, Opened(":memory:"))
    durable = AppendDurable(events=(noted("s", 1), noted("s", 2)))
    first = journal.ask(durable)
    assert journal.ask(durable) == first
    journal.tell(Append(event=durable.events[0]))
    assert journal.ask(Query(sql="SELECT count(*) FROM events")) == [(2,)]


class Gate:
    """A fault hook that holds the commit of any batch with a `gate` event until opened: the
    journal is busy committing while the asks under test queue up behind it."""

    def __init__(self, then: FaultHook | None = None) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.then = then

    def __call__(self, records: Sequence[EventRecord]) -> None:
        if any(r.stream_id == "gate" for r in records):
            self.entered.set()
            assert self.opened.wait(10.0), "the test never opened the gate"
        if self.then is not None:
            self.then(records)


def ask_durably_from_threads(
    journal: Ref, events: Sequence[Event]
) -> tuple[list[threading.Thread], dict[str, object]]:
    """One thread per event asks AppendDurable of it; answers (or errors) by event id."""
    answers: dict[str, object] = {}
    asking: list[str] = []

    def ask(evt: Event) -> None:
        asking.append(evt.event_id)
        try:
            answers[evt.event_id] = journal.ask(AppendDurable(events=(evt,)), 10.0)
        except Exception as e:  # collected and asserted on
            answers[evt.event_id] = e

    threads = [threading.Thread(target=ask, args=(e,), daemon=True) for e in events]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(asking) == len(events))
    time.sleep(0.1)  # from `ask` to the mailbox is microseconds; this is ample
    return threads, answers


def hold_the_journal_in_a_commit(journal: Ref, gate: Gate) -> threading.Thread:
    holder = threading.Thread(
        target=lambda: journal.ask(AppendDurable(events=(noted("gate", 0),)), 10.0), daemon=True
    )
    holder.start()
    assert gate.entered.wait(5.0)
    return holder


def test_durable_appends_that_queue_up_share_one_commit_and_each_gets_its_own_seqs(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    gate = Gate()
    journal = spawn_journal(threaded, Opened(path, fault=gate), flush_interval_s=60.0)
    holder = hold_the_journal_in_a_commit(journal, gate)
    events = [noted(f"asker{i}", i) for i in range(20)]
    threads, answers = ask_durably_from_threads(journal, events)  # queued behind the commit
    assert answers == {}  # nothing is acknowledged before it is durable
    assert committed_count(path) == 0
    gate.opened.set()
    for t in [holder, *threads]:
        t.join(10.0)
    assert journal.ask(Stats()).batches == 2  # the held commit, then all 20 asks in one
    seq_of = dict(journal.ask(Query(sql="SELECT event_id, seq FROM events")))
    assert answers == {e.event_id: (seq_of[e.event_id],) for e in events}


def test_a_failed_group_commit_fails_every_asker_in_it_and_stores_none_of_them(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    gate = Gate(then=fail_when(lambda r: r.stream_id == "poison"))
    journal = spawn_journal(threaded, Opened(path, fault=gate), flush_interval_s=60.0)
    holder = hold_the_journal_in_a_commit(journal, gate)
    events = [noted("fine", 1), noted("poison", 2), noted("fine", 3)]
    threads, answers = ask_durably_from_threads(journal, events)
    gate.opened.set()
    for t in [holder, *threads]:
        t.join(10.0)
    assert len(answers) == 3
    assert all(isinstance(a, WriteFailed) for a in answers.values()), answers
    assert wait_for(lambda: not journal.is_alive())
    with JournalStore(path, read_only=True) as store:
        assert [r.stream_id for r in store.read_all_records()] == ["gate"]


def test_a_durable_append_alone_is_answered_at_once_by_its_own_commit(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    journal = spawn_journal(threaded, Opened(path), flush_interval_s=60.0)
    for n in range(1, 4):
        assert journal.ask(AppendDurable(events=(noted("s", n),)), 5.0) == (n,)
        assert committed_count(path) == n
    assert journal.ask(Stats()).batches == 3


def test_a_badly_typed_event_fails_in_the_sender_not_in_the_journal() -> None:
    bad = replace(noted("s", 1), n="one")  # type: ignore[arg-type]
    with pytest.raises(EventEncodeError, match=r"JournalTestNoted\.n: expected int"):
        Append(event=bad)
    with pytest.raises(EventEncodeError, match=r"JournalTestNoted\.n"):
        AppendDurable(events=(noted("s", 2), bad))


def test_a_refused_query_is_a_reply_and_the_journal_keeps_running(
    det: DeterministicRuntime,
) -> None:
    journal = spawn_journal(det, Opened(":memory:"))
    reply = journal.ask(Query(sql="DELETE FROM events"))
    assert isinstance(reply, QueryRefused)
    assert "exactly one SELECT" in reply.reason
    assert journal.ask(AppendDurable(events=(noted("s", 1),))) == (1,)
    assert journal.ask(
        Query(sql="SELECT n FROM events, (SELECT CAST(payload->>'n' AS INT) AS n)")
    ) == [(1,)]


# --- crashes -------------------------------------------------------------------------------


def test_a_failed_durable_write_reaches_the_asker_and_crashes_the_journal(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    seen: list[ChildExited] = []
    watcher = threaded.spawn(lambda: Watcher(seen), name="watcher")
    opened = Opened(path, fault=fail_when(lambda r: r.stream_id == "poison"))
    journal = spawn_journal(threaded, opened, watcher=watcher)
    assert journal.ask(AppendDurable(events=(noted("s", 1),))) == (1,)
    journal.tell(Append(event=noted("s", 2)))  # buffered, goes down with the failed batch
    with pytest.raises(WriteFailed, match="simulated disk failure"):
        journal.ask(AppendDurable(events=(noted("poison", 3),)))
    assert wait_for(lambda: len(seen) == 1)
    assert not journal.is_alive()
    assert isinstance(seen[0].reason, Crash)
    assert "simulated disk failure" in seen[0].reason.error
    with pytest.raises(ActorDead):
        journal.tell(Append(event=noted("s", 4)))
    # The crashed incarnation released the file and left nothing of the failed batch in it.
    with JournalStore(path, read_only=True) as store:
        assert [e.n for e in store.read_all()] == [1]  # type: ignore[attr-defined]


def test_a_failed_timed_flush_crashes_the_journal_loudly(det: DeterministicRuntime) -> None:
    seen: list[ChildExited] = []
    watcher = det.spawn(lambda: Watcher(seen), name="watcher")
    opened = Opened(":memory:", fault=fail_when(lambda r: True))
    spawn_journal(det, opened, flush_interval_s=1.0, watcher=watcher)
    det.lookup(JOURNAL).tell(Append(event=noted("s", 1)))
    det.advance(1.0)
    assert [type(s.reason) for s in seen] == [Crash]
    assert JOURNAL not in det.names()


# --- restart: an event-sourced actor rebuilds the same state from its stream --------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposit:
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """Ask: (balance, deposits) as rebuilt/evolved by this incarnation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Explode:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    balance: Decimal = Decimal(0)
    deposits: int = 0


def evolve_account(state: Account, evt: Event) -> Account:
    match evt:
        case JournalTestDeposited(amount=amount):
            return Account(balance=state.balance + amount, deposits=state.deposits + 1)
        case _:
            return state


class AccountActor(Actor):
    """A toy event-sourced actor: journal first (acknowledged), then evolve."""

    def __init__(self, starts: list[int]) -> None:
        self.starts = starts
        self.state = Account()

    @property
    def stream(self) -> str:
        return f"account/{self.ctx.name}"

    def on_start(self) -> None:
        journal = self.ctx.runtime.address(JOURNAL)
        events = read_stream(journal, self.stream)
        self.state = rebuild(events, Account(), evolve_account)
        self.starts.append(self.ctx.incarnation)

    def receive(self, message: object) -> object:
        match message:
            case Deposit(amount=amount):
                evt = JournalTestDeposited(
                    stream_id=self.stream, ts=self.ctx.clock.now(), amount=amount
                )
                self.ctx.runtime.address(JOURNAL).ask(AppendDurable(events=(evt,)), 5.0)
                self.state = evolve_account(self.state, evt)
                return self.state
            case Balance():
                return self.state
            case Explode():
                msg = "account actor told to crash"
                raise RuntimeError(msg)
            case _:
                return super().receive(message)


@pytest.mark.parametrize("backend", ["deterministic", "pykka"])
def test_a_crashed_actor_restarted_by_its_supervisor_rebuilds_the_same_state_from_its_stream(
    backend: str, tmp_path: Path
) -> None:
    runtime: DeterministicRuntime | PykkaRuntime = (
        DeterministicRuntime(ManualClock())
        if backend == "deterministic"
        else PykkaRuntime(ManualClock())
    )
    starts: list[int] = []
    path = tmp_path / "journal.duckdb"
    children = (
        ChildSpec(id=JOURNAL, start=lambda: JournalActor(Opened(path), flush_interval_s=60.0)),
        ChildSpec(id="acct", start=lambda: AccountActor(starts)),
    )
    try:
        runtime.spawn(lambda: Supervisor(Flags(intensity=3), children, watchdog_s=0), name="sup")
        account = runtime.address("acct")
        for amount in ("10.25", "0.75", "5"):
            account.ask(Deposit(amount=Decimal(amount)))
        before = account.ask(Balance())
        assert before == Account(balance=Decimal("16.00"), deposits=3)

        with pytest.raises(RuntimeError, match="told to crash"):
            account.ask(Explode())
        if isinstance(runtime, DeterministicRuntime):
            runtime.run_until_idle()
        else:
            assert wait_for(lambda: starts == [1, 2])

        assert starts == [1, 2]
        assert account.ask(Balance()) == before
        assert str(account.ask(Balance()).balance) == "16.00"  # exact, not merely equal
        assert account.ask(Deposit(amount=Decimal("1"))) == Account(
            balance=Decimal("17.00"), deposits=4
        )
    finally:
        runtime.shutdown(timeout_s=5.0)


def test_a_restarted_journal_opens_the_same_file_and_continues_the_seqs(
    threaded: PykkaRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "journal.duckdb"
    flaky = threading.Event()

    def fail_once(records: Sequence[EventRecord]) -> None:
        if not flaky.is_set():
            flaky.set()
            msg = "first write fails"
            raise WriteFailed(msg)

    children = (ChildSpec(id=JOURNAL, start=lambda: JournalActor(Opened(path, fault=fail_once))),)
    threaded.spawn(lambda: Supervisor(Flags(intensity=3), children, watchdog_s=0), name="sup")
    journal = threaded.address(JOURNAL)
    with pytest.raises(WriteFailed):
        journal.ask(AppendDurable(events=(noted("s", 1),)))

    def restarted() -> bool:
        try:
            return bool(
                threaded.lookup(JOURNAL).ask(AppendDurable(events=(noted("s", 2),))) == (1,)
            )
        except ActorDead:
            return False

    assert wait_for(restarted)
    assert journal.ask(AppendDurable(events=(noted("s", 3),))) == (2,)
