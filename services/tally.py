"""Подсчёт голосов: the count by the law's rules, exact, from SQL aggregation.

Votes of an owner record = premise area × share (ЖК ст. 48 ч. 3). All votes of the building = the
areas of all premises in the registry, each once (or the area from the building's passport, when
entered). Quorum: participants' votes > 50 % of all votes (ст. 45 ч. 3). Only counted decisions
count: written decisions received in time and code-signed ones where the meeting counts them;
invalid answers stay in the participants' base (ст. 48 ч. 6). Majorities per ст. 46 ч. 1, as kept
in services/law.py.

Sums are kept as Σ area (1/10000 m²) × share numerator per share denominator, so no float ever
enters the count. `live_tally` reads the running aggregate (a few rows, milliseconds);
`recount` computes the same from the decisions themselves.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import BigInteger, delete, func, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from services import figures
from services.errors import NotFound
from services.holdings import joint_slots, member_ids, slot_of
from services.models import (
    AgendaQuestion,
    Building,
    Decision,
    DecisionAnswer,
    Meeting,
    OwnerRecord,
    Premise,
    TallyAggregate,
)

AREA_SCALE = 10_000
PARTICIPANTS, ONLINE, DAY = "participants", "online", "day:"
ANSWER_KEYS = ("for", "against", "abstain", "invalid")

Key = tuple[int, str, int]  # (question id, answer, share denominator)
Sums = dict[Key, list[int]]  # -> [units, records]


# ---------- the aggregate, computed in full from the decisions ----------

def _units():
    return func.sum(type_coerce(Premise.area, BigInteger) * OwnerRecord.share_num)


def full_sums(s: Session, meeting_id: int) -> Sums:
    """Every aggregate row computed from the decisions (the full recount), as GROUP BY in SQL."""
    sums: Sums = defaultdict(lambda: [0, 0])
    counted = (Decision.meeting_id == meeting_id, Decision.counted_slot.is_not(None))
    base = select().join_from(Decision, OwnerRecord, Decision.owner_id == OwnerRecord.id).join(
        Premise, OwnerRecord.premise_id == Premise.id)
    # The participants are the sum of the days: one pass over the counted decisions, not two.
    for day, den, units, n in s.execute(base.add_columns(Decision.received_on, OwnerRecord.share_den, _units(),
                                                         func.count()).where(*counted)
                                        .group_by(Decision.received_on, OwnerRecord.share_den)):
        sums[(0, DAY + day.isoformat(), den)] = [int(units), n]
        total = sums[(0, PARTICIPANTS, den)]
        total[0] += int(units)
        total[1] += n
    # «online»: holdings answered online without a counted decision, each holding once (a joint
    # holding's co-owners each have their own code and may each have answered)
    slots = joint_slots(s, meeting_id)
    counted_slots = set(s.scalars(select(Decision.counted_slot).where(*counted)))
    online_holdings: dict[int, tuple[int, int]] = {}
    for oid, den, units in s.execute(base.add_columns(Decision.owner_id, OwnerRecord.share_den, _record_units())
                                     .where(Decision.meeting_id == meeting_id, Decision.status == "online")):
        slot = slots.get(oid, oid)
        if slot not in counted_slots:
            online_holdings[slot] = (den, int(units))
    for den, units in online_holdings.values():
        total = sums[(0, ONLINE, den)]
        total[0] += units
        total[1] += 1
    answers = (
        select(DecisionAnswer.question_id, DecisionAnswer.answer, OwnerRecord.share_den, _units(), func.count())
        .join(Decision, DecisionAnswer.decision_id == Decision.id)
        .join(OwnerRecord, Decision.owner_id == OwnerRecord.id)
        .join(Premise, OwnerRecord.premise_id == Premise.id)
        .where(*counted)
        .group_by(DecisionAnswer.question_id, DecisionAnswer.answer, OwnerRecord.share_den)
    )
    for qid, answer, den, units, n in s.execute(answers):
        sums[(qid, answer, den)] = [int(units), n]
    _invalidate_joint_conflicts(s, meeting_id, sums, slots)
    return {k: v for k, v in sums.items() if v[0] or v[1]}


def _record_units():
    return type_coerce(Premise.area, BigInteger) * OwnerRecord.share_num


def _invalidate_joint_conflicts(s: Session, meeting_id: int, sums: Sums, slots: dict[int, int]) -> None:
    """Where joint co-owners' decisions differ on a question and the analyst has not chosen yet,
    that question is invalid for the holding (it still took part): its votes move from the counted
    decision's answer to «invalid»."""
    conflicts = s.execute(select(Decision.id, Decision.owner_id).where(
        Decision.meeting_id == meeting_id, Decision.status == "joint_conflict")).all()
    if not conflicts:
        return
    differing: dict[int, set[int]] = defaultdict(set)  # slot -> questions
    answers_of = lambda did: dict(s.execute(select(DecisionAnswer.question_id, DecisionAnswer.answer)  # noqa: E731
                                            .where(DecisionAnswer.decision_id == did)).all())
    counted_by_slot = {}
    for did, oid in conflicts:
        slot = slots.get(oid, oid)
        if slot not in counted_by_slot:
            counted_by_slot[slot] = s.execute(
                select(Decision.id, OwnerRecord.share_den, _record_units())
                .join(OwnerRecord, Decision.owner_id == OwnerRecord.id).join(Premise, OwnerRecord.premise_id == Premise.id)
                .where(Decision.meeting_id == meeting_id, Decision.counted_slot == slot)).first()
        counted = counted_by_slot[slot]
        if counted is None:
            continue
        mine, theirs = answers_of(counted.id), answers_of(did)
        differing[slot] |= {q for q, a in mine.items() if theirs.get(q) != a}
    for slot, questions in differing.items():
        counted_id, den, units = counted_by_slot[slot]
        mine = answers_of(counted_id)
        for q in questions:
            if mine[q] == "invalid":
                continue
            old = sums[(q, mine[q], den)]
            old[0] -= int(units)
            old[1] -= 1
            new = sums[(q, "invalid", den)]
            new[0] += int(units)
            new[1] += 1


def aggregate_sums(s: Session, meeting_id: int) -> Sums:
    return {(r.question_id, r.answer, r.share_den): [r.units, r.records]
            for r in s.scalars(select(TallyAggregate).where(TallyAggregate.meeting_id == meeting_id))
            if r.units or r.records}


def rebuild_aggregate(s: Session, meeting_id: int) -> None:
    """Replace the running aggregate with the full recount (after registry edits)."""
    s.execute(delete(TallyAggregate).where(TallyAggregate.meeting_id == meeting_id))
    rows = [{"meeting_id": meeting_id, "question_id": q, "answer": a, "share_den": d, "units": u, "records": n}
            for (q, a, d), (u, n) in full_sums(s, meeting_id).items()]
    if rows:
        s.execute(TallyAggregate.__table__.insert(), rows)


def _bump(s: Session, meeting_id: int, changes: dict[tuple[int, str], tuple[int, int]], den: int) -> None:
    if s.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    rows = [{"meeting_id": meeting_id, "question_id": q, "answer": a, "share_den": den, "units": u, "records": n}
            for (q, a), (u, n) in changes.items()]
    stmt = insert(TallyAggregate).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["meeting_id", "question_id", "answer", "share_den"],
        set_={"units": TallyAggregate.units + stmt.excluded.units,
              "records": TallyAggregate.records + stmt.excluded.records},
    )
    s.execute(stmt)


def on_decision_added(s: Session, *, decision: Decision, owner: OwnerRecord, premise: Premise,
                      answers: dict[int, str]) -> None:
    """Keep the aggregate equal to the recount, in the transaction that adds the decision."""
    if decision.status == "joint_conflict":
        rebuild_aggregate(s, decision.meeting_id)  # rare: the holding's differing questions turn invalid
        return
    units = int(premise.area * AREA_SCALE) * owner.share_num
    members = member_ids(s, owner)
    changes: dict[tuple[int, str], tuple[int, int]] = {}
    if decision.counted_slot is not None:
        changes[(0, PARTICIPANTS)] = (units, 1)
        changes[(0, DAY + decision.received_on.isoformat())] = (units, 1)
        for qid, answer in answers.items():
            changes[(qid, answer)] = (units, 1)
        had_online = s.scalar(select(func.count()).select_from(Decision).where(
            Decision.meeting_id == decision.meeting_id, Decision.owner_id.in_(members), Decision.status == "online",
            Decision.id != decision.id))
        if had_online:
            changes[(0, ONLINE)] = (-units, -1)
    elif decision.status == "online":
        counted_before = s.scalar(select(func.count()).select_from(Decision).where(
            Decision.meeting_id == decision.meeting_id, Decision.counted_slot == slot_of(s, owner)))
        online_before = s.scalar(select(func.count()).select_from(Decision).where(
            Decision.meeting_id == decision.meeting_id, Decision.owner_id.in_(members), Decision.status == "online",
            Decision.id != decision.id))
        if not counted_before and not online_before:
            changes[(0, ONLINE)] = (units, 1)
    if changes:
        _bump(s, decision.meeting_id, changes, owner.share_den)


# ---------- the count ----------

@dataclass
class QuestionResult:
    id: int
    number: int
    text: str
    majority: str
    votes: dict[str, Fraction]  # for | against | abstain | invalid
    records: dict[str, int]
    adopted: bool
    participants: Fraction
    all_votes: Fraction

    def share_of_participants(self, key: str) -> Fraction:
        return self.votes[key] / self.participants if self.participants else Fraction(0)

    def share_of_all(self, key: str) -> Fraction:
        return self.votes[key] / self.all_votes if self.all_votes else Fraction(0)

    def decisive_share(self) -> Fraction:
        """The «за» as the majority measures it: of the participants' votes for a simple majority,
        of all votes in the house otherwise (ЖК РФ ст. 46 ч. 1) — the figure the verdict rests on."""
        from services.law import MAJORITY_KINDS

        base = MAJORITY_KINDS[self.majority].base
        return self.share_of_participants("for") if base == "participants" else self.share_of_all("for")


@dataclass
class Tally:
    meeting_id: int
    registry_area: Fraction  # Σ of the premises' areas in the registry
    passport_area: Fraction | None  # общая площадь помещений по техпаспорту, when entered
    all_votes: Fraction
    participants: Fraction
    participant_records: int
    online_votes: Fraction  # answered online, no counted decision yet
    online_records: int
    questions: list[QuestionResult]
    by_day: list[tuple[dt.date, Fraction]] = field(default_factory=list)  # cumulative participants

    @property
    def quorum(self) -> bool:
        return self.all_votes > 0 and self.participants * 2 > self.all_votes

    @property
    def unregistered_area(self) -> Fraction:
        """The passport's area beyond the registry's premises: premises whose owners are not in the
        registry (their votes count in all votes, never among the participants)."""
        return max(self.passport_area - self.registry_area, Fraction(0)) if self.passport_area else Fraction(0)

    @property
    def passport_below_registry(self) -> bool:
        return bool(self.passport_area) and self.passport_area < self.registry_area

    @property
    def participation(self) -> Fraction:
        return self.participants / self.all_votes if self.all_votes else Fraction(0)

    @property
    def votes_to_quorum(self) -> Fraction:
        """The quorum needs MORE than this many further votes; 0 once it is there."""
        return Fraction(0) if self.quorum else self.all_votes / 2 - self.participants


def is_adopted(majority: str, votes_for: Fraction, participants: Fraction, all_votes: Fraction,
               quorum: bool) -> bool:
    """ЖК РФ ст. 46 ч. 1 by the majority kind; without a quorum nothing is adopted."""
    if not quorum:
        return False
    if majority == "simple":
        return votes_for * 2 > participants
    if majority == "more_than_half":
        return votes_for * 2 > all_votes
    if majority == "two_thirds":
        return votes_for * 3 >= all_votes * 2
    if majority == "unanimous":
        return votes_for == all_votes
    raise ValueError(f"unknown majority kind {majority!r}")


def _fraction(sums: Sums, qid: int, answer: str) -> tuple[Fraction, int]:
    total, records = Fraction(0), 0
    for (q, a, den), (units, n) in sums.items():
        if q == qid and a == answer:
            total += Fraction(units, den * AREA_SCALE)
            records += n
    return total, records


def vote_base(s: Session, meeting: Meeting) -> tuple[Fraction, Fraction | None, Fraction]:
    """(registry area, passport area or None, all votes) of a meeting's building."""
    area_units = s.scalar(select(func.coalesce(func.sum(type_coerce(Premise.area, BigInteger)), 0))
                          .where(Premise.meeting_id == meeting.id))
    registry_area = Fraction(int(area_units), AREA_SCALE)
    passport = s.scalar(select(Building.passport_area).where(Building.id == meeting.building_id))
    passport_area = Fraction(passport) if passport else None
    # All votes are at least the registry's premises (DOMAIN.md rule 8): a passport area below them
    # (refused when entered, but the registry may have grown since) never shrinks the base
    all_votes = max(passport_area, registry_area) if passport_area else registry_area
    return registry_area, passport_area, all_votes


def recount_all_votes(s: Session, meeting_id: int) -> Fraction:
    """All votes of the building (the base of the quorum and of the «of all votes» majorities)."""
    meeting = s.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"Собрание № {meeting_id} не найдено.")
    return vote_base(s, meeting)[2]


def build_tally(s: Session, meeting_id: int, sums: Sums) -> Tally:
    meeting = s.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"Собрание № {meeting_id} не найдено.")
    registry_area, passport_area, all_votes = vote_base(s, meeting)
    participants, records = _fraction(sums, 0, PARTICIPANTS)
    online, online_records = _fraction(sums, 0, ONLINE)
    quorum = all_votes > 0 and participants * 2 > all_votes
    questions = []
    for q in s.scalars(select(AgendaQuestion).where(AgendaQuestion.meeting_id == meeting_id)
                       .order_by(AgendaQuestion.number)):
        votes, counts = {}, {}
        for key in ANSWER_KEYS:
            votes[key], counts[key] = _fraction(sums, q.id, key)
        questions.append(QuestionResult(q.id, q.number, q.text, q.majority, votes, counts,
                                        is_adopted(q.majority, votes["for"], participants, all_votes, quorum),
                                        participants, all_votes))
    days: dict[dt.date, Fraction] = defaultdict(Fraction)
    for (q, a, den), (units, _n) in sums.items():
        if q == 0 and a.startswith(DAY):
            days[dt.date.fromisoformat(a[len(DAY):])] += Fraction(units, den * AREA_SCALE)
    running, by_day = Fraction(0), []
    for day in sorted(days):
        running += days[day]
        by_day.append((day, running))
    return Tally(meeting_id, registry_area, passport_area, all_votes, participants, records, online,
                 online_records, questions, by_day)


def live_tally(session_factory: sessionmaker[Session], *, meeting_id: int) -> Tally:
    """The count from the running aggregate: what «Активность» shows and refreshes."""
    with session_factory() as s:
        return build_tally(s, meeting_id, aggregate_sums(s, meeting_id))


def recount(session_factory: sessionmaker[Session], *, meeting_id: int) -> Tally:
    """The full exact recount from the decisions themselves (the protocol uses this one)."""
    with session_factory() as s:
        return build_tally(s, meeting_id, full_sums(s, meeting_id))


# ---------- figures as people read them ----------

def votes2(value: Fraction) -> Decimal:
    """Votes rounded to the hundredth, half up, as printed in the protocol and on the page (the one
    rounding, services/figures.py)."""
    return figures.round2(value)


def percent2(value: Fraction) -> Decimal:
    return figures.percent2(value)


def tally_json(t: Tally) -> dict:
    """`manage.py tally --json`."""
    return {
        "all_votes": float(votes2(t.all_votes)),
        "participants_votes": float(votes2(t.participants)),
        "quorum": t.quorum,
        "questions": [{"number": q.number, "majority": q.majority, "for": float(votes2(q.votes["for"])),
                       "against": float(votes2(q.votes["against"])), "abstain": float(votes2(q.votes["abstain"])),
                       "invalid": float(votes2(q.votes["invalid"])), "adopted": q.adopted} for q in t.questions],
    }


def set_passport_area(session_factory: sessionmaker[Session], *, meeting_id: int, area: Decimal | None,
                      secret_key: str | None = None) -> None:
    """Общая площадь помещений по техническому паспорту дома (None: count the registry's areas)."""
    from services.errors import ValidationError

    if area is not None and area <= 0:
        raise ValidationError("Площадь по техническому паспорту должна быть больше нуля.")
    with session_factory.begin() as s:
        from services.closing import ensure_open

        ensure_open(s, meeting_id)
        meeting = s.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        if area is not None:
            registry = Decimal(int(s.scalar(select(func.coalesce(func.sum(type_coerce(Premise.area, BigInteger)), 0))
                                            .where(Premise.meeting_id == meeting_id)))) / AREA_SCALE
            if area < registry:
                # DOMAIN.md rule 8: all votes are at least the registry's premises; a smaller base would
                # let a meeting without quorum pass
                from services.owner_fields import format_area

                raise ValidationError(
                    f"Площадь по техническому паспорту ({format_area(area)}) меньше суммы площадей помещений "
                    f"в реестре ({format_area(registry)}). Проверьте площадь по паспорту или площади помещений "
                    "в реестре; площадь не сохранена.")
        s.get(Building, meeting.building_id).passport_area = area
        s.flush()
        from services.seals import reseal_building

        reseal_building(s, meeting.building_id, secret_key=secret_key)


def aggregate_differs(s: Session, meeting_id: int) -> str:
    """How the running aggregate differs from the full recount, in words ("" when equal). Reads only:
    the seal check reports it, an administrator decides on `rebuild_running_totals`."""
    kept = aggregate_sums(s, meeting_id)
    full = {k: v for k, v in full_sums(s, meeting_id).items() if v[0] or v[1]}
    if kept == full:
        return ""
    rows = sum(1 for k in set(kept) | set(full) if kept.get(k) != full.get(k))
    (kept_votes, kept_n), (full_votes, full_n) = _fraction(kept, 0, PARTICIPANTS), _fraction(full, 0, PARTICIPANTS)
    return (f"строк итогов с расхождением: {rows}; приняли участие по итогам {figures.format_votes(kept_votes)} "
            f"({kept_n} записей), по пересчёту {figures.format_votes(full_votes)} ({full_n} записей)")


def rebuild_running_totals(session_factory: sessionmaker[Session], *, meeting_id: int, user: str,
                           secret_key: str | None = None) -> bool:
    """Пересчитать текущие итоги: the administrator's action, journaled. Replaces the running
    aggregate with the full recount from the decisions as they are — only after the seal check's
    findings are understood, since a recount of tampered rows takes the tampering in. Returns True
    when the totals differed."""
    from services.audit import record

    with session_factory.begin() as s:
        if s.get(Meeting, meeting_id) is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        differed = bool(aggregate_differs(s, meeting_id))
        rebuild_aggregate(s, meeting_id)
        record(s, actor=user, action="totals_rebuilt", meeting_id=meeting_id, differed=differed,
               secret_key=secret_key)
    return differed
