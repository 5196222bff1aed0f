"""Journal benchmark (issue 7, item 5): appends per second sustained by the journal actor on
pykka, and the latency of a durable append (the flush a position waits for before the venue).

Baseline in the same run: the same records written straight into `JournalStore` in the actor's
batch size, with no actor in between. Run alone: `python -m bench journal`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from actors.journal import Append, AppendDurable, Flush, JournalActor
from bench.common import Report, Row, percentile, summarise
from runtime.clock import RealClock
from runtime.pykka_backend import PykkaRuntime
from state.events import ActorStarted, to_record
from state.journal_store import JournalStore

BATCH = 500  # the journal actor's default batch size


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


def run(*, tiny: bool = False) -> Report:
    count, durable, repeats = (2_000, 50, 2) if tiny else (20_000, 300, 3)
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
    report.note(
        "Told appends are prepared (encoded) before timing: encoding happens in the sender. "
        "A told append is committed within flush_interval_s (0.2 s) or when 500 are buffered."
    )
    return report
