"""§4 Faults: the process killed during a registry import leaves the old registry or the new one, never half.

`manage.py import-registry --replace` runs in a child process on a file database (SQLite, and
PostgreSQL when KVORUM_TEST_POSTGRES_URL is set) and gets SIGKILL at several moments: while it
reads the file, as its write transaction begins, in the middle and near the end of it. Between
trials two registries (A: 50 000 owners, B: 30 000) take turns as the one being imported, so
every trial starts from a known complete registry and must end on it or on the file's.
"""
from __future__ import annotations

import signal
import sqlite3
import time

import pytest

from tests import hang
from sqlalchemy import text

from faultkit import expected_fingerprint, manage_popen, manage_run, new_meeting, registry_fingerprint, \
    registry_rows, write_registry_xlsx, child_env

ROWS_A, ROWS_B = 50_000, 30_000


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    d = tmp_path_factory.mktemp("registries")
    a, b = registry_rows(ROWS_A, tag="A"), registry_rows(ROWS_B, tag="B")
    return {
        "A": (write_registry_xlsx(d / "реестр-A.xlsx", a), expected_fingerprint(a)),
        "B": (write_registry_xlsx(d / "реестр-B.xlsx", b), expected_fingerprint(b)),
    }


def writer_probe(engine, db_url: str):
    """A function telling whether another connection holds an open write transaction right now."""
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[1]

        def sqlite_writing() -> bool:
            # BEGIN IMMEDIATE with no wait fails exactly when another connection holds the write lock
            conn = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc) or "busy" in str(exc), exc
                return True
            finally:
                conn.close()

        return sqlite_writing

    def postgres_writing() -> bool:
        # a client backend gets a transaction id at its first write (the DELETE of the old
        # registry); autovacuum's workers, busy after the previous import, are not the import
        with engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL")).scalar())

    return postgres_writing


def wait_for(predicate, proc, timeout: float = hang.COMMAND, step: float = 0.01) -> float | None:
    """Seconds until predicate() holds, or None if the process exits (or time runs out) first."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            return None
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def test_a_killed_import_leaves_the_old_registry_or_the_new_one_never_half(db_url, engine, session_factory,
                                                                           registries, tmp_path):
    meeting_id = new_meeting(session_factory)
    env = child_env(db_url, tmp_path)
    log = tmp_path / "import.log"
    writing = writer_probe(engine, db_url)
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"

    def import_args(which: str) -> list[str]:
        return ["import-registry", "--meeting", str(meeting_id), str(registries[which][0]), "--replace"]

    # Trial 0, not killed: B stored, and the phases of a whole import measured for the kills below.
    start = time.monotonic()
    proc = manage_popen(*import_args("B"), env=env, log=log)
    to_writing = wait_for(writing, proc)
    proc.wait(timeout=300)
    total = time.monotonic() - start
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert to_writing is not None, "the probe never saw the import's write transaction"
    in_transaction = total - to_writing
    assert registry_fingerprint(session_factory, meeting_id) == registries["B"][1]
    print(f"\n[{backend}] whole import of {ROWS_B} rows: {total:.1f} s, of which the write transaction ≈ "
          f"{in_transaction:.1f} s (after {to_writing:.1f} s of reading and checking the file)")

    current = "B"
    # (moment, seconds after the start or after the write transaction was seen)
    moments = [("reading the file", 0.4 * to_writing), ("the transaction begins", 0.0),
               ("mid-transaction", 0.4 * in_transaction), ("late in the transaction", 0.8 * in_transaction)]
    killed_while_writing = 0
    outcomes = []
    for moment, delay in moments:
        target = "A" if current == "B" else "B"
        proc = manage_popen(*import_args(target), env=env, log=log)
        if moment == "reading the file":
            time.sleep(delay)
        else:
            assert wait_for(writing, proc) is not None, f"{moment}: the import ended before it started writing"
            time.sleep(delay)
        # frozen first, so what the probe sees is exactly what the kill interrupts (no commit in between)
        proc.send_signal(signal.SIGSTOP)
        was_writing = proc.poll() is None and writing()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # PostgreSQL ends the dead client's transaction when its backend next touches the socket
        # (after the statement it was running): wait for that, so the next trial's probe sees its own
        deadline = time.monotonic() + hang.STOP
        while writing():
            assert time.monotonic() < deadline, hang.message("the killed import's transaction", hang.STOP)
            time.sleep(0.05)
        killed_while_writing += was_writing and proc.returncode == -signal.SIGKILL

        found = registry_fingerprint(session_factory, meeting_id)
        outcome = next((name for name in ("A", "B") if registries[name][1] == found), None)
        outcomes.append((moment, proc.returncode, was_writing, outcome, found[:2]))
        print(f"[{backend}] killed {moment} (writing: {was_writing}, exit {proc.returncode}): registry is "
              f"{'the old one' if outcome == current else 'the new one' if outcome == target else 'HALF'} "
              f"({found[0]} owners, {found[1]} premises)")
        assert outcome in (current, target), f"a half registry after a kill {moment}: {found[:2]}"
        if was_writing:
            assert outcome == current, f"killed inside the write transaction, yet the new registry is there"
        current = outcome

    assert killed_while_writing >= 2, f"too few kills landed inside the write transaction: {outcomes}"

    if backend == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    # and the database takes the next import as if nothing had happened
    target = "A" if current == "B" else "B"
    result = manage_run(*import_args(target), env=env)
    assert result.returncode == 0, result.stderr
    assert registry_fingerprint(session_factory, meeting_id) == registries[target][1]
