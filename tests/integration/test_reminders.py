"""Issue 16, item 9: reminders to the owners who have not voted — found by a filter, queued once per
request key through the durable sender to a real SMTP server (aiosmtpd), without a code (the
notice's code stays the owner's), listed in the delivery register as reminders, and never counted
as the meeting's notice. Also item 3's wording of a finished job, and the notice's link that
carries its code to /vote.

DOMAIN.md's example building: Андреев (1), Борисова (2), Власов and Власова (3, halves); voting
runs from five days ago to five days ahead."""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from sqlalchemy import select, update

from services.codes import hash_code
from services.errors import ValidationError
from services.mailer import SmtpMailer
from services.models import AccessCode, Delivery, Meeting, OwnerRecord, SendJob, utcnow
from services.notice import NoticeRenderer, owner_view
from services.notify import (
    JobProgress,
    active_job_id,
    delivery_register_rows,
    delivery_register_xlsx,
    failed_owner_ids,
    filter_owners,
    issue_codes,
    job_outcome,
    job_progress,
    job_progress_label,
    notify_summary,
    owner_status_index,
    queue_notices,
    record_paper_delivery,
    status_version,
)
from services.reminders import REMINDER, not_voted_owner_ids, queue_reminders
from services.sender import SenderConfig, meeting_view, run_sender
from services.settings import load_settings
from services.voting import submit_online_decision
from tests.integration.test_tally import EXAMPLE, SECRET, TODAY, build, vote

EMAILS = {"Андреев": "andreev@example.ru", "Борисова": "borisova@example.ru", "Власов": "vlasov@example.ru"}
PLACE = "г. Тверь, ул. Примерная, д. 1, кв. 1 (почтовый ящик инициатора)"
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
PUBLIC = "https://kvorum.example.ru"


def config(**kw) -> SenderConfig:
    return SenderConfig(secret_key=SECRET, public_url=PUBLIC, mail_from="УК <oss@uk.example>", retry_seconds=0.05,
                        **kw)


def send_all(session_factory, smtp_server, tmp_path, **kw):
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    return run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config(**kw),
                      until_idle=True, poll_seconds=0.05)


def reminders_of(session_factory, meeting_id) -> list[Delivery]:
    with session_factory() as s:
        return s.scalars(select(Delivery).where(Delivery.meeting_id == meeting_id, Delivery.purpose == REMINDER)
                         .order_by(Delivery.id)).all()


def codes_table(session_factory):
    with session_factory() as s:
        return s.execute(select(AccessCode.owner_id, AccessCode.code_hash, AccessCode.issued_at,
                                AccessCode.delivery_id).order_by(AccessCode.owner_id)).all()


@pytest.fixture
def building(session_factory):
    """Example building in its voting period, with e-mails for three owners (Власова has none) and
    the place of receiving decisions."""
    m, ids, q = build(session_factory, EXAMPLE)
    with session_factory.begin() as s:
        for name, email in EMAILS.items():
            s.execute(update(OwnerRecord).where(OwnerRecord.id == ids[name]).values(emails=[email]))
        s.execute(update(Meeting).where(Meeting.id == m).values(decisions_place=PLACE))
    return m, ids, q


@pytest.fixture
def half_voted(session_factory, building):
    """Андреев's paper decision is counted; Борисова answered online with her code; the Власовs have
    not voted."""
    m, ids, q = building
    vote(session_factory, m, ids["Андреев"], q, ["for", "for", "for"])
    codes = issue_codes(session_factory, meeting_id=m, owner_ids=[ids["Борисова"]], secret_key=SECRET)
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=ids["Борисова"],
                           answers=dict(zip(q, ["for", "against", "abstain"])),
                           code_hash=hash_code(SECRET, codes[ids["Борисова"]]))
    return m, ids, q


# ---------- who has not voted ----------

def test_not_voted_are_the_owners_without_a_counted_or_online_decision(session_factory, half_voted):
    m, ids, _q = half_voted
    assert not_voted_owner_ids(session_factory, meeting_id=m) == sorted([ids["Власов"], ids["Власова"]])
    index = owner_status_index(session_factory, meeting_id=m)
    assert dict(zip(index["id"], index["voted"])) == {
        ids["Андреев"]: True, ids["Борисова"]: True, ids["Власов"]: False, ids["Власова"]: False}
    view = filter_owners(index, only_not_voted=True)
    assert set(view["name"]) == {"Власов", "Власова"}
    assert len(filter_owners(index)) == 4


def test_a_late_decision_does_not_count_as_voted(session_factory, building):
    m, ids, q = building
    with session_factory.begin() as s:  # decisions were received until yesterday
        s.execute(update(Meeting).where(Meeting.id == m).values(end_date=TODAY - dt.timedelta(days=1)))
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)  # received today: late, not counted
    assert ids["Андреев"] in not_voted_owner_ids(session_factory, meeting_id=m)


def test_a_joint_owner_whose_co_owner_voted_needs_no_reminder(session_factory, building):
    m, ids, q = building
    with session_factory.begin() as s:  # the Власовs hold flat 3 jointly (spouses)
        s.execute(update(OwnerRecord).where(OwnerRecord.id.in_([ids["Власов"], ids["Власова"]]))
                  .values(joint_group=1))
    assert set(not_voted_owner_ids(session_factory, meeting_id=m)) == set(ids.values())
    vote(session_factory, m, ids["Власова"], q, ["for"] * 3)
    assert not_voted_owner_ids(session_factory, meeting_id=m) == sorted([ids["Андреев"], ids["Борисова"]])


def test_a_new_decision_refreshes_the_index_version(session_factory, building):
    """The page caches the owners' index by status_version: a vote must change it, or the filter
    «Не проголосовали» would go on showing an owner who has voted."""
    m, ids, q = building
    before = status_version(session_factory, meeting_id=m)
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)
    assert status_version(session_factory, meeting_id=m) != before


# ---------- queuing ----------

def test_one_request_key_queues_once_and_only_the_owners_who_have_not_voted(session_factory, half_voted):
    m, ids = half_voted[0], half_voted[1]
    everyone = list(ids.values())
    first = queue_reminders(session_factory, meeting_id=m, owner_ids=everyone, request_key="r1", user="analyst")
    # Власов has an e-mail, Власова none; Андреев and Борисова voted and are left out
    assert (first.queued, first.skipped, first.existed) == (1, 1, False)
    again = queue_reminders(session_factory, meeting_id=m, owner_ids=everyone, request_key="r1", user="analyst")
    assert (again.job_id, again.queued, again.skipped, again.existed) == (first.job_id, 1, 1, True)
    [d] = reminders_of(session_factory, m)
    assert (d.owner_id, d.status, d.channel, d.lawful, d.address, d.created_by) == (
        ids["Власов"], "queued", "email", False, EMAILS["Власов"], "analyst")
    with session_factory() as s:
        assert s.scalar(select(SendJob.total).where(SendJob.id == first.job_id)) == 2
        assert len(s.scalars(select(SendJob)).all()) == 1
    # the page follows this job after a reload, and knows it sends reminders
    assert active_job_id(session_factory, meeting_id=m) == first.job_id
    assert job_progress(session_factory, job_id=first.job_id).purpose == REMINDER


@pytest.mark.parametrize("who, message", [
    (["Андреев", "Борисова"], "Все выбранные собственники уже проголосовали: напоминать некому."),
    (["Власова"], "Ни у кого из выбранных, кто ещё не проголосовал, нет адреса эл. почты."),
])
def test_nobody_to_remind_is_refused_and_queues_nothing(session_factory, half_voted, who, message):
    m, ids = half_voted[0], half_voted[1]
    with pytest.raises(ValidationError) as caught:
        queue_reminders(session_factory, meeting_id=m, owner_ids=[ids[n] for n in who], request_key="k")
    assert caught.value.message == message
    assert reminders_of(session_factory, m) == []


@pytest.mark.parametrize("start, end, closed, expected", [
    (TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=9), False, "Голосование начнётся"),
    (TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=1), False, "Приём решений окончен"),
    (TODAY - dt.timedelta(days=9), TODAY + dt.timedelta(days=1), True, "Подсчёт голосов закрыт"),
])
def test_reminders_outside_the_voting_period_are_refused(session_factory, building, start, end, closed, expected):
    m, ids, _q = building
    with session_factory.begin() as s:
        s.execute(update(Meeting).where(Meeting.id == m).values(
            start_date=start, end_date=end, count_closed_at=utcnow() if closed else None))
    with pytest.raises(ValidationError, match=expected):
        queue_reminders(session_factory, meeting_id=m, owner_ids=list(ids.values()), request_key="k")
    assert reminders_of(session_factory, m) == []


# ---------- sending ----------

def test_the_reminder_reaches_only_the_owners_who_have_not_voted_without_a_code(session_factory, half_voted,
                                                                                 smtp_server, tmp_path):
    m, ids = half_voted[0], half_voted[1]
    with session_factory.begin() as s:  # a second owner to remind with an address
        s.execute(update(OwnerRecord).where(OwnerRecord.id == ids["Власова"]).values(emails=["vlasova@example.ru"]))
    codes = issue_codes(session_factory, meeting_id=m, owner_ids=[ids["Власов"], ids["Власова"], ids["Андреев"]],
                        secret_key=SECRET)
    before = codes_table(session_factory)
    queue_reminders(session_factory, meeting_id=m, owner_ids=list(ids.values()), request_key="send")

    stats = send_all(session_factory, smtp_server, tmp_path)

    assert (stats.sent, stats.failed) == (2, 0)
    assert sorted(to for _f, tos, _raw in smtp_server.raw for to in tos) == ["vlasov@example.ru", "vlasova@example.ru"]
    end = f"{TODAY + dt.timedelta(days=5):%d.%m.%Y}"
    for msg in smtp_server.messages:
        assert msg["Subject"] == f"Напоминание: решения собственников принимаются до {end} — г. Тверь, ул. Примерная, д. 1"
        assert msg["X-Kvorum-Meeting"] == str(m)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        assert f"Решения собственников принимаются до {end} включительно по адресу: {PLACE}." in text
        assert f"Проголосовать можно на странице {PUBLIC}/vote — используйте код из сообщения о собрании." in text
        assert "по адресу: г. Тверь, ул. Примерная, д. 1" in text and "ООО «УК»" in text
        assert f'<a href="{PUBLIC}/vote">' in html and end in html
        # no code at all: neither a new one nor the one the owner holds
        assert not CODE.search(text) and not CODE.search(html)
        assert not any(c in text or c in html for c in codes.values())
    assert codes_table(session_factory) == before, "a reminder leaves every owner's code as it was"
    assert all(d.status == "sent" and d.sent_at and d.message_id for d in reminders_of(session_factory, m))
    index = owner_status_index(session_factory, meeting_id=m).set_index("id")
    assert index.loc[ids["Власов"], "last_reminder"].date() == dt.datetime.utcnow().date()
    assert index["last_reminder"].notna().sum() == 2


def test_reminders_leave_every_count_of_notices_as_it_was(session_factory, half_voted, smtp_server, tmp_path):
    m, ids = half_voted[0], half_voted[1]
    # the meeting's notice: by hand to Власова; an e-mail notice to Власов that the server refused
    record_paper_delivery(session_factory, meeting_id=m, owner_ids=[ids["Власова"]], channel="hand",
                          on_date=TODAY - dt.timedelta(days=20))
    smtp_server.refuse.add(EMAILS["Власов"])
    queue_notices(session_factory, meeting_id=m, owner_ids=[ids["Власов"]], request_key="notice", confirm_late=True)
    send_all(session_factory, smtp_server, tmp_path)
    smtp_server.refuse.clear()

    def counts():
        index = owner_status_index(session_factory, meeting_id=m).set_index("id")
        return {
            "summary": notify_summary(session_factory, meeting_id=m),
            "register": delivery_register_rows(session_factory, meeting_id=m),
            "index": index[["last_notice", "last_status", "last_error", "last_channel", "voted"]].to_dict(),
            "failed": failed_owner_ids(session_factory, meeting_id=m),
        }

    before = counts()
    assert before["failed"] == [ids["Власов"]] and len(before["register"][1]) == 2
    queue_reminders(session_factory, meeting_id=m, owner_ids=[ids["Власов"]], request_key="remind")
    stats = send_all(session_factory, smtp_server, tmp_path)
    assert stats.sent == 1  # the reminder went where the notice was refused
    assert counts() == before


def test_the_register_lists_reminders_on_a_sheet_of_their_own(session_factory, half_voted, smtp_server, tmp_path):
    m, ids = half_voted[0], half_voted[1]
    record_paper_delivery(session_factory, meeting_id=m, owner_ids=[ids["Андреев"]], channel="hand",
                          on_date=TODAY - dt.timedelta(days=20))
    wb = openpyxl.load_workbook(io.BytesIO(delivery_register_xlsx(session_factory, meeting_id=m)))
    assert wb.sheetnames == ["Законные уведомления", "Дополнительные"]  # no reminders yet: no sheet
    notices_before = [list(r) for r in wb["Законные уведомления"].iter_rows(values_only=True)]

    queue_reminders(session_factory, meeting_id=m, owner_ids=list(ids.values()), request_key="remind")
    send_all(session_factory, smtp_server, tmp_path)

    wb = openpyxl.load_workbook(io.BytesIO(delivery_register_xlsx(session_factory, meeting_id=m)))
    assert wb.sheetnames == ["Законные уведомления", "Дополнительные", "Напоминания"]
    assert [list(r) for r in wb["Законные уведомления"].iter_rows(values_only=True)] == notices_before
    header, *rows = list(wb["Напоминания"].iter_rows(values_only=True))
    assert list(header) == ["Номер помещения", "ФИО/Наименование собственника", "Адрес эл. почты",
                            "Дата отправки напоминания", "Результат", "Причина"]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [("3", "Власов", "vlasov@example.ru", "отправлено")]
    assert isinstance(rows[0][3], dt.datetime)


def test_a_reminder_still_queued_after_the_end_date_is_not_sent(session_factory, half_voted, smtp_server, tmp_path):
    m, ids = half_voted[0], half_voted[1]
    queue_reminders(session_factory, meeting_id=m, owner_ids=[ids["Власов"]], request_key="k")
    later = utcnow() + dt.timedelta(days=7)  # the server was down for a week
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config(),
                       until_idle=True, poll_seconds=0.05, clock=lambda: later)
    assert (stats.sent, stats.failed) == (0, 1) and smtp_server.raw == []
    [d] = reminders_of(session_factory, m)
    assert d.status == "failed"
    assert d.error == f"Приём решений окончен {TODAY + dt.timedelta(days=5):%d.%m.%Y}: напоминание не отправлено"


# ---------- what the page says of a finished job ----------

def progress(purpose="notice", *, sent=39, failed=0, skipped=0, pending=0) -> JobProgress:
    return JobProgress(1, sent + failed + skipped + pending, sent, failed, skipped, pending, "", None, purpose)


@pytest.mark.parametrize("p, outbox, expected", [
    (progress(), False, ("success", "Уведомления успешно отправлены: 39.")),
    (progress(), True, ("warning", "Уведомления записаны в папку outbox: 39. Почтовый сервер не настроен — "
                                   "собственникам они не отправлены.")),
    (progress(REMINDER, sent=3), False, ("success", "Напоминания отправлены: 3.")),
    (progress(REMINDER, sent=3), True, ("warning", "Напоминания записаны в папку outbox: 3. Почтовый сервер не "
                                                   "настроен — собственникам они не отправлены.")),
    (progress(sent=0, failed=2), True, ("error", "Уведомления не отправлены. Не доставлено: 2 — причины в разделе "
                                                 "«Не доставлено».")),
])
def test_a_finished_job_says_where_the_messages_went(p, outbox, expected):
    assert job_outcome(p, outbox=outbox) == expected
    assert "успешно" not in job_outcome(p, outbox=True)[1]


def test_the_progress_says_outbox_when_nothing_is_sent():
    p = progress(sent=3, pending=2)
    assert job_progress_label(p, outbox=False) == "Отправка уведомлений: 3 из 5"
    assert job_progress_label(p, outbox=True) == "Запись уведомлений в папку outbox: 3 из 5"
    assert job_progress_label(progress(REMINDER, sent=1, pending=1), outbox=False) == "Отправка напоминаний: 1 из 2"


# ---------- the notice's link carries the code ----------

def test_the_notice_email_links_to_vote_with_its_code(session_factory, building):
    m, _ids, _q = building
    with session_factory() as s:
        view = meeting_view(s, m)
    owner = owner_view(name="Власов", premise="3", area=40, share=1)
    rendered = NoticeRenderer().render(meeting=view, owner=owner, code="ABCD-EFGH-JKMN", public_url=PUBLIC)
    assert f'<a href="{PUBLIC}/vote?code=ABCD-EFGH-JKMN">Перейти к голосованию</a>' in rendered.html
    # the plain text still names the page and the code apart, for who types them
    assert f"Откройте страницу {PUBLIC}/vote\n" in rendered.text and "ABCD-EFGH-JKMN" in rendered.text
