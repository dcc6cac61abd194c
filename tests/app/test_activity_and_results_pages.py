"""«Активность» and «Итоги и протокол» on DOMAIN.md's worked example: the figures the staff read,
the quorum by ЖК ст. 45 ч. 3, the results table by ст. 46 ч. 1, and the protocol form's checks."""
from __future__ import annotations

import datetime as dt

import pytest

from pagekit import assert_ran_cleanly, button, texts
from services.codes import load_or_create_secret_key
from services.meetings import MeetingData, QuestionData, create_meeting
from services.registry import OwnerInput, apply_registry_changes
from services.results import ProtocolData, protocol_data
from services.voting import register_paper_decision, voter_page
from tests.integration.test_tally import EXAMPLE, SECRET, build, vote
from ui.state import PAGE_ACTIVITY, PAGE_RESULTS

TODAY = dt.date.today()
#: DOMAIN.md's worked example: every owner's answers to questions 1-3 (two_thirds, simple, more_than_half)
EXAMPLE_A = {"Андреев": ["for", "for", "for"], "Борисова": ["for", "abstain", "for"],
             "Власов": ["against", "for", "for"], "Власова": ["against", "invalid", "against"]}
EXAMPLE_C = {"Андреев": ["for"] * 3, "Власов": ["for"] * 3}
CHAIR, SECRETARY = "Председатель общего собрания (ФИО)", "Секретарь общего собрания (ФИО)"
DRAWN_UP = "Дата составления протокола"


def seed(session_factory, decisions: dict[str, list[str]]) -> int:
    m, ids, q = build(session_factory, EXAMPLE)
    for name, answers in decisions.items():
        vote(session_factory, m, ids[name], q, answers)
    return m


def metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def results_table(at):
    """Every figure of the results: the table under «Все показатели»."""
    [table] = [d for d in at.dataframe if "За, % от участников" in d.value.columns]
    return table.value.set_index("№")


def verdicts(at):
    """The table the page leads with: each verdict next to the percentage its majority measures."""
    [table] = [d for d in at.dataframe if "«За», % по правилу" in d.value.columns]
    return table.value.set_index("№")


def fill_protocol(at, *, chair: str, secretary: str, drawn_up_on: dt.date):
    [x] = [w for w in at.text_input if w.label == CHAIR]
    x.set_value(chair)
    [y] = [w for w in at.text_input if w.label == SECRETARY]
    y.set_value(secretary)
    [d] = [w for w in at.date_input if w.label == DRAWN_UP]
    d.set_value(drawn_up_on)
    [submit] = [b for b in at.form_submit_button if b.label == "Сохранить данные протокола"]
    return submit.click().run()


def test_activity_shows_the_participants_120_votes_and_the_quorum_of_example_a(open_page, session_factory):
    m = seed(session_factory, EXAMPLE_A)
    at = open_page(PAGE_ACTIVITY, m)
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Активность"]
    shown = metrics(at)
    assert shown["Приняли участие (учтённые решения)"] == ("120,00 голосов", "100,00\u00a0% от 120,00")
    assert shown["Кворум"][0] == "есть"
    assert "До кворума" not in shown
    assert shown["Заполнено онлайн, решение не сдано"] == ("0 собственников", "0,00 голосов")
    # the current results table under the chart: question 2 has 60,00 «за», exactly half
    [table] = at.dataframe
    q2 = table.value.set_index("№").loc[2]
    assert (q2["За, голосов"], q2["«За», % по правилу"], q2["Требуется"], q2["Воздержались, голосов"],
            q2["Недействительно, голосов"], q2["Решение"]) == (
        "60,00", "50,00\u00a0% участников", "более 50 % голосов участников", "40,00", "20,00", "не принято")
    # voting is open: the page says it refreshes itself
    assert "Обновляется автоматически каждые 10 с, пока идёт голосование." in texts(at.caption)


def test_results_table_shows_question_2_not_adopted_with_60_votes_for(open_page, session_factory):
    m = seed(session_factory, EXAMPLE_A)
    at = open_page(PAGE_RESULTS, m)
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Итоги и протокол"]
    shown = metrics(at)
    assert shown["Всего голосов"][0] == "120,00"
    assert shown["Приняли участие"] == ("120,00", "100,00\u00a0%")
    assert shown["Кворум"][0] == "есть"
    # the verdict stands next to the percentage it rests on: of the participants for the simple
    # majority (question 2), of all votes for two thirds (1) and more than half of all (3)
    lead = verdicts(at)
    assert [(v, p) for v, p in zip(lead["Решение"], lead["«За», % по правилу"])] == [
        ("принято", "66,67\u00a0% всех голосов"), ("не принято", "50,00\u00a0% участников"),
        ("принято", "83,33\u00a0% всех голосов")]
    table = results_table(at)
    assert list(table["Решение"]) == ["принято", "не принято", "принято"]
    q2 = table.loc[2]
    assert (q2["За, голосов"], q2["За, % от участников"], q2["Против, голосов"], q2["Воздержались, голосов"],
            q2["Недействительно, голосов"]) == ("60,00", "50,00", "0,00", "40,00", "20,00")
    assert (table.loc[1, "За, голосов"], table.loc[3, "За, голосов"]) == ("80,00", "100,00")
    # voting is still on (the example ends in 5 days): the results are marked preliminary
    assert any(w.startswith("Голосование ещё идёт") for w in texts(at.warning))


def test_exactly_half_shows_what_is_missing_to_the_quorum(open_page, session_factory):
    m = seed(session_factory, EXAMPLE_C)
    at = open_page(PAGE_ACTIVITY, m)
    assert_ran_cleanly(at)
    shown = metrics(at)
    assert shown["Приняли участие (учтённые решения)"] == ("60,00 голосов", "50,00\u00a0% от 120,00")
    assert "Кворум" not in shown
    assert shown["До кворума"] == ("более 0,00 голосов", "нужно более 50 % всех голосов")

    at = open_page(PAGE_RESULTS, m)
    assert metrics(at)["Кворум"][0] == "нет"
    assert list(results_table(at)["Решение"]) == ["не принято"] * 3
    # and the page says why, above the verdicts: without a quorum nothing is adopted
    assert any(w.startswith("Кворума нет: ни одно решение не принято") and "50,00" in w for w in texts(at.warning))


def test_saving_the_protocol_without_a_chair_is_refused_in_russian(open_page, session_factory):
    m = seed(session_factory, EXAMPLE_A)
    at = fill_protocol(open_page(PAGE_RESULTS, m), chair="  ", secretary="Борисова Б. Б.",
                       drawn_up_on=TODAY + dt.timedelta(days=6))
    assert_ran_cleanly(at)
    assert "Укажите председателя общего собрания." in texts(at.error)
    assert not at.success
    # nothing was saved
    assert protocol_data(session_factory, meeting_id=m) == ProtocolData("", "", "", None, "")


def test_a_protocol_dated_before_the_end_of_voting_is_refused(open_page, session_factory):
    m = seed(session_factory, EXAMPLE_A)
    end = TODAY + dt.timedelta(days=5)
    at = fill_protocol(open_page(PAGE_RESULTS, m), chair="Андреев А. А.", secretary="Борисова Б. Б.",
                       drawn_up_on=end - dt.timedelta(days=1))
    assert_ran_cleanly(at)
    assert protocol_data(session_factory, meeting_id=m).drawn_up_on is None
    assert texts(at.error) == [f"Протокол составляется после окончания голосования ({end:%d.%m.%Y})."]
    assert not at.success


def test_a_valid_protocol_form_is_saved_and_kept(open_page, session_factory):
    m = seed(session_factory, EXAMPLE_A)
    drawn = TODAY + dt.timedelta(days=6)
    at = fill_protocol(open_page(PAGE_RESULTS, m), chair="Андреев А. А.", secretary="Борисова Б. Б.",
                       drawn_up_on=drawn)
    assert_ran_cleanly(at)
    assert not at.error
    assert "Данные протокола сохранены." in texts(at.success)
    saved = protocol_data(session_factory, meeting_id=m)
    assert (saved.chair, saved.secretary, saved.drawn_up_on) == ("Андреев А. А.", "Борисова Б. Б.", drawn)


LATE = "Протокол составляется позже 10 дней после окончания голосования"


@pytest.mark.parametrize("ended_days_ago, late", [(11, True), (30, True), (10, False), (2, False)])
def test_the_late_protocol_warning_appears_more_than_10_days_after_the_end(open_page, session_factory,
                                                                             ended_days_ago, late):
    end = TODAY - dt.timedelta(days=ended_days_ago)
    start = end - dt.timedelta(days=20)
    m = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Примерная, д. 1", initiator="ООО «УК»", start_date=start, end_date=end,
        questions=[QuestionData("Вопрос 1", "simple")]))
    apply_registry_changes(session_factory, meeting_id=m, added=[
        OwnerInput(premise=p, area=a, name=n, share=sh) for p, a, n, sh in EXAMPLE])
    owners = {o.name: o.id for o in _owners(session_factory, m)}
    [q] = [x.id for x in voter_page(session_factory, owner_id=owners["Андреев"]).questions]
    for name, day in (("Андреев", start + dt.timedelta(days=1)), ("Борисова", end)):
        register_paper_decision(session_factory, secret_key=SECRET, meeting_id=m, owner_id=owners[name],
                                received_on=day, answers={q: "for"}, today=day + dt.timedelta(days=1))
    at = open_page(PAGE_RESULTS, m)
    assert_ran_cleanly(at)
    warnings = texts(at.warning)
    assert any(w.startswith(LATE) for w in warnings) is late, warnings
    if late:
        deadline = end + dt.timedelta(days=10)
        assert [w for w in warnings if w.startswith(LATE)] == [
            f"{LATE} (срок — {deadline:%d.%m.%Y}, Приказ Минстроя России № 266/пр)."]
    assert not any(w.startswith("Голосование ещё идёт") for w in warnings)
    assert metrics(at)["Приняли участие"][0] == "80,00"
    # after the end the activity page draws once, with no auto-refresh
    at = open_page(PAGE_ACTIVITY, m)
    assert_ran_cleanly(at)
    assert not any(c.startswith("Обновляется автоматически") for c in texts(at.caption))


def _owners(session_factory, meeting_id):
    from sqlalchemy import select

    from services.models import OwnerRecord

    with session_factory() as s:
        return s.scalars(select(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id)).all()


@pytest.mark.parametrize("sealed_with_the_app_key", [True, False])
def test_the_seal_check_verifies_the_decisions_with_the_instance_key(open_page, session_factory, tmp_path,
                                                                    sealed_with_the_app_key):
    at = open_page(PAGE_RESULTS, None)  # the app's first run creates the instance key in its data directory
    app_key = load_or_create_secret_key(None, tmp_path)
    m, ids, q = build(session_factory, EXAMPLE)
    for name, answers in EXAMPLE_A.items():
        register_paper_decision(session_factory, secret_key=app_key if sealed_with_the_app_key else SECRET,
                                meeting_id=m, owner_id=ids[name], received_on=TODAY, answers=dict(zip(q, answers)))
    at = button(open_page(PAGE_RESULTS, m), "Проверить печати решений").click().run()
    assert_ran_cleanly(at)
    if sealed_with_the_app_key:
        assert texts(at.success) == ["Проверено решений: 4 (собраний: 1). Все печати верны, ничего не изменено и не удалено."] and not at.error
    else:
        assert not at.success
        # each decision's content seal and state seal fail, and the registry sealed with the other key
        assert len(texts(at.error)) == 1 and texts(at.error)[0].startswith("Найдены изменения в базе данных (")
        assert sum("печать не соответствует содержанию" in line for line in texts(at.text)) == 4
        assert sum("печать статуса не соответствует" in line for line in texts(at.text)) == 4
