"""Sending notices through the durable job to a real SMTP server (aiosmtpd on 127.0.0.1)."""
from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import select

from services.codes import hash_code, normalize_code
from services.demo import create_demo_meeting
from services.mailer import SmtpMailer
from services.models import AccessCode, Delivery, OwnerRecord
from services.notify import (
    LateNoticeError,
    job_progress,
    owner_status_index,
    queue_notices,
)
from services.sender import SenderConfig, run_sender
from services.settings import load_settings

SECRET = "test-secret-key"
CODE_RE = re.compile(r"код доступа:\s*([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


def smtp_settings(server, tmp_path, **extra):
    env = {"KVORUM_DATA_DIR": str(tmp_path), **server.env(), **extra}
    return load_settings(env)


def config(**kw) -> SenderConfig:
    return SenderConfig(secret_key=SECRET, public_url="http://kvorum.test", mail_from="УК <oss@uk.example>",
                        retry_seconds=0.05, **kw)


def owner_ids(session_factory, meeting_id):
    with session_factory() as s:
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))


def with_email(session_factory, meeting_id):
    with session_factory() as s:
        return {oid: emails for oid, emails in s.execute(
            select(OwnerRecord.id, OwnerRecord.emails).where(OwnerRecord.meeting_id == meeting_id)) if emails}


def body_text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def meeting(session_factory):
    return create_demo_meeting(session_factory, today=dt.date.today())


def test_every_owner_with_an_email_gets_one_message_with_a_working_code(session_factory, meeting, smtp_server, tmp_path):
    ids = owner_ids(session_factory, meeting)
    emails = with_email(session_factory, meeting)
    result = queue_notices(session_factory, meeting_id=meeting, owner_ids=ids, request_key="k1")
    assert result.queued == len(emails) and result.skipped == len(ids) - len(emails)

    settings = smtp_settings(smtp_server, tmp_path)
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config(), until_idle=True)

    assert stats.sent == len(emails) and stats.failed == 0
    msgs = smtp_server.messages
    assert len(msgs) == len(emails)
    codes = []
    for msg in msgs:
        assert msg["Subject"].startswith("Сообщение о проведении общего собрания собственников")
        assert "ул. Садовая" in msg["Subject"]
        text = body_text(msg)
        assert "Повестка дня" in text and "Инициатор собрания" in text
        html = msg.get_body(preferencelist=("html",)).get_content()
        code = CODE_RE.search(text).group(1)
        assert code in html
        codes.append(code)
    assert len(set(codes)) == len(codes), "every owner gets a different code"
    with session_factory() as s:
        stored = set(s.scalars(select(AccessCode.code_hash).where(AccessCode.meeting_id == meeting)))
        assert {hash_code(SECRET, c) for c in codes} == stored
        assert not any(c.replace("-", "") in h for c in codes for h in stored), "codes are not stored as such"
    progress = job_progress(session_factory, job_id=result.job_id)
    assert progress.done and progress.sent == len(emails) and progress.skipped == len(ids) - len(emails)
    index = owner_status_index(session_factory, meeting_id=meeting)
    assert index.loc[index["id"].isin(emails), "last_notice"].notna().all()


def test_a_resent_code_replaces_the_old_one(session_factory, meeting, smtp_server, tmp_path):
    target = next(iter(with_email(session_factory, meeting)))
    settings = smtp_settings(smtp_server, tmp_path)
    for key in ("first", "second"):
        queue_notices(session_factory, meeting_id=meeting, owner_ids=[target], request_key=key)
        run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config(), until_idle=True)
    first, second = (CODE_RE.search(body_text(m)).group(1) for m in smtp_server.messages)
    assert first != second
    with session_factory() as s:
        active = s.scalar(select(AccessCode.code_hash).where(AccessCode.owner_id == target))
    assert active == hash_code(SECRET, second) != hash_code(SECRET, first)
    assert "прежний больше не действует" in body_text(smtp_server.messages[1])


def test_the_same_confirmation_twice_queues_once(session_factory, meeting):
    ids = owner_ids(session_factory, meeting)
    a = queue_notices(session_factory, meeting_id=meeting, owner_ids=ids, request_key="same")
    b = queue_notices(session_factory, meeting_id=meeting, owner_ids=ids, request_key="same")
    assert a.job_id == b.job_id and b.existed
    with session_factory() as s:
        assert len(s.scalars(select(Delivery.id)).all()) == len(ids)


def test_sending_after_the_ten_day_limit_needs_confirmation(session_factory):
    meeting = create_demo_meeting(session_factory, today=dt.date.today() - dt.timedelta(days=5))
    ids = owner_ids(session_factory, meeting)
    with pytest.raises(LateNoticeError, match="Срок уведомления истёк"):
        queue_notices(session_factory, meeting_id=meeting, owner_ids=ids, request_key="late")
    result = queue_notices(session_factory, meeting_id=meeting, owner_ids=ids, request_key="late", confirm_late=True)
    assert result.late
    with session_factory() as s:
        assert all(s.scalars(select(Delivery.late)))


def test_a_refused_address_fails_alone_with_the_servers_reason(session_factory, meeting, smtp_server, tmp_path):
    emails = with_email(session_factory, meeting)
    bad_owner, bad_emails = next(iter(emails.items()))
    smtp_server.refuse.update(e.lower() for e in bad_emails)
    queue_notices(session_factory, meeting_id=meeting, owner_ids=list(emails), request_key="k")
    settings = smtp_settings(smtp_server, tmp_path)
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config(), until_idle=True)
    assert stats.failed == 1 and stats.sent == len(emails) - 1
    assert len(smtp_server.messages) == len(emails) - 1
    with session_factory() as s:
        bad = s.scalar(select(Delivery).where(Delivery.owner_id == bad_owner))
        assert bad.status == "failed" and "550" in bad.error and "отклонил" in bad.error
        assert s.scalar(select(AccessCode).where(AccessCode.owner_id == bad_owner)) is None


def test_an_outage_in_the_middle_of_a_batch_loses_and_duplicates_nothing(session_factory, meeting, smtp_server, tmp_path):
    emails = with_email(session_factory, meeting)
    queue_notices(session_factory, meeting_id=meeting, owner_ids=list(emails), request_key="k")
    settings = smtp_settings(smtp_server, tmp_path)
    half = len(emails) // 2
    down = threading.Event()

    class StopsMidway(SmtpMailer):
        def send(self, message):
            if len(smtp_server.raw) == half and not down.is_set():
                down.set()
                smtp_server.stop()  # the real server goes away between two messages
                threading.Timer(0.5, smtp_server.start).start()
            return super().send(message)

    stats = run_sender(session_factory, mailer_factory=lambda: StopsMidway(settings),
                       config=config(), until_idle=True, poll_seconds=0.05)
    assert down.is_set() and stats.retried >= 1
    recipients = sorted(tuple(sorted(to)) for _f, to, _raw in smtp_server.raw)
    assert len(recipients) == len(emails) == len(set(recipients)), "each owner exactly once"
    assert stats.sent == len(emails) and stats.failed == 0


def test_a_server_that_is_down_is_named_and_nothing_is_marked_sent(session_factory, meeting, tmp_path):
    from tests.smtp_server import free_port

    emails = with_email(session_factory, meeting)
    queue_notices(session_factory, meeting_id=meeting, owner_ids=list(emails), request_key="k")
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), "SMTP_HOST": "127.0.0.1",
                              "SMTP_PORT": str(free_port()), "SMTP_SECURITY": "none"})
    stop = threading.Event()
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings),
                       config=config(max_attempts=2), until_idle=True, poll_seconds=0.05, stop=stop)
    assert "недоступен" in stats.last_server_error and "соединение отклонено" in stats.last_server_error
    with session_factory() as s:
        statuses = set(s.scalars(select(Delivery.status).where(Delivery.channel == "email", Delivery.address != "")))
        assert "sent" not in statuses
        assert s.scalar(select(AccessCode.id)) is None


def test_codes_are_read_case_insensitively_without_dashes():
    assert normalize_code(" 7kq3 m9xd-2pwa ") == "7KQ3M9XD2PWA"
    assert normalize_code("7KQ3-M9XD-2PWO") == "7KQ3M9XD2PW0"
    assert normalize_code("<script>") is None and normalize_code("x" * 10_000) is None


def test_two_workers_drain_one_job_without_sending_anything_twice(session_factory, db_url, smtp_server, tmp_path):
    """On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED; on SQLite a single compare-and-set UPDATE."""
    from services.meetings import MeetingData, QuestionData, create_meeting
    from services.registry import OwnerInput, apply_registry_changes

    meeting = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК»", start_date=dt.date.today() + dt.timedelta(days=20),
        end_date=dt.date.today() + dt.timedelta(days=40), questions=[QuestionData("Вопрос")]))
    apply_registry_changes(session_factory, meeting_id=meeting, added=[
        OwnerInput(premise=str(i), area="40", name=f"Собственник {i}", contacts=f"owner{i}@example.ru")
        for i in range(1, 301)])
    queue_notices(session_factory, meeting_id=meeting, owner_ids=owner_ids(session_factory, meeting), request_key="k")
    settings = smtp_settings(smtp_server, tmp_path)
    results = []

    def worker(n):
        results.append(run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings),
                                  config=config(batch_size=20, worker_id=f"w{n}"), until_idle=True, poll_seconds=0.02))

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    recipients = [to[0] for _f, to, _raw in smtp_server.raw]
    assert len(recipients) == 300 == len(set(recipients))
    assert sum(r.sent for r in results) == 300
    assert all(r.sent > 0 for r in results), "both workers took part"
    with session_factory() as s:
        assert set(s.scalars(select(Delivery.status))) == {"sent"}


def test_send_notices_command_waits_and_prints_a_summary(sqlite_url, smtp_server, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "DATABASE_URL": sqlite_url, "KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()}
    run = lambda *a: subprocess.run([sys.executable, str(ROOT / "manage.py"), *a], env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    # the demonstration registry on a meeting 12 days ahead (`manage.py demo` makes a meeting whose
    # voting already runs, its owners notified by hand)
    import datetime as dt

    start = dt.date.today() + dt.timedelta(days=12)
    (tmp_path / "meeting.json").write_text(json.dumps({
        "address": "г. Москва, ул. Садовая, д. 10", "initiator": "ООО «УК Пример»", "start": start.isoformat(),
        "end": (start + dt.timedelta(days=30)).isoformat(), "questions": ["Выбор совета дома"]}, ensure_ascii=False),
        encoding="utf-8")
    assert run("create-meeting", "--from", str(tmp_path / "meeting.json")).returncode == 0
    imported = run("import-registry", "--meeting", "1", str(ROOT / "data/samples/registry_demo.xlsx"), "--replace")
    assert imported.returncode == 0, imported.stderr
    done = run("send-notices", "--meeting", "1", "--all", "--wait")
    assert done.returncode == 0, done.stderr
    assert "Отправлено: 39; не доставлено: 0; пропущено без адреса эл. почты: 9." in done.stdout
    assert len(smtp_server.raw) == 39
    again = run("send-notices", "--meeting", "1", "--not-notified", "--wait")
    assert "в очереди 0, без адреса эл. почты 9" in again.stdout and len(smtp_server.raw) == 39
    assert json.loads(run("check-registry", str(ROOT / "data/samples/registry_demo.csv"), "--json").stdout)["owners"] == 48


def test_paper_notices_carry_new_codes_that_replace_the_old_ones(session_factory, meeting):
    import io

    from docx import Document

    from services.notify import print_notices, record_paper_delivery

    ids = owner_ids(session_factory, meeting)[:3]
    data = print_notices(session_factory, meeting_id=meeting, owner_ids=ids, secret_key=SECRET,
                         public_url="http://kvorum.test")
    doc = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells)
    codes = re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", text)
    assert len(set(codes)) == 3 and text.count("Повестка дня") == 3
    assert len(doc.inline_shapes) == 3, "a QR code on every page"
    with session_factory() as s:
        assert {hash_code(SECRET, c) for c in set(codes)} == set(s.scalars(select(AccessCode.code_hash)))
    n = record_paper_delivery(session_factory, meeting_id=meeting, owner_ids=ids[:2], channel="registered_mail",
                              on_date=dt.date.today(), postal_number="80081234567890")
    assert n == 2
    index = owner_status_index(session_factory, meeting_id=meeting)
    assert index.set_index("id").loc[ids[:2], "last_notice"].notna().all()


def test_the_delivery_register_tells_lawful_and_additional_notices_apart(session_factory, meeting, smtp_server, tmp_path):
    import io

    from openpyxl import load_workbook

    from services.notify import delivery_register_xlsx, record_paper_delivery, update_notice_settings

    emails = with_email(session_factory, meeting)
    queue_notices(session_factory, meeting_id=meeting, owner_ids=list(emails)[:5], request_key="k")
    run_sender(session_factory, mailer_factory=lambda: SmtpMailer(smtp_settings(smtp_server, tmp_path)),
               config=config(), until_idle=True)
    record_paper_delivery(session_factory, meeting_id=meeting, owner_ids=list(emails)[5:7], channel="hand",
                          on_date=dt.date.today())
    wb = load_workbook(io.BytesIO(delivery_register_xlsx(session_factory, meeting_id=meeting)))
    assert wb["Законные уведомления"].max_row == 1 + 2 and wb["Дополнительные"].max_row == 1 + 5
    update_notice_settings(session_factory, meeting_id=meeting, email_decision_date=dt.date(2024, 5, 1),
                           email_decision_number="3", gis_id="", gis_posted_on=None)
    wb = load_workbook(io.BytesIO(delivery_register_xlsx(session_factory, meeting_id=meeting)))
    assert wb["Законные уведомления"].max_row == 1 + 7 and wb["Дополнительные"].max_row == 1
    channels = {row[2] for row in wb["Законные уведомления"].iter_rows(min_row=2, values_only=True)}
    assert channels == {"Эл. почта", "Вручено под роспись"}
