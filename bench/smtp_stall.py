"""Benchmark: staff pages while the SMTP server hangs.

Run from the repository root: `.venv/bin/python bench/smtp_stall.py [--postgres URL] [--no-fail]`
(or `make bench`).

A meeting of 40 owners with their notices queued; the app (AppTest, the whole app.py) is configured
with an SMTP server that accepts connections and never answers.
(a) Baseline, measured in the same run: «Уведомление собственников» and «Реестр» rendered with no
    sender running, so nothing is waiting on SMTP anywhere.
(b) `manage.py send-worker` (SMTP_TIMEOUT=2) is started against the silent server; once it has
    stored the stall's reason, the same pages are rendered again, each run started while one of
    the sender's connections hangs.

Targets (issue 7 §4, issue 12): each page's median run during the stall ≤ 2.0 s and ≤ 2 × its
baseline median. Exits 1 when a target is missed (unless --no-fail).
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import OUT, BenchDatabase, main_on_one_database  # noqa: E402
from silentsmtp import SilentSmtpServer  # noqa: E402

SECRET = "bench-stall-secret-key"
OWNERS = 40
RUNS = 9
PAGES = {"pages/notify.py": "Уведомление собственников", "pages/registry.py": "Реестр"}
STALL = "недоступен: сервер не ответил вовремя"
TARGET_SECONDS = 2.0
TARGET_RATIO = 2.0


def _prepare(sf) -> tuple[int, int]:
    from services.auth import create_user
    from services.meetings import MeetingData, QuestionData, create_meeting
    from services.notify import owner_status_index, queue_notices
    from services.registry import import_registry

    today = dt.date.today()
    meeting_id = create_meeting(sf, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК Тверь»",
        start_date=today + dt.timedelta(days=15), end_date=today + dt.timedelta(days=45),
        questions=[QuestionData("Выбор совета дома")]))
    lines = ["Номер помещения;Общая площадь;ФИО собственника;Доля;Адрес эл. почты"]
    lines += [f"{i};{40 + i % 50};Собственник Стоп {i:03d};1;owner{i:03d}@example.test" for i in range(1, OWNERS + 1)]
    import_registry(sf, meeting_id=meeting_id, data="\r\n".join(lines).encode("utf-8"), filename="реестр.csv",
                    replace=True)
    ids = [int(i) for i in owner_status_index(sf, meeting_id=meeting_id)["id"]]
    job = queue_notices(sf, meeting_id=meeting_id, owner_ids=ids, request_key="bench-stall").job_id
    create_user(sf, username="admin", password="bench-password-2026", full_name="Анна")
    return meeting_id, job


def _app(meeting_id: int, sf):
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from services.auth import authenticate

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # every run goes through app.py, as on a server that ran it once
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["user"] = authenticate(sf, username="admin", password="bench-password-2026")
    at.run()
    at.session_state["meeting_id"] = meeting_id
    for page in PAGES:  # the first runs import pandas & co: not measured
        at.switch_page(page).run()
    return at


def _render(at, page: str) -> float:
    start = time.monotonic()
    at.switch_page(page).run()
    elapsed = time.monotonic() - start
    if at.exception:
        raise SystemExit(f"{page}: {[e.value for e in at.exception]}")
    titles = [t.value for t in at.title]
    if not any(t.startswith(PAGES[page]) for t in titles):
        raise SystemExit(f"{page} did not render its page: titles {titles}")
    return elapsed


def run(kind: str, server_url: str | None) -> list[tuple[str, bool, str]]:
    from services.notify import job_progress

    db = BenchDatabase(kind, server_url, prefix="stall")
    data_dir = OUT / f"stall_{os.getpid()}"
    data_dir.mkdir(parents=True, exist_ok=True)
    smtp = SilentSmtpServer()
    smtp_env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none",
                "MAIL_FROM": "УК <oss@uk.example>"}
    worker = None
    try:
        meeting_id, job = _prepare(db.sf)
        os.environ.update({"DATABASE_URL": db.url, "KVORUM_DATA_DIR": str(data_dir), "SECRET_KEY": SECRET,
                           "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml"), "KVORUM_EMBEDDED_SENDER": "0",
                           **smtp_env, "SMTP_TIMEOUT": "600"})
        at = _app(meeting_id, db.sf)
        baseline = {page: [_render(at, page) for _ in range(RUNS)] for page in PAGES}

        env = {**os.environ, **smtp_env, "SMTP_TIMEOUT": "2", "SEND_RETRY_SECONDS": "0.2",
               "SEND_MAX_ATTEMPTS": "1000"}
        log = (data_dir / "worker.log").open("ab")
        worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "send-worker"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while STALL not in job_progress(db.sf, job_id=job).last_error:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the sender stored no stall reason: see {data_dir / 'worker.log'}")
            time.sleep(0.1)
        stalled = {page: [] for page in PAGES}
        for _ in range(RUNS):
            for page in PAGES:
                while not smtp.hanging():  # between two attempts the sender waits: render during one
                    time.sleep(0.01)
                stalled[page].append(_render(at, page))
        sent = job_progress(db.sf, job_id=job).sent
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        smtp.stop()
        db.close()

    checks = [(f"{db.label}: nothing sent to the silent server", sent == 0, f"sent {sent}")]
    for page, title in PAGES.items():
        base, during = statistics.median(baseline[page]), statistics.median(stalled[page])
        print(f"[{db.label}] «{title}»: median {base:.2f} s without SMTP activity, {during:.2f} s during the stall "
              f"(runs: {', '.join(f'{t:.2f}' for t in stalled[page])})")
        checks += [(f"{db.label}: «{title}» during the stall ≤ {TARGET_SECONDS} s", during <= TARGET_SECONDS,
                    f"{during:.2f} s"),
                   (f"{db.label}: «{title}» stall ÷ baseline ≤ {TARGET_RATIO}", during <= TARGET_RATIO * base,
                    f"{during:.2f} ÷ {base:.2f} = {during / base:.2f}")]
    return checks


def main() -> int:
    return main_on_one_database(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    raise SystemExit(main())
