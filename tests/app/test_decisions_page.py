"""«Решения собственников», issue 13: who signed for the owner (the paper form), the receipt date of
an imported file, and the joint owners' differing decisions the analyst settles.

The building: flats 1 (Андреев) and 2 (the Власовы jointly, one record each), 40 m² each."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from pagekit import XLSX_MIME, assert_ran_cleanly, button, meeting_data, texts
from services import owner_fields as f
from services.audit import audit_frame
from services.auth import create_user
from services.meetings import QuestionData, create_meeting
from services.models import Decision, OwnerRecord, Premise
from services.tally import recount
from services.voting import STATUSES, question_numbers, register_paper_decision
from tests.filemakers import make_table
from ui.state import PAGE_DECISIONS

SECRET = "decisions-page-secret"
TODAY = dt.date.today()
ANDREEV, VLASOV, VLASOVA = "Андреев Андрей Андреевич", "Власов Виктор Викторович", "Власова Вера Викторовна"
CONFLICTS = "Расхождения решений совместных собственников"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


def building(session_factory, *, end: dt.date) -> dict:
    meeting = create_meeting(session_factory, data=meeting_data(
        start_date=end - dt.timedelta(days=20), end_date=end,
        questions=[QuestionData("Выбор совета дома"), QuestionData("Ремонт крыши", "two_thirds")]))
    with session_factory.begin() as s:
        for number, names, group in (("1", [ANDREEV], None), ("2", [VLASOV, VLASOVA], 1)):
            premise = Premise(meeting_id=meeting, number=number, number_key=number, area=Decimal("40.0"))
            s.add(premise)
            s.flush()
            for name in names:
                s.add(OwnerRecord(meeting_id=meeting, premise_id=premise.id, name=name, name_key=f.name_key(name),
                                  share_num=1, share_den=1, joint_group=group))
    with session_factory() as s:
        ids = dict(s.execute(select(OwnerRecord.name, OwnerRecord.id).where(OwnerRecord.meeting_id == meeting)).all())
        questions = sorted(question_numbers(s, meeting), key=lambda q: question_numbers(s, meeting)[q])
    return {**ids, "meeting": meeting, "questions": questions}


@pytest.fixture
def open_building(session_factory):
    return building(session_factory, end=TODAY + dt.timedelta(days=10))


def stored(session_factory, meeting_id) -> list[Decision]:
    with session_factory() as s:
        return list(s.scalars(select(Decision).where(Decision.meeting_id == meeting_id).order_by(Decision.seq)))


def fill_form(at, *, owner_id: int, representative: dict[str, object]):
    [owner] = [s for s in at.selectbox if s.label.startswith("Собственник")]
    owner.set_value(owner_id)
    for radio in [r for r in at.radio if r.key and r.key.startswith("mark_")]:
        radio.set_value("За")
    for label, value in representative.items():
        if label == "от":
            [widget] = [d for d in at.date_input if d.label == "от"]
        else:
            [widget] = [w for w in at.text_input if w.label == label]
        widget.set_value(value)
    return button(at, "Сохранить решение").click().run()


def test_a_paper_decision_signed_by_a_representative_keeps_the_power_of_attorney(open_page, session_factory,
                                                                                open_building):
    m = open_building["meeting"]
    at = open_page(PAGE_DECISIONS, m)
    assert_ran_cleanly(at)
    poa_date = TODAY - dt.timedelta(days=30)
    at = fill_form(at, owner_id=open_building[ANDREEV], representative={
        "Подписал представитель": "Петров Пётр Петрович", "Доверенность №": "77 АА 1234567", "от": poa_date,
        "Кем удостоверена": "нотариус Сидорова С.С."})
    assert_ran_cleanly(at)
    assert not at.error
    [d] = stored(session_factory, m)
    assert (d.status, d.representative_name, d.poa_number, d.poa_date, d.poa_certified_by) == (
        "counted", "Петров Пётр Петрович", "77 АА 1234567", poa_date, "нотариус Сидорова С.С.")
    [table] = at.dataframe
    assert list(table.value["Представитель"]) == [
        f"Петров Пётр Петрович, по доверенности № 77 АА 1234567 от {poa_date:%d.%m.%Y}, удостоверена: "
        "нотариус Сидорова С.С."]
    # the form is blank for the next decision, the representative too
    assert [w.value for w in at.text_input if w.label == "Подписал представитель"] == [""]


def test_a_representative_without_a_power_of_attorney_or_office_is_refused(open_page, session_factory,
                                                                            open_building):
    m = open_building["meeting"]
    at = fill_form(open_page(PAGE_DECISIONS, m), owner_id=open_building[ANDREEV],
                   representative={"Подписал представитель": "Петров Пётр Петрович"})
    assert_ran_cleanly(at)
    assert texts(at.error) == ["Представитель: укажите доверенность (номер и дату) или должность руководителя "
                               "юридического лица."]
    assert stored(session_factory, m) == []


def test_after_the_end_a_file_without_dates_waits_for_the_analysts_date(open_page, session_factory):
    ended = building(session_factory, end=TODAY - dt.timedelta(days=5))
    m = ended["meeting"]
    at = open_page(PAGE_DECISIONS, m)
    data = make_table([["Номер помещения", "ФИО/Наименование собственника", "Вопрос 1", "Вопрос 2"],
                       ["1", ANDREEV, "За", "Против"]], "xlsx")
    [uploader] = at.file_uploader
    at = uploader.set_value(("решения.xlsx", data, XLSX_MIME)).run()
    assert_ran_cleanly(at)
    [refusal] = [e for e in texts(at.error) if "не загружены" in e]
    assert "«решения.xlsx»" in refusal and "нет столбца «Дата получения»" in refusal
    assert not [b for b in at.button if b.label.startswith("Загрузить ")]

    [date] = [d for d in at.date_input if d.label.startswith("Дата получения решений, у которых")]
    given = TODAY - dt.timedelta(days=6)
    at = date.set_value(given).run()
    assert_ran_cleanly(at)
    assert not [e for e in texts(at.error) if "не загружены" in e]
    assert any("принята указанная дата получения" in i for i in texts(at.info))
    at = button(at, "Загрузить 1 решение").click().run()  # CLDR's «one», not «1 решений»
    assert_ran_cleanly(at)
    [d] = stored(session_factory, m)
    assert (d.received_on, d.status) == (given, "counted")
    assert any(s.startswith("Загружено решений: 1 (учитываются 1") for s in texts(at.success))


@pytest.fixture
def conflict(session_factory, open_building):
    """The Власовы each handed in a decision; they differ on question 2."""
    m, (q1, q2) = open_building["meeting"], open_building["questions"]
    first = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=m, owner_id=open_building[VLASOV],
                                    received_on=TODAY, answers={q1: "for", q2: "for"})
    second = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=m,
                                     owner_id=open_building[VLASOVA], received_on=TODAY,
                                     answers={q1: "for", q2: "against"})
    assert (first.status, second.status) == ("counted", "joint_conflict")
    return {**open_building, "first": first, "second": second}


def test_the_analyst_picks_the_joint_decision_that_counts_after_confirming(open_page, session_factory, conflict):
    m, second = conflict["meeting"], conflict["second"]
    at = open_page(PAGE_DECISIONS, m)
    assert_ran_cleanly(at)
    assert CONFLICTS in texts(at.subheader)
    assert any("Помещение 2" in t and "расходятся по вопросам: 2" in t for t in texts(at.markdown))
    assert recount(session_factory, meeting_id=m).questions[1].votes["invalid"] == 40

    at = button(at, f"Учитывать решение № {second.number}").click().run()
    assert_ran_cleanly(at)
    assert any(f"Учитывать решение № {second.number} по помещению 2?" in w for w in texts(at.warning))
    at.run()  # a rerun is no confirmation
    assert {d.id: d.status for d in stored(session_factory, m)}[second.id] == "joint_conflict"

    at = button(at, "Подтвердить выбор").click().run()
    assert_ran_cleanly(at)
    assert f"Помещение 2: учитывается решение № {second.number}." in texts(at.success)
    statuses = {d.id: d.status for d in stored(session_factory, m)}
    assert (statuses[conflict["first"].id], statuses[second.id]) == ("superseded", "counted")
    assert CONFLICTS not in texts(at.subheader)
    q2 = recount(session_factory, meeting_id=m).questions[1]
    assert (q2.votes["against"], q2.votes["invalid"]) == (40, 0)
    table = at.dataframe[0].value
    assert set(table["Статус"]) == {STATUSES["counted"], STATUSES["superseded"]}
    at.run()
    events = audit_frame(session_factory, meeting_id=m)
    assert list(events["Действие"]).count("Выбрано решение совместного собственника") == 1


def test_cancelling_the_choice_changes_nothing(open_page, session_factory, conflict):
    at = open_page(PAGE_DECISIONS, conflict["meeting"])
    at = button(at, f"Учитывать решение № {conflict['first'].number}").click().run()
    at = button(at, "Отмена").click().run()
    assert_ran_cleanly(at)
    assert not at.warning or not any("Учитывать решение №" in w for w in texts(at.warning))
    assert {d.status for d in stored(session_factory, conflict["meeting"])} == {"counted", "joint_conflict"}


def test_an_operator_sees_and_settles_the_conflict_too(app, session_factory, admin, conflict):
    operator = create_user(session_factory, username="oleg", password="operator-1", role="operator", actor="anna")
    app.session_state["user"] = operator
    at = app.run()
    at.session_state["meeting_id"] = conflict["meeting"]
    at = at.switch_page(PAGE_DECISIONS).run()
    assert_ran_cleanly(at)
    assert CONFLICTS in texts(at.subheader)
    at = button(at, f"Учитывать решение № {conflict['first'].number}").click().run()
    at = button(at, "Подтвердить выбор").click().run()
    assert_ran_cleanly(at)
    statuses = {d.id: d.status for d in stored(session_factory, conflict["meeting"])}
    assert (statuses[conflict["first"].id], statuses[conflict["second"].id]) == ("counted", "superseded")
