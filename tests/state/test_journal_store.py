"""JournalStore: migrations, batched idempotent appends, reads, report queries, failed writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.events import ActorStarted, Event, EventRecord, event
from state.journal_store import (
    MIGRATIONS,
    JournalReadOnly,
    JournalSchemaError,
    JournalStore,
    Migration,
    QueryRejected,
)


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSampleFilled(Event):
    price: Decimal
    size: Decimal


def filled(stream_id: str, n: int, *, event_id: str = "") -> StoreSampleFilled:
    return StoreSampleFilled(
        stream_id=stream_id,
        ts=1_767_225_600.0 + n,
        event_id=event_id,
        price=Decimal("0.5"),
        size=Decimal(n),
    )


class WriteFailed(Exception):
    pass


EXTRA_MIGRATION = Migration(
    version=2, description="test: a notes table", statements=("CREATE TABLE notes (note VARCHAR)",)
)


# --- migrations ------------------------------------------------------------------------


def test_a_new_journal_records_each_migration_it_applied(tmp_path: Path) -> None:
    with JournalStore(tmp_path / "j.duckdb") as store:
        assert store.applied_migrations == (1,)
        assert store.schema_version == 1
        rows = store.query(
            "SELECT version, description, applied_at IS NOT NULL FROM schema_migrations"
        )
    assert rows == [(1, MIGRATIONS[0].description, True)]


def test_reopening_applies_nothing_and_keeps_the_events(tmp_path: Path) -> None:
    path = tmp_path / "j.duckdb"
    with JournalStore(path) as store:
        store.append_batch([filled("s", 1)])
        first_applied_at = store.query("SELECT applied_at FROM schema_migrations")
    with JournalStore(path) as store:
        assert store.applied_migrations == ()
        assert store.query("SELECT applied_at FROM schema_migrations") == first_applied_at
        assert store.count() == 1


def test_reopening_with_a_new_migration_applies_only_that_one(tmp_path: Path) -> None:
    path = tmp_path / "j.duckdb"
    JournalStore(path).close()
    with JournalStore(path, migrations=(*MIGRATIONS, EXTRA_MIGRATION)) as store:
        assert store.applied_migrations == (2,)
        assert store.query("SELECT version FROM schema_migrations ORDER BY version") == [(1,), (2,)]
        assert store.query("SELECT count(*) FROM notes") == [(0,)]


def test_a_journal_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.duckdb"
    JournalStore(path, migrations=(*MIGRATIONS, EXTRA_MIGRATION)).close()
    with pytest.raises(JournalSchemaError, match="at schema v2, newer than this code's v1"):
        JournalStore(path)


def test_a_failing_migration_leaves_the_schema_at_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "j.duckdb"
    broken = Migration(
        version=2, description="broken", statements=("CREATE TABLE x (a INT)", "NOT SQL")
    )
    with pytest.raises(Exception, match="syntax error"):
        JournalStore(path, migrations=(*MIGRATIONS, broken))
    with JournalStore(path, migrations=(*MIGRATIONS, EXTRA_MIGRATION)) as store:
        assert store.applied_migrations == (2,)
        assert store.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'x'"
        ) == [(0,)]


def test_migration_versions_with_a_gap_are_refused() -> None:
    gap = Migration(version=3, description="gap", statements=())
    with pytest.raises(JournalSchemaError, match="without gaps; got 3 at position 2"):
        JournalStore(":memory:", migrations=(*MIGRATIONS, gap))


def test_read_only_opens_a_migrated_journal_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "j.duckdb"
    with JournalStore(path) as store:
        store.append_batch([filled("s", 1)])
    with JournalStore(path, read_only=True) as reader:
        assert [e.size for e in reader.read_stream("s")] == [Decimal(1)]  # type: ignore[attr-defined]
        with pytest.raises(JournalReadOnly, match="open read-only"):
            reader.append_batch([filled("s", 2)])


def test_read_only_refuses_a_missing_or_unmigrated_journal(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.duckdb"):
        JournalStore(tmp_path / "missing.duckdb", read_only=True)
    path = tmp_path / "old.duckdb"
    JournalStore(path).close()
    with pytest.raises(JournalSchemaError, match="open it writable once to migrate"):
        JournalStore(path, read_only=True, migrations=(*MIGRATIONS, EXTRA_MIGRATION))


# --- appends and reads -----------------------------------------------------------------


def test_seqs_increase_across_batches_and_streams_read_back_in_order() -> None:
    with JournalStore(":memory:") as store:
        first = store.append_batch([filled("a", 1), filled("b", 1), filled("a", 2)])
        second = store.append_batch([filled("a", 3)])
        assert first == [1, 2, 3]
        assert second == [4]
        assert [e.size for e in store.read_stream("a")] == [1, 2, 3]  # type: ignore[attr-defined]
        assert [e.size for e in store.read_stream("a", after_seq=3)] == [3]  # type: ignore[attr-defined]
        assert [r.seq for r in store.read_stream_records("a")] == [1, 3, 4]
        assert [e.stream_id for e in store.read_all(after_seq=1, limit=2)] == ["b", "a"]
        assert store.count() == 4
        assert store.last_seq == 4


def test_read_events_equal_the_appended_ones() -> None:
    events = [filled("a", 1), ActorStarted(stream_id="a", ts=9.5, name="x", incarnation=2)]
    with JournalStore(":memory:") as store:
        store.append_batch(events)
        assert store.read_stream("a") == events


def test_seqs_continue_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.duckdb"
    with JournalStore(path) as store:
        store.append_batch([filled("a", 1), filled("a", 2)])
    with JournalStore(path) as store:
        assert store.append_batch([filled("a", 3)]) == [3]


def test_a_resent_event_is_stored_once_and_gets_its_first_seq() -> None:
    resent = filled("a", 1)
    with JournalStore(":memory:") as store:
        assert store.append_batch([resent, filled("a", 2)]) == [1, 2]
        assert store.append_batch([filled("a", 3), resent, filled("a", 4)]) == [3, 1, 4]
        assert store.count() == 4
        assert [e.size for e in store.read_stream("a")] == [1, 2, 3, 4]  # type: ignore[attr-defined]


def test_a_duplicate_inside_one_batch_is_stored_once() -> None:
    twice = filled("a", 1)
    with JournalStore(":memory:") as store:
        assert store.append_batch([twice, filled("a", 2), twice]) == [1, 2, 1]
        assert store.count() == 2


def test_rebuilding_an_event_with_the_same_caller_id_is_idempotent() -> None:
    with JournalStore(":memory:") as store:
        store.append_batch([filled("a", 1, event_id="a:intent:coid-1")])
        # After a crash the owner rebuilds the "same" event as a new object: same id, stored once.
        assert store.append_batch([filled("a", 1, event_id="a:intent:coid-1")]) == [1]
        assert store.count() == 1


def test_an_empty_batch_writes_nothing() -> None:
    with JournalStore(":memory:") as store:
        assert store.append_batch([]) == []
        assert store.count() == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=15), max_size=8), max_size=6))
def test_any_sequence_of_batches_with_resends_stores_each_event_exactly_once_in_first_send_order(
    batches: list[list[int]],
) -> None:
    pool = [filled(f"s{i % 3}", i) for i in range(16)]
    with JournalStore(":memory:") as store:
        for batch in batches:
            store.append_batch([pool[i] for i in batch])
        first_sent = list(dict.fromkeys(i for batch in batches for i in batch))
        assert [e.event_id for e in store.read_all()] == [pool[i].event_id for i in first_sent]
        assert [r.seq for r in store.read_all_records()] == list(range(1, len(first_sent) + 1))


# --- failed writes ---------------------------------------------------------------------


def test_a_write_failing_before_commit_leaves_nothing_and_does_not_burn_seqs() -> None:
    seen: list[Sequence[EventRecord]] = []

    def fail_on_poison(records: Sequence[EventRecord]) -> None:
        seen.append(records)
        if any(r.stream_id == "poison" for r in records):
            msg = "disk full (simulated)"
            raise WriteFailed(msg)

    with JournalStore(":memory:", fault=fail_on_poison) as store:
        store.append_batch([filled("a", 1)])
        with pytest.raises(WriteFailed, match="disk full"):
            store.append_batch([filled("a", 2), filled("a", 3), filled("poison", 4)])
        assert store.count() == 1
        assert [len(batch) for batch in seen] == [1, 3]
        assert store.append_batch([filled("a", 5)]) == [2]
        assert [e.size for e in store.read_stream("a")] == [1, 5]  # type: ignore[attr-defined]


def test_a_failed_write_of_a_resend_leaves_nothing_either() -> None:
    calls = 0

    def fail_the_redo(records: Sequence[EventRecord]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # 1: the first batch; 2: the resend, refused as a duplicate; 3: its redo
            msg = "connection lost (simulated)"
            raise WriteFailed(msg)

    resent = filled("a", 1)
    with JournalStore(":memory:", fault=fail_the_redo) as store:
        store.append_batch([resent])
        with pytest.raises(WriteFailed):
            store.append_batch([filled("a", 2), resent])  # duplicate path, then the failure
        assert calls == 3
        assert store.count() == 1
        assert store.append_batch([filled("a", 3), resent]) == [2, 1]


def test_a_batch_longer_than_a_duckdb_vector_is_still_all_or_nothing() -> None:
    resent = filled("a", 0)
    with JournalStore(":memory:") as store:
        store.append_batch([resent])
        batch = [filled("b", n) for n in range(1, 5_000)] + [resent]  # the duplicate comes last
        seqs = store.append_batch(batch)  # refused whole, then redone without the stored one
        # Had the refused attempt kept any of its rows, they would hold seqs from 2 on, and the
        # redo, numbering from 2 again, would have collided with them.
        assert seqs == [*range(2, 5_001), 1]
        assert store.count() == 5_000


def test_a_failed_write_survives_reopening_as_nothing(tmp_path: Path) -> None:
    def always_fail(records: Sequence[EventRecord]) -> None:
        msg = "simulated"
        raise WriteFailed(msg)

    path = tmp_path / "j.duckdb"
    with JournalStore(path, fault=always_fail) as store, pytest.raises(WriteFailed):
        store.append_batch([filled("a", 1)])
    with JournalStore(path) as store:
        assert store.count() == 0


# --- report queries --------------------------------------------------------------------


def test_a_select_runs_with_parameters() -> None:
    with JournalStore(":memory:") as store:
        store.append_batch([filled("a", 1), filled("b", 2), filled("a", 3)])
        rows = store.query(
            "WITH f AS (SELECT * FROM events WHERE stream_id = ?) "
            "SELECT count(*), sum(CAST(payload->>'size' AS DECIMAL(18, 6))) FROM f",
            ("a",),
        )
        assert rows == [(2, Decimal(4))]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM events",
        "INSERT INTO events SELECT * FROM events",
        "DROP TABLE events",
        "UPDATE events SET stream_id = 'x'",
        "SELECT 1; DELETE FROM events",
        "PRAGMA database_list",
        "COPY events TO '/tmp/x.csv'",
        "ATTACH ':memory:' AS other",
        "CHECKPOINT",
    ],
)
def test_anything_but_one_select_is_rejected_and_changes_nothing(sql: str) -> None:
    with JournalStore(":memory:") as store:
        store.append_batch([filled("a", 1)])
        with pytest.raises(QueryRejected, match="exactly one SELECT"):
            store.query(sql)
        assert store.count() == 1


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("SELEC 1", "does not parse"), ("SELECT no_such_column FROM events", "query failed")],
)
def test_a_broken_select_is_rejected_and_the_store_keeps_working(sql: str, expected: str) -> None:
    with JournalStore(":memory:") as store:
        with pytest.raises(QueryRejected, match=expected):
            store.query(sql)
        assert store.append_batch([filled("a", 1)]) == [1]
        assert store.query("SELECT count(*) FROM events") == [(1,)]


def test_remembered_selects_still_run_and_a_rejected_text_stays_rejected() -> None:
    with JournalStore(":memory:") as store:
        store.append_batch([filled("a", 1)])
        for _ in range(3):
            assert store.query("SELECT count(*) FROM events WHERE seq > ?", (0,)) == [(1,)]
        for _ in range(2):
            with pytest.raises(QueryRejected, match="exactly one SELECT"):
                store.query("DELETE FROM events")
        assert store.count() == 1
