"""The DuckDB event journal on disk: schema migrations, batched idempotent appends, reads.

`JournalStore` is plain I/O with no threads and no actor code. In a running bot exactly one
`JournalStore` is open, owned by the journal actor (actors/journal.py), because DuckDB lets one
process hold the file: while the bot runs, another process cannot open it at all, not even
read-only. When the bot is stopped, tools open `JournalStore(path, read_only=True)` directly.

Writes (why they look the way they do; figures in docs/journal.md):

- One transaction per batch, rows added with DuckDB's Appender (about 10x a multi-row INSERT
  here), reused across batches. The Appender's flush, outside an explicit transaction, is that
  transaction: all rows or none (a constraint broken by the last of 250,000 rows stores none).
  No BEGIN and COMMIT around it: each DuckDB call lets go of the GIL, and getting it back
  behind busy actor threads cost up to a switch interval (5 ms) per call, so three calls made
  a commit take ~8 ms in the hot-path benchmark where one call takes 4-5 ms.
- `seq` is assigned here, monotonically, from the largest stored seq; it never moves for a batch
  that did not commit.
- Appends are idempotent on `event_id` (invariant 2: a retried write must not store an event
  twice). The fast path assumes no duplicates and lets the UNIQUE index check; on a violation
  the batch is rolled back and redone, skipping stored ids. A duplicate gets the seq of its first
  copy, so a retried acknowledged append returns the same seqs.

Errors:

    JournalError
    ├── JournalSchemaError  database written by newer code, unmigrated read-only open, bad migrations
    ├── JournalReadOnly     a write on a store opened read-only
    └── QueryRejected       `query` got something other than one SELECT, or the SELECT failed
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import duckdb

from state.events import Event, EventRecord, decode_all, to_record

__all__ = [
    "MIGRATIONS",
    "FaultHook",
    "JournalError",
    "JournalReadOnly",
    "JournalSchemaError",
    "JournalStore",
    "Migration",
    "QueryRejected",
]


class JournalError(Exception):
    """Root of the journal store's errors (tree in the module docstring)."""


class JournalSchemaError(JournalError):
    """The database schema and this code's migrations do not agree."""


class JournalReadOnly(JournalError):
    """A write was attempted on a store opened with `read_only=True`."""


class QueryRejected(JournalError):
    """A report query was not exactly one SELECT, or DuckDB refused it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One numbered schema change. Versions start at 1 and have no gaps; never edit a shipped one."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="events table with per-stream index",
        statements=(
            """
            CREATE TABLE events (
                seq       BIGINT PRIMARY KEY,
                event_id  VARCHAR NOT NULL UNIQUE,
                stream_id VARCHAR NOT NULL,
                type      VARCHAR NOT NULL,
                version   INTEGER NOT NULL,
                ts        DOUBLE  NOT NULL,
                payload   JSON    NOT NULL
            )
            """,
            "CREATE INDEX events_stream_id ON events (stream_id)",
        ),
    ),
)

# Called after the batch's rows are staged in the Appender and before its flush commits them:
# raising there is a write that failed halfway, which must leave nothing behind.
FaultHook = Callable[[Sequence[EventRecord]], None]

_SCHEMA_MIGRATIONS_DDL = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version     INTEGER PRIMARY KEY,
        applied_at  TIMESTAMP NOT NULL DEFAULT (current_timestamp AT TIME ZONE 'UTC'),
        description VARCHAR NOT NULL
    )
"""
_RECORD_COLUMNS = "seq, event_id, stream_id, type, version, ts, payload"
_MEMORY = ":memory:"
_SELECTS_REMEMBERED = 1_000


class JournalStore:
    """One open DuckDB journal. Not thread-safe: one owner (the journal actor) uses it.

    Args:
        path: the database file, or ":memory:" (tests). Parent directories are created.
        read_only: open without writing (tools, when the bot is not running). The schema must
            already be at this code's version.
        fault: test hook called before each commit with the batch; raising fails the write.
        migrations: the schema history (tests pass their own to exercise upgrades).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        fault: FaultHook | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        _check_migrations(migrations)
        self.path = str(path)
        self.read_only = read_only
        self._fault = fault
        self._migrations = tuple(migrations)
        self._appender: duckdb.Appender | None = None
        # Texts already found to be one SELECT: parsing costs a DuckDB call per query, and the
        # periodic checks repeat the same few texts thousands of times a day.
        self._selects: set[str] = set()
        if self.path != _MEMORY:
            if read_only and not Path(self.path).exists():
                msg = f"journal file {self.path!r} does not exist"
                raise FileNotFoundError(msg)
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(self.path, read_only=read_only)
        try:
            self.applied_migrations = self._migrate()
            self._next_seq = (_scalar(self._con, "SELECT max(seq) FROM events") or 0) + 1
            # A separate connection for reports: its read-only transactions cannot touch
            # the writer's.
            self._report_cursor = self._con.cursor()
        except Exception:
            self._con.close()
            raise
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the file (idempotent). Committed batches are already durable."""
        if self._closed:
            return
        self._closed = True
        self._discard_appender()
        self._report_cursor.close()
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(_scalar(self._con, "SELECT coalesce(max(version), 0) FROM schema_migrations"))

    # --- writes -------------------------------------------------------------------------------

    def append_batch(self, events: Sequence[Event]) -> list[int]:
        """Append events in one transaction; returns each event's seq, in input order."""
        return self.append_records([to_record(e) for e in events])

    def append_records(self, records: Sequence[EventRecord]) -> list[int]:
        """Append encoded events in one transaction; returns each record's seq, in input order.

        A record whose `event_id` is already stored (or appears earlier in the batch) is not
        stored again and gets the seq of the stored copy. Any exception leaves nothing of the
        batch behind.
        """
        if self.read_only:
            msg = f"journal {self.path!r} is open read-only; only the journal actor writes"
            raise JournalReadOnly(msg)
        if not records:
            return []
        try:
            return self._write_assuming_new(records)
        except duckdb.ConstraintException:
            # A resent event (rare: a retried ask); redo the batch without the stored ones.
            return self._write_skipping_stored(records)

    def _write_assuming_new(self, records: Sequence[EventRecord]) -> list[int]:
        seqs = list(range(self._next_seq, self._next_seq + len(records)))
        self._commit_rows(records, seqs)
        return seqs

    def _write_skipping_stored(self, records: Sequence[EventRecord]) -> list[int]:
        ids = list({r.event_id: None for r in records})
        stored = dict(
            self._con.execute(
                "SELECT event_id, seq FROM events WHERE event_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        )
        seq_of: dict[str, int] = dict(stored)
        new_records: list[EventRecord] = []
        new_seqs: list[int] = []
        for record in records:
            if record.event_id not in seq_of:
                seq_of[record.event_id] = self._next_seq + len(new_records)
                new_records.append(record)
                new_seqs.append(seq_of[record.event_id])
        self._commit_rows(new_records, new_seqs)
        return [seq_of[r.event_id] for r in records]

    def _commit_rows(self, records: Sequence[EventRecord], seqs: Sequence[int]) -> None:
        committed = False
        try:
            appender = self._events_appender()
            appender.append_rows(
                [
                    (seq, r.event_id, r.stream_id, r.type_name, r.version, r.ts, r.payload)
                    for seq, r in zip(seqs, records, strict=True)
                ]
            )
            if self._fault is not None:
                self._fault(records)
            appender.flush()  # one autocommitted transaction (see the module docstring)
            committed = True
        finally:
            if not committed:
                # DuckDB rolled back a flush that failed; the Appender may still hold its rows.
                self._discard_appender()
        if seqs:
            self._next_seq = seqs[-1] + 1

    def _events_appender(self) -> duckdb.Appender:
        # Kept across batches (saves ~0.7 ms a commit here).
        if self._appender is None:
            self._appender = self._con.appender("events")
        return self._appender

    def _discard_appender(self) -> None:
        # After a failure its buffer may still hold rows of the failed batch; a fresh appender
        # guarantees the next batch cannot carry them in.
        if self._appender is not None:
            appender, self._appender = self._appender, None
            appender.clear()

    # --- reads --------------------------------------------------------------------------------

    def read_stream_records(self, stream_id: str, after_seq: int = 0) -> list[EventRecord]:
        """The stream's records with seq > `after_seq`, oldest first."""
        rows = self._con.execute(
            f"SELECT {_RECORD_COLUMNS} FROM events WHERE stream_id = ? AND seq > ? ORDER BY seq",
            [stream_id, after_seq],
        ).fetchall()
        return [_record(row) for row in rows]

    def read_stream(self, stream_id: str, after_seq: int = 0) -> list[Event]:
        """The stream's events with seq > `after_seq`, oldest first (decoded)."""
        return decode_all(self.read_stream_records(stream_id, after_seq))

    def read_all_records(self, after_seq: int = 0, limit: int | None = None) -> list[EventRecord]:
        """Every stream's records with seq > `after_seq` in seq order, at most `limit`."""
        sql = f"SELECT {_RECORD_COLUMNS} FROM events WHERE seq > ? ORDER BY seq"
        params: list[Any] = [after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_record(row) for row in self._con.execute(sql, params).fetchall()]

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Every stream's events with seq > `after_seq` in seq order, at most `limit` (decoded)."""
        return decode_all(self.read_all_records(after_seq, limit))

    def stream_ids(self) -> set[str]:
        """Every stream with at least one committed event."""
        return {
            row[0] for row in self._con.execute("SELECT DISTINCT stream_id FROM events").fetchall()
        }

    def last_seq_by_type(self) -> dict[str, int]:
        """Each event type to the seq of its last committed event."""
        rows = self._con.execute("SELECT type, max(seq) FROM events GROUP BY type").fetchall()
        return {str(type_name): int(seq) for type_name, seq in rows}

    def count(self) -> int:
        return int(_scalar(self._con, "SELECT count(*) FROM events"))

    @property
    def last_seq(self) -> int:
        """The largest committed seq (0 when empty)."""
        return self._next_seq - 1

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only SELECT (reports); anything else raises QueryRejected."""
        if sql not in self._selects:
            self._check_one_select(sql)
            if len(self._selects) >= _SELECTS_REMEMBERED:
                self._selects.clear()  # the bot's own queries are a few dozen constant texts
            self._selects.add(sql)
        cursor = self._report_cursor
        # Belt and braces: even a SELECT runs in a transaction that cannot write.
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        try:
            return cursor.execute(sql, list(params)).fetchall()
        except duckdb.Error as e:
            msg = f"report query failed: {e}"
            raise QueryRejected(msg) from e
        finally:
            cursor.execute("ROLLBACK")

    def _check_one_select(self, sql: str) -> None:
        try:
            statements = self._report_cursor.extract_statements(sql)
        except duckdb.Error as e:
            msg = f"report query does not parse: {e}"
            raise QueryRejected(msg) from e
        kinds = [s.type for s in statements]
        if kinds != [duckdb.StatementType.SELECT]:
            msg = (
                f"report queries must be exactly one SELECT, got {[k.name for k in kinds]}: {sql!r}"
            )
            raise QueryRejected(msg)

    # --- schema -------------------------------------------------------------------------------

    def _migrate(self) -> tuple[int, ...]:
        """Apply missing migrations in order, each in its own transaction; returns those applied."""
        con = self._con
        known = self._migrations[-1].version if self._migrations else 0
        if self.read_only:
            has_table = _scalar(
                con,
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'",
            )
            current = self.schema_version if has_table else 0
            if current != known:
                msg = (
                    f"journal {self.path!r} is at schema v{current}, this code expects v{known}; "
                    f"{'upgrade the code' if current > known else 'open it writable once to migrate'}"
                )
                raise JournalSchemaError(msg)
            return ()
        con.execute(_SCHEMA_MIGRATIONS_DDL)
        current = self.schema_version
        if current > known:
            msg = (
                f"journal {self.path!r} is at schema v{current}, newer than this code's v{known}: "
                f"run the newer code or restore an older journal"
            )
            raise JournalSchemaError(msg)
        applied: list[int] = []
        for migration in self._migrations:
            if migration.version <= current:
                continue
            con.execute("BEGIN TRANSACTION")
            committed = False
            try:
                for statement in migration.statements:
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                    [migration.version, migration.description],
                )
                con.execute("COMMIT")
                committed = True
            finally:
                if not committed:
                    _rollback(con)
            applied.append(migration.version)
        return tuple(applied)


def _check_migrations(migrations: Sequence[Migration]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            msg = f"migration versions must be 1, 2, 3, ... without gaps; got {migration.version} at position {expected}"
            raise JournalSchemaError(msg)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The one value of a one-row query, fetched to the end: a result left unfinished on the
    connection makes the Appender's next flush fail (ResourceInUseException)."""
    rows = con.execute(sql).fetchall()
    return rows[0][0] if rows else None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        # DuckDB already ended the transaction (a failed COMMIT rolls back by itself); the
        # original error is propagating and is the one that matters.
        pass


def _record(row: tuple[Any, ...]) -> EventRecord:
    seq, event_id, stream_id, type_name, version, ts, payload = row
    return EventRecord(
        seq=seq,
        event_id=event_id,
        stream_id=stream_id,
        type_name=type_name,
        version=version,
        ts=ts,
        payload=payload,
    )
