"""Mail header injection: a line break and «Bcc:» in an owner's name, a meeting address, the initiator,
the sender setting or an owner's e-mail never becomes a header and never breaks the message; an
address with a line break is refused, with the reason stored on its delivery, and nothing reaches the
address smuggled in. The sending goes through a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import datetime as dt
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select, update

from filemakers import make_table
from services.mailer import SmtpMailer
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import Delivery, OwnerRecord
from services.notice import (
    NoticeError,
    NoticeRenderer,
    RenderedNotice,
    build_message,
    check_email,
    header_safe,
    owner_view,
    sender_address,
)
from services.notify import queue_notices
from services.registry import import_registry
from services.sender import SenderConfig, meeting_view, run_sender
from services.settings import load_settings

INJECT = "\r\nBcc: evil@y.ru\r\nX-Injected: yes"
BREAKS = ["\r\n", "\n", "\r", "\x00", "\x0b", "\x0c", "\u2028", "\u0085"]
EVIL = "evil@y.ru"
EXPECTED_HEADERS = {"subject", "from", "to", "date", "message-id", "auto-submitted", "x-kvorum-meeting",
                    "mime-version", "content-type"}


def parsed(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def top_headers(raw: bytes) -> list[str]:
    """The header lines of the message itself, as the receiving server splits them."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return head.split("\r\n")


@pytest.mark.parametrize("brk", BREAKS)
def test_header_safe_turns_every_line_break_into_a_space(brk):
    value = header_safe(f"Иванов{brk}Bcc: {EVIL}")
    assert not any(c in value for c in "\r\n\x00\x0b\x0c\u2028\u0085")
    assert value == f"Иванов Bcc: {EVIL}"


@pytest.mark.parametrize("address", [
    f"victim@x.ru\r\nBcc: {EVIL}", f"victim@x.ru\nBcc: {EVIL}", f"victim@x.ru\rBcc: {EVIL}",
    "victim@x.ru\x00", f"victim@x.ru%0d%0aBcc:{EVIL}", f"victim@x.ru>\r\nRCPT TO:<{EVIL}",
])
def test_check_email_refuses_an_address_with_a_line_break_or_junk(address):
    with pytest.raises(NoticeError):
        check_email(address)


def test_build_message_keeps_injected_text_inside_its_own_header():
    rendered = RenderedNotice(subject=f"Собрание{INJECT}", text=f"Текст{INJECT}", html=f"<p>Текст{INJECT}</p>")
    sender = sender_address(f"УК{INJECT} <oss@uk.example>", "УК")
    message = build_message(rendered=rendered, to=["owner@example.ru"], sender=sender)
    message["X-Kvorum-Meeting"] = f"1{INJECT}"
    raw = message.as_bytes()
    lines = top_headers(raw)
    names = {line.split(":", 1)[0].lower() for line in lines}
    assert names == EXPECTED_HEADERS, lines
    msg = parsed(raw)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "Bcc: evil@y.ru" in str(msg["Subject"])  # shown as text, on one line
    assert msg.get_all("To") == ["owner@example.ru"]
    assert msg.get_body(preferencelist=("plain",)).get_content().startswith("Текст")


def test_build_message_refuses_a_recipient_with_a_line_break():
    rendered = RenderedNotice(subject="Собрание", text="Текст", html="<p>Текст</p>")
    with pytest.raises(NoticeError, match="перевод строки"):
        build_message(rendered=rendered, to=[f"victim@x.ru\r\nBcc: {EVIL}"], sender=sender_address(None, "УК"))


def test_a_rendered_notice_for_a_hostile_owner_and_meeting_has_one_line_headers(session_factory):
    meeting_id = _hostile_meeting(session_factory)
    with session_factory() as s:
        view = meeting_view(s, meeting_id)
    from fractions import Fraction

    rendered = NoticeRenderer().render(
        meeting=view, owner=owner_view(name=f"Иванов{INJECT}", premise=f"1{INJECT}", area=40, share=Fraction(1)),
        code="ABCD-EFGH-JKMN", public_url="http://kvorum.test")
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    raw = build_message(rendered=rendered, to=["owner@example.ru"], sender=sender_address(None, view.initiator)
                        ).as_bytes()
    assert {line.split(":", 1)[0].lower() for line in top_headers(raw)} == EXPECTED_HEADERS - {"x-kvorum-meeting"}


def _hostile_meeting(session_factory) -> int:
    today = dt.date.today()
    return create_meeting(session_factory, data=MeetingData(
        address=f"г. Москва, ул. Садовая, д. 10{INJECT}", initiator=f"ООО «УК»{INJECT}",
        start_date=today + dt.timedelta(days=12), end_date=today + dt.timedelta(days=40),
        questions=[QuestionData(f"Выбор председателя{INJECT}")],
    ))


def test_the_sender_refuses_a_smuggled_bcc_and_sends_nothing_to_it(session_factory, smtp_server, tmp_path):
    meeting_id = _hostile_meeting(session_factory)
    rows = [["Номер помещения", "Общая площадь", "ФИО собственника", "E-mail"],
            ["1", 40, "Жертва Виктор", "victim@x.ru"],
            ["2", 50, "Иванов Иван", "ivanov@example.ru"]]
    import_registry(session_factory, meeting_id=meeting_id, data=make_table(rows, "csv"), filename="r.csv",
                    replace=True)
    with session_factory.begin() as s:
        owners = dict(s.execute(select(OwnerRecord.name, OwnerRecord.id)
                                .where(OwnerRecord.meeting_id == meeting_id)).all())
        # stored straight in the database, as a hand edit or an old import could have left them
        s.execute(update(OwnerRecord).where(OwnerRecord.id == owners["Жертва Виктор"])
                  .values(emails=[f"victim@x.ru\r\nBcc: {EVIL}"]))
        s.execute(update(OwnerRecord).where(OwnerRecord.id == owners["Иванов Иван"])
                  .values(name=f"Иванов Иван{INJECT}"))
    queue_notices(session_factory, meeting_id=meeting_id, owner_ids=list(owners.values()), request_key="k")

    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    config = SenderConfig(secret_key="s", public_url="http://kvorum.test",
                          mail_from=f"УК Пример{INJECT} <oss@uk-primer.example>", retry_seconds=0.05)
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config, until_idle=True)

    assert stats.sent == 1 and stats.failed == 1
    recipients = [r for _f, tos, _raw in smtp_server.raw for r in tos]
    assert recipients == ["ivanov@example.ru"]
    assert EVIL not in " ".join(recipients)
    [(_from, _tos, raw)] = smtp_server.raw
    assert {line.split(":", 1)[0].lower() for line in top_headers(raw)} == EXPECTED_HEADERS
    msg = parsed(raw)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "ул. Садовая" in str(msg["Subject"])
    with session_factory() as s:
        refused = s.scalar(select(Delivery).where(Delivery.owner_id == owners["Жертва Виктор"]))
        assert refused.status == "failed"
        assert "перевод строки" in refused.error
