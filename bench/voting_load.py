"""Benchmark: owners voting at once in headless Chromium while two staff pages stay open.

Run from the repository root: `.venv/bin/python bench/voting_load.py [--postgres URL] [--no-fail]`
(or `make bench`). Needs Debian's chromium (KVORUM_CHROMIUM, default /usr/bin/chromium).

The app runs as `make run` starts it (serve.py) on a fresh database: a SQLite file under bench/out/
or, with --postgres, a throw-away database on that server. The demo meeting is created with its
voting open, and codes are issued.
(a) Baseline, measured in the same run: a few owners vote one after another, nothing else open;
    their median flow (code → «Ваши ответы сохранены») is what one owner costs alone.
(b) 20 owners vote at once (20 browser contexts) while «Уведомление собственников» and
    «Активность» stay open for two staff members.
Then every decision must be stored once with a verified seal.

Targets (issue 6 §6, issue 12): the 20 at once finish within 180 s; together they take no longer
than a quarter more than the same 20 one after another (at once ÷ (20 × the baseline median) ≤ 1.25). Exits 1
when a target is missed (unless --no-fail).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import OUT, BenchDatabase, main_on_one_database  # noqa: E402
from browserflows import vote  # noqa: E402

SECRET = "bench-load-secret-key"
LOGIN, PASSWORD = "bench-admin", "bench-password-2026"
AT_ONCE = 20
ALONE = 3
TARGET_TOTAL_SECONDS = 180.0
TARGET_RATIO = 1.25  # concurrency may cost a quarter over one after another, no more
ELEMENT_TIMEOUT_MS = 180_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(database_url: str, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_")}
    env.update({"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "KVORUM_DATA_DIR": str(data_dir),
                "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml"), "PUBLIC_URL": f"http://127.0.0.1:{port}"})
    log = (data_dir / "streamlit.log").open("wb")
    proc = subprocess.Popen([sys.executable, "serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app server exited: see {data_dir / 'streamlit.log'}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the app server did not answer within 180 s")


def run(kind: str, server_url: str | None) -> list[tuple[str, bool, str]]:
    from sqlalchemy import select

    from services.auth import create_user
    from services.demo import create_demo_meeting
    from services.models import Decision, OwnerRecord
    from services.notify import issue_codes
    from services.voting import verify_decisions

    db = BenchDatabase(kind, server_url, prefix="load")
    data_dir = OUT / f"load_{os.getpid()}"
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        create_user(db.sf, username=LOGIN, password=PASSWORD, full_name="Аналитик Нагрузки")
        meeting_id = create_demo_meeting(db.sf, today=dt.date.today() - dt.timedelta(days=15))  # voting open
        with db.sf() as s:
            owner_ids = sorted(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))
        codes = issue_codes(db.sf, meeting_id=meeting_id, owner_ids=owner_ids[:AT_ONCE + ALONE], secret_key=SECRET)
        code_list = [codes[oid] for oid in owner_ids[:AT_ONCE + ALONE]]
        proc, url = start_server(db.url, data_dir)

        def browsers(codes_, at_once):
            return asyncio.run(vote(url, codes_, at_once=at_once, login=LOGIN, password=PASSWORD,
                                    element_timeout_ms=ELEMENT_TIMEOUT_MS, answered_in_all=len(code_list)))

        browsers(code_list[:1], False)  # warm-up: the server's first runs import pandas & co (its vote is kept)
        alone = browsers(code_list[1:ALONE], False)
        at_once = browsers(code_list[ALONE:], True)

        with db.sf() as s:
            stored = s.scalars(select(Decision.owner_id).where(Decision.meeting_id == meeting_id)).all()
        seals = verify_decisions(db.sf, secret_key=SECRET, meeting_id=meeting_id)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        db.close()

    single = statistics.median(alone.flows)
    ratio = at_once.total / (AT_ONCE * single)
    print(f"[{db.label}] baseline, one owner alone: median {single:.1f} s over {len(alone.flows)} owners")
    print(f"[{db.label}] {AT_ONCE} owners at once (+2 staff pages): total {at_once.total:.1f} s; per owner flow median "
          f"{statistics.median(at_once.flows):.1f} s, max {max(at_once.flows):.1f} s; "
          f"{AT_ONCE / at_once.total * 60:.1f} decisions per minute (alone: {60 / single:.1f})")
    expected = AT_ONCE + ALONE
    return [
        (f"{db.label}: every decision stored once, seals verified", len(stored) == len(set(stored)) == expected
         and seals.ok and seals.decisions == expected, f"{len(stored)} stored of {expected}, seals ok: {seals.ok}"),
        (f"{db.label}: {AT_ONCE} at once ≤ {TARGET_TOTAL_SECONDS:.0f} s", at_once.total <= TARGET_TOTAL_SECONDS,
         f"{at_once.total:.1f} s"),
        (f"{db.label}: at once ÷ one after another ≤ {TARGET_RATIO}", ratio <= TARGET_RATIO,
         f"{at_once.total:.1f} s ÷ ({AT_ONCE} × {single:.1f} s) = {ratio:.2f}"),
    ]


def main() -> int:
    return main_on_one_database(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    raise SystemExit(main())
