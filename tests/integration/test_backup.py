"""Backups: a restored copy holds every decision with a valid seal."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import func, select

from services.db import make_engine, make_session_factory
from services.models import Decision
from tests.conftest import ROOT


def run(env, *args):
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_backup_restored_after_a_loss_has_every_decision_with_a_valid_seal(sqlite_url, tmp_path):
    from services.demo import create_demo_meeting
    from services.runtime import build_runtime
    from services.settings import load_settings
    from services.voting import submit_online_decision, voter_page

    env = {**os.environ, "DATABASE_URL": sqlite_url, "KVORUM_DATA_DIR": str(tmp_path)}
    rt = build_runtime(load_settings(env))
    meeting = create_demo_meeting(rt.session_factory, today=dt.date.today() - dt.timedelta(days=15))
    page = voter_page(rt.session_factory, owner_id=1)
    for owner in range(1, 11):
        submit_online_decision(rt.session_factory, secret_key=rt.secret_key, owner_id=owner,
                               answers={q.id: "for" for q in page.questions})
    rt.engine.dispose()

    made = run(env, "backup")
    assert made.returncode == 0, made.stderr
    backups = sorted((tmp_path / "backups").glob("kvorum-*.db"))
    assert len(backups) == 1 and (tmp_path / "backups" / (backups[0].name + ".key")).is_file()
    assert oct(backups[0].stat().st_mode & 0o777) == "0o600"

    # the worst day: decisions lost after the backup
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM decision_answers")
        conn.exec_driver_sql("DELETE FROM decisions")
    engine.dispose()
    assert run(env, "verify-decisions").returncode == 1

    restored = run(env, "restore", str(backups[0]), "--yes")
    assert restored.returncode == 0, restored.stderr
    check = run(env, "verify-decisions")
    assert check.returncode == 0 and "Проверено решений: 10" in check.stdout
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Decision).where(Decision.meeting_id == meeting)) == 10
    engine.dispose()


def test_restoring_something_that_is_not_a_backup_is_refused(sqlite_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": sqlite_url, "KVORUM_DATA_DIR": str(tmp_path)}
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"not a database at all" * 100)
    done = run(env, "restore", str(bogus), "--yes")
    assert done.returncode == 2 and "Ошибка" in done.stderr
    missing = run(env, "restore", str(tmp_path / "nope.db"), "--yes")
    assert missing.returncode == 2 and "не найдена" in missing.stderr
