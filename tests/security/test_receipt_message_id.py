"""Every message leaves with a Message-ID, and the outbox keeps every message (issue 14, item 13).

The probe: the owner's e-mailed copy of a code-signed decision (квитанция) had no Message-ID, and
the outbox names its files by time and Message-ID, so two copies within one second overwrote each
other. Here real receipts go to the outbox (SMTP not configured) and to a real SMTP server.
"""
from __future__ import annotations

import datetime as dt
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from services.demo import create_demo_meeting
from services.mailer import OutboxMailer, SmtpMailer, list_outbox
from services.models import OwnerRecord
from services.settings import load_settings
from services.voting import receipt_message, set_electronic_decisions, submit_online_decision, voter_page

SECRET = "receipt-secret"
MAIL_FROM = "УК Пример <oss@uk-primer.example>"


@pytest.fixture
def receipts(session_factory):
    """Receipts of three owners' code-signed decisions, built as the voting page builds them."""
    meeting_id = create_demo_meeting(session_factory, today=dt.date.today() - dt.timedelta(days=15))
    set_electronic_decisions(session_factory, meeting_id=meeting_id, enabled=True, user="test")
    with session_factory() as s:
        owners = [oid for oid, emails in s.execute(select(OwnerRecord.id, OwnerRecord.emails)
                                                   .where(OwnerRecord.meeting_id == meeting_id)
                                                   .order_by(OwnerRecord.id)) if emails][:3]
    messages = []
    for owner in owners:
        page = voter_page(session_factory, owner_id=owner)
        stored = submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                                        answers={q.id: "for" for q in page.questions})
        messages.append(receipt_message(session_factory, decision_id=stored.id, mail_from=MAIL_FROM))
    assert len(messages) == 3 and all(m is not None for m in messages)
    return messages


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def test_receipts_in_the_same_second_are_all_kept_in_the_outbox_each_with_a_message_id(receipts, tmp_path):
    mailer = OutboxMailer(tmp_path / "outbox", mail_from=MAIL_FROM)
    for message in receipts:
        mailer.send(message)
    mailer.send(receipts[0])  # the same copy again within the second: kept beside the first, not over it
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path)})
    files = list_outbox(settings)
    assert len(files) == 4, [p.name for p in files]
    ids = [str(parse(p.read_bytes())["Message-ID"]) for p in files]
    assert all(i.startswith("<") and i.endswith("@uk-primer.example>") for i in ids), ids
    assert len(set(ids)) == 3  # one per receipt; the repeated copy keeps its own id
    assert all(p.stat().st_mode & 0o077 == 0 for p in files), "the outbox files are private"


def test_receipts_sent_by_smtp_carry_distinct_message_ids_of_the_sender_domain(receipts, smtp_server, tmp_path):
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    mailer = SmtpMailer(settings)
    try:
        for message in receipts:
            mailer.send(message)
    finally:
        mailer.close()
    ids = [str(parse(raw)["Message-ID"]) for _f, _t, raw in smtp_server.raw]
    assert len(ids) == 3 and len(set(ids)) == 3, ids
    assert all(i.endswith("@uk-primer.example>") for i in ids), ids
    assert all(parse(raw)["Date"] for _f, _t, raw in smtp_server.raw)
