"""§4 Faults: several processes writing one SQLite file at once never get «database is locked».

Two processes save registry edits (services.registry.apply_registry_changes), two register paper
decisions (services.voting.register_paper_decision), two append audit records (services.audit.record),
all released at the same instant on one database file. Every write must succeed — a locked
database must make a writer wait, never fail — and every write must be there afterwards.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from faultkit import SECRET, new_meeting, registry_rows, write_registry_xlsx
from services.models import AuditEvent, Decision, OwnerRecord
from services.registry import import_registry
from services.voting import verify_decisions

WRITER = Path(__file__).with_name("sqlite_writer.py")
PER_WRITER = 60
OWNERS = 600


def test_concurrent_writer_processes_on_one_sqlite_file_all_succeed(sqlite_url, tmp_path):
    from services.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    sf = make_session_factory(engine)
    meeting_id = new_meeting(sf)
    path = write_registry_xlsx(tmp_path / "реестр.xlsx", registry_rows(OWNERS, tag="lock"))
    import_registry(sf, meeting_id=meeting_id, data=path.read_bytes(), filename=path.name, replace=True)
    with sf() as s:
        ids = sorted(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))
    first_id = ids[0]
    # owners 1..120 are edited, 301..420 get decisions: no writer touches another's rows
    writers = [("registry", first_id), ("registry", first_id + PER_WRITER),
               ("decision", first_id + 300), ("decision", first_id + 300 + PER_WRITER),
               ("audit", 1), ("audit", 2)]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(WRITER), role, sqlite_url, str(meeting_id), str(first),
                               str(PER_WRITER), str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role, first in writers]
    time.sleep(3)  # every process imported the services and waits at the start line
    start = time.monotonic()
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    elapsed = time.monotonic() - start

    for (role, _first), p, (out, err) in zip(writers, procs, outputs):
        assert "database is locked" not in err, f"{role} writer got «database is locked»:\n{err[-3000:]}"
        assert p.returncode == 0, f"{role} writer failed:\n{err[-3000:]}"
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
    print(f"\n{len(writers)} writer processes × {PER_WRITER} transactions on one SQLite file: {elapsed:.1f} s; "
          f"slowest single write per writer: {[(r['role'], r['slowest']) for r in reports]}")

    with sf() as s:
        decisions = s.scalar(select(func.count()).select_from(Decision).where(Decision.meeting_id == meeting_id))
        events = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export"))
        owners = s.scalar(select(func.count()).select_from(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id))
        renamed = s.scalar(select(func.count()).select_from(OwnerRecord).where(
            OwnerRecord.meeting_id == meeting_id, OwnerRecord.name.startswith("Изменённый")))
    assert decisions == 2 * PER_WRITER
    assert events == 2 * PER_WRITER
    assert owners == OWNERS + 2 * PER_WRITER
    assert renamed == 2 * PER_WRITER
    report = verify_decisions(sf, secret_key=SECRET, meeting_id=meeting_id)
    assert report.ok and report.decisions == 2 * PER_WRITER, report.problems
    engine.dispose()
