"""Journal benchmark (issue 7, item 5): appends per second sustained by the journal actor on
pykka, the latency of a durable append (the flush a position waits for before the venue), and
durable appends per second when many requesters ask at once (positions stopping together),
where queued requests share a commit.

Baseline in the same run: the same records written straight into `JournalStore` in the actor's
batch size, with no actor in between. Run alone: `python -m bench journal`.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from actors.journal import Append, AppendDurable, Flush, JournalActor, Stats
from bench.common import Report, Row, percentile, summarise
from runtime.clock import RealClock
from runtime.pykka_backend import PykkaRuntime
from state.events import ActorStarted, to_record
from state.journal_store import JournalStore

BATCH = 500  # the journal actor's default batch size
REQUESTERS = (1, 10, 100)  # concurrent durable requesters (positions deciding at once)


def _events(count: int, stream: str) -> list[ActorStarted]:
    return [
        ActorStarted(stream_id=stream, ts=float(i), name=stream, incarnation=i)
        for i in range(count)
    ]


def actor_appends_per_s(directory: Path, count: int, run: int) -> float:
    """Tell `count` prepared appends from one producer, then ask a flush; all committed."""
    messages = [Append(event=e) for e in _events(count, f"bench-{run}")]
    runtime = PykkaRuntime(RealClock())
    try:
        path = directory / f"actor-{run}.duckdb"
        journal = runtime.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
        journal.ask(Flush())
        started = time.perf_counter()
        for message in messages:
            journal.tell(message)
        journal.ask(Flush(), 60.0)
        return count / (time.perf_counter() - started)
    finally:
        runtime.shutdown()


def store_appends_per_s(directory: Path, count: int, run: int) -> float:
    """The floor under the actor: the same records committed straight into the store."""
    records = [to_record(e) for e in _events(count, f"store-{run}")]
    with JournalStore(directory / f"store-{run}.duckdb") as store:
        started = time.perf_counter()
        for first in range(0, count, BATCH):
            store.append_records(records[first : first + BATCH])
        return count / (time.perf_counter() - started)


def durable_latencies_us(directory: Path, count: int, run: int) -> list[float]:
    """Round trip of `AppendDurable` with one event: journal, commit, reply (no other load)."""
    runtime = PykkaRuntime(RealClock())
    try:
        path = directory / f"durable-{run}.duckdb"
        journal = runtime.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
        journal.ask(Flush())
        latencies = []
        for event in _events(count, f"durable-{run}"):
            started = time.perf_counter()
            journal.ask(AppendDurable(events=(event,)), 10.0)
            latencies.append((time.perf_counter() - started) * 1e6)
        return sorted(latencies)
    finally:
        runtime.shutdown()


def concurrent_durable(
    directory: Path, requesters: int, total: int, run: int
) -> tuple[float, float]:
    """`requesters` threads each ask `AppendDurable` of one event, one ask after another, all
    starting together: (durable appends per second, events per commit)."""
    runtime = PykkaRuntime(RealClock())
    try:
        path = directory / f"concurrent-{requesters}-{run}.duckdb"
        journal = runtime.spawn(lambda: JournalActor(lambda: JournalStore(path)), name="journal")
        journal.ask(Flush())
        per_requester = total // requesters
        start = threading.Barrier(requesters + 1)
        failures: list[BaseException] = []

        def request(i: int) -> None:
            messages = [AppendDurable(events=(e,)) for e in _events(per_requester, f"r{i}")]
            start.wait()
            try:
                for message in messages:
                    journal.ask(message, 60.0)
            except Exception as e:  # reported below: a failed append is no figure
                failures.append(e)

        threads = [
            threading.Thread(target=request, args=(i,), name=f"bench-requester-{i}", daemon=True)
            for i in range(requesters)
        ]
        for thread in threads:
            thread.start()
        before = journal.ask(Stats()).batches
        start.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            msg = f"{len(failures)} durable appends failed, first {failures[0]!r}"
            raise RuntimeError(msg)
        commits = journal.ask(Stats()).batches - before
        done = per_requester * requesters
        return done / elapsed, done / max(commits, 1)
    finally:
        runtime.shutdown()


def run(*, tiny: bool = False) -> Report:
    count, durable, repeats = (2_000, 50, 2) if tiny else (20_000, 300, 3)
    concurrent_total = 200 if tiny else 2_000
    report = Report(name="journal")
    with tempfile.TemporaryDirectory(prefix="polyactor-bench-journal-") as tmp:
        directory = Path(tmp)
        actor = summarise([actor_appends_per_s(directory, count, r) for r in range(repeats)])
        store = summarise([store_appends_per_s(directory, count, r) for r in range(repeats)])
        report.add(
            Row(
                benchmark="journal",
                case=f"appends/s, {count:,} told appends then a flush (pykka)",
                figure=actor.text("{:,.0f}"),
                baseline=f"store alone, batches of {BATCH}: {store.text('{:,.0f}')}",
                ratio=f"{actor.median / store.median:.2f}x",
                data={"actor": actor, "store": store},
            )
        )
        p50s: list[float] = []
        p99s: list[float] = []
        for r in range(repeats):
            latencies = durable_latencies_us(directory, durable, r)
            p50s.append(percentile(latencies, 0.5))
            p99s.append(percentile(latencies, 0.99))
        p50, p99 = summarise(p50s), summarise(p99s)
        report.add(
            Row(
                benchmark="journal",
                case="durable append (flush) latency, one event, p50 us",
                figure=p50.text("{:,.0f}"),
                data={"p50_us": p50},
            )
        )
        report.add(
            Row(
                benchmark="journal",
                case="durable append (flush) latency, one event, p99 us",
                figure=p99.text("{:,.0f}"),
                data={"p99_us": p99},
            )
        )
        alone: float | None = None
        for requesters in REQUESTERS:
            runs = [
                concurrent_durable(directory, requesters, concurrent_total, r)
                for r in range(repeats)
            ]
            rate = summarise([r[0] for r in runs])
            per_commit = summarise([r[1] for r in runs])
            alone = alone or rate.median
            report.add(
                Row(
                    benchmark="journal",
                    case=(
                        f"durable appends/s, {requesters} concurrent requester(s), one event "
                        "per ask (events per commit)"
                    ),
                    figure=f"{rate.text('{:,.0f}')} ({per_commit.median:,.1f})",
                    baseline=f"1 requester {alone:,.0f}",
                    ratio=f"{rate.median / alone:.2f}x",
                    data={"per_s": rate, "events_per_commit": per_commit},
                )
            )
    report.note(
        "Told appends are prepared (encoded) before timing: encoding happens in the sender. "
        "A told append is committed within flush_interval_s (0.2 s) or when 500 are buffered."
    )
    report.note(
        f"Concurrent durable appends: {concurrent_total:,} one-event asks split over N threads "
        "that each ask, wait for the answer, and ask again. Asks that queue up while a commit "
        "runs share the next commit (group commit); each is answered only after it."
    )
    return report
