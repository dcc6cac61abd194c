"""«Собрания»: the list, creating a meeting with its agenda, editing it."""
from __future__ import annotations

import datetime as dt

from pagekit import assert_ran_cleanly, button, meeting_data, text_input, texts
from services.meetings import QuestionData, create_meeting, get_meeting, list_meetings
from ui.state import md


def test_empty_list_offers_to_create_a_meeting(staff_app):
    assert_ran_cleanly(staff_app)
    assert texts(staff_app.title) == ["Собрания собственников"]
    assert "Собраний пока нет" in staff_app.info[0].value
    assert button(staff_app, "Создать собрание")
    assert button(staff_app, "Создать демонстрационное собрание")


def fill_meeting(at, *, address, initiator, start, end, questions):
    text_input(at, "Адрес дома").input(address)
    text_input(at, "Инициатор собрания").input(initiator)
    [d for d in at.date_input if d.label == "Начало голосования"][0].set_value(start)
    [d for d in at.date_input if d.label == "Окончание приёма решений (последний день)"][0].set_value(end)
    if [b for b in at.selectbox if b.label == "Форма собрания"][0].value == "очно-заочное":
        text_input(at, "Место очного обсуждения").input("двор дома")
    for i, (text, majority) in enumerate(questions, start=1):
        if i > 1:
            at = button(at, "Добавить вопрос").click().run()
        text_input(at, f"Вопрос {i}").input(text)
        box = [s for s in at.selectbox if s.label == "Большинство"][i - 1]
        box.set_value(majority)
    return at


def test_creates_a_meeting_with_its_agenda_and_opens_its_stages(staff_app, session_factory):
    at = button(staff_app, "Создать собрание").click().run()
    assert texts(at.subheader) == ["Новое собрание"]
    start, end = dt.date.today() + dt.timedelta(days=20), dt.date.today() + dt.timedelta(days=50)
    at = fill_meeting(at, address="г. Казань, ул. Баумана, д. 3", initiator="ТСЖ «Баумана 3»", start=start, end=end,
                      questions=[("Избрание председателя собрания", "simple"),
                                 ("Капитальный ремонт лифтов", "two_thirds")])
    at = button(at, "Сохранить").click().run()
    assert_ran_cleanly(at)

    [row] = list_meetings(session_factory)
    m = get_meeting(session_factory, row.id)
    assert (m.address, m.initiator, m.start_date, m.end_date) == ("г. Казань, ул. Баумана, д. 3", "ТСЖ «Баумана 3»", start, end)
    assert [(q.number, q.text, q.majority) for q in m.questions] == [
        (1, "Избрание председателя собрания", "simple"), (2, "Капитальный ремонт лифтов", "two_thirds"),
    ]
    # saving leads on to the stages of the new meeting
    assert at.session_state["meeting_id"] == row.id
    assert texts(at.title) == ["Этапы ОСС"]
    assert texts(at.success) == [f"Собрание № {row.id} создано. Следующий шаг — реестр собственников."]


def test_an_incomplete_meeting_is_not_saved_and_the_form_stays(staff_app, session_factory):
    at = button(staff_app, "Создать собрание").click().run()
    text_input(at, "Вопрос 1").input("Выбор совета дома")
    at = button(at, "Сохранить").click().run()
    assert at.error, "a meeting without an address and initiator must be refused"
    messages = " ".join([*texts(at.error), *texts(at.markdown)]).lower()
    assert "адрес" in messages and "инициатор" in messages
    assert list_meetings(session_factory) == []
    assert texts(at.subheader) == ["Новое собрание"]
    assert text_input(at, "Вопрос 1").value == "Выбор совета дома"


def test_a_question_can_be_removed_before_saving(staff_app):
    at = button(staff_app, "Создать собрание").click().run()
    at = button(at, "Добавить вопрос").click().run()
    text_input(at, "Вопрос 1").input("первый")
    text_input(at, "Вопрос 2").input("второй")
    first_delete = [b for b in at.button if b.label == "✕"][0]
    at = first_delete.click().run()
    assert [w.value for w in at.text_area if w.label.startswith("Вопрос")] == ["второй"]


def test_lists_meetings_with_dates_initiator_and_counts(staff_app, session_factory):
    first = create_meeting(session_factory, data=meeting_data(address="г. Тверь, ул. Ленина, д. 5"))
    second = create_meeting(session_factory, data=meeting_data(
        address="г. Тверь, ул. Мира, д. 1", initiator="Сидоров С. С.",
        start_date=dt.date(2027, 3, 1), end_date=dt.date(2027, 3, 31), questions=[QuestionData("Один вопрос")],
    ))
    at = staff_app.run()
    bold = [m for m in texts(at.markdown) if m.startswith("**№")]
    assert len(bold) == 2
    # user-typed text is escaped for Markdown, so it shows exactly as typed
    assert sorted(bold) == sorted([f"**№ {first}. {md('г. Тверь, ул. Ленина, д. 5')}**",
                                   f"**№ {second}. {md('г. Тверь, ул. Мира, д. 1')}**"])
    captions = texts(at.caption)
    assert any("01.03.2027 — 31.03.2027" in c and md("Сидоров С. С.") in c and "вопросов: 1" in c
               and "собственников в реестре: 0" in c for c in captions)
    assert not [i for i in at.info if "Собраний пока нет" in i.value]


def test_editing_a_meeting_prefills_the_form_and_saves_the_changes(staff_app, session_factory, meeting_id):
    at = staff_app.run()
    assert at.session_state["meeting_id"] is None  # edited straight from the list, never opened
    at = [b for b in at.button if b.key == f"edit_{meeting_id}"][0].click().run()
    assert texts(at.subheader) == [f"Собрание № {meeting_id}"]
    assert text_input(at, "Адрес дома").value == "г. Тверь, ул. Ленина, д. 5"
    assert [w.value for w in at.text_area if w.label.startswith("Вопрос")] == [
        "Выбор совета дома", "Капитальный ремонт крыши",
    ]
    text_input(at, "Адрес дома").input("г. Тверь, ул. Ленина, д. 7")
    text_input(at, "Вопрос 2").input("Капитальный ремонт фасада")
    at = button(at, "Сохранить").click().run()
    assert_ran_cleanly(at)
    m = get_meeting(session_factory, meeting_id)
    assert m.address == "г. Тверь, ул. Ленина, д. 7"
    assert [(q.text, q.majority) for q in m.questions] == [
        ("Выбор совета дома", "simple"), ("Капитальный ремонт фасада", "two_thirds"),
    ]
    # saving leads on to the stages of the edited meeting, with the message
    assert at.session_state["meeting_id"] == meeting_id
    assert texts(at.title) == ["Этапы ОСС"]
    assert texts(at.success) == [f"Собрание № {meeting_id} сохранено."]


def test_cancel_leaves_the_meeting_unchanged(staff_app, session_factory, meeting_id):
    at = [b for b in staff_app.run().button if b.key == f"edit_{meeting_id}"][0].click().run()
    text_input(at, "Адрес дома").input("другой адрес")
    at = button(at, "Отмена").click().run()
    assert get_meeting(session_factory, meeting_id).address == "г. Тверь, ул. Ленина, д. 5"
    assert button(at, "Создать собрание")


def test_the_stages_button_opens_the_stages_of_that_meeting(staff_app, session_factory, meeting_id):
    other = create_meeting(session_factory, data=meeting_data(address="г. Тверь, ул. Мира, д. 1"))
    at = staff_app.run()
    at = [b for b in at.button if b.key == f"open_{meeting_id}"][0].click().run()
    assert_ran_cleanly(at)
    assert at.session_state["meeting_id"] == meeting_id != other
    assert texts(at.title) == ["Этапы ОСС"]
    assert f"**{md('г. Тверь, ул. Ленина, д. 5')}**" in texts(at.markdown)


def test_the_demo_meeting_is_in_its_voting_period_and_can_be_tried_as_an_owner(staff_app, session_factory,
                                                                              monkeypatch):
    """Issue 16 trap 8: the demo voted «Голосование ещё не началось» to every code."""
    import re

    from services.notify import notify_summary
    from services.results import activity_figures
    from services.tally import recount
    from ui.state import PAGE_VOTE

    at = button(staff_app, "Создать демонстрационное собрание").click().run()
    assert_ran_cleanly(at)
    [row] = list_meetings(session_factory)
    assert at.session_state["meeting_id"] == row.id and row.owners == 48
    today = dt.date.today()
    assert row.start_date < today < row.end_date  # voting is open from the first start
    [message] = texts(at.success)
    code = re.search(r"введите код ([0-9A-Z-]+) \(помещение", message).group(1)
    assert message.startswith(f"Создано демонстрационное собрание № {row.id}: голосование идёт")
    # notified in time, by hand, every owner; a third of the decisions in over several days; two online
    ns = notify_summary(session_factory, meeting_id=row.id)
    assert (ns.notified, ns.in_time, ns.owners) == (48, 48, 48)
    figures = {f.status: f.owners for f in activity_figures(session_factory, meeting_id=row.id)}
    assert figures["Решение учтено"] >= 12 and figures["Заполнили онлайн"] == 2
    assert len(recount(session_factory, meeting_id=row.id).by_day) >= 5  # the chart by day has a history
    # the code opens that owner's ballot: not «Голосование ещё не началось»
    at.switch_page(PAGE_VOTE).run()
    [field] = [w for w in at.text_input if w.label == "Персональный код"]
    field.set_value(code)
    at = button(at, "Войти").click().run()
    assert_ran_cleanly(at)
    page_text = " ".join(texts(at.markdown) + texts(at.info) + texts(at.error) + texts(at.warning))
    assert "ещё не началось" not in page_text and not texts(at.error)
    assert at.radio, "the ballot's questions are shown"


def test_a_question_carries_its_proposal_and_speaker_and_a_template_fills_the_proposal(staff_app, session_factory):
    """Issue 15, item 1: «ПРЕДЛОЖЕНО» and «СЛУШАЛИ» per question; a typical question brings its wording."""
    from services.law import AGENDA_TEMPLATES

    at = button(staff_app, "Создать собрание").click().run()
    start, end = dt.date.today() + dt.timedelta(days=20), dt.date.today() + dt.timedelta(days=50)
    at = fill_meeting(at, address="г. Казань, ул. Баумана, д. 3", initiator="ТСЖ «Баумана 3»", start=start, end=end,
                      questions=[("Избрание председателя собрания", "simple")])
    at.text_area(key="mf_q_prop_1").input("Избрать председателем собрания Галиева Р. Р. (кв. 12).")
    at.text_input(key="mf_q_speaker_1").input("  Галиев   Р. Р., кв. 12 ")
    council = next(t for t in AGENDA_TEMPLATES if t.title == "Совет дома и его председатель")
    [box] = [s for s in at.selectbox if s.label == "Типовой вопрос"]
    at = button(box.set_value(council.title).run(), "Добавить типовой").click().run()
    [added] = [w for w in at.text_area if w.key and w.key.startswith("mf_q_prop_") and w.key != "mf_q_prop_1"]
    assert added.value == council.proposal and "____" in added.value
    added.input(council.proposal.replace("____________", "Сидоров С. С.", 1))
    at = button(at, "Сохранить").click().run()
    assert_ran_cleanly(at)
    [row] = list_meetings(session_factory)
    m = get_meeting(session_factory, row.id)
    assert [(q.proposal, q.speaker) for q in m.questions] == [
        ("Избрать председателем собрания Галиева Р. Р. (кв. 12).", "Галиев Р. Р., кв. 12"),
        (council.proposal.replace("____________", "Сидоров С. С.", 1), ""),
    ]


def test_editing_keeps_each_questions_proposal_speaker_and_materials(staff_app, session_factory):
    meeting = create_meeting(session_factory, data=meeting_data(questions=[QuestionData(
        "Выбор совета дома", "simple", "Список кандидатов — в офисе УК", proposal="Избрать совет дома в составе: А, Б.",
        speaker="Иванова И. И.")]))
    at = staff_app.run()
    at = [b for b in at.button if b.key == f"edit_{meeting}"][0].click().run()
    [proposal] = [w for w in at.text_area if w.key and w.key.startswith("mf_q_prop_")]
    assert proposal.value == "Избрать совет дома в составе: А, Б."
    proposal.input("Избрать совет дома в составе: А, Б, В.")
    at = button(at, "Сохранить").click().run()
    assert_ran_cleanly(at)
    [q] = get_meeting(session_factory, meeting).questions
    assert (q.proposal, q.speaker, q.materials) == ("Избрать совет дома в составе: А, Б, В.", "Иванова И. И.",
                                                    "Список кандидатов — в офисе УК")


def test_after_notices_the_card_asks_for_a_reason_to_change_the_dates(staff_app, session_factory, meeting_id):
    from sqlalchemy import select

    from pagekit import registry_xlsx
    from services.models import OwnerRecord
    from services.notify import record_paper_delivery
    from services.registry import import_registry

    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(), filename="р.xlsx", replace=True)
    with session_factory() as s:
        ids = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))
    record_paper_delivery(session_factory, meeting_id=meeting_id, owner_ids=ids, channel="hand",
                          on_date=dt.date.today(), user="t")
    before = get_meeting(session_factory, meeting_id).start_date
    at = staff_app.run()
    at = [b for b in at.button if b.key == f"edit_{meeting_id}"][0].click().run()
    assert any(w.startswith("Сообщения о собрании уже направлены собственникам") for w in texts(at.warning))
    moved = before + dt.timedelta(days=2)
    [d for d in at.date_input if d.label == "Начало голосования"][0].set_value(moved)
    at = button(at, "Сохранить").click().run()
    assert texts(at.error)[0].startswith("Сообщения о собрании уже направлены: изменить условия")
    assert get_meeting(session_factory, meeting_id).start_date == before
    at.text_area(key="mf_change_reason").input("Перенос по решению совета дома")
    at = button(at, "Сохранить").click().run()
    assert_ran_cleanly(at)
    assert get_meeting(session_factory, meeting_id).start_date == moved
    assert texts(at.warning)[0].startswith(f"Собрание № {meeting_id} сохранено. Изменены условия, указанные в "
                                           f"сообщении: начало голосования: {before:%d.%m.%Y} → {moved:%d.%m.%Y}")
