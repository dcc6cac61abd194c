"""Helpers of the fault tests: a whole `manage.py` process on a database, registries of any size.

A fault test runs the real command line in a child process (so a SIGKILL kills exactly what an
administrator's server would lose) and looks at the database afterwards from the test process.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import xlsxwriter
from sqlalchemy import func, select

from services.meetings import create_meeting
from tests.app.pagekit import meeting_data  # the same meeting the page tests use
from services.models import OwnerRecord, Premise

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-tests-secret-key"
HEADER = [
    "Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
    "Номер документа", "Дата документа", "Адрес эл. почты и номер телефона",
]


def child_env(db_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a manage.py child: this database, its own data directory, a known key."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SMTP_")}
    env.update({
        "DATABASE_URL": db_url, "KVORUM_DATA_DIR": str(data_dir), "SECRET_KEY": SECRET,
        "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml"), "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def manage_popen(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def manage_run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def new_meeting(session_factory, **over) -> int:
    return create_meeting(session_factory, data=meeting_data(**over))


def registry_rows(n: int, *, tag: str, emails: bool = False) -> list[list]:
    """n owners, one per flat; names carry `tag` so two registries never share a name."""
    return [
        [str(i), 40 + i % 50, f"Собственник {tag} {i:06d}", "1", f"77-{i:06d}", dt.date(2020, 1, 1 + i % 28),
         f"owner{i:05d}.{tag}@example.test" if emails else ""]
        for i in range(1, n + 1)
    ]


def write_registry_xlsx(path: Path, rows: list[list]) -> Path:
    """An .xlsx as Excel saves it (xlsxwriter streams, so 50 000 rows take a second)."""
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Реестр")
    date_fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    ws.write_row(0, 0, HEADER)
    for r, row in enumerate(rows, start=1):
        premise, area, name, share, doc, date, contacts = row
        ws.write_string(r, 0, premise)
        ws.write_number(r, 1, area)
        ws.write_string(r, 2, name)
        ws.write_string(r, 3, share)
        ws.write_string(r, 4, doc)
        ws.write_datetime(r, 5, dt.datetime.combine(date, dt.time()), date_fmt)
        ws.write_string(r, 6, contacts)
    wb.close()
    return path


def registry_fingerprint(session_factory, meeting_id: int) -> tuple[int, int, str]:
    """(owners, premises, sha256 of the sorted owner names) of a meeting's registry."""
    with session_factory() as s:
        names = sorted(s.scalars(select(OwnerRecord.name).where(OwnerRecord.meeting_id == meeting_id)))
        premises = s.scalar(select(func.count()).select_from(Premise).where(Premise.meeting_id == meeting_id))
    return len(names), premises, hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()


def expected_fingerprint(rows: list[list]) -> tuple[int, int, str]:
    names = sorted(r[2] for r in rows)
    return len(names), len({r[0] for r in rows}), hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()
