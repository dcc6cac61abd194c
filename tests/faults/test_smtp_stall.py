"""§4 Faults: an SMTP server that accepts connections and never answers does not block the pages.

A fake server (a real listening socket in a thread) accepts every connection and stays silent.
`manage.py send-worker` with SMTP_TIMEOUT=2 gives up on it with «SMTP-сервер … недоступен: сервер
не ответил вовремя», stored on the queued deliveries and shown by job_progress, and keeps trying.
Meanwhile the pages «Уведомление собственников» and «Реестр» (AppTest, the whole app, configured
with the same silent server but an SMTP timeout far beyond the page run's hang guard) render whole,
each run started just as the sender's connection begins to hang: a page that talked to the SMTP
server itself would hang and fail the guard. How fast the pages are
during a stall is bench/smtp_stall.py's figure, against the same pages without one.
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from bench.silentsmtp import SilentSmtpServer
from faultkit import SECRET, child_env, manage_popen, new_meeting, registry_rows, write_registry_xlsx
from services.auth import create_user
from services.notify import job_progress, owner_status_index, queue_notices
from services.registry import import_registry
from tests import hang

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from pagekit import APP, TIMEOUT, assert_ran_cleanly  # noqa: E402

PAGE_NOTIFY, PAGE_REGISTRY = "pages/notify.py", "pages/registry.py"
STALL = "недоступен: сервер не ответил вовремя"
SMTP_TIMEOUT = 2.0  # the sender's
PAGE_SMTP_TIMEOUT = 10 * TIMEOUT  # the app's: a page that waited on SMTP would outlast its run's hang guard


@pytest.fixture
def silent_smtp():
    server = SilentSmtpServer()
    yield server
    server.stop()


def test_a_silent_smtp_server_stops_the_sender_with_a_reason_and_not_the_pages(
        db_url, session_factory, silent_smtp, tmp_path, monkeypatch):
    meeting_id = new_meeting(session_factory)
    path = write_registry_xlsx(tmp_path / "реестр.xlsx", registry_rows(40, tag="stall", emails=True))
    import_registry(session_factory, meeting_id=meeting_id, data=path.read_bytes(), filename=path.name, replace=True)
    ids = [int(i) for i in owner_status_index(session_factory, meeting_id=meeting_id)["id"]]
    job = queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key="stall").job_id

    smtp_env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(silent_smtp.port), "SMTP_SECURITY": "none",
                "SMTP_TIMEOUT": str(SMTP_TIMEOUT), "MAIL_FROM": "УК <oss@uk.example>"}
    # the sender keeps trying (short back-off, no attempt limit within the test): a stall all along
    worker = manage_popen("send-worker", env=child_env(db_url, tmp_path, SEND_RETRY_SECONDS="0.2",
                                                       SEND_MAX_ATTEMPTS="1000", **smtp_env),
                          log=tmp_path / "worker.log")
    try:
        # the app in this process, configured with the same silent server; its own sender is off
        # (as in every page test), so only a page talking to SMTP could meet the stall
        for key, value in {"DATABASE_URL": db_url, "KVORUM_DATA_DIR": str(tmp_path), "SECRET_KEY": SECRET,
                           "KVORUM_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
                           "KVORUM_EMBEDDED_SENDER": "0", **smtp_env,
                           "SMTP_TIMEOUT": str(PAGE_SMTP_TIMEOUT)}.items():
            monkeypatch.setenv(key, value)
        original = PagesManager.__init__

        def init(self, *args, **kwargs):  # as tests/app/conftest.py's warm_server: every run goes through app.py
            original(self, *args, **kwargs)
            PagesManager.uses_pages_directory = False

        monkeypatch.setattr(PagesManager, "__init__", init)
        admin = create_user(session_factory, username="admin", password="pravlenie-2026", full_name="Анна")
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.session_state["user"] = admin
        at.run()
        at.session_state["meeting_id"] = meeting_id
        for page in (PAGE_NOTIFY, PAGE_REGISTRY):  # the first runs import pandas & co: not measured
            at.switch_page(page).run()
            assert_ran_cleanly(at)

        deadline = time.monotonic() + hang.COMMAND
        while STALL not in (progress := job_progress(session_factory, job_id=job)).last_error:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, f"{hang.message('storing the stall reason', hang.COMMAND)}: {progress}"
            time.sleep(0.1)
        assert progress.last_error.startswith(f"SMTP-сервер 127.0.0.1:{silent_smtp.port} {STALL}")
        assert progress.sent == 0 and progress.pending == progress.total == len(ids)
        print(f"\njob_progress during the stall: {progress.last_error!r}")

        timings = []
        for page in (PAGE_NOTIFY, PAGE_REGISTRY) * 3:
            # start the run just as the sender's next connection begins to hang
            with silent_smtp.lock:
                seen = len(silent_smtp.opened)
            while len(silent_smtp.opened) == seen:
                assert time.monotonic() < deadline + hang.COMMAND, hang.message("the sender's next connection", hang.COMMAND)
                time.sleep(0.01)
            start = time.monotonic()
            assert silent_smtp.is_open(seen, start), "the run did not start during a stall"
            at.switch_page(page).run()
            elapsed = time.monotonic() - start
            assert_ran_cleanly(at)
            timings.append((page, round(elapsed, 2)))
            if page == PAGE_NOTIFY:  # and the page says why nothing leaves, while the attempt hangs
                assert any(STALL in w.value for w in at.warning), [w.value for w in at.warning]
                assert at.get("progress"), "the sending job's progress is not shown"
            else:
                assert [t.value for t in at.title] == ["Реестр собственников"]
                assert "40" in at.subheader[0].value, at.subheader[0].value
        with silent_smtp.lock:
            hung = sorted(silent_smtp.closed[n] - silent_smtp.opened[n] for n in silent_smtp.closed)
        print(f"page runs during the stall (s, figures only: bench/smtp_stall.py): {timings}; sender connections: {len(silent_smtp.opened)}, "
              f"each given up after {hung[0]:.1f}–{hung[-1]:.1f} s")
        assert hung and hung[0] >= SMTP_TIMEOUT * 0.9, "the sender gave up before SMTP_TIMEOUT"
        assert job_progress(session_factory, job_id=job).sent == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=hang.STOP)
    assert worker.returncode == 0
