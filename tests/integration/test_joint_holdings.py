"""Exact votes on registries as offices have them (issue 13 §1–§3): joint ownership written every
way registries write it counts once, the shares of a premise never exceed 1 (refused at import, on
edit and by the database), and the passport area is never below the registry's premises.

The building of the issue: premises 1, 2, 4 of one owner each and flat 3 owned jointly by the
Власовы, 40 m² each, all votes 160. With Андреев and both Власовы voting, participants are 80 —
exactly half, no quorum. Counting each joint row as a whole flat made it 120 of 200 and quorate.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from filemakers import make_table
from services.audit import audit_frame
from services.errors import ValidationError
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import AuditEvent, Decision, OwnerRecord, Premise
from services.registry import OwnerInput, apply_registry_changes, import_registry, registry_frame, registry_summary
from services.tally import live_tally, recount, set_passport_area, votes2
from services.voting import register_paper_decision, settle_joint_conflict, verify_decisions, voter_page

SECRET = "joint-secret"
TODAY = dt.date.today()
HEADER = ["Номер помещения", "Общая площадь", "ФИО собственника", "Доля собственника", "Номер документа"]
OTHERS = [["1", 40, "Андреев Андрей Андреевич", "1", "77-01"], ["2", 40, "Борисова Бэла Борисовна", "1", "77-02"],
          ["4", 40, "Григорьев Григорий Григорьевич", "1", "77-04"]]
VLASOV, VLASOVA = "Власов Виктор Викторович", "Власова Вера Викторовна"

# Flat 3 in joint ownership, as registries write it.
JOINT_WAYS = {
    "two rows, one document, no share (ЕГРН)": (HEADER, [["3", 40, VLASOV, "", "77-03"], ["3", 40, VLASOVA, "", "77-03"]]),
    "two rows «совместная»": (HEADER, [["3", 40, VLASOV, "совместная", "77-03"], ["3", 40, VLASOVA, "совм.", "77-03"]]),
    "two rows «общая совместная»": (HEADER, [["3", 40, VLASOV, "общая совместная", "77-03"],
                                             ["3", 40, VLASOVA, "Общая совместная", "77-03"]]),
    "a «Вид права» column": ([*HEADER, "Вид права"],
                             [["3", 40, VLASOV, "", "77-03/1", "Общая совместная собственность"],
                              ["3", 40, VLASOVA, "", "77-03/2", "Общая совместная собственность"]]),
}
ONE_ROW = (HEADER, [["3", 40, f"{VLASOV}, {VLASOVA}", "совместная", "77-03"]])


def new_meeting(session_factory) -> int:
    return create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Совместная, д. 3", initiator="ООО «УК»", start_date=TODAY - dt.timedelta(days=5),
        end_date=TODAY + dt.timedelta(days=5),
        questions=[QuestionData("Выбор совета дома"), QuestionData("Ремонт крыши", "two_thirds")]))


def imported(session_factory, header, joint_rows, fmt="xlsx"):
    meeting = new_meeting(session_factory)
    rows = [r + [""] * (len(header) - len(r)) for r in OTHERS] + joint_rows
    report, result = import_registry(session_factory, meeting_id=meeting, data=make_table([header, *rows], fmt),
                                     filename=f"реестр.{fmt}", replace=True)
    assert report.errors == []
    with session_factory() as s:
        ids = {name: oid for oid, name in s.execute(select(OwnerRecord.id, OwnerRecord.name)
                                                    .where(OwnerRecord.meeting_id == meeting))}
    questions = [q.id for q in voter_page(session_factory, owner_id=next(iter(ids.values()))).questions]
    return meeting, ids, questions, result


def vote(session_factory, meeting, owner_id, questions, answers):
    return register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting, owner_id=owner_id,
                                   received_on=TODAY, answers=dict(zip(questions, answers)), user="аналитик")


def for_votes(t):
    return [votes2(q.votes["for"]) for q in t.questions]


@pytest.mark.parametrize("way", list(JOINT_WAYS))
def test_a_joint_flat_carries_its_area_once_and_half_is_still_no_quorum(session_factory, way):
    meeting, ids, q, result = imported(session_factory, *JOINT_WAYS[way])
    assert result.votes == 160 and registry_summary(session_factory, meeting_id=meeting).votes == 160
    for name in ("Андреев Андрей Андреевич", VLASOV, VLASOVA):
        vote(session_factory, meeting, ids[name], q, ["for", "for"])
    t = recount(session_factory, meeting_id=meeting)
    assert (t.all_votes, t.participants, t.participant_records) == (160, 80, 2)
    assert not t.quorum and not any(x.adopted for x in t.questions)
    assert for_votes(t) == [Decimal("80.00")] * 2
    assert for_votes(live_tally(session_factory, meeting_id=meeting)) == for_votes(t)
    with session_factory() as s:
        statuses = sorted(s.scalars(select(Decision.status).where(Decision.meeting_id == meeting)))
    assert statuses == ["counted", "counted", "joint_same"]
    frame = registry_frame(session_factory, meeting_id=meeting)
    assert set(frame[frame["Номер помещения"] == "3"]["Доля собственника"]) == {"совместная"}


def test_every_way_of_writing_a_joint_flat_gives_the_same_count(session_factory):
    counts = []
    for header, rows in [*JOINT_WAYS.values(), ONE_ROW]:
        meeting, ids, q, _result = imported(session_factory, header, rows)
        voter = ids.get(VLASOVA) or ids[f"{VLASOV}, {VLASOVA}"]
        vote(session_factory, meeting, voter, q, ["for", "against"])
        vote(session_factory, meeting, ids["Борисова Бэла Борисовна"], q, ["for", "for"])
        t = recount(session_factory, meeting_id=meeting)
        counts.append((t.all_votes, t.participants, [(q.votes["for"], q.votes["against"]) for q in t.questions]))
    assert counts == [counts[0]] * len(counts)
    assert counts[0] == (160, 80, [(80, 0), (40, 40)])


def test_joint_owners_who_differ_leave_that_question_invalid_until_the_analyst_chooses(session_factory):
    meeting, ids, q, _result = imported(session_factory, *JOINT_WAYS["two rows «совместная»"])
    vote(session_factory, meeting, ids["Андреев Андрей Андреевич"], q, ["for", "for"])
    vote(session_factory, meeting, ids["Борисова Бэла Борисовна"], q, ["for", "for"])
    first = vote(session_factory, meeting, ids[VLASOV], q, ["for", "for"])
    second = vote(session_factory, meeting, ids[VLASOVA], q, ["for", "against"])
    assert (first.status, second.status) == ("counted", "joint_conflict")

    t = recount(session_factory, meeting_id=meeting)
    assert t.participants == 120 and t.quorum
    assert [(x.votes["for"], x.votes["against"], x.votes["invalid"]) for x in t.questions] == [(120, 0, 0), (80, 0, 40)]
    assert not t.questions[1].adopted, "80 of 160 is short of two thirds"
    assert for_votes(live_tally(session_factory, meeting_id=meeting)) == for_votes(t)

    settle_joint_conflict(session_factory, meeting_id=meeting, decision_id=second.id, user="Анна", secret_key=SECRET)
    t = recount(session_factory, meeting_id=meeting)
    assert [(x.votes["for"], x.votes["against"], x.votes["invalid"]) for x in t.questions] == [(120, 0, 0), (80, 40, 0)]
    assert t.participants == 120 and t.participant_records == 3
    assert for_votes(live_tally(session_factory, meeting_id=meeting)) == for_votes(t)
    with session_factory() as s:
        statuses = dict(s.execute(select(Decision.id, Decision.status).where(Decision.meeting_id == meeting)).all())
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "joint_conflict_settled")).one()
    assert statuses[first.id] == "superseded" and statuses[second.id] == "counted"
    assert event.actor == "Анна" and event.details["decision"] == second.number
    assert "Выбрано решение совместного собственника" in set(audit_frame(session_factory)["Действие"])
    report = verify_decisions(session_factory, secret_key=SECRET, meeting_id=meeting)
    assert report.ok, report.problems
    settle_joint_conflict(session_factory, meeting_id=meeting, decision_id=first.id, user="Анна", secret_key=SECRET)  # changed mind
    assert [x.votes["against"] for x in recount(session_factory, meeting_id=meeting).questions] == [0, 0]
    with session_factory() as s:
        andreev = s.scalar(select(Decision.id).where(Decision.owner_id == ids["Андреев Андрей Андреевич"]))
    with pytest.raises(ValidationError, match="нет расхождения"):
        settle_joint_conflict(session_factory, meeting_id=meeting, decision_id=andreev, user="Анна", secret_key=SECRET)


def test_the_same_joint_owner_twice_is_a_conflict_not_a_second_count(session_factory):
    meeting, ids, q, _result = imported(session_factory, *JOINT_WAYS["two rows, one document, no share (ЕГРН)"])
    vote(session_factory, meeting, ids[VLASOV], q, ["for", "for"])
    again = vote(session_factory, meeting, ids[VLASOV], q, ["against", "against"])
    assert again.status == "conflict"
    assert recount(session_factory, meeting_id=meeting).participants == 40


# ---------- the shares of a premise add up to at most 1 ----------

def test_an_import_refuses_a_premise_whose_shares_exceed_one_naming_rows_and_sum(session_factory):
    meeting = new_meeting(session_factory)
    rows = [HEADER, *OTHERS, ["5", 50, "Дмитриев", "1/2", "77-05"], ["5", 50, "Дмитриева", "1/2", "77-06"],
            ["5", 50, "Дмитриев-младший", "1/3", "77-07"], ["6", 30, "Егоров", "", ""], ["6", 30, "Егорова", "", ""]]
    report, result = import_registry(session_factory, meeting_id=meeting, data=make_table(rows, "csv"),
                                     filename="реестр.csv", replace=True)
    messages = {(e.row, e.message) for e in report.errors}
    assert (6, "доли собственников помещения 5 в сумме 4/3 — больше 1 (строки 5, 6, 7); помещение не принято. "
               "Исправьте доли или отметьте совместную собственность («совместная» в столбце доли)") in messages
    assert {e.row for e in report.errors} == {5, 6, 7, 8, 9} and {e.column for e in report.errors} == {"Доля собственника"}
    assert len(report.rejected_rows) == 5
    assert result.owners == 3 and result.votes == 120
    with session_factory() as s:
        assert set(s.scalars(select(Premise.number).where(Premise.meeting_id == meeting))) == {"1", "2", "4"}


def test_an_edit_that_would_push_a_premise_above_one_is_refused(session_factory):
    meeting, ids, _q, _result = imported(session_factory, *JOINT_WAYS["two rows «совместная»"])
    with pytest.raises(ValidationError) as caught:
        apply_registry_changes(session_factory, meeting_id=meeting, added=[
            OwnerInput(premise="3", area="40", name="Жильцов Жорж", share="1/2")])
    assert caught.value.message == "Изменения не сохранены: у помещения 3 доли собственников в сумме 3/2 — больше 1."
    assert registry_summary(session_factory, meeting_id=meeting).votes == 160


def test_the_database_itself_refuses_shares_above_one(session_factory):
    meeting = new_meeting(session_factory)
    with session_factory.begin() as s:
        premise = Premise(meeting_id=meeting, number="9", number_key="9", area=Decimal("50"))
        s.add(premise)
        s.flush()
        s.add_all([OwnerRecord(meeting_id=meeting, premise_id=premise.id, name=n, name_key=n.lower(),
                               share_num=1, share_den=2, joint_group=7) for n in ("Муж", "Жена")])
        s.add(OwnerRecord(meeting_id=meeting, premise_id=premise.id, name="Сын", name_key="сын", share_num=1, share_den=2))
    with pytest.raises(IntegrityError, match="more than 1"):
        with session_factory.begin() as s:
            pid = s.scalar(select(Premise.id).where(Premise.meeting_id == meeting))
            s.add(OwnerRecord(meeting_id=meeting, premise_id=pid, name="Чужой", name_key="чужой",
                              share_num=1, share_den=100))


# ---------- the passport area ----------

def test_a_passport_area_below_the_registry_is_refused_naming_both_figures(session_factory):
    meeting, _ids, _q, _result = imported(session_factory, *JOINT_WAYS["two rows «совместная»"])
    with pytest.raises(ValidationError, match="\\(150,00\u00a0м²\\) меньше суммы площадей помещений в реестре \\(160,00\u00a0м²\\)"):
        set_passport_area(session_factory, meeting_id=meeting, area=Decimal("150"))
    assert recount(session_factory, meeting_id=meeting).passport_area is None


def test_a_passport_area_above_the_registry_is_the_base_and_its_difference_is_named(session_factory):
    meeting, ids, q, _result = imported(session_factory, *JOINT_WAYS["two rows «совместная»"])
    set_passport_area(session_factory, meeting_id=meeting, area=Decimal("200.5"))
    for name in ("Андреев Андрей Андреевич", "Борисова Бэла Борисовна"):
        vote(session_factory, meeting, ids[name], q, ["for", "for"])
    t = recount(session_factory, meeting_id=meeting)
    assert (t.all_votes, t.registry_area, t.unregistered_area) == (Fraction(401, 2), 160, Fraction(81, 2))
    assert t.participants == 80 and not t.quorum


def test_the_ballot_of_a_joint_holding_has_a_signature_line_for_each_joint_owner(session_factory):
    import io

    import docx

    from services.voting import ballots_docx

    def text(data: bytes) -> str:
        return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)

    meeting, ids, _q, _result = imported(session_factory, *JOINT_WAYS["two rows, one document, no share (ЕГРН)"])
    ballot = text(ballots_docx(session_factory, meeting_id=meeting, owner_ids=[ids[VLASOVA]]))
    assert f"Подпись ({VLASOV}):" in ballot and f"Подпись ({VLASOVA}):" in ballot
    assert "решение подписывает любой из совместных собственников" in ballot
    single = text(ballots_docx(session_factory, meeting_id=meeting, owner_ids=[ids["Андреев Андрей Андреевич"]]))
    assert "Подпись собственника (представителя):" in single and "Подпись (" not in single

    meeting, ids, _q, _result = imported(session_factory, *ONE_ROW)
    ballot = text(ballots_docx(session_factory, meeting_id=meeting, owner_ids=[ids[f"{VLASOV}, {VLASOVA}"]]))
    assert f"Подпись ({VLASOV}):" in ballot and f"Подпись ({VLASOVA}):" in ballot


def test_activity_counts_a_joint_holdings_votes_once(session_factory):
    from services.results import activity_figures

    meeting, ids, q, _result = imported(session_factory, *JOINT_WAYS["two rows «совместная»"])
    vote(session_factory, meeting, ids[VLASOVA], q, ["for", "for"])  # the holding's slot is Власов's record
    figures = {x.status: (x.owners, x.votes) for x in activity_figures(session_factory, meeting_id=meeting)}
    assert figures["Не уведомлены"] == (5, 160)
    assert figures["Решение учтено"] == (2, 40)
