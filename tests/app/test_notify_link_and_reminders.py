"""«Уведомление собственников» in AppTest, issue 16 items 3 and 9: a voting link that points to this
machine blocks sending and printing until PUBLIC_URL is set or the link is confirmed; without
SMTP the page says the notices went to the outbox folder, never «успешно отправлены»; the filter
«Не проголосовали» and «Напомнить», which queues one reminder job per confirmation and journals it.

Dialog clicks are driven as in test_notify_page.py (its module docstring says why): the opener and
the dialog's button are clicked in the same run.
"""
from __future__ import annotations

import datetime as dt
import socket

import pytest
from sqlalchemy import func, select

from pagekit import assert_ran_cleanly, button, meeting_data, registry_xlsx, texts
from services.mailer import make_mailer
from services.meetings import create_meeting
from services.models import AuditEvent, Delivery, OwnerRecord, SendJob
from services.registry import import_registry
from services.reminders import queue_reminders
from services.sender import SenderConfig, run_sender
from services.settings import load_settings
from services.voting import register_paper_decision, voter_page
from ui.state import PAGE_NOTIFY

TODAY = dt.date.today()
PUBLIC = "https://kvorum.example.ru"
ROWS = [
    ["1", 50.0, "Андреев Андрей", "1", "77-01/001", dt.date(2019, 3, 1), "andreev@example.ru"],
    ["2", 40.0, "Борисова Белла", "1", "77-01/002", dt.date(2019, 3, 1), "borisova@example.ru"],
    ["3", 45.0, "Власов Виктор", "1", "77-01/003", dt.date(2019, 3, 1), "vlasov@example.ru"],
    ["4", 30.0, "Гусева Галина", "1", "77-01/004", dt.date(2019, 3, 1), "79222222222"],  # no e-mail
]
ANDREEV, BORISOVA, VLASOV, GUSEVA = (r[2] for r in ROWS)
URL_CONFIRM_START = "Ссылка "
PRINT = "Сформировать сообщения для печати (.docx)"
OUTBOX_DONE = ("Уведомления записаны в папку outbox: 3. Почтовый сервер не настроен — собственникам они не "
               "отправлены. Без эл. почты: 1 — им нужно бумажное уведомление.")


def new_meeting(session_factory, *, start: dt.date, end: dt.date) -> tuple[int, dict[str, int]]:
    meeting_id = create_meeting(session_factory, data=meeting_data(start_date=start, end_date=end))
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(ROWS), filename="реестр.xlsx",
                    replace=True)
    with session_factory() as s:
        ids = dict(s.execute(select(OwnerRecord.name, OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)).all())
    return meeting_id, ids


def send_button(at):
    [b] = [b for b in at.button if b.label.startswith("Отправить уведомления (")]
    return b


def remind_button(at):
    [b] = [b for b in at.button if b.label.startswith("Напомнить (")]
    return b


def url_confirm(at):
    return [c for c in at.checkbox if c.label.startswith(URL_CONFIRM_START)]


def names(at) -> set[str]:
    [editor] = at.data_editor
    return set(editor.value["ФИО/Наименование"])


def show(at, option: str):
    at.segmented_control(key="notify_show").set_value(option)
    return at.run()


def jobs(session_factory, meeting_id) -> list[SendJob]:
    with session_factory() as s:
        return s.scalars(select(SendJob).where(SendJob.meeting_id == meeting_id).order_by(SendJob.id)).all()


@pytest.fixture(autouse=True)
def public_url(request, monkeypatch) -> str | None:
    """PUBLIC_URL as the server is configured (a public address unless a test parametrizes it; None:
    unset). Autouse, so it is set before any fixture runs the app, which reads it once."""
    url = getattr(request, "param", PUBLIC)
    if url is None:
        monkeypatch.delenv("PUBLIC_URL", raising=False)
    else:
        monkeypatch.setenv("PUBLIC_URL", url)
    return url


# ---------- item 3: the voting link ----------

@pytest.fixture
def meeting(session_factory):
    """Starts in 20 days: notices are in time."""
    return new_meeting(session_factory, start=TODAY + dt.timedelta(days=20), end=TODAY + dt.timedelta(days=40))


def local_urls() -> list[str | None]:
    urls = [None, "http://127.0.0.1:8502", "http://0.0.0.0:8501", "http://[::1]:8501"]
    name = socket.gethostname()
    if name and "." not in name:
        urls.append(f"http://{name}:8501")  # this machine's own name
    return urls


@pytest.mark.parametrize("public_url", local_urls(), indirect=True)
def test_a_link_to_this_machine_blocks_sending_and_printing_until_confirmed(open_page, meeting, public_url):
    shown_url = public_url or "http://localhost:8501"  # unset: the default
    meeting_id, _ids = meeting
    at = open_page(PAGE_NOTIFY, meeting_id)
    assert_ran_cleanly(at)
    [warning] = [e for e in texts(at.error) if "ведёт на этот компьютер" in e]
    assert f"{shown_url}/vote" in warning and "PUBLIC_URL" in warning
    [confirm] = url_confirm(at)
    assert confirm.value is False and f"{shown_url}/vote" in confirm.label

    button(at, "Выбрать всех").click().run()
    assert send_button(at).disabled
    assert button(at, PRINT).disabled
    assert remind_button(at).disabled

    url_confirm(at)[0].check().run()
    assert_ran_cleanly(at)
    assert not send_button(at).disabled and not button(at, PRINT).disabled
    send_button(at).click().run()
    assert not button(at, "Отправить").disabled


def test_a_public_link_shows_no_warning(open_page, meeting):
    at = open_page(PAGE_NOTIFY, meeting[0])
    assert not [e for e in texts(at.error) if "ведёт на этот компьютер" in e]
    assert not url_confirm(at)
    button(at, "Выбрать всех").click().run()
    assert not send_button(at).disabled and not button(at, PRINT).disabled


# ---------- item 3: the outbox ----------

def drain_outbox() -> None:
    """The background sender's work, done here (page tests run none): no SMTP, so the outbox."""
    from services.db import make_engine, make_session_factory

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        run_sender(make_session_factory(engine), mailer_factory=lambda: make_mailer(settings), until_idle=True,
                   config=SenderConfig(secret_key="page-test", public_url=PUBLIC, mail_from="УК <oss@uk.example>"))
    finally:
        engine.dispose()


def test_without_smtp_the_page_says_the_notices_went_to_the_outbox_not_to_the_owners(
        open_page, meeting, tmp_path):
    meeting_id, _ids = meeting
    at = open_page(PAGE_NOTIFY, meeting_id)
    button(at, "Выбрать всех").click().run()
    send_button(at).click().run()
    assert ("Почтовый сервер не настроен: письма будут записаны в папку outbox (data/outbox/), собственникам они "
            "не уйдут.") in texts(at.warning)
    send_button(at).click()
    button(at, "Отправить").click()
    at.run()
    assert_ran_cleanly(at)
    [progress] = at.get("progress")
    assert progress.proto.text == "Запись уведомлений в папку outbox: 1 из 4"

    drain_outbox()
    at.run()  # the progress sees the job done and reruns the page with the outcome
    assert_ran_cleanly(at)
    assert OUTBOX_DONE in texts(at.warning)
    everything = texts(at.success) + texts(at.warning) + texts(at.info) + texts(at.error)
    assert not [t for t in everything if "успешно отправлены" in t]
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 3


# ---------- item 9: reminders ----------

@pytest.fixture
def voting(session_factory):
    """Voting runs since five days; Андреев's decision is counted."""
    meeting_id, ids = new_meeting(session_factory, start=TODAY - dt.timedelta(days=5), end=TODAY + dt.timedelta(days=20))
    questions = [q.id for q in voter_page(session_factory, owner_id=ids[ANDREEV]).questions]
    register_paper_decision(session_factory, secret_key="page-test", meeting_id=meeting_id, owner_id=ids[ANDREEV],
                            received_on=TODAY, answers={q: "for" for q in questions})
    return meeting_id, ids


def test_the_not_voted_filter_shows_only_the_owners_without_a_decision(open_page, voting):
    meeting_id, _ids = voting
    at = open_page(PAGE_NOTIFY, meeting_id)
    assert names(at) == {ANDREEV, BORISOVA, VLASOV, GUSEVA}
    show(at, "Не проголосовали")
    assert_ran_cleanly(at)
    assert names(at) == {BORISOVA, VLASOV, GUSEVA}
    [editor] = at.data_editor
    assert "Дата последнего напоминания" in editor.value.columns
    assert "Выбрано: **0** · показано 3" in texts(at.markdown)


def test_remind_queues_one_reminder_job_for_the_not_voted_and_journals_it(open_page, voting, session_factory):
    meeting_id, ids = voting
    at = open_page(PAGE_NOTIFY, meeting_id)
    assert remind_button(at).disabled  # nobody selected
    button(at, "Выбрать всех").click().run()  # everyone, Андреев who voted too
    assert remind_button(at).label == "Напомнить (3)" and not remind_button(at).disabled
    remind_button(at).click().run()
    assert_ran_cleanly(at)
    md = texts(at.markdown)
    assert any("Напоминание о голосовании уйдёт по электронной почте: **2 собственникам**" in m for m in md), md
    assert "Без адреса эл. почты: 1 — им напоминание не уйдёт." in md
    key = at.session_state["notify_remind_key"]

    remind_button(at).click()
    button(at, "Напомнить").click()
    at.run()
    assert_ran_cleanly(at)

    [job] = jobs(session_factory, meeting_id)
    with session_factory() as s:
        rows = s.execute(select(Delivery.owner_id, Delivery.purpose, Delivery.status)
                         .where(Delivery.job_id == job.id)).all()
    assert sorted(rows) == sorted([(ids[BORISOVA], "reminder", "queued"), (ids[VLASOV], "reminder", "queued")])
    assert (job.total, job.created_by) == (3, "admin")
    assert at.session_state["notify_job"] == job.id and at.session_state["notify_selected"] == set()
    assert "notify_remind_key" not in at.session_state
    [progress] = at.get("progress")
    assert progress.proto.text == "Запись напоминаний в папку outbox: 0 из 2"
    with session_factory() as s:
        journaled = s.execute(select(AuditEvent.actor, AuditEvent.meeting_id, AuditEvent.details)
                              .where(AuditEvent.action == "reminders_queued")).all()
    assert [tuple(e) for e in journaled] == [("admin", meeting_id, {"queued": 2, "skipped": 1})]

    # the same confirmation once more (a double click): the same job, no second one
    again = queue_reminders(session_factory, meeting_id=meeting_id, owner_ids=[ids[BORISOVA], ids[VLASOV]],
                            request_key=key, user="admin")
    assert again.existed and again.job_id == job.id
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SendJob)) == 1


def test_reminders_before_the_voting_starts_are_refused_in_the_dialog(open_page, meeting):
    meeting_id, _ids = meeting
    at = open_page(PAGE_NOTIFY, meeting_id)
    button(at, "Выбрать всех").click().run()
    remind_button(at).click().run()
    assert any(e.startswith(f"Голосование начнётся {TODAY + dt.timedelta(days=20):%d.%m.%Y}") for e in texts(at.error))
    assert button(at, "Напомнить").disabled
