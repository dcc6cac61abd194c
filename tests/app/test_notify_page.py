"""«Уведомление собственников» in AppTest: search, sorts, the filter, id-based selection, the
confirmation dialog and the one job it queues.

What AppTest cannot drive, and how it is covered here instead:
- A tick in the st.data_editor checkbox column: AppTest cannot edit cells and does not call the
  editor's on_change, so the selection is put into session state as owner ids (what the page's
  callback writes) and the test checks which rows the table then shows ticked. Real ticks by mouse
  are in tests/e2e/test_notify_flow.py.
- A click inside st.dialog: in the browser it reruns the dialog as a fragment; AppTest reruns the
  whole script, where the dialog is only open if its opener was clicked in the same run. The tests
  therefore click the opener and the dialog's widget together, which is the state the fragment
  rerun sees. The real double click is in the e2e test; the double submission of one
  confirmation is checked here on the service with the key the dialog keeps in session state.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from pagekit import assert_ran_cleanly, button, meeting_data, registry_xlsx, texts
from services.meetings import create_meeting
from services.models import Delivery, OwnerRecord, SendJob
from services.notify import LateNoticeError, queue_notices, record_paper_delivery
from services.registry import import_registry
from ui.state import PAGE_NOTIFY

NAME = "ФИО/Наименование"
PREMISE = "Номер помещения"
TICK = "Выбрать"
LAST_SENT = "Дата последней отправки уведомления"
CODE_USED = "Пошел в приложение с помощью кода"
SEARCH_PLACEHOLDER = "Введите ФИО или номер помещения собственника"
LATE_CONFIRM = "Понимаю, отправить после срока (уведомления будут отмечены как поздние)"

TODAY = dt.date.today()
# Premises 1, 2, 3, 10, 12а: a text sort would give 1, 10, 12а, 2, 3.
ROWS = [
    ["10", 40.0, "Ёлкина Алёна Игоревна", "1", "77-01/010", dt.date(2019, 3, 1), "elkina@example.ru"],
    ["2", 45.5, "Петров Пётр Петрович", "1/2", "77-01/002", dt.date(2020, 1, 6), "petrov@example.ru"],
    ["2", 45.5, "Петрова Анна Сергеевна", "1/2", "77-01/003", dt.date(2020, 1, 6), "79222222222"],
    ["12а", 30.0, "Иванов Иван Иванович", "1", "77-01/012", dt.date(2021, 5, 5), "ivanov@example.ru"],
    ["1", 50.0, "ООО «Ромашка»", "1", "77-01/001", dt.date(2013, 4, 4), "office@romashka.example"],
    ["3", 64.1, "Сидорова Мария Николаевна", "1", "77-01/004", dt.date(2018, 9, 12), "sidorova@example.ru"],
]
ELKINA, PETROV, PETROVA, IVANOV, ROMASHKA, SIDOROVA = (r[2] for r in ROWS)
WITH_EMAIL = 5  # Петрова has only a phone number
# Notified already (by hand, with a date): Ёлкина yesterday, Сидорова three days ago.
NOTIFIED_ON = {ELKINA: TODAY - dt.timedelta(days=1), SIDOROVA: TODAY - dt.timedelta(days=3)}
UNNOTIFIED = [ROMASHKA, PETROV, PETROVA, IVANOV]  # in premise order: 1, 2, 2, 12а


@pytest.fixture(autouse=True)
def public_url(monkeypatch) -> str:
    """A voting link the owners can open: without it the page blocks sending (see
    test_notify_link_and_reminders.py). Autouse, so it is set before any fixture runs the app."""
    monkeypatch.setenv("PUBLIC_URL", "https://kvorum.example.ru")
    return "https://kvorum.example.ru"


def make_meeting(session_factory, *, starts_in_days: int) -> int:
    meeting_id = create_meeting(session_factory, data=meeting_data(
        start_date=TODAY + dt.timedelta(days=starts_in_days), end_date=TODAY + dt.timedelta(days=40)))
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(ROWS), filename="реестр.xlsx",
                    replace=True)
    return meeting_id


def ids_by_name(session_factory, meeting_id) -> dict[str, int]:
    with session_factory() as s:
        return dict(s.execute(select(OwnerRecord.name, OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)).all())


@pytest.fixture
def meeting(session_factory) -> int:
    """Starts in 20 days: notices are in time. Two owners were notified by hand already."""
    meeting_id = make_meeting(session_factory, starts_in_days=20)
    ids = ids_by_name(session_factory, meeting_id)
    for name, day in NOTIFIED_ON.items():
        record_paper_delivery(session_factory, meeting_id=meeting_id, owner_ids=[ids[name]], channel="hand",
                              on_date=day, user="admin")
    return meeting_id


@pytest.fixture
def page(open_page, meeting):
    at = open_page(PAGE_NOTIFY, meeting)
    assert_ran_cleanly(at)
    return at


# ---------- reading the page ----------

def table(at):
    [editor] = at.data_editor
    return editor.value


def names(at) -> list[str]:
    """The names in the grid; [] when nobody is shown — then there is no grid at all (an empty one
    says «empty» in English), and the page says why in an st.info."""
    if not at.data_editor:
        why = {"Никто не найден.", "Все собственники проголосовали.", "Все собственники уведомлены."}
        assert why & set(texts(at.info)), "no grid, and no message why"
        return []
    return list(table(at)[NAME])


def premises(at) -> list[str]:
    return list(table(at)[PREMISE])


def ticked(at) -> set[str]:
    t = table(at)
    return set(t.loc[t[TICK], NAME])


def search_box(at):
    [box] = [w for w in at.text_input if w.placeholder == SEARCH_PLACEHOLDER]
    return box


def selectbox(at, label):
    [box] = [w for w in at.selectbox if w.label == label]
    return box


def show(at, option: str):
    at.segmented_control(key="notify_show").set_value(option)
    return at.run()


def send_button(at):
    found = [b for b in at.button if b.label.startswith("Отправить уведомления (")]
    assert len(found) == 1, [b.label for b in at.button]
    return found[0]


def jobs_and_deliveries(session_factory, meeting_id):
    with session_factory() as s:
        jobs = s.scalar(select(func.count()).select_from(SendJob).where(SendJob.meeting_id == meeting_id))
        per_owner = dict(s.execute(
            select(Delivery.owner_id, func.count()).where(Delivery.meeting_id == meeting_id, Delivery.channel == "email")
            .group_by(Delivery.owner_id)).all())
    return jobs, per_owner


# ---------- the table ----------

def test_shows_every_owner_with_the_date_of_the_last_notice_and_the_code_mark(page):
    assert texts(page.title) == ["Уведомление собственников"]
    assert texts(page.subheader)[0] == "Сведения о 6 собственниках / 5 помещениях"
    t = table(page)
    assert list(t.columns[:5]) == [TICK, PREMISE, NAME, LAST_SENT, CODE_USED]
    dates = dict(zip(t[NAME], t[LAST_SENT]))
    assert dates == {r[2]: f"{NOTIFIED_ON[r[2]]:%d.%m.%Y}" if r[2] in NOTIFIED_ON else "" for r in ROWS}
    assert set(t[CODE_USED]) == {"Нет"}
    assert not t[TICK].any()
    assert send_button(page).label == "Отправить уведомления (0)"
    assert send_button(page).disabled


def test_the_notice_text_for_gis_is_drawn_only_when_asked_for(page):
    """st.code's highlighter is a 1.5 MB module the browser runs as soon as a block is drawn (even in a
    closed section): the text is drawn when the analyst turns the toggle on."""
    assert not page.code
    page.toggle(key="notify_gis_text").set_value(True).run()
    assert_ran_cleanly(page)
    [text] = page.code
    assert text.value.startswith("СООБЩЕНИЕ") and "г. Тверь, ул. Ленина, д. 5" in text.value
    assert not [r[2] for r in ROWS if r[2] in text.value]  # no owner's name


@pytest.mark.parametrize("query, expected", [
    ("петров", {PETROV, PETROVA}),  # lower case finds «Петров…»
    ("ИВАНОВ", {IVANOV}),
    ("Пётр Петрович", {PETROV}),  # ё in the query, е would match too
    ("Петр Петрович", {PETROV}),
    ("алена", {ELKINA}),  # ё in the data, е in the query
    ("ЁЛКИНА", {ELKINA}),
    ("12а", {IVANOV}),  # a premise number
    ("12А", {IVANOV}),
    ("10", {ELKINA}),
    ("ромашка", {ROMASHKA}),
])
def test_search_narrows_the_table(page, query, expected):
    search_box(page).input(query).run()
    assert_ran_cleanly(page)
    assert set(names(page)) == expected
    assert f"Выбрано: **0** · показано {len(expected)}" in texts(page.markdown)


def test_search_that_finds_nobody_says_so(page):
    search_box(page).input("Сидоров Иван").run()
    assert names(page) == []
    assert "Никто не найден." in texts(page.info)


# sort, order -> the rows in order (names; owners of one premise are told apart by name)
SORTED = {
    ("По номеру помещения", "По возрастанию"): [ROMASHKA, PETROV, PETROVA, SIDOROVA, ELKINA, IVANOV],
    ("По номеру помещения", "По убыванию"): [IVANOV, ELKINA, SIDOROVA, PETROV, PETROVA, ROMASHKA],
    # ё sorts as е: Ёлкина first, not after «Я»
    ("По ФИО", "По возрастанию"): [ELKINA, IVANOV, ROMASHKA, PETROV, PETROVA, SIDOROVA],
    ("По ФИО", "По убыванию"): [SIDOROVA, PETROVA, PETROV, ROMASHKA, IVANOV, ELKINA],
    # never notified stay last, in premise order, whichever way the dates run
    ("По дате уведомления", "По убыванию"): [ELKINA, SIDOROVA, *UNNOTIFIED],
    ("По дате уведомления", "По возрастанию"): [SIDOROVA, ELKINA, *UNNOTIFIED],
}


@pytest.mark.parametrize("sort, order", list(SORTED))
def test_sorts_in_both_orders(page, sort, order):
    selectbox(page, "Сортировка").select(sort)
    selectbox(page, "Порядок").select(order)
    page.run()
    assert_ran_cleanly(page)
    got = names(page)
    if sort == "По дате уведомления":
        # two owners of flat 2 without a notice are equal for this sort: compare them as a pair
        assert got[:3] == SORTED[sort, order][:3] and got[-1] == IVANOV and set(got[3:5]) == {PETROV, PETROVA}
    else:
        assert got == SORTED[sort, order]


def test_premises_sort_naturally(page):
    selectbox(page, "Сортировка").select("По номеру помещения")
    selectbox(page, "Порядок").select("По возрастанию")
    page.run()
    assert premises(page) == ["1", "2", "2", "3", "10", "12а"]


def test_default_is_newest_notice_first(page):
    assert selectbox(page, "Сортировка").value == "По дате уведомления"
    assert selectbox(page, "Порядок").value == "По убыванию"
    assert names(page)[:2] == [ELKINA, SIDOROVA]


def test_the_unnotified_filter_hides_the_notified_owners(page):
    show(page, "Показать неуведомлённых")
    assert_ran_cleanly(page)
    assert set(names(page)) == set(UNNOTIFIED)
    assert set(table(page)[LAST_SENT]) == {""}
    show(page, "Показать всех")
    assert len(names(page)) == len(ROWS)


def test_the_unnotified_filter_says_when_everyone_is_notified(page, session_factory, meeting):
    ids = ids_by_name(session_factory, meeting)
    record_paper_delivery(session_factory, meeting_id=meeting, owner_ids=[ids[n] for n in UNNOTIFIED],
                          channel="registered_mail", on_date=TODAY, postal_number="12345678901234")
    page.run()
    show(page, "Показать неуведомлённых")
    assert_ran_cleanly(page)
    assert names(page) == []
    assert "Все собственники уведомлены." in texts(page.info)


def test_the_filter_and_the_search_combine(page):
    show(page, "Показать неуведомлённых")
    search_box(page).input("Петров").run()
    assert set(names(page)) == {PETROV, PETROVA}
    search_box(page).input("Сидорова").run()  # notified: hidden by the filter
    assert names(page) == []


# ---------- selection ----------

def test_select_all_selects_exactly_the_owners_the_filter_shows(page, session_factory, meeting):
    ids = ids_by_name(session_factory, meeting)
    show(page, "Показать неуведомлённых")
    button(page, "Выбрать всех").click().run()
    assert_ran_cleanly(page)
    assert page.session_state["notify_selected"] == {ids[n] for n in UNNOTIFIED}
    assert ticked(page) == set(UNNOTIFIED)
    assert send_button(page).label == f"Отправить уведомления ({len(UNNOTIFIED)})"
    assert not send_button(page).disabled


def test_select_all_after_a_search_adds_only_what_the_search_shows(page, session_factory, meeting):
    ids = ids_by_name(session_factory, meeting)
    search_box(page).input("петров").run()
    button(page, "Выбрать всех").click().run()
    assert page.session_state["notify_selected"] == {ids[PETROV], ids[PETROVA]}
    search_box(page).input("").run()
    assert ticked(page) == {PETROV, PETROVA}
    assert "Выбрано: **2**" in texts(page.markdown)


def test_selection_follows_owners_not_row_positions_across_filter_and_sort(page, session_factory, meeting):
    ids = ids_by_name(session_factory, meeting)
    show(page, "Показать неуведомлённых")
    button(page, "Выбрать всех").click().run()
    before = set(page.session_state["notify_selected"])

    show(page, "Показать всех")  # the notified owners come back first, above the selected ones
    assert names(page)[:2] == [ELKINA, SIDOROVA]
    assert ticked(page) == set(UNNOTIFIED)
    for sort, order in SORTED:
        selectbox(page, "Сортировка").select(sort)
        selectbox(page, "Порядок").select(order)
        page.run()
        assert ticked(page) == set(UNNOTIFIED), (sort, order)
    assert page.session_state["notify_selected"] == before == {ids[n] for n in UNNOTIFIED}
    assert send_button(page).label == "Отправить уведомления (4)"


def test_a_selection_kept_as_ids_shows_ticks_on_those_owners_only(page, session_factory, meeting):
    # what the editor's on_change writes for a tick (AppTest cannot tick a cell itself)
    ids = ids_by_name(session_factory, meeting)
    page.session_state["notify_selected"] = {ids[SIDOROVA], ids[IVANOV]}
    page.run()
    assert ticked(page) == {SIDOROVA, IVANOV}
    selectbox(page, "Сортировка").select("По ФИО")
    selectbox(page, "Порядок").select("По возрастанию")
    page.run()
    t = table(page)
    assert list(t.loc[t[TICK], NAME]) == [IVANOV, SIDOROVA]


def test_clear_selection_empties_it(page):
    button(page, "Выбрать всех").click().run()
    assert len(page.session_state["notify_selected"]) == len(ROWS)
    button(page, "Снять выбор").click().run()
    assert page.session_state["notify_selected"] == set()
    assert ticked(page) == set()
    assert send_button(page).disabled


# ---------- the confirmation and the job ----------

def open_dialog(at):
    send_button(at).click().run()
    assert_ran_cleanly(at)
    return at


def test_the_confirmation_names_the_count(page):
    button(page, "Выбрать всех").click().run()
    open_dialog(page)
    md = texts(page.markdown)
    assert ("Уведомление с персональным кодом доступа уйдёт по электронной почте. Собственников с адресом "
            f"эл. почты: **{WITH_EMAIL}**.") in md
    assert f"Без адреса эл. почты: {len(ROWS) - WITH_EMAIL} — им нужно бумажное уведомление." in md
    # two of them were notified already
    assert "Тем, кому код уже отправлялся, придёт новый код; прежний перестанет действовать." in texts(page.info)
    assert not button(page, "Отправить").disabled
    assert button(page, "Отмена")
    assert page.session_state["notify_send_key"]


def test_the_confirmation_counts_only_the_selected(page):
    show(page, "Показать неуведомлённых")
    button(page, "Выбрать всех").click().run()
    open_dialog(page)
    assert ("Уведомление с персональным кодом доступа уйдёт по электронной почте. Собственников с адресом "
            "эл. почты: **3**." in texts(page.markdown))
    assert not any("уже отправлялся" in i for i in texts(page.info))


def test_confirming_queues_one_job_with_one_delivery_per_owner(page, session_factory, meeting):
    ids = ids_by_name(session_factory, meeting)
    button(page, "Выбрать всех").click().run()
    open_dialog(page)
    # the click inside the open dialog (see the module docstring)
    send_button(page).click()
    button(page, "Отправить").click()
    page.run()
    assert_ran_cleanly(page)

    jobs, per_owner = jobs_and_deliveries(session_factory, meeting)
    assert jobs == 1
    assert per_owner == {i: 1 for i in ids.values()}
    with session_factory() as s:
        statuses = dict(s.execute(select(Delivery.owner_id, Delivery.status).where(Delivery.channel == "email")).all())
        job = s.scalar(select(SendJob))
    assert statuses == {i: ("skipped" if n == PETROVA else "queued") for n, i in ids.items()}
    assert job.total == len(ROWS) and not job.late and job.created_by == "admin"

    # the dialog is closed, the selection cleared and the button locked while the job runs
    assert not [b for b in page.button if b.label == "Отправить"]
    assert page.session_state["notify_selected"] == set()
    assert "notify_send_key" not in page.session_state
    assert page.session_state["notify_job"] == job.id
    assert send_button(page).label == "Отправить уведомления (0)" and send_button(page).disabled
    # no sender runs in page tests (KVORUM_EMBEDDED_SENDER=0): the progress waits at the skipped one;
    # without SMTP the messages go to the outbox folder, and the progress says so
    [progress] = page.get("progress")
    assert progress.proto.text == f"Запись уведомлений в папку outbox: 1 из {len(ROWS)}"

    # a reload keeps following the job, and cannot queue another
    page.session_state["notify_job"] = None
    page.run()
    assert page.get("progress")
    assert send_button(page).disabled
    assert jobs_and_deliveries(session_factory, meeting)[0] == 1


def test_one_confirmation_submitted_twice_queues_one_job(page, session_factory, meeting):
    """A double click on «Отправить» sends the dialog's key twice: the second returns the first job."""
    button(page, "Выбрать всех").click().run()
    open_dialog(page)
    key = page.session_state["notify_send_key"]
    chosen = sorted(page.session_state["notify_selected"])
    first = queue_notices(session_factory, meeting_id=meeting, owner_ids=chosen, request_key=key, user="admin")
    second = queue_notices(session_factory, meeting_id=meeting, owner_ids=chosen, request_key=key, user="admin")
    assert (second.job_id, second.existed, first.existed) == (first.job_id, True, False)
    assert (second.queued, second.skipped) == (first.queued, first.skipped) == (WITH_EMAIL, 1)
    jobs, per_owner = jobs_and_deliveries(session_factory, meeting)
    assert jobs == 1 and set(per_owner.values()) == {1} and len(per_owner) == len(ROWS)

    # the page now follows that job and offers no second sending while it runs
    page.run()
    assert_ran_cleanly(page)
    assert page.get("progress")
    assert send_button(page).disabled


def test_cancel_closes_the_dialog_and_queues_nothing(page, session_factory, meeting):
    button(page, "Выбрать всех").click().run()
    open_dialog(page)
    send_button(page).click()
    button(page, "Отмена").click()
    page.run()
    assert not [b for b in page.button if b.label == "Отправить"]
    assert "notify_send_key" not in page.session_state
    assert len(page.session_state["notify_selected"]) == len(ROWS)  # the selection stays
    assert jobs_and_deliveries(session_factory, meeting) == (0, {})


# ---------- a late meeting ----------

@pytest.fixture
def late_page(open_page, session_factory):
    """Voting starts in 5 days: the 10-day limit has passed."""
    meeting_id = make_meeting(session_factory, starts_in_days=5)
    at = open_page(PAGE_NOTIFY, meeting_id)
    assert_ran_cleanly(at)
    button(at, "Выбрать всех").click().run()
    return at, meeting_id


def test_a_late_meeting_warns_on_the_page(late_page):
    at, _ = late_page
    last_day = TODAY + dt.timedelta(days=5) - dt.timedelta(days=10)
    assert any(w.startswith(f"Срок уведомления истёк {last_day:%d.%m.%Y}") for w in texts(at.warning))


def test_a_late_meeting_needs_the_extra_confirmation(late_page, session_factory):
    at, meeting_id = late_page
    open_dialog(at)
    assert any(e.startswith("Срок уведомления истёк") for e in texts(at.error))
    [late_ok] = [c for c in at.checkbox if c.label == LATE_CONFIRM]
    assert late_ok.value is False
    assert button(at, "Отправить").disabled
    assert jobs_and_deliveries(session_factory, meeting_id) == (0, {})

    # with the box ticked the button is enabled and the job is marked late
    send_button(at).click()
    [late_ok] = [c for c in at.checkbox if c.label == LATE_CONFIRM]
    late_ok.check()
    at.run()
    assert not button(at, "Отправить").disabled
    send_button(at).click()
    button(at, "Отправить").click()
    at.run()
    assert_ran_cleanly(at)
    with session_factory() as s:
        [job] = s.scalars(select(SendJob).where(SendJob.meeting_id == meeting_id)).all()
        lates = set(s.scalars(select(Delivery.late).where(Delivery.job_id == job.id)))
    assert job.late and lates == {True}
    assert job.total == len(ROWS)


def test_the_service_refuses_a_late_send_without_the_confirmation(session_factory):
    meeting_id = make_meeting(session_factory, starts_in_days=9)
    ids = list(ids_by_name(session_factory, meeting_id).values())
    with pytest.raises(LateNoticeError):
        queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key="k1")
    assert jobs_and_deliveries(session_factory, meeting_id) == (0, {})
    assert queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key="k1",
                         confirm_late=True).late


def test_a_meeting_eleven_days_away_needs_no_extra_confirmation(open_page, session_factory):
    meeting_id = make_meeting(session_factory, starts_in_days=11)
    at = open_page(PAGE_NOTIFY, meeting_id)
    button(at, "Выбрать всех").click().run()
    open_dialog(at)
    assert not [c for c in at.checkbox if c.label == LATE_CONFIRM]
    assert not button(at, "Отправить").disabled
