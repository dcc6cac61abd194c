"""The count, figure for figure against DOMAIN.md's worked example, and its edge cases; the live
aggregate always equals the full recount."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import select

from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import OwnerRecord
from services.registry import OwnerInput, apply_registry_changes
from services.tally import is_adopted, live_tally, percent2, recount, set_passport_area, tally_json, votes2
from services.voting import register_paper_decision, set_electronic_decisions, submit_online_decision, voter_page

SECRET = "tally-secret"
TODAY = dt.date.today()


def build(session_factory, owners, majorities=("two_thirds", "simple", "more_than_half")):
    meeting = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Примерная, д. 1", initiator="ООО «УК»", start_date=TODAY - dt.timedelta(days=5),
        end_date=TODAY + dt.timedelta(days=5),
        questions=[QuestionData(f"Вопрос {i}", m) for i, m in enumerate(majorities, start=1)]))
    apply_registry_changes(session_factory, meeting_id=meeting, added=[
        OwnerInput(premise=p, area=a, name=n, share=sh) for p, a, n, sh in owners])
    with session_factory() as s:
        ids = {name: oid for oid, name in s.execute(select(OwnerRecord.id, OwnerRecord.name)
                                                    .where(OwnerRecord.meeting_id == meeting))}
    q = [x.id for x in voter_page(session_factory, owner_id=next(iter(ids.values()))).questions]
    return meeting, ids, q


EXAMPLE = [("1", "40,0", "Андреев", "1"), ("2", "40,0", "Борисова", "1"),
           ("3", "40,0", "Власов", "1/2"), ("3", "40,0", "Власова", "1/2")]


def vote(session_factory, meeting, owner, q, answers, received=TODAY):
    return register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting, owner_id=owner,
                                   received_on=received, answers=dict(zip(q, answers)), today=max(received, TODAY))


def figures(t):
    return [(q.number, votes2(q.votes["for"]), votes2(q.votes["against"]), votes2(q.votes["abstain"]),
             votes2(q.votes["invalid"]), q.adopted) for q in t.questions]


def test_example_a_everyone_sends_a_decision(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Андреев"], q, ["for", "for", "for"])
    vote(session_factory, m, ids["Борисова"], q, ["for", "abstain", "for"])
    vote(session_factory, m, ids["Власов"], q, ["against", "for", "for"])
    vote(session_factory, m, ids["Власова"], q, ["against", "invalid", "against"])
    t = recount(session_factory, meeting_id=m)
    assert votes2(t.all_votes) == Decimal("120.00") and votes2(t.participants) == Decimal("120.00") and t.quorum
    assert figures(t) == [
        (1, Decimal("80.00"), Decimal("40.00"), Decimal("0.00"), Decimal("0.00"), True),
        (2, Decimal("60.00"), Decimal("0.00"), Decimal("40.00"), Decimal("20.00"), False),
        (3, Decimal("100.00"), Decimal("20.00"), Decimal("0.00"), Decimal("0.00"), True),
    ]
    assert percent2(t.questions[1].share_of_participants("for")) == Decimal("50.00")
    assert figures(live_tally(session_factory, meeting_id=m)) == figures(t)


def test_example_b_only_premises_1_and_2_vote_for_everything(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)
    vote(session_factory, m, ids["Борисова"], q, ["for"] * 3)
    t = recount(session_factory, meeting_id=m)
    assert votes2(t.participants) == Decimal("80.00") and percent2(t.participation) == Decimal("66.67") and t.quorum
    assert [q.adopted for q in t.questions] == [True, True, True], "exactly two thirds passes a 2/3 question"


def test_example_c_exactly_half_is_no_quorum_and_nothing_is_adopted(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)
    vote(session_factory, m, ids["Власов"], q, ["for"] * 3)
    t = recount(session_factory, meeting_id=m)
    assert votes2(t.participants) == Decimal("60.00") and not t.quorum
    assert [q.adopted for q in t.questions] == [False, False, False]
    assert t.votes_to_quorum == 0 or t.votes_to_quorum == Fraction(0)
    assert tally_json(t) == {"all_votes": 120.0, "participants_votes": 60.0, "quorum": False, "questions": [
        {"number": 1, "majority": "two_thirds", "for": 60.0, "against": 0.0, "abstain": 0.0, "invalid": 0.0, "adopted": False},
        {"number": 2, "majority": "simple", "for": 60.0, "against": 0.0, "abstain": 0.0, "invalid": 0.0, "adopted": False},
        {"number": 3, "majority": "more_than_half", "for": 60.0, "against": 0.0, "abstain": 0.0, "invalid": 0.0, "adopted": False},
    ]}


def test_the_published_figure_5296_48_of_9053_1_is_a_quorum_of_58_50_percent(session_factory):
    m, ids, q = build(session_factory, [("1", "5296,48", "Участники", "1"), ("2", "3756,62", "Остальные", "1")],
                      majorities=("simple",))
    vote(session_factory, m, ids["Участники"], q, ["for"])
    t = recount(session_factory, meeting_id=m)
    assert votes2(t.all_votes) == Decimal("9053.10") and votes2(t.participants) == Decimal("5296.48")
    assert percent2(t.participation) == Decimal("58.50") and t.quorum


def test_a_question_with_only_invalid_answers_is_not_adopted_but_the_owners_took_part(session_factory):
    m, ids, q = build(session_factory, EXAMPLE, majorities=("simple", "simple"))
    for name in ("Андреев", "Борисова"):
        vote(session_factory, m, ids[name], q, ["invalid", "for"])
    t = recount(session_factory, meeting_id=m)
    assert t.quorum and votes2(t.questions[0].votes["invalid"]) == Decimal("80.00")
    assert t.questions[0].adopted is False and t.questions[1].adopted is True


@pytest.mark.parametrize("majority, votes_for, participants, all_votes, expected", [
    ("simple", 50, 100, 120, False), ("simple", Fraction(10001, 200), 100, 120, True),
    ("more_than_half", 60, 100, 120, False), ("more_than_half", Fraction(6001, 100), 100, 120, True),
    ("two_thirds", 80, 100, 120, True), ("two_thirds", Fraction(7999, 100), 100, 120, False),
    ("unanimous", 120, 120, 120, True), ("unanimous", Fraction(11999, 100), 120, 120, False),
])
def test_majority_rules_at_their_edges(majority, votes_for, participants, all_votes, expected):
    assert is_adopted(majority, Fraction(votes_for), Fraction(participants), Fraction(all_votes), True) is expected
    assert is_adopted(majority, Fraction(votes_for), Fraction(participants), Fraction(all_votes), False) is False


def test_late_and_second_decisions_and_online_answers_stay_out_of_the_count(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=ids["Андреев"],
                           answers=dict(zip(q, ["for"] * 3)))
    t = live_tally(session_factory, meeting_id=m)
    assert t.participants == 0 and votes2(t.online_votes) == Decimal("40.00") and t.online_records == 1
    vote(session_factory, m, ids["Андреев"], q, ["against"] * 3)
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)  # a second paper decision: a conflict
    vote(session_factory, m, ids["Борисова"], q, ["for"] * 3, received=TODAY + dt.timedelta(days=6))
    live, full = live_tally(session_factory, meeting_id=m), recount(session_factory, meeting_id=m)
    assert votes2(full.participants) == Decimal("40.00") and full.online_votes == 0
    assert votes2(full.questions[0].votes["against"]) == Decimal("40.00") and full.questions[0].votes["for"] == 0
    assert figures(live) == figures(full) and live.participants == full.participants
    assert live.online_votes == full.online_votes and live.by_day == full.by_day


def test_code_signed_decisions_count_where_the_meeting_counts_them(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    set_electronic_decisions(session_factory, meeting_id=m, enabled=True, user="anna")
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=ids["Борисова"],
                           answers=dict(zip(q, ["for"] * 3)))
    t = live_tally(session_factory, meeting_id=m)
    assert votes2(t.participants) == Decimal("40.00") and t.online_votes == 0
    assert figures(t) == figures(recount(session_factory, meeting_id=m))


def test_the_passport_area_becomes_all_votes_and_the_registry_area_is_kept(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Андреев"], q, ["for"] * 3)
    vote(session_factory, m, ids["Борисова"], q, ["for"] * 3)
    set_passport_area(session_factory, meeting_id=m, area=Decimal("200"))
    t = recount(session_factory, meeting_id=m)
    assert votes2(t.all_votes) == Decimal("200.00") and votes2(t.registry_area) == Decimal("120.00")
    assert not t.quorum  # 80 of 200


def test_editing_an_area_behind_a_counted_decision_keeps_live_equal_to_recount(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Власов"], q, ["for"] * 3)
    apply_registry_changes(session_factory, meeting_id=m, edited={ids["Власов"]: OwnerInput(
        premise="3", area="50", name="Власов", share="1/2")})
    live, full = live_tally(session_factory, meeting_id=m), recount(session_factory, meeting_id=m)
    assert votes2(full.participants) == Decimal("25.00") and live.participants == full.participants
