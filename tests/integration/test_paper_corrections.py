"""Issue 16, item 6: a paper decision keyed explicitly (no silent «нет отметки»), corrected or
annulled with a reason by a new sealed record — history kept, journaled, the count following, the
seal check holding and catching tampering of either record — on SQLite and PostgreSQL.

The building: flats 1 (Андреев), 2 (the Власовы, one joint holding, a record each) and 3
(Борисова), 40 m² each: all votes 120."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import select, update

from services import owner_fields as f
from services.audit import audit_frame
from services.closing import CountClosed, close_count
from services.errors import ValidationError
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import Decision, DecisionAnswer, OwnerRecord, Premise
from services.tally import live_tally, recount
from services.voting import (
    annul_decision,
    correct_paper_decision,
    decisions_frame,
    not_answered_owner_ids,
    paper_decisions,
    question_numbers,
    register_paper_decision,
    saved_message,
    verify_decisions,
)
from tests.integration.test_closing import END, TODAY, meeting_with_registry, sign
from tests.integration.test_closing import KEY as CLOSING_KEY
from tests.integration.test_closing import owners as closing_owners
from tests.integration.test_closing import vote as closing_vote

SECRET = "paper-corrections-secret"
ANDREEV, VLASOV, VLASOVA, BORISOVA = ("Андреев Андрей Андреевич", "Власов Виктор Викторович",
                                      "Власова Вера Викторовна", "Борисова Бэлла Борисовна")
REASON = "при вводе перепутаны ответы"


@pytest.fixture
def house(session_factory) -> dict:
    today = dt.date.today()
    meeting = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК Тверь»",
        start_date=today - dt.timedelta(days=5), end_date=today + dt.timedelta(days=10),
        questions=[QuestionData("Выбор совета дома"), QuestionData("Ремонт крыши", "two_thirds"),
                   QuestionData("Размер платы")]))
    with session_factory.begin() as s:
        for number, names, group in (("1", [ANDREEV], None), ("2", [VLASOV, VLASOVA], 1), ("3", [BORISOVA], None)):
            premise = Premise(meeting_id=meeting, number=number, number_key=number, area=Decimal("40.0"))
            s.add(premise)
            s.flush()
            for name in names:
                s.add(OwnerRecord(meeting_id=meeting, premise_id=premise.id, name=name, name_key=f.name_key(name),
                                  share_num=1, share_den=1, joint_group=group))
    with session_factory() as s:
        ids = dict(s.execute(select(OwnerRecord.name, OwnerRecord.id).where(OwnerRecord.meeting_id == meeting)).all())
        numbers = question_numbers(s, meeting)
    return {**ids, "meeting": meeting, "q": sorted(numbers, key=numbers.get)}


def paper(session_factory, house, owner, *marks):
    return register_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"],
                                   owner_id=house[owner], received_on=dt.date.today(),
                                   answers=dict(zip(house["q"], marks)), user="anna")


def row(session_factory, decision_id) -> Decision:
    with session_factory() as s:
        return s.get(Decision, decision_id)


def answers(session_factory, decision_id) -> dict[int, tuple[str, str | None]]:
    with session_factory() as s:
        return {q: (a, m) for q, a, m in s.execute(select(
            DecisionAnswer.question_id, DecisionAnswer.answer, DecisionAnswer.mark)
            .where(DecisionAnswer.decision_id == decision_id))}


def votes(session_factory, house, question: int, answer: str) -> Fraction:
    tally = live_tally(session_factory, meeting_id=house["meeting"])
    [result] = [r for r in tally.questions if r.number == question]
    return result.votes[answer]


def assert_count_is_the_recount(session_factory, house):
    live, full = (live_tally(session_factory, meeting_id=house["meeting"]),
                  recount(session_factory, meeting_id=house["meeting"]))
    assert (live.participants, [r.votes for r in live.questions]) == (
        full.participants, [r.votes for r in full.questions])


def test_the_save_message_names_each_invalid_question_and_why(session_factory, house):
    stored = paper(session_factory, house, ANDREEV, "for", "none", "several")
    message = saved_message(stored, "пом. 1 — Андреев")
    assert message.startswith(f"Решение № {stored.number} (пом. 1 — Андреев) сохранено: учитывается.")
    assert "вопрос 2: нет отметки — недействителен (ЖК РФ ст. 48 ч. 6); вопрос 3: несколько отметок — " \
           "недействителен (ЖК РФ ст. 48 ч. 6)" in message
    assert "Остальные ответы учитываются" in message
    assert answers(session_factory, stored.id)[house["q"][1]] == ("invalid", "none")
    assert votes(session_factory, house, 2, "invalid") == 40
    assert verify_decisions(session_factory, secret_key=SECRET).ok


@pytest.mark.parametrize("given, refused", [
    ({}, "по вопросам 1, 2, 3"),
    ({0: "for", 2: "abstain"}, "по вопросу 2"),
    ({0: "for", 1: None, 2: "abstain"}, "по вопросу 2"),
])
def test_a_question_left_without_a_choice_is_refused_naming_it(session_factory, house, given, refused):
    with pytest.raises(ValidationError, match=f"Не выбрана отметка {refused}"):
        register_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"],
                                owner_id=house[ANDREEV], received_on=dt.date.today(),
                                answers={house["q"][i]: m for i, m in given.items()})
    with session_factory() as s:
        assert s.scalar(select(Decision.id)) is None


def test_a_correction_supersedes_the_decision_keeps_it_and_the_count_follows(session_factory, house):
    first = paper(session_factory, house, ANDREEV, "for", "for", "for")
    assert votes(session_factory, house, 2, "for") == 40
    done = correct_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"],
                                  decision_id=first.id, marks=dict(zip(house["q"], ("for", "against", "none"))),
                                  reason="  при вводе   перепутаны ответы ", user="anna")
    old, new = row(session_factory, first.id), row(session_factory, done.stored.id)
    assert (old.status, old.counted_slot, old.superseded_by_id) == ("corrected", None, new.id)
    assert (new.status, new.counted_slot, new.replaces_id, new.change_reason, new.created_by) == (
        "counted", house[ANDREEV], old.id, "при вводе перепутаны ответы", "anna")
    assert done.replaced == first.number and done.stored.invalid == [(3, "none")]
    # the count reads the live record only
    assert (votes(session_factory, house, 2, "for"), votes(session_factory, house, 2, "against")) == (0, 40)
    assert votes(session_factory, house, 3, "invalid") == 40
    assert live_tally(session_factory, meeting_id=house["meeting"]).participants == 40
    assert_count_is_the_recount(session_factory, house)
    assert verify_decisions(session_factory, secret_key=SECRET).ok
    # the history, in the table
    frame = decisions_frame(session_factory, meeting_id=house["meeting"]).set_index("Решение")
    assert frame.loc[first.number, "Статус"].startswith("исправлено")
    assert frame.loc[first.number, "История"].startswith(f"исправлено решением № {done.stored.number} — ")
    assert frame.loc[first.number, "История"].endswith(", anna: «при вводе перепутаны ответы»")
    assert frame.loc[done.stored.number, "История"] == f"исправляет решение № {first.number}"
    assert frame.loc[done.stored.number, "Вопрос 3"] == "Нет отметки"
    # journaled
    journal = audit_frame(session_factory, meeting_id=house["meeting"])
    assert any("Исправлено письменное решение" in str(r) and first.number in str(r) for r in journal.values.tolist())
    # only the live record may be corrected again
    assert [d.number for d in paper_decisions(session_factory, meeting_id=house["meeting"])] == [done.stored.number]
    with pytest.raises(ValidationError, match=f"Решение № {first.number} уже исправлено"):
        correct_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=first.id,
                               marks=dict(zip(house["q"], ("for",) * 3)), reason=REASON, user="anna")


def test_an_annulment_stops_the_count_keeps_the_record_and_a_ballot_is_due_again(session_factory, house):
    first = paper(session_factory, house, ANDREEV, "for", "for", "for")
    paper(session_factory, house, BORISOVA, "against", "for", "for")
    assert house[ANDREEV] not in not_answered_owner_ids(session_factory, meeting_id=house["meeting"])
    done = annul_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=first.id,
                          reason="бланк другого собственника", user="anna")
    assert done.annulled and done.stored.status == "annulment"
    old = row(session_factory, first.id)
    assert (old.status, old.counted_slot, old.superseded_by_id) == ("annulled", None, done.stored.id)
    tally = live_tally(session_factory, meeting_id=house["meeting"])
    assert tally.participants == 40 and votes(session_factory, house, 1, "for") == 0
    assert_count_is_the_recount(session_factory, house)
    assert verify_decisions(session_factory, secret_key=SECRET).ok
    assert house[ANDREEV] in not_answered_owner_ids(session_factory, meeting_id=house["meeting"])
    frame = decisions_frame(session_factory, meeting_id=house["meeting"]).set_index("Решение")
    assert frame.loc[first.number, "История"].endswith("anna: «бланк другого собственника»")
    assert frame.loc[done.stored.number, "История"] == f"аннулирует решение № {first.number}"


@pytest.mark.parametrize("reason", ["", "ошибка", "   коротко   "])
def test_a_correction_without_a_reason_of_ten_characters_is_refused(session_factory, house, reason):
    first = paper(session_factory, house, ANDREEV, "for", "for", "for")
    with pytest.raises(ValidationError, match="не короче 10 символов"):
        annul_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=first.id,
                       reason=reason, user="anna")
    assert row(session_factory, first.id).status == "counted"


def test_an_online_answer_is_not_corrected_here(session_factory, house):
    from services.voting import submit_online_decision

    online = submit_online_decision(session_factory, secret_key=SECRET, owner_id=house[ANDREEV],
                                    answers={q: "for" for q in house["q"]})
    with pytest.raises(ValidationError, match="только письменное решение"):
        annul_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=online.id,
                       reason=REASON, user="anna")


def test_a_joint_holding_counts_once_through_corrections_and_annulments(session_factory, house):
    first = paper(session_factory, house, VLASOV, "for", "for", "for")
    second = paper(session_factory, house, VLASOVA, "for", "for", "for")
    assert (first.status, second.status) == ("counted", "joint_same")
    # the counted co-owner's decision corrected to differ: the other one now conflicts on question 2
    done = correct_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"],
                                  decision_id=first.id, marks=dict(zip(house["q"], ("for", "against", "for"))),
                                  reason=REASON, user="anna")
    assert done.stored.status == "counted" and row(session_factory, second.id).status == "joint_conflict"
    tally = live_tally(session_factory, meeting_id=house["meeting"])
    assert tally.participants == 40  # the holding once
    assert votes(session_factory, house, 2, "invalid") == 40  # co-owners differ: invalid until the analyst picks
    assert_count_is_the_recount(session_factory, house)
    # the correction annulled: the co-owner's decision takes the holding's place, still once
    annul_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=done.stored.id,
                   reason="решение подписал не собственник", user="anna")
    assert row(session_factory, second.id).status == "counted"
    tally = live_tally(session_factory, meeting_id=house["meeting"])
    assert tally.participants == 40 and votes(session_factory, house, 2, "for") == 40
    assert_count_is_the_recount(session_factory, house)
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_annulling_the_counted_decision_brings_the_owners_other_decision_into_the_count(session_factory, house):
    """The analyst keyed another paper as Андреев's; his real decision then arrived and was kept as a
    «conflict». Annulling the mistake must count the real one, not leave the flat out of the count."""
    mistake = paper(session_factory, house, ANDREEV, "for", "for", "for")
    real = paper(session_factory, house, ANDREEV, "against", "against", "for")
    assert (mistake.status, real.status) == ("counted", "conflict")
    annul_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=mistake.id,
                   reason="бланк другого собственника", user="anna")
    assert (row(session_factory, real.id).status, row(session_factory, real.id).counted_slot) == (
        "counted", house[ANDREEV])
    assert live_tally(session_factory, meeting_id=house["meeting"]).participants == 40
    assert votes(session_factory, house, 1, "against") == 40 and votes(session_factory, house, 1, "for") == 0
    assert house[ANDREEV] not in not_answered_owner_ids(session_factory, meeting_id=house["meeting"])
    assert_count_is_the_recount(session_factory, house)
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_annulling_the_analysts_choice_puts_the_co_owners_decision_back(session_factory, house):
    from services.voting import joint_conflicts, settle_joint_conflict

    first = paper(session_factory, house, VLASOV, "for", "for", "for")
    second = paper(session_factory, house, VLASOVA, "against", "for", "for")
    assert second.status == "joint_conflict"
    settle_joint_conflict(session_factory, meeting_id=house["meeting"], decision_id=second.id, user="anna",
                          secret_key=SECRET)
    assert row(session_factory, first.id).status == "superseded"
    annul_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"], decision_id=second.id,
                   reason="подписал не собственник", user="anna")
    # the set-aside co-owner's decision counts again: the holding is not dropped from the count
    assert row(session_factory, first.id).status == "counted"
    assert live_tally(session_factory, meeting_id=house["meeting"]).participants == 40
    assert votes(session_factory, house, 1, "for") == 40
    assert joint_conflicts(session_factory, meeting_id=house["meeting"]) == []
    assert_count_is_the_recount(session_factory, house)
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_a_closed_count_refuses_a_correction(session_factory):
    mid = meeting_with_registry(session_factory)
    ids = closing_owners(session_factory, mid)
    stored = closing_vote(session_factory, mid, ids["Андреев"])
    closing_vote(session_factory, mid, ids["Борисова"])
    sign(session_factory, mid)
    close_count(session_factory, meeting_id=mid, user="analyst", today=TODAY)
    with session_factory() as s:
        qs = question_numbers(s, mid)
    with pytest.raises(CountClosed):
        correct_paper_decision(session_factory, secret_key=CLOSING_KEY, meeting_id=mid, decision_id=stored.id,
                               marks={q: "against" for q in qs}, reason=REASON, user="anna", today=TODAY)
    with pytest.raises(CountClosed):
        annul_decision(session_factory, secret_key=CLOSING_KEY, meeting_id=mid, decision_id=stored.id, reason=REASON,
                       user="anna", today=TODAY)
    assert row(session_factory, stored.id).status == "counted"
    assert END < TODAY


@pytest.fixture
def corrected(session_factory, house):
    first = paper(session_factory, house, ANDREEV, "for", "for", "for")
    done = correct_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"],
                                  decision_id=first.id, marks=dict(zip(house["q"], ("against", "for", "several"))),
                                  reason=REASON, user="anna")
    assert verify_decisions(session_factory, secret_key=SECRET).ok
    with session_factory() as s:
        old = s.get(Decision, first.id)
        before = {"state": old.state, "state_seal": old.state_seal}
    return {"old": first, "new": done.stored, "old_state": before}


def tamper(session_factory, decision_id, **values):
    with session_factory.begin() as s:
        s.execute(update(Decision).where(Decision.id == decision_id).values(**values))


def problems(session_factory) -> str:
    report = verify_decisions(session_factory, secret_key=SECRET)
    assert not report.ok
    return "\n".join(report.problems)


def test_the_seal_check_finds_the_correction_s_answer_changed(session_factory, corrected):
    with session_factory.begin() as s:
        s.execute(update(DecisionAnswer).where(DecisionAnswer.decision_id == corrected["new"].id,
                                               DecisionAnswer.answer == "against").values(answer="for"))
    assert f"решение № {corrected['new'].number}: в базе данных после подписания изменено: ответ на вопрос 1" \
           in problems(session_factory)


def test_the_seal_check_finds_the_reason_changed(session_factory, corrected):
    tamper(session_factory, corrected["new"].id, change_reason="так захотелось")
    assert "причина исправления" in problems(session_factory)


def test_the_seal_check_finds_an_invalid_answer_s_why_changed(session_factory, corrected):
    with session_factory.begin() as s:
        s.execute(update(DecisionAnswer).where(DecisionAnswer.decision_id == corrected["new"].id,
                                               DecisionAnswer.mark == "several").values(mark="none"))
    assert "ответ на вопрос 3 (Недействительно: несколько отметок → Недействительно: нет отметки)" \
           in problems(session_factory)


def test_the_seal_check_finds_the_replaced_decision_put_back_in_force(session_factory, corrected, house):
    # the old record's status and place restored, even with its own earlier state seal replayed
    tamper(session_factory, corrected["new"].id, counted_slot=None)
    tamper(session_factory, corrected["old"].id, status="counted", counted_slot=house[ANDREEV], superseded_by_id=None,
           **corrected["old_state"])
    found = problems(session_factory)
    assert f"заменяет решение № {corrected['old'].number}, но то решение снова действует" in found


def test_the_seal_check_finds_the_old_record_s_link_or_status_changed(session_factory, corrected):
    tamper(session_factory, corrected["old"].id, superseded_by_id=None)
    found = problems(session_factory)
    assert f"решение № {corrected['old'].number}: в базе данных изменено: ссылка на запись, заменившую решение" in found


def test_the_seal_check_finds_the_correction_removed(session_factory, corrected):
    with session_factory.begin() as s:
        s.execute(DecisionAnswer.__table__.delete().where(DecisionAnswer.decision_id == corrected["new"].id))
        s.execute(Decision.__table__.delete().where(Decision.id == corrected["new"].id))
    found = problems(session_factory)
    assert "последние решения удалены" in found
    assert f"решение № {corrected['old'].number}: исправлено, но записи, которая его заменила, нет" in found
