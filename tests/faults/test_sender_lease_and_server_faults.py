"""§4 Faults of the sender (issue 14, item 12), against a real SMTP server (aiosmtpd):

- a server that refuses every message (554 to DATA) is a server fault: the deliveries stay queued
  for a later try, none fails for good; a message refused for itself still fails alone;
- a live sender renews its claims, so a second worker never takes them however slow the batch;
  a killed sender's claims are free again within the lease (a minute, not seven);
- a server started by serve.py (as `make run`) sends queued notices with no page opened.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from faultkit import ROOT, SECRET, child_env, manage_popen, manage_run, new_meeting, registry_rows, write_registry_xlsx
from services.demo import create_demo_meeting
from services.mailer import SmtpMailer
from services.models import Delivery, utcnow
from services.notify import owner_status_index, queue_notices
from services.registry import import_registry
from services.sender import LEASE, SERVER_FAULT_STREAK, SenderConfig, run_sender
from services.settings import load_settings
from tests import hang
from tests.smtp_server import SmtpServer, _Handler

REFUSAL = "554 5.3.4 Message refused by policy"


class RefusingSmtpServer(SmtpServer):
    """The tests' SMTP server, able to refuse the message itself (the reply to DATA): for every
    recipient (`refuse_all`), or for chosen ones (`refuse_data`)."""

    def __init__(self):
        super().__init__()
        self.refuse_all = False
        self.refuse_data: set[str] = set()

    def start(self) -> "RefusingSmtpServer":
        box = self

        class Handler(_Handler):
            async def handle_DATA(self, server, session, envelope):
                if box.refuse_all or {a.lower() for a in envelope.rcpt_tos} & box.refuse_data:
                    return REFUSAL
                return await super().handle_DATA(server, session, envelope)

        self._controller = Controller(Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self


@pytest.fixture
def refusing_smtp():
    server = RefusingSmtpServer().start()
    yield server
    server.stop()


def queue_meeting(session_factory, tmp_path, owners: int, tag: str) -> tuple[int, list[str]]:
    """A meeting of `owners` owners with e-mail, every notice queued; returns (meeting, addresses)."""
    meeting_id = new_meeting(session_factory)
    rows = registry_rows(owners, tag=tag, emails=True)
    path = write_registry_xlsx(tmp_path / f"реестр-{tag}.xlsx", rows)
    import_registry(session_factory, meeting_id=meeting_id, data=path.read_bytes(), filename=path.name, replace=True)
    ids = [int(i) for i in owner_status_index(session_factory, meeting_id=meeting_id)["id"]]
    queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key=f"faults-{tag}")
    return meeting_id, [r[6] for r in rows]


def statuses(session_factory, meeting_id: int) -> Counter:
    with session_factory() as s:
        return Counter(s.scalars(select(Delivery.status).where(Delivery.meeting_id == meeting_id)))


def sender_config(**kw) -> SenderConfig:
    return SenderConfig(secret_key=SECRET, public_url="http://kvorum.test", mail_from="УК <oss@uk.example>",
                        retry_seconds=0.05, **kw)


def smtp_settings(server, tmp_path):
    return load_settings({"KVORUM_DATA_DIR": str(tmp_path), **server.env()})


def test_a_server_refusing_every_message_leaves_the_deliveries_queued_for_a_retry(
        session_factory, refusing_smtp, tmp_path):
    meeting_id, addresses = queue_meeting(session_factory, tmp_path, 30, "refuse-all")
    settings = smtp_settings(refusing_smtp, tmp_path)
    refusing_smtp.refuse_all = True
    stop = threading.Event()
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=sender_config(),
                       stop=stop, on_batch=lambda _stats: stop.set())  # one batch against the refusing server

    assert statuses(session_factory, meeting_id) == {"queued": 30}, "no delivery may fail for the server's fault"
    assert stats.failed == 0 and stats.retried >= 1
    with session_factory() as s:
        rows = s.execute(select(Delivery.error, Delivery.next_attempt_at, Delivery.attempts)
                         .where(Delivery.meeting_id == meeting_id)).all()
    assert all("554" in error for error, _at, _n in rows), rows[:3]
    assert sum(n for _e, _at, n in rows) == 1, "one try is counted, on the batch, as for a server that is down"
    assert len(refusing_smtp.raw) == 0

    refusing_smtp.refuse_all = False  # the server is mended: the next tries deliver everything, once
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=sender_config(),
                       until_idle=True, poll_seconds=0.05)
    assert statuses(session_factory, meeting_id) == {"sent": 30}
    assert sorted(r[0] for _f, r, _raw in refusing_smtp.raw) == sorted(a.lower() for a in addresses)


def test_messages_refused_for_themselves_fail_alone_and_the_others_go(session_factory, refusing_smtp, tmp_path):
    meeting_id, addresses = queue_meeting(session_factory, tmp_path, 12, "refuse-some")
    refused = {addresses[3].lower(), addresses[4].lower(), addresses[9].lower()}  # fewer in a row than the streak
    assert SERVER_FAULT_STREAK > 2
    refusing_smtp.refuse_data = refused
    settings = smtp_settings(refusing_smtp, tmp_path)
    run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=sender_config(),
               until_idle=True, poll_seconds=0.05)

    assert statuses(session_factory, meeting_id) == {"sent": 9, "failed": 3}
    with session_factory() as s:
        failed = dict(s.execute(select(Delivery.address, Delivery.error)
                                .where(Delivery.meeting_id == meeting_id, Delivery.status == "failed")).all())
    assert {a.lower() for a in failed} == refused
    assert all(REFUSAL.split()[0] in e for e in failed.values())


def test_a_live_senders_claims_are_renewed_and_never_taken_by_another_worker(
        session_factory, smtp_server, tmp_path):
    meeting_id, addresses = queue_meeting(session_factory, tmp_path, 24, "renew")
    settings = smtp_settings(smtp_server, tmp_path)
    lease = 1.0  # the batch below takes about 5 s: five leases, each renewed in time
    slow = sender_config(lease_seconds=lease, throttle_seconds=0.2, worker_id="slow")
    eager = sender_config(lease_seconds=lease, worker_id="eager")

    def slow_worker():
        run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=slow, until_idle=True,
                   poll_seconds=0.05)

    slow_thread = threading.Thread(target=slow_worker)
    slow_thread.start()
    deadline = time.monotonic() + hang.COMMAND
    while not smtp_server.raw:  # the slow worker holds the whole batch now
        assert time.monotonic() < deadline, hang.message("the first message", hang.COMMAND)
        time.sleep(0.01)
    # a second worker polls all along, as a `manage.py send-worker` beside the app would
    run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=eager, until_idle=True,
               poll_seconds=0.05)
    slow_thread.join(hang.COMMAND)

    assert statuses(session_factory, meeting_id) == {"sent": 24}
    received = Counter(r[0] for _f, r, _raw in smtp_server.raw)
    assert sorted(received) == sorted(a.lower() for a in addresses)
    assert max(received.values()) == 1, f"a claim was taken from the live sender: {received.most_common(3)}"


def test_a_killed_senders_claims_are_taken_again_within_the_lease(db_url, session_factory, smtp_server, tmp_path):
    owners = 40
    meeting_id, addresses = queue_meeting(session_factory, tmp_path, owners, "killed")
    # slow enough that the kill finds most of the batch claimed and not yet sent
    env = child_env(db_url, tmp_path, SMTP_THROTTLE_SECONDS="0.3", **smtp_server.env())
    proc = manage_popen("send-worker", env=env, log=tmp_path / "worker.log")
    deadline = time.monotonic() + hang.COMMAND
    while len(smtp_server.raw) < 5:
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
        assert time.monotonic() < deadline, hang.message("the sender's first messages", hang.COMMAND)
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=hang.STOP)
    killed_at = utcnow()
    with session_factory() as s:
        leases = list(s.scalars(select(Delivery.claimed_until).where(Delivery.meeting_id == meeting_id,
                                                                     Delivery.status == "sending")))
    assert leases, "the kill should leave claimed deliveries behind"
    longest = max(lease.replace(tzinfo=None) for lease in leases) - killed_at.replace(tzinfo=None)
    print(f"\n{len(leases)} claims left by the killed sender; the last expires {longest.total_seconds():.1f} s "
          f"after the kill (lease {LEASE.total_seconds():.0f} s)")
    assert longest <= LEASE + dt.timedelta(seconds=1), f"claims of a dead sender held for {longest}"
    assert LEASE <= dt.timedelta(minutes=1)

    started = time.monotonic()
    result = manage_run("send-worker", "--once", env=child_env(db_url, tmp_path, **smtp_server.env()),
                        timeout=hang.COMMAND)
    assert result.returncode == 0, result.stderr[-2000:]
    print(f"a new worker finished the job {time.monotonic() - started:.1f} s after the kill")
    assert statuses(session_factory, meeting_id) == {"sent": owners}
    received = Counter(r[0] for _f, r, _raw in smtp_server.raw)
    assert set(received) == {a.lower() for a in addresses}
    assert sum(n - 1 for n in received.values()) <= 1, "only the message in flight at the kill may go twice"


def test_queued_notices_go_out_after_a_server_start_with_no_page_opened(sqlite_url, smtp_server, tmp_path):
    from services.db import make_engine, make_session_factory
    from tests.e2e.browserkit import AppServer, free_port, wait_until_up

    engine = make_engine(sqlite_url)  # the server's own database file (a server test: SQLite only)
    session_factory = make_session_factory(engine)
    meeting_id = create_demo_meeting(session_factory, today=dt.date.today())
    ids = [int(i) for i in owner_status_index(session_factory, meeting_id=meeting_id)["id"]]
    queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key="faults-start")
    with session_factory() as s:
        addresses = list(s.scalars(select(Delivery.address).where(Delivery.meeting_id == meeting_id,
                                                                  Delivery.status == "queued")))
    assert addresses
    port = free_port()
    env = child_env(sqlite_url, tmp_path, PUBLIC_URL=f"http://127.0.0.1:{port}", **smtp_server.env())
    env.pop("KVORUM_EMBEDDED_SENDER", None)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = AppServer(f"http://127.0.0.1:{port}", tmp_path, process, log_path, env)
    try:
        wait_until_up(server)  # the health check only: no page, no script run
        deadline = time.monotonic() + 120  # a hang guard: a few messages take well under a second
        while len(smtp_server.raw) < len(addresses) and time.monotonic() < deadline:
            assert process.poll() is None, server.log()[-3000:]
            time.sleep(0.1)
    finally:
        server.stop()
    print(f"\n{len(smtp_server.raw)} of {len(addresses)} queued notices sent by a server no browser opened")
    assert sorted(r[0] for _f, r, _raw in smtp_server.raw) == sorted(a.lower() for a in addresses)
    final = statuses(session_factory, meeting_id)
    assert final["sent"] == len(addresses) and final["queued"] == final["sending"] == 0, final
    assert os.stat(sqlite_url.split("///", 1)[1]).st_mode & 0o077 == 0, "the server's database is private"
    engine.dispose()
