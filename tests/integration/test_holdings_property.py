"""Property (issue 13 §2): over random registries and random decisions, on SQLite and PostgreSQL,
- the participants' votes never exceed all votes, and no premise's counted votes exceed its area;
- the count is the same whichever way a joint holding was written (rows with no share under one
  document, as ЕГРН lists it; rows marked «совместная»; a «Вид права» column);
- the running count equals the full recount.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from filemakers import make_table
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import Decision, OwnerRecord, Premise
from services.registry import import_registry
from services.tally import live_tally, recount
from services.voting import register_paper_decision, voter_page

SECRET = "property-secret"
TODAY = dt.date.today()
WRITINGS = ("blank shares, one document", "«совместная»", "«Вид права»")
ANSWERS = ("for", "against", "abstain", "invalid")

areas = st.integers(min_value=1000, max_value=15000).map(lambda n: Decimal(n) / 100)
# a premise: its area and its holdings — ("sole",), ("shares", k) split equally, ("joint", n owners),
# or ("share+joint", n): one owner of 1/2 and a joint holding of the rest
holdings = st.one_of(st.just(("sole",)), st.tuples(st.just("shares"), st.integers(2, 4)),
                     st.tuples(st.just("joint"), st.integers(2, 3)), st.tuples(st.just("share+joint"), st.integers(2, 3)))
premises = st.lists(st.tuples(areas, holdings), min_size=1, max_size=6)


def registry_rows(building, writing: str) -> list[list]:
    header = ["Номер помещения", "Общая площадь", "ФИО собственника", "Доля", "Номер документа", "Вид права"]
    rows = [header]
    for number, (area, kind) in enumerate(building, start=1):
        def joint(names):
            for i, name in enumerate(names):
                if writing == WRITINGS[0]:
                    rows.append([str(number), area, name, "", f"77-{number}-J", ""])
                elif writing == WRITINGS[1]:
                    rows.append([str(number), area, name, "совместная", f"77-{number}-J", ""])
                else:
                    rows.append([str(number), area, name, "", f"77-{number}-J{i}", "Общая совместная собственность"])
        if kind[0] == "sole":
            rows.append([str(number), area, f"Собственник {number}", "1", f"77-{number}", ""])
        elif kind[0] == "shares":
            for i in range(kind[1]):
                rows.append([str(number), area, f"Собственник {number}.{i}", f"1/{kind[1]}", f"77-{number}-{i}", ""])
        elif kind[0] == "joint":
            joint([f"Супруг {number}.{i}" for i in range(kind[1])])
        else:
            rows.append([str(number), area, f"Дольщик {number}", "1/2", f"77-{number}-D", ""])
            joint([f"Супруг {number}.{i}" for i in range(kind[1])])
    return rows


def owner_names(building) -> list[str]:
    rows = registry_rows(building, WRITINGS[1])[1:]
    return [r[2] for r in rows]


@st.composite
def cases(draw):
    building = draw(premises)
    names = owner_names(building)
    voters = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    answers = {name: draw(st.tuples(st.sampled_from(ANSWERS), st.sampled_from(ANSWERS))) for name in voters}
    return building, voters, answers


def count(session_factory, building, voters, answers, writing):
    meeting = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Случайная, д. 1", initiator="ООО «УК»", start_date=TODAY - dt.timedelta(days=3),
        end_date=TODAY + dt.timedelta(days=3), questions=[QuestionData("Первый"), QuestionData("Второй", "two_thirds")]))
    report, _result = import_registry(session_factory, meeting_id=meeting, filename="реестр.csv", replace=True,
                                      data=make_table(registry_rows(building, writing), "csv"))
    assert report.errors == [], report.errors
    with session_factory() as s:
        ids = dict(s.execute(select(OwnerRecord.name, OwnerRecord.id).where(OwnerRecord.meeting_id == meeting)).all())
    q = [x.id for x in voter_page(session_factory, owner_id=next(iter(ids.values()))).questions]
    for name in voters:
        register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting, owner_id=ids[name],
                                received_on=TODAY, answers=dict(zip(q, answers[name])))
    t = recount(session_factory, meeting_id=meeting)
    # each premise's counted votes, from the counted decisions themselves
    per_premise: dict[int, Fraction] = defaultdict(Fraction)
    with session_factory() as s:
        for pid, area, num, den in s.execute(
                select(Premise.id, Premise.area, OwnerRecord.share_num, OwnerRecord.share_den)
                .join(OwnerRecord, OwnerRecord.premise_id == Premise.id)
                .join(Decision, Decision.owner_id == OwnerRecord.id)
                .where(Decision.meeting_id == meeting, Decision.counted_slot.is_not(None))):
            per_premise[pid] += Fraction(area) * Fraction(num, den)
        areas_ = dict(s.execute(select(Premise.id, Premise.area).where(Premise.meeting_id == meeting)).all())
    assert all(votes <= Fraction(areas_[pid]) for pid, votes in per_premise.items()), per_premise
    assert t.participants <= t.all_votes
    assert t.all_votes == sum((Fraction(a) for a, _k in building), Fraction(0))
    for question in t.questions:
        assert sum(question.votes.values(), Fraction(0)) == t.participants
    live = live_tally(session_factory, meeting_id=meeting)
    figures = (t.participants, [tuple(sorted(x.votes.items())) for x in t.questions])
    assert figures == (live.participants, [tuple(sorted(x.votes.items())) for x in live.questions])
    return figures


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_counted_votes_stay_within_areas_and_do_not_depend_on_how_joint_ownership_is_written(session_factory, case):
    building, voters, answers = case
    results = [count(session_factory, building, voters, answers, writing) for writing in WRITINGS]
    assert results[1] == results[0] and results[2] == results[0]
