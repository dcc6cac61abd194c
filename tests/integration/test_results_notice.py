"""Issue 15, item 7: the results notice (ЖК РФ ст. 46 ч. 3; DOMAIN.md rule 12) — its text from the
closed count, refused while the count is open, queued once per request and per owner, sent by the
durable sender to a real SMTP server (aiosmtpd) without a code, and never counted as the meeting's
notice. Worked on DOMAIN.md's example A: question 1 (2/3 of all) adopted, 2 (simple) not with
exactly 50 %, 3 (more than half of all) adopted."""
from __future__ import annotations

import datetime as dt
import io
import re
from email import policy
from email.parser import BytesParser
from fractions import Fraction

import pytest
from docx import Document
from sqlalchemy import select, update

from services.errors import ValidationError
from services.figures import format_percent, format_votes
from services.mailer import SmtpMailer
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import AccessCode, AgendaQuestion, Delivery, Meeting, OwnerRecord, utcnow
from services.notify import (
    delivery_register_rows,
    failed_owner_ids,
    issue_codes,
    notify_summary,
    owner_status_index,
    queue_notices,
    record_paper_delivery,
    status_version,
)
from services.registry import OwnerInput, apply_registry_changes, owner_status_marks
from services.results import activity_figures, activity_version
from services.results_notice import (
    COUNT_OPEN,
    TITLE,
    queue_results_notice,
    results_notice,
    results_notice_docx,
    results_notice_summary,
)
from services.sender import SenderConfig, run_sender
from services.settings import load_settings
from tests.integration.test_tally import EXAMPLE, TODAY, build, vote

SECRET = "results-secret"
PROPOSALS = ["Избрать председателем общего собрания Андреева А. А., секретарём — Борисову Б. Б.",
             "Утвердить перечень работ по текущему ремонту на 2027 год.",
             "Выбрать управляющей организацией ООО «УК Тверь»."]
EMAILS = {"Андреев": "andreev@example.ru", "Борисова": "borisova@example.ru", "Власов": "vlasov@example.ru"}
ARCHIVE = "г. Тверь, ул. Примерная, д. 1, офис ООО «УК», кабинет 3"
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
INJECT = "\r\nBcc: evil@y.ru\r\nX-Injected: yes"
EXPECTED_HEADERS = {"subject", "from", "to", "date", "message-id", "auto-submitted", "x-kvorum-meeting",
                    "mime-version", "content-type"}


def config(**kw) -> SenderConfig:
    return SenderConfig(secret_key=SECRET, public_url="http://kvorum.test", mail_from="УК <oss@uk.example>",
                        retry_seconds=0.05, **kw)


def send_all(session_factory, smtp_server, tmp_path, **kw):
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    return run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config(**kw),
                      until_idle=True, poll_seconds=0.05)


def close_count(session_factory, meeting_id, *, number="7/2026", archive=ARCHIVE):
    """What services/closing.py does to the meeting row, set directly."""
    with session_factory.begin() as s:
        s.execute(update(Meeting).where(Meeting.id == meeting_id).values(
            count_closed_at=utcnow(), count_closed_by="analyst", protocol_number=number,
            protocol_date=dt.date(2026, 3, 2), archive_place=archive))


def results_deliveries(session_factory, meeting_id):
    with session_factory() as s:
        return s.scalars(select(Delivery).where(Delivery.meeting_id == meeting_id, Delivery.purpose == "results")
                         .order_by(Delivery.id)).all()


def body_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def example_a(session_factory):
    """Example A voted, with proposals and e-mails for three of the four owners; the count still open."""
    m, ids, q = build(session_factory, EXAMPLE)
    with session_factory.begin() as s:
        for number, proposal in enumerate(PROPOSALS, start=1):
            s.execute(update(AgendaQuestion).where(AgendaQuestion.meeting_id == m, AgendaQuestion.number == number)
                      .values(proposal=proposal))
        for name, email in EMAILS.items():
            s.execute(update(OwnerRecord).where(OwnerRecord.id == ids[name]).values(emails=[email]))
    vote(session_factory, m, ids["Андреев"], q, ["for", "for", "for"])
    vote(session_factory, m, ids["Борисова"], q, ["for", "abstain", "for"])
    vote(session_factory, m, ids["Власов"], q, ["against", "for", "for"])
    vote(session_factory, m, ids["Власова"], q, ["against", "invalid", "against"])
    return m, ids


@pytest.fixture
def closed_a(session_factory, example_a):
    close_count(session_factory, example_a[0])
    return example_a


def question_part(body: str, number: int) -> str:
    """The paragraph of one question in the body."""
    start = body.index(f"\n{number}. Вопрос {number}\n")
    end = body.find("\n\n", start + 2)
    return body[start:end]


def test_the_body_carries_the_figures_and_decisions_of_the_closed_count(session_factory, closed_a):
    m, _ids = closed_a
    subject, body = results_notice(session_factory, meeting_id=m)
    assert subject == f"{TITLE}: г. Тверь, ул. Примерная, д. 1"
    for needed in ("по адресу: г. Тверь, ул. Примерная, д. 1", "внеочередное общее собрание в форме заочного голосования",
                   f"с {TODAY - dt.timedelta(days=5):%d.%m.%Y} по {TODAY + dt.timedelta(days=5):%d.%m.%Y}",
                   "протоколом общего собрания № 7/2026 от 02.03.2026", "Инициатор собрания: ООО «УК»",
                   f"Общее количество голосов собственников помещений в доме: {format_votes(120)}",
                   f"обладающие {format_votes(120)} голосов, что составляет {format_percent(1)}",
                   "Кворум имеется", f"можно ознакомиться: {ARCHIVE}."):
        assert needed in body, needed
    assert "120,00" in body and "100,00\u00a0%" in body  # the figures as people read them

    q1, q2, q3 = (question_part(body, n) for n in (1, 2, 3))
    assert (f"«за» — {format_votes(80)} голосов ({format_percent(Fraction(2, 3))} от числа голосов участников, "
            f"{format_percent(Fraction(2, 3))} от общего числа голосов)") in q1
    assert f"«против» — {format_votes(40)} голосов" in q1 and f"«воздержались» — {format_votes(0)} голосов" in q1
    assert f"Решение принято: {PROPOSALS[0]}" in q1
    assert f"«за» — 60,00 голосов ({format_percent(Fraction(1, 2))} от числа голосов участников" in q2
    assert f"«воздержались» — {format_votes(40)} голосов" in q2 and f"недействительные ответы — {format_votes(20)}" in q2
    assert "Решение не принято: требуется «за» — более 50 % голосов" in q2 and PROPOSALS[1] not in body
    assert f"«за» — {format_votes(100)} голосов" in q3 and f"«против» — {format_votes(20)} голосов" in q3
    assert f"Решение принято: {PROPOSALS[2]}" in q3
    assert body.count("Решение принято") == 2 and body.count("Решение не принято") == 1
    assert not CODE.search(body) and "код доступа" not in body


def test_without_a_quorum_nothing_is_adopted_and_the_notice_says_so(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)
    vote(session_factory, m, ids["Власов"], q, ["for"] * 3)
    close_count(session_factory, m)
    _subject, body = results_notice(session_factory, meeting_id=m)
    assert "Кворум отсутствует" in body and f"обладающие {format_votes(60)} голосов" in body
    assert body.count("Решение не принято: кворум отсутствует") == 3 and "Решение принято" not in body


def test_everything_is_refused_while_the_count_is_open(session_factory, example_a):
    m, _ids = example_a
    for make in (results_notice, results_notice_docx):
        with pytest.raises(ValidationError, match="после закрытия подсчёта") as caught:
            make(session_factory, meeting_id=m)
        assert caught.value.message == COUNT_OPEN
    with pytest.raises(ValidationError, match="после закрытия подсчёта"):
        queue_results_notice(session_factory, meeting_id=m, request_key="open")
    assert results_deliveries(session_factory, m) == []


def test_the_same_request_queues_once_and_an_owner_is_not_sent_twice(session_factory, closed_a, smtp_server, tmp_path):
    m, ids = closed_a
    first = queue_results_notice(session_factory, meeting_id=m, request_key="r1", user="analyst")
    assert (first.queued, first.skipped, first.existed) == (3, 1, False)
    again = queue_results_notice(session_factory, meeting_id=m, request_key="r1", user="analyst")
    assert (again.job_id, again.queued, again.skipped, again.existed) == (first.job_id, 3, 1, True)
    deliveries = results_deliveries(session_factory, m)
    assert len(deliveries) == 3
    assert {d.owner_id for d in deliveries} == {ids[n] for n in EMAILS}
    assert all(d.channel == "email" and d.status == "queued" and d.created_by == "analyst" for d in deliveries)
    # another click while they wait, and another after they left: nobody is queued again
    assert queue_results_notice(session_factory, meeting_id=m, request_key="r2").queued == 0
    send_all(session_factory, smtp_server, tmp_path)
    assert queue_results_notice(session_factory, meeting_id=m, request_key="r3").queued == 0
    assert len(smtp_server.messages) == 3 and len(results_deliveries(session_factory, m)) == 3
    # an owner whose results e-mail failed is queued again by the next request
    with session_factory.begin() as s:
        s.execute(update(Delivery).where(Delivery.owner_id == ids["Борисова"], Delivery.purpose == "results")
                  .values(status="failed"))
    retry = queue_results_notice(session_factory, meeting_id=m, request_key="r4")
    assert retry.queued == 1 and results_deliveries(session_factory, m)[-1].owner_id == ids["Борисова"]


def test_owners_receive_the_results_by_email_without_a_code(session_factory, closed_a, smtp_server, tmp_path,
                                                            monkeypatch):
    import services.results_notice as rn

    m, ids = closed_a
    codes = issue_codes(session_factory, meeting_id=m, owner_ids=list(ids.values()), secret_key=SECRET)
    with session_factory() as s:
        before = s.execute(select(AccessCode.owner_id, AccessCode.code_hash, AccessCode.issued_at,
                                  AccessCode.delivery_id).order_by(AccessCode.owner_id)).all()
    renders = []
    compose = rn.compose
    monkeypatch.setattr(rn, "compose", lambda *a, **kw: renders.append(1) or compose(*a, **kw))
    queue_results_notice(session_factory, meeting_id=m, request_key="send")

    stats = send_all(session_factory, smtp_server, tmp_path)

    assert stats.sent == 3 and stats.failed == 0
    assert len(renders) == 1, "the results text is rendered once per meeting per batch"
    _subject, expected = results_notice(session_factory, meeting_id=m)
    assert sorted(to for _f, tos, _raw in smtp_server.raw for to in tos) == sorted(EMAILS.values())
    for (_from, _tos, raw), msg in zip(smtp_server.raw, smtp_server.messages):
        assert b"=?utf-8?b?" in raw.split(b"\r\n\r\n", 1)[0]  # the Cyrillic subject went encoded
        assert msg["Subject"] == f"{TITLE}: г. Тверь, ул. Примерная, д. 1"
        text = body_of(msg)
        assert text == expected
        assert "Решение принято" in text and f"«за» — {format_votes(80)} голосов" in text
        html = msg.get_body(preferencelist=("html",)).get_content()
        assert "Решение не принято" in html and "ООО «УК Тверь»" in html
        assert not CODE.search(text) and not CODE.search(html) and "код доступа" not in text.lower()
        assert not any(code in text or code in html for code in codes.values())
    with session_factory() as s:
        after = s.execute(select(AccessCode.owner_id, AccessCode.code_hash, AccessCode.issued_at,
                                 AccessCode.delivery_id).order_by(AccessCode.owner_id)).all()
    assert after == before, "a results notice leaves the owners' codes as they were"
    assert all(d.status == "sent" and d.sent_at and d.message_id for d in results_deliveries(session_factory, m))
    summary = results_notice_summary(session_factory, meeting_id=m)
    assert (summary.queued, summary.sent, summary.failed, summary.owners_with_email) == (0, 3, 0, 3)


def test_results_deliveries_leave_every_count_of_notices_as_it_was(session_factory, example_a, smtp_server, tmp_path):
    m, ids = example_a
    # the meeting's notice: by hand to Андреев; an e-mail notice to Борисова that the server refused
    record_paper_delivery(session_factory, meeting_id=m, owner_ids=[ids["Андреев"]], channel="hand",
                          on_date=TODAY - dt.timedelta(days=20))
    smtp_server.refuse.add(EMAILS["Борисова"])
    queue_notices(session_factory, meeting_id=m, owner_ids=[ids["Борисова"]], request_key="notice", confirm_late=True)
    send_all(session_factory, smtp_server, tmp_path)
    close_count(session_factory, m)
    smtp_server.refuse.clear()
    smtp_server.refuse.add(EMAILS["Власов"])

    def counts():
        index = owner_status_index(session_factory, meeting_id=m).set_index("id")
        with session_factory() as s:
            marks = owner_status_marks(s, m)
        return {
            "summary": notify_summary(session_factory, meeting_id=m),
            "figures": {x.status: (x.owners, x.votes) for x in activity_figures(session_factory, meeting_id=m)},
            "register": delivery_register_rows(session_factory, meeting_id=m),
            "index": index[["last_notice", "last_status", "last_error", "last_channel"]].to_dict(),
            "failed": failed_owner_ids(session_factory, meeting_id=m),
            "marks": marks,
            "versions": (status_version(session_factory, meeting_id=m), activity_version(session_factory, meeting_id=m)),
        }

    before = counts()
    assert before["figures"]["Уведомлены"][0] == 1 and before["failed"] == [ids["Борисова"]]
    assert len(before["register"][1]) == 2

    queue_results_notice(session_factory, meeting_id=m, request_key="results")
    stats = send_all(session_factory, smtp_server, tmp_path)

    assert stats.sent == 2 and stats.failed == 1  # the results went: Андреев and Борисова; Власов refused
    assert counts() == before
    summary = results_notice_summary(session_factory, meeting_id=m)
    assert (summary.sent, summary.failed, summary.queued) == (2, 1, 0)


def test_a_reopened_count_stops_queued_results_with_the_reason(session_factory, closed_a, smtp_server, tmp_path):
    m, _ids = closed_a
    queue_results_notice(session_factory, meeting_id=m, request_key="k")
    with session_factory.begin() as s:
        s.execute(update(Meeting).where(Meeting.id == m).values(count_closed_at=None))
    stats = send_all(session_factory, smtp_server, tmp_path)
    assert stats.sent == 0 and stats.failed == 3 and smtp_server.raw == []
    assert {(d.status, d.error) for d in results_deliveries(session_factory, m)} == {("failed", COUNT_OPEN)}


def _hostile_closed_meeting(session_factory) -> int:
    meeting = create_meeting(session_factory, data=MeetingData(
        address=f"г. Москва, ул. Садовая, д. 10{INJECT}", initiator=f"ООО «УК»{INJECT}",
        start_date=TODAY - dt.timedelta(days=30), end_date=TODAY - dt.timedelta(days=3),
        questions=[QuestionData(f"Выбор председателя{INJECT}")]))
    apply_registry_changes(session_factory, meeting_id=meeting, added=[
        OwnerInput(premise="1", area="40", name="Жертва Виктор", contacts="victim@x.ru"),
        OwnerInput(premise="2", area="50", name="Иванов Иван", contacts="ivanov@example.ru")])
    with session_factory.begin() as s:
        victim = s.scalar(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting,
                                                       OwnerRecord.name == "Жертва Виктор"))
        # stored straight in the database, as a hand edit or an old import could have left it
        s.execute(update(OwnerRecord).where(OwnerRecord.id == victim).values(emails=["victim@x.ru\r\nBcc: evil@y.ru"]))
    close_count(session_factory, meeting, number=f"1{INJECT}", archive=f"<script>alert(1)</script>{INJECT}\x07")
    return meeting


def test_a_header_injection_in_the_address_or_initiator_does_not_inject(session_factory, smtp_server, tmp_path):
    m = _hostile_closed_meeting(session_factory)
    queue_results_notice(session_factory, meeting_id=m, request_key="k")
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    hostile = SenderConfig(secret_key=SECRET, public_url="http://kvorum.test",
                           mail_from=f"УК Пример{INJECT} <oss@uk-primer.example>", retry_seconds=0.05)
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=hostile, until_idle=True)

    assert stats.sent == 1 and stats.failed == 1
    [(_from, tos, raw)] = smtp_server.raw
    assert tos == ["ivanov@example.ru"]
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    assert {line.split(":", 1)[0].lower() for line in head} == EXPECTED_HEADERS, head
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "ул. Садовая" in msg["Subject"] and "\n" not in msg["Subject"]
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    with session_factory() as s:
        refused = s.scalar(select(Delivery).where(Delivery.meeting_id == m, Delivery.address.contains("victim")))
    assert refused.status == "failed" and "перевод строки" in refused.error


def test_the_posted_notice_is_a_document_with_the_same_text_and_no_unsafe_characters(session_factory):
    m = _hostile_closed_meeting(session_factory)
    _subject, body = results_notice(session_factory, meeting_id=m)
    doc = Document(io.BytesIO(results_notice_docx(session_factory, meeting_id=m)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "СООБЩЕНИЕ" in text and "об итогах общего собрания собственников помещений" in text
    assert "<script>alert(1)</script>" in text and "\x07" not in text  # shown as text, the control char gone
    assert "Кворум отсутствует" in text and "Решение не принято: кворум отсутствует" in text
    assert "Сообщение размещено «___»" in text
    assert "<script>alert(1)</script>" in body and "\x07" not in body  # the e-mail's text: the same place, clean
