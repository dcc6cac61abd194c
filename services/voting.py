"""Голосование: the owner's entry with the personal code, decisions (online, code-signed, paper),
their seal chain, and the checks the law asks for (ЖК РФ ст. 47 ч. 2, ст. 48 ч. 5.1 and ч. 6).

Every decision's canonical content is sealed with HMAC-SHA256 under the instance secret key,
linked to the previous seal of the same meeting; the meeting keeps the chain's head and length.
Changing an answer, a date or an owner's data in the database, or removing a decision, breaks
the chain at that point, and `verify_decisions` names it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from services import owner_fields as f
from services.codes import hash_code, normalize_code
from services.holdings import member_ids, slot_of
from services.representatives import Representative, of_decision
from services.closing import ensure_open
from services.errors import DomainError, NotFound, ValidationError
from services.figures import count_of, format_area, format_local, format_votes, record_votes
from services.throttle import Bucket, Policy, bucket_key, prune, release, reserve
from services.models import (
    AccessCode,
    AgendaQuestion,
    Decision,
    DecisionAnswer,
    Meeting,
    OwnerRecord,
    Premise,
    utcnow,
)

log = logging.getLogger("kvorum.voting")

ANSWERS = {"for": "За", "against": "Против", "abstain": "Воздержался"}
INVALID = "invalid"
ANSWER_LABELS = {**ANSWERS, INVALID: "Недействительно"}
KINDS = {"online": "заполнено онлайн", "electronic": "подписано кодом", "paper": "письменное решение",
         "annulment": "аннулирование"}
STATUSES = {"counted": "учитывается", "online": "заполнено онлайн, решение не сдано",
            "late": "получено после окончания приёма — не учитывается",
            "conflict": "у собственника уже есть учтённое решение — не учитывается",
            "joint_same": "совместный собственник: совпадает с учтённым решением — учтено один раз",
            "joint_conflict": "совместный собственник: ответы расходятся с учтённым решением — выберите, какое учитывать",
            "superseded": "совместный собственник: учитывается другое решение (выбор аналитика)",
            "corrected": "исправлено — заменено исправленным решением, не учитывается",
            "annulled": "аннулировано — не учитывается",
            "annulment": "запись об аннулировании решения"}
# A paper decision's mark on each question, chosen explicitly by the analyst (never a default):
# a question with no mark or with several is invalid for that question only (ЖК РФ ст. 48 ч. 6).
MARKS = {**ANSWERS, "none": "Нет отметки", "several": "Несколько отметок"}
INVALID_MARKS = {"none": "нет отметки", "several": "несколько отметок"}
REPLACED = ("corrected", "annulled")  # a decision a later sealed record replaced
REASON_MIN = 10  # characters of the reason for a correction or an annulment

WRONG_CODE = "Код не подошёл. Проверьте код из уведомления и попробуйте ещё раз."
LOCKED_CODE = "Слишком много неверных попыток. Повторите через {seconds} с."
# How guessing codes is limited, and why there is no lockout shared by everybody.
# A code has 60 bits (services/codes.py): with N active codes, G guesses hit one with a chance of
# at most G·N/2^60. Each guesser is bounded by buckets of its own, counted before the check:
#  - a browser session: 5 free, then 1 s doubling to 5 min;
#  - a client address (services/clientaddr.py; a household or a carrier's NAT may share one):
#    10 free, then the same waits — opening new sessions does not reset it; ≈ 12 an hour after that.
# Even 10,000 addresses guessing for a 30-day voting period get ~10^8 tries: with 10^5 active
# codes the chance of a hit stays below 10^-5. A lockout of the whole page would add nothing to
# that and would let one visitor close voting for every owner; so the page-wide bucket (wrong codes
# checked per minute on this database) never refuses: past its soft cap every check is slowed by
# a pause and a warning is logged for the administrator. A locked address or session never
# touches another's bucket, and a right code takes back only its own attempt: an owner's own code
# does not wipe the failures of the address or session that entered it.
FREE_FAILURES = 5  # per browser session
ADDRESS_FREE_FAILURES = 10  # per client address
MAX_DELAY = dt.timedelta(minutes=5)
SESSION_POLICY = Policy(free=FREE_FAILURES, first_wait=dt.timedelta(seconds=1), max_wait=MAX_DELAY)
ADDRESS_POLICY = Policy(free=ADDRESS_FREE_FAILURES, first_wait=dt.timedelta(seconds=1), max_wait=MAX_DELAY)
PAGE_RATE_PER_MINUTE = 600  # wrong codes checked per minute, all clients together, before checks slow down
PAGE_POLICY = Policy(free=PAGE_RATE_PER_MINUTE, max_wait=dt.timedelta(0), forget_after=dt.timedelta(minutes=2),
                     locks=False)
PAGE_PAUSE_SECONDS = 1.0
SHORT_WAIT_SECONDS, SHORT_WAIT_RETRIES = 2, 4  # a lock this short may be others' checks in flight
PRUNE_CHANCE = 0.01  # one code entry in a hundred drops buckets quiet for a day


class CodeRefused(DomainError):
    """A wrong code, or too many attempts; the message never says which part was wrong."""


class AlreadyDecided(DomainError):
    def __init__(self, message: str, decision_id: int):
        super().__init__(message)
        self.decision_id = decision_id


# ---------- entering with the code ----------

@dataclass(frozen=True)
class VoterAccess:
    owner_id: int
    meeting_id: int
    code_hash: str  # the code this access was opened with: replacing it ends the access (code_in_force)


def attempt_delay(failures: int) -> dt.timedelta:
    """After 5 free failures of a session every further one doubles the wait: 1 s, 2 s, 4 s … up to 5 minutes."""
    return SESSION_POLICY.wait(failures)


def _buckets(secret_key: str, client_keys: list[str], now: dt.datetime) -> list[Bucket]:
    # «ip:…» keys are client addresses, shared by a household: a little more room than a session.
    buckets = [Bucket(bucket_key(secret_key, "code", k), ADDRESS_POLICY if k.startswith("ip:") else SESSION_POLICY)
               for k in dict.fromkeys(client_keys) if k]
    minute = now.replace(second=0, microsecond=0).isoformat()
    return buckets + [Bucket(bucket_key(secret_key, "code", "page", minute), PAGE_POLICY)]


def enter_code(session_factory: sessionmaker[Session], *, secret_key: str, code: str, client_keys: list[str],
               now: dt.datetime | None = None, pause: Callable[[float], None] = time.sleep) -> VoterAccess:
    """Open the owner record the code belongs to, or raise CodeRefused with one neutral message.

    `client_keys` are the caller's identities to throttle by: «session:…» (the browser session) and
    «ip:…» (the client address from services/clientaddr.py). The attempt is counted in each of
    their buckets before the code is checked (services/throttle.py), so parallel tries cannot
    outrun the count; `pause` is how a check is slowed when the whole page is guessed at.
    """
    clock = (lambda: now) if now else utcnow
    now = clock()
    if random.random() < PRUNE_CHANCE:
        prune(session_factory, now=now, older_than=SESSION_POLICY.forget_after)
    buckets = _buckets(secret_key, client_keys, now)
    attempt = reserve(session_factory, buckets, now=now)
    # Owners sharing an address who enter their codes at the same moment: a check in flight holds
    # the lock it would earn by failing, and gives it back when the code was right — so a short
    # wait is waited out here rather than shown. (A fixed `now` is one moment: nothing to wait for.)
    for _retry in range(SHORT_WAIT_RETRIES if clock is utcnow else 0):
        if attempt.allowed or attempt.wait_seconds > SHORT_WAIT_SECONDS:
            break
        pause(SHORT_WAIT_SECONDS / 2)
        now = clock()
        attempt = reserve(session_factory, buckets, now=now)
    if not attempt.allowed:
        raise CodeRefused(LOCKED_CODE.format(seconds=attempt.wait_seconds))
    if attempt.over_rate:
        if attempt.failures[buckets[-1].key] == PAGE_RATE_PER_MINUTE + 1:  # once a minute, not per try
            log.warning("more than %s wrong access codes a minute on the voting page: checks slowed",
                        PAGE_RATE_PER_MINUTE)
        pause(PAGE_PAUSE_SECONDS)
    raw = normalize_code(code)
    found = None
    if raw is not None:
        with session_factory() as s:
            found = s.execute(select(AccessCode.owner_id, AccessCode.meeting_id, AccessCode.code_hash).where(
                AccessCode.code_hash == hash_code(secret_key, raw))).first()
    if found is None:
        client = [attempt.failures[b.key] for b in buckets if b.policy.locks]
        log.warning("wrong access code (failures in a row from this client: %s)", max(client, default=0))
        raise CodeRefused(WRONG_CODE)
    owner_id, meeting_id, code_hash = found
    with session_factory.begin() as s:
        s.execute(update(AccessCode).where(AccessCode.owner_id == owner_id, AccessCode.first_used_at.is_(None))
                  .values(first_used_at=now))
        s.execute(update(AccessCode).where(AccessCode.owner_id == owner_id).values(last_used_at=now))
        release(s, attempt)  # only this attempt: the failures before it stay with the client
    return VoterAccess(owner_id, meeting_id, code_hash)


REPLACED_CODE = "Ваш код доступа заменён новым. Войдите с новым кодом из последнего уведомления."


def code_in_force(s: Session, *, owner_id: int, code_hash: str) -> bool:
    """Whether the code an owner's session was opened with is still that owner's code: a code
    replaced (a new notice, a code reissued) or withdrawn ends every session it opened (issue 14)."""
    return s.scalar(select(AccessCode.id).where(AccessCode.owner_id == owner_id,
                                                AccessCode.code_hash == code_hash)) is not None


def check_access(session_factory: sessionmaker[Session], *, owner_id: int, code_hash: str | None) -> None:
    """CodeRefused(REPLACED_CODE) unless the code the owner's page was opened with is still in
    force; the page calls it on every run."""
    with session_factory() as s:
        if code_hash is None or not code_in_force(s, owner_id=owner_id, code_hash=code_hash):
            raise CodeRefused(REPLACED_CODE)


# ---------- what the owner sees ----------

@dataclass
class QuestionItem:
    id: int
    number: int
    text: str
    materials: str
    majority: str
    proposal: str = ""  # «ПРЕДЛОЖЕНО»: the wording the owner votes on


@dataclass
class DecisionView:
    id: int
    number: str
    kind: str
    status: str
    submitted_at: dt.datetime
    received_on: dt.date
    seal: str
    answers: dict[int, str]  # question id -> for|against|abstain|invalid

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.seal)


@dataclass
class VoterPage:
    meeting_id: int
    owner_id: int
    address: str
    initiator: str
    form: str
    start_date: dt.date
    end_date: dt.date
    decisions_place: str
    materials_place: str
    electronic_counts: bool
    name: str
    premise: str
    area: str
    share: str
    votes: str
    doc_number: str
    doc_date: str
    snils: str
    is_legal_entity: bool
    questions: list[QuestionItem]
    online: DecisionView | None = None
    paper: list[DecisionView] = field(default_factory=list)

    def window(self, today: dt.date) -> str:
        """'open', 'before' or 'after'."""
        if today < self.start_date:
            return "before"
        if today > self.end_date:
            return "after"
        return "open"


def fingerprint(seal: str) -> str:
    return "-".join(seal[i:i + 4].upper() for i in range(0, 16, 4))


def decision_number(meeting_id: int, seq: int) -> str:
    return f"{meeting_id}-{seq:05d}"


def _decision_view(d: Decision) -> DecisionView:
    return DecisionView(d.id, decision_number(d.meeting_id, d.seq), d.kind, d.status, d.submitted_at, d.received_on,
                        d.seal, {a.question_id: a.answer for a in d.answers})


def voter_page(session_factory: sessionmaker[Session], *, owner_id: int) -> VoterPage:
    with session_factory() as s:
        owner = s.get(OwnerRecord, owner_id, options=[selectinload(OwnerRecord.premise)])
        if owner is None:
            raise NotFound("Собственник не найден: возможно, реестр собрания изменился. Обратитесь к инициатору.")
        m = s.get(Meeting, owner.meeting_id, options=[selectinload(Meeting.questions), selectinload(Meeting.building)])
        area = owner.premise.area
        decisions = s.scalars(select(Decision).where(Decision.owner_id == owner_id)
                              .options(selectinload(Decision.answers)).order_by(Decision.id)).all()
        online = next((_decision_view(d) for d in decisions if d.kind in ("online", "electronic")), None)
        return VoterPage(
            meeting_id=m.id, owner_id=owner.id, address=m.building.address, initiator=m.initiator, form=m.form,
            start_date=m.start_date, end_date=m.end_date, decisions_place=m.decisions_place,
            materials_place=m.materials_place, electronic_counts=m.electronic_decisions_count,
            name=owner.name, premise=owner.premise.number, area=format_area(area, unit=False),
            share=f.format_share(owner.share), votes=format_votes(record_votes(area, owner.share)),
            doc_number=owner.doc_number,
            doc_date=f.format_date(owner.doc_date), snils=f.valid_snils(owner.snils),
            is_legal_entity=owner.is_legal_entity,
            questions=[QuestionItem(q.id, q.number, q.text, q.materials, q.majority, q.proposal)
                       for q in m.questions],
            online=online, paper=[_decision_view(d) for d in decisions if d.kind == "paper"],
        )


# ---------- storing a decision (one transaction, sealed, chained) ----------

def _canonical(*, meeting_id: int, owner: OwnerRecord, premise: Premise, kind: str, received_on: dt.date,
               submitted_at: dt.datetime, seq: int, answers: dict[int, str], numbers: dict[int, int],
               representative: Representative | None = None, marks: dict[int, str] | None = None,
               replaces: dict | None = None, reason: str = "", scans: list[dict] | None = None) -> str:
    votes = Fraction(premise.area) * Fraction(owner.share_num, owner.share_den)
    content = {
        "meeting": meeting_id, "kind": kind, "seq": seq,
        "owner": {"id": owner.id, "name": owner.name, "legal_entity": owner.is_legal_entity, "snils": owner.snils},
        "premise": {"number": premise.number, "area": f"{premise.area:.4f}"},
        "share": f"{owner.share_num}/{owner.share_den}", "votes": f"{votes.numerator}/{votes.denominator}",
        "document": {"number": owner.doc_number, "date": owner.doc_date.isoformat() if owner.doc_date else ""},
        "answers": [_sealed_answer(numbers[qid], qid, answers[qid], (marks or {}).get(qid))
                    for qid in sorted(answers, key=lambda q: numbers[q])],
        "received_on": received_on.isoformat(), "submitted_at": submitted_at.replace(microsecond=0).isoformat(),
    }
    if representative is not None:  # only then: the seals of decisions signed in person stay as they were
        content["representative"] = representative.sealed()
    if replaces is not None:  # a correction or an annulment: what it replaces, and why
        content["replaces"], content["reason"] = replaces, reason
    if scans:  # registered from scanned pages: their SHA-256, so the images are bound to the decision
        content["scans"] = scans
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _sealed_answer(number, question_id: int, answer: str, mark: str | None) -> dict:
    # why an answer is invalid only when said: the seals made before it was kept stay as they were
    item = {"question": number, "question_id": question_id, "answer": answer}
    if mark:
        item["mark"] = mark
    return item


def _replaced_ref(d: Decision | None) -> dict:
    """What a correction or an annulment seals of the decision it replaces."""
    if d is None:
        return {"decision": None, "seal": ""}
    return {"decision": decision_number(d.meeting_id, d.seq), "seal": d.seal}


def compute_seal(secret_key: str, prev_seal: str, canonical: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), b"decision:" + prev_seal.encode("ascii") + b"\n" +
                    canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def state_json(*, status: str, counted_slot: int | None, online_slot: int | None,
               superseded_by: int | None = None) -> str:
    """A decision's mutable state as sealed: what the count reads besides the sealed content, and
    the record that replaced it (only when one did: earlier state seals stay valid)."""
    state = {"status": status, "counted_slot": counted_slot, "online_slot": online_slot}
    if superseded_by is not None:
        state["superseded_by"] = superseded_by
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def compute_state_seal(secret_key: str, seal: str, state: str) -> str:
    """Печать состояния, bound to the decision's own seal (it fits no other decision)."""
    return hmac.new(secret_key.encode("utf-8"), b"decision-state:" + seal.encode("ascii") + b"\n" +
                    state.encode("utf-8"), hashlib.sha256).hexdigest()


def reseal_state(d: Decision, secret_key: str) -> None:
    """After a legitimate change of status or slots (in the same transaction)."""
    d.state = state_json(status=d.status, counted_slot=d.counted_slot, online_slot=d.online_slot,
                         superseded_by=d.superseded_by_id)
    d.state_seal = compute_state_seal(secret_key, d.seal, d.state)


def seal_state_of_unsealed(s: Session, secret_key: str) -> int:
    """Decisions stored before the state seal (migration 0007): sealed as they are. Returns how many."""
    n = 0
    for d in s.scalars(select(Decision).where(Decision.state_seal.is_(None))):
        reseal_state(d, secret_key)
        n += 1
    s.flush()
    return n


@dataclass
class StoredDecision:
    id: int
    number: str
    status: str
    seal: str
    submitted_at: dt.datetime
    differs: list[int] = field(default_factory=list)  # question numbers where paper ≠ online
    invalid: list[tuple[int, str | None]] = field(default_factory=list)  # (question number, mark) invalid

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.seal)


def append_decision(s: Session, *, secret_key: str, meeting_id: int, owner_id: int, kind: str, status: str,
                    online_slot: int | None, counted_slot: int | None, received_on: dt.date,
                    answers: dict[int, str], now: dt.datetime | None, user: str, source: str = "",
                    numbers: dict[int, int] | None = None, tally: bool = True,
                    representative: Representative | None = None, marks: dict[int, str] | None = None,
                    replaces: Decision | None = None, reason: str = "",
                    scans: list[dict] | None = None) -> StoredDecision:
    """Seal and add one decision in the caller's transaction (the chain's next link).

    `numbers` (question id -> number) saves the agenda query for a caller that has read it;
    `tally=False` leaves the running count to the caller, which must then rebuild it in the same
    transaction (a bulk import does, once). An owner already loaded in the session is not re-read.
    `marks`: why invalid answers are invalid (question id -> none|several); `replaces`: the decision
    this record corrects or annuls, sealed with the analyst's `reason`; `scans`: the scanned pages
    it is registered from ({"sheet", "sha256"}), sealed with it.
    """
    now = now or utcnow()
    # Core statements on the session's connection: the ORM's per-statement bookkeeping cost more
    # than the statements themselves, and nothing here needs the identity map.
    conn = s.connection()
    meetings, decisions = Meeting.__table__, Decision.__table__
    # The first statement takes the meeting's row lock (PostgreSQL) or the write lock (SQLite):
    # chain appends of one meeting are serialised, and a SQLite snapshot is never stale.
    seq, prev, closed = conn.execute(
        update(meetings).where(meetings.c.id == meeting_id).values(seal_count=meetings.c.seal_count + 1)
        .returning(meetings.c.seal_count, meetings.c.seal_head, meetings.c.count_closed_at)
    ).one()
    if closed is not None:
        ensure_open(s, meeting_id)  # a closed count locks the decisions: raises (the update rolls back)
    owner = s.get(OwnerRecord, owner_id, options=[joinedload(OwnerRecord.premise)])
    premise = owner.premise
    if numbers is None:
        numbers = question_numbers(s, meeting_id)
    canonical = _canonical(meeting_id=meeting_id, owner=owner, premise=premise, kind=kind, received_on=received_on,
                           submitted_at=now, seq=seq, answers=answers, numbers=numbers, representative=representative,
                           marks=marks, replaces=_replaced_ref(replaces) if replaces is not None else None,
                           reason=reason, scans=scans)
    seal = compute_seal(secret_key, prev, canonical)
    state = state_json(status=status, counted_slot=counted_slot, online_slot=online_slot)
    row = dict(meeting_id=meeting_id, owner_id=owner_id, kind=kind, status=status, online_slot=online_slot,
               counted_slot=counted_slot, submitted_at=now.replace(microsecond=0), received_on=received_on,
               seq=seq, canonical=canonical, prev_seal=prev, seal=seal, created_by=user, source=source,
               state=state, state_seal=compute_state_seal(secret_key, seal, state),
               **(representative.columns() if representative is not None else {}),
               **({"replaces_id": replaces.id, "change_reason": reason} if replaces is not None else {}))
    decision_id = conn.execute(insert(decisions).returning(decisions.c.id), row).scalar_one()
    if answers:
        marks = marks or {}
        conn.execute(insert(DecisionAnswer.__table__),
                     [{"decision_id": decision_id, "question_id": q, "answer": a, "mark": marks.get(q)}
                      for q, a in answers.items()])
    conn.execute(update(meetings).where(meetings.c.id == meeting_id).values(seal_head=seal))
    if seq == 1:
        # voting starts: a registry written without the key (never by the app's runtime) is sealed now
        from services.seals import seal_unsealed_registry

        seal_unsealed_registry(s, secret_key, meeting_id)
    if tally:
        from services.tally import on_decision_added

        # a transient copy of the row just inserted: what the running count needs to know of it
        on_decision_added(s, decision=Decision(id=decision_id, **row), owner=owner, premise=premise, answers=answers)
    return StoredDecision(decision_id, decision_number(meeting_id, seq), status, seal, row["submitted_at"])


def question_numbers(s: Session, meeting_id: int) -> dict[int, int]:
    """The meeting's agenda: question id -> number."""
    return dict(s.execute(select(AgendaQuestion.id, AgendaQuestion.number)
                          .where(AgendaQuestion.meeting_id == meeting_id)).all())


def _check_answers(numbers: dict[int, int], answers: dict, *, allow_invalid: bool) -> dict[int, str]:
    ids = set(numbers)
    try:
        given = {int(k): str(v) for k, v in answers.items()}
    except (TypeError, ValueError):
        raise ValidationError("Ответы не приняты: неверный формат.") from None
    if set(given) - ids:
        # a question of another meeting, or a forged id: refuse the whole request
        raise ValidationError("Ответы не приняты: вопрос не относится к этому собранию.")
    missing = ids - set(given)
    if missing and not allow_invalid:
        raise ValidationError("Ответьте на каждый вопрос повестки дня.")
    allowed = set(ANSWERS) | ({INVALID} if allow_invalid else set())
    if any(v not in allowed for v in given.values()):
        raise ValidationError("Ответы не приняты: допустимы только «За», «Против» или «Воздержался».")
    return {**{q: INVALID for q in missing}, **given}


def _numbers_ru(numbers) -> str:
    numbers = sorted(numbers)
    return ("вопросу " if len(numbers) == 1 else "вопросам ") + ", ".join(map(str, numbers))


def check_paper_marks(numbers: dict[int, int], marks: dict) -> tuple[dict[int, str], dict[int, str]]:
    """A paper decision's marks as the analyst chose them, question by question: «for», «against»,
    «abstain», «none» (no mark) or «several» (more than one) — «invalid» is taken for an invalid
    answer whose reason is not said. Returns (answers as counted, why the invalid ones are).
    A question without a choice is refused, naming its number: an unmarked question is chosen as
    «нет отметки», never assumed."""
    ids = set(numbers)
    try:
        given = {int(k): (None if v is None else str(v)) for k, v in marks.items()}
    except (TypeError, ValueError):
        raise ValidationError("Ответы не приняты: неверный формат.") from None
    if set(given) - ids:
        raise ValidationError("Ответы не приняты: вопрос не относится к этому собранию.")
    missing = [numbers[q] for q in ids if given.get(q) is None]
    if missing:
        raise ValidationError(f"Не выбрана отметка по {_numbers_ru(missing)}. Выберите для каждого вопроса «За», "
                              "«Против», «Воздержался», «Нет отметки» или «Несколько отметок» — как в бланке.")
    if any(v not in MARKS and v != INVALID for v in given.values()):
        raise ValidationError("Ответы не приняты: допустимы «За», «Против», «Воздержался», «Нет отметки» или "
                              "«Несколько отметок».")
    answers = {q: (INVALID if v in INVALID_MARKS else v) for q, v in given.items()}
    why = {q: v for q, v in given.items() if v in INVALID_MARKS}
    return answers, why


# Keyboard entry of a paper decision: one key per question, in the agenda's order. Digits work in
# any keyboard layout; the letters are the Russian words' first ones.
TYPED_MARKS = {"1": "for", "з": "for", "2": "against", "п": "against", "3": "abstain", "в": "abstain",
               "0": "none", "н": "none", "-": "none", "9": "several", "м": "several", "*": "several"}
TYPED_LEGEND = ("1 или з — За, 2 или п — Против, 3 или в — Воздержался, 0 или н — Нет отметки, "
                "9 или м — Несколько отметок")


def combine_marks(numbers: list[tuple[int, int]], typed: str, chosen: dict[int, str | None], *,
                  typed_wins: bool = False) -> dict[int, str | None]:
    """The marks of a paper decision from the keyboard line (`typed`: one key per question of
    `numbers` — (question id, number) in the agenda's order; spaces ignored) and the buttons
    (`chosen`: question id -> mark or None). A line gives every question; a button chosen as well
    must agree with it, unless `typed_wins` (a correction, whose buttons start from the old marks).
    Questions left without either stay None (refused when saved)."""
    keys = [c for c in (typed or "").lower() if not c.isspace()]
    if not keys:
        return {q: chosen.get(q) for q, _n in numbers}
    bad = [f"«{c}» (знак {i})" for i, c in enumerate(keys, start=1) if c not in TYPED_MARKS]
    if bad:
        raise ValidationError(f"Строка отметок: не распознано {', '.join(bad)}. Допустимо: {TYPED_LEGEND}.")
    if len(keys) != len(numbers):
        raise ValidationError(f"Строка отметок: {count_of(len(keys), 'знак', 'знака', 'знаков')}, а "
                              f"вопросов повестки — {len(numbers)}. Введите по одному знаку на каждый вопрос.")
    marks = {q: TYPED_MARKS[c] for (q, _n), c in zip(numbers, keys)}
    differ = [] if typed_wins else [n for q, n in numbers if chosen.get(q) is not None and chosen[q] != marks[q]]
    if differ:
        raise ValidationError(f"Строка отметок и выбранные отметки расходятся по {_numbers_ru(differ)}: "
                              "оставьте что-то одно или исправьте.")
    return marks


def invalid_questions(numbers: dict[int, int], answers: dict[int, str],
                      marks: dict[int, str] | None) -> list[tuple[int, str | None]]:
    """(question number, none|several|None) of every invalid answer, by number."""
    return sorted((numbers[q], (marks or {}).get(q)) for q, a in answers.items() if a == INVALID)


def describe_invalid(invalid: list[tuple[int, str | None]]) -> list[str]:
    """«вопрос 3: нет отметки — недействителен (ЖК РФ ст. 48 ч. 6)», one per invalid answer."""
    return [f"вопрос {n}: {INVALID_MARKS.get(mark, 'ответ')} — недействителен (ЖК РФ ст. 48 ч. 6)"
            for n, mark in invalid]


def _answers_of(s: Session, decision_id: int) -> dict[int, str]:
    return dict(s.execute(select(DecisionAnswer.question_id, DecisionAnswer.answer)
                          .where(DecisionAnswer.decision_id == decision_id)).all())


def _second_status(s: Session, *, owner_id: int, slot: int, meeting_id: int, answers: dict[int, str]) -> str:
    """The status of a decision whose holding already has a counted one: the same owner's second
    decision is a conflict; a joint co-owner's counts once when it agrees and is a question-by-
    question conflict for the analyst when it does not (ГК РФ ст. 253 ч. 2)."""
    counted = s.execute(select(Decision.id, Decision.owner_id).where(
        Decision.meeting_id == meeting_id, Decision.counted_slot == slot)).first()
    if counted is None or counted.owner_id == owner_id:
        return "conflict"
    return "joint_same" if _answers_of(s, counted.id) == answers else "joint_conflict"


def _store_counted_or_second(session_factory, *, slot: int, owner_id: int, meeting_id: int, answers: dict[int, str],
                             first_status: str, then=None, **kw) -> StoredDecision:
    """Store as `first_status` in the holding's counted slot; when the database says the slot is
    taken (now, or by a concurrent request), store it with the status `_second_status` gives.
    `then(session, stored)` runs in the same transaction (what else the decision's storing changes)."""
    for attempt in (1, 2):
        status = first_status
        try:
            with session_factory.begin() as s:
                if status == "counted" and s.scalar(select(Decision.id).where(
                        Decision.meeting_id == meeting_id, Decision.counted_slot == slot)) is not None:
                    status = _second_status(s, owner_id=owner_id, slot=slot, meeting_id=meeting_id, answers=answers)
                stored = append_decision(s, meeting_id=meeting_id, owner_id=owner_id, status=status,
                                         counted_slot=slot if status == "counted" else None, answers=answers, **kw)
                if then is not None:
                    then(s, stored)
                return stored
        except IntegrityError:
            if attempt == 2 or status != "counted":
                raise
    raise AssertionError("unreachable")


def submit_online_decision(session_factory: sessionmaker[Session], *, secret_key: str, owner_id: int,
                           answers: dict[int, str], now: dt.datetime | None = None,
                           today: dt.date | None = None, code_hash: str | None = None) -> StoredDecision:
    """The owner's answers given with the code: sealed; counted only where the meeting counts
    code-signed decisions (then final: a second submission is refused by the database).
    `code_hash`: the code the owner's page was opened with (VoterAccess); a replaced one is refused
    with CodeRefused. Staff tools entering answers for an owner pass none."""
    now = now or utcnow()
    today = today or dt.date.today()
    with session_factory() as s:
        if code_hash is not None and not code_in_force(s, owner_id=owner_id, code_hash=code_hash):
            raise CodeRefused(REPLACED_CODE)
        found = s.execute(select(Meeting.id, Meeting.start_date, Meeting.end_date, Meeting.electronic_decisions_count)
                          .join(OwnerRecord, OwnerRecord.meeting_id == Meeting.id)
                          .where(OwnerRecord.id == owner_id)).first()
        if found is None:
            raise NotFound("Собственник не найден.")
        meeting_id, start_date, end_date, electronic = found
        if today < start_date:
            raise ValidationError(f"Голосование ещё не началось: ответы принимаются с {start_date:%d.%m.%Y}.")
        if today > end_date:
            raise ValidationError(f"Голосование окончено {end_date:%d.%m.%Y}: ответы больше не принимаются.")
        numbers = question_numbers(s, meeting_id)
        checked = _check_answers(numbers, answers, allow_invalid=False)
        slot = slot_of(s, s.get(OwnerRecord, owner_id))
    kind = "electronic" if electronic else "online"
    try:
        return _store_counted_or_second(
            session_factory, slot=slot, owner_id=owner_id, meeting_id=meeting_id, answers=checked,
            first_status="counted" if electronic else "online", secret_key=secret_key, kind=kind,
            online_slot=owner_id, received_on=today, now=now, user="owner", numbers=numbers)
    except IntegrityError:
        with session_factory() as s:
            existing = s.scalar(select(Decision.id).where(Decision.meeting_id == meeting_id,
                                                          Decision.online_slot == owner_id))
        raise AlreadyDecided("Ваше решение уже принято; изменить его нельзя.", existing) from None


def register_paper_decision(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int,
                            owner_id: int, received_on: dt.date, answers: dict[int, str], user: str = "",
                            source: str = "", today: dt.date | None = None,
                            representative: Representative | None = None, scans: list[dict] | None = None,
                            then=None) -> StoredDecision:
    """A signed written decision as it came back. `answers`: each question's mark as in
    `check_paper_marks` — every question chosen, «none» or «several» too: a question without a
    mark or with several is invalid for that question only (ст. 48 ч. 6); received after the end date it is kept but not
    counted (ст. 47 ч. 2); a second decision of the same owner is kept as a conflict, one of a
    joint co-owner counts once (see `_second_status`). `representative`: who signed for the owner
    (ст. 48 ч. 2), sealed with the decision; `scans`, the scanned pages it was read from, too
    (`then` as in `_store_counted_or_second`)."""
    today = today or dt.date.today()
    if received_on > today:
        raise ValidationError("Дата получения решения не может быть позже сегодняшней.")
    if representative is not None:
        representative = representative.checked()
    with session_factory() as s:
        owner = s.get(OwnerRecord, owner_id)
        if owner is None or owner.meeting_id != meeting_id:
            raise NotFound("Собственник не найден в реестре этого собрания.")
        meeting = s.get(Meeting, meeting_id)
        numbers = question_numbers(s, meeting_id)
        checked, marks = check_paper_marks(numbers, answers)
        online = s.scalars(select(Decision).where(Decision.meeting_id == meeting_id, Decision.online_slot == owner_id)
                           .options(selectinload(Decision.answers))).first()
        slot = slot_of(s, owner)
    late = received_on > meeting.end_date
    differs = []
    if online is not None:
        given = {a.question_id: a.answer for a in online.answers}
        differs = sorted(numbers[q] for q, a in checked.items() if given.get(q) != a)
    result = _store_counted_or_second(
        session_factory, slot=slot, owner_id=owner_id, meeting_id=meeting_id, answers=checked,
        first_status="late" if late else "counted", secret_key=secret_key, kind="paper", online_slot=None,
        received_on=received_on, now=utcnow(), user=user, source=source, numbers=numbers,
        representative=representative, marks=marks, scans=scans, then=then)
    result.differs = differs
    result.invalid = invalid_questions(numbers, checked, marks)
    return result


def _locked_decision(s: Session, secret_key: str | None, meeting_id: int, decision_id: int,
                     no_key: str) -> tuple[str, Decision]:
    """The instance key and the decision, read after taking the meeting's seal-chain lock (the
    meeting's row on PostgreSQL, the write lock on SQLite): a second click, another analyst's
    correction or a joint choice of the same holding waits here, then sees the state left behind."""
    from services.seals import instance_key

    key = instance_key(s, secret_key)
    if key is None:
        raise DomainError(no_key)
    s.execute(update(Meeting).where(Meeting.id == meeting_id).values(seal_count=Meeting.seal_count))
    decision = s.get(Decision, decision_id, populate_existing=True)
    if decision is None or decision.meeting_id != meeting_id:
        raise NotFound("Решение не найдено.")
    return key, decision


def settle_joint_conflict(session_factory: sessionmaker[Session], *, meeting_id: int, decision_id: int,
                          user: str, secret_key: str | None = None) -> StoredDecision:
    """The analyst picks which of a joint holding's differing decisions counts: that one takes the
    holding's counted place, the others of the holding are kept as «superseded»; the choice is
    journaled and the running count rebuilt. A choice made may be made again differently."""
    from services.audit import record
    from services.tally import rebuild_aggregate

    with session_factory.begin() as s:
        ensure_open(s, meeting_id)
        key, chosen = _locked_decision(s, secret_key, meeting_id, decision_id,
                                       "Нет ключа экземпляра: выбор не сохранён (печати решений нельзя обновить).")
        if chosen.status not in ("counted", "joint_same", "joint_conflict", "superseded"):
            raise ValidationError("Выбрать можно только решение совместного собственника, полученное в срок.")
        owner = s.get(OwnerRecord, chosen.owner_id)
        slot = slot_of(s, owner)
        members = member_ids(s, owner)
        rivals = s.scalars(select(Decision).where(
            Decision.meeting_id == meeting_id, Decision.owner_id.in_(members),
            Decision.status.in_(("counted", "joint_same", "joint_conflict", "superseded")))).all()
        if not any(d.status in ("joint_conflict", "superseded") for d in rivals):
            raise ValidationError("У этого помещения нет расхождения решений совместных собственников.")
        for d in rivals:
            if d.id != chosen.id:
                d.status, d.counted_slot = "superseded", None
        s.flush()  # the holding's counted place is free before the chosen one takes it
        chosen.status, chosen.counted_slot = "counted", slot
        for d in rivals:
            reseal_state(d, key)
        if chosen not in rivals:
            reseal_state(chosen, key)
        s.flush()
        record(s, actor=user, action="joint_conflict_settled", meeting_id=meeting_id, secret_key=key,
               decision=decision_number(meeting_id, chosen.seq),
               set_aside=", ".join(decision_number(meeting_id, d.seq) for d in rivals if d.id != chosen.id))
        rebuild_aggregate(s, meeting_id)
        return StoredDecision(chosen.id, decision_number(meeting_id, chosen.seq), chosen.status, chosen.seal,
                              chosen.submitted_at)


SAVED = {"counted": "учитывается", "late": "получено после окончания приёма — хранится, но не учитывается",
         "conflict": "у собственника уже есть учтённое решение — не учитывается"}


def saved_message(stored: StoredDecision, owner: str, *, verb: str = "сохранено") -> str:
    """What the analyst reads after saving a paper decision: whether it counts, and each invalid
    question with why — a decision with invalid questions still counts for the others."""
    text = SAVED.get(stored.status) or STATUSES[stored.status]
    msg = f"Решение № {stored.number} ({owner}) {verb}: {text}."
    if stored.invalid:
        msg += " Недействительны: " + "; ".join(describe_invalid(stored.invalid)) + "."
        if stored.status in ("counted", "joint_same"):
            msg += " Остальные ответы учитываются, собственник участвует в собрании."
    if stored.differs:
        msg += (" Ответы на вопросы " + ", ".join(map(str, stored.differs)) +
                " отличаются от заполненных онлайн; учитывается письменное решение.")
    return msg


# ---------- correcting or annulling a paper decision ----------

KEEP = object()  # «the representative of the decision corrected», the default of a correction


def _resettle_holding(s: Session, key: str, meeting_id: int, owner: OwnerRecord) -> None:
    """After a decision was corrected or annulled, the holding (an owner alone, or joint co-owners)
    is settled again, so that a valid decision received in time is never left out of the count:

    - its counted place, if free, goes to the earliest remaining decision received in time — a
      co-owner's (agreeing, differing, or set aside by the analyst's choice) or the owner's own
      second decision kept as a «conflict» (say, the analyst keyed one owner's paper under another's
      name; annulling the mistake brings the real owner's decision back into the count);
    - every other decision of the holding is then, against the one that counts, the owner's own
      second decision («conflict») or a co-owner's, «joint_same» or «joint_conflict»; a choice the
      analyst made while its chosen decision still counts («superseded») is kept."""
    members = member_ids(s, owner)
    slot = slot_of(s, owner)
    counted = s.scalars(select(Decision).where(Decision.meeting_id == meeting_id,
                                               Decision.counted_slot == slot)).first()
    kinds = ["paper"]
    if s.scalar(select(Meeting.electronic_decisions_count).where(Meeting.id == meeting_id)):
        kinds.append("electronic")
    waiting = ("joint_same", "joint_conflict") if counted is not None else (
        "joint_same", "joint_conflict", "conflict", "superseded")
    live = s.scalars(select(Decision).where(
        Decision.meeting_id == meeting_id, Decision.owner_id.in_(members), Decision.kind.in_(kinds),
        Decision.status.in_(waiting)).order_by(Decision.seq)).all()
    changed = []
    if counted is None:
        if not live:
            return
        counted, live = live[0], live[1:]
        counted.status, counted.counted_slot = "counted", slot
        s.flush()
        changed.append(counted)
    ref = _answers_of(s, counted.id)
    for d in live:
        if d.owner_id == counted.owner_id:
            status = "conflict"
        else:
            status = "joint_same" if _answers_of(s, d.id) == ref else "joint_conflict"
        if status != d.status:
            d.status = status
            changed.append(d)
    for d in changed:
        reseal_state(d, key)


@dataclass
class Replacement:
    """The outcome of a correction or an annulment: the record replaced and the new one."""
    replaced: str  # the old decision's number
    stored: StoredDecision  # the correction (a paper decision) or the annulment record
    annulled: bool


def _replace_decision(session_factory: sessionmaker[Session], *, secret_key: str | None, meeting_id: int,
                      decision_id: int, reason: str, user: str, marks: dict | None, received_on: dt.date | None,
                      representative, today: dt.date | None) -> Replacement:
    from services.audit import record
    from services.tally import rebuild_aggregate

    annul = marks is None
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN:
        raise ValidationError(f"Укажите причину {'аннулирования' if annul else 'исправления'} — не короче "
                              f"{REASON_MIN} символов: она хранится с решением и в журнале.")
    today = today or dt.date.today()
    if received_on is not None and received_on > today:
        raise ValidationError("Дата получения решения не может быть позже сегодняшней.")
    if representative not in (None, KEEP):
        representative = representative.checked()
    with session_factory.begin() as s:
        ensure_open(s, meeting_id)
        key, old = _locked_decision(s, secret_key, meeting_id, decision_id,
                                    "Нет ключа экземпляра: решение не изменено (печати решений нельзя обновить).")
        number = decision_number(meeting_id, old.seq)
        if old.status in REPLACED:
            by = s.get(Decision, old.superseded_by_id) if old.superseded_by_id else None
            raise ValidationError(f"Решение № {number} уже {'аннулировано' if old.status == 'annulled' else 'исправлено'}"
                                  + (f" (запись № {decision_number(meeting_id, by.seq)})." if by else ".")
                                  + " Изменить можно только действующую запись.")
        if old.kind != "paper":
            raise ValidationError("Исправить или аннулировать можно только письменное решение, внесённое сотрудником.")
        numbers = question_numbers(s, meeting_id)
        owner = s.get(OwnerRecord, old.owner_id)
        if not annul:
            answers, why = check_paper_marks(numbers, marks)
            received = received_on or old.received_on
            if representative is KEEP:
                representative = of_decision(old)
        old.status, old.counted_slot = ("annulled" if annul else "corrected"), None
        s.flush()  # the holding's counted place is free before the correction may take it
        common = dict(secret_key=key, meeting_id=meeting_id, owner_id=old.owner_id, online_slot=None,
                      now=utcnow(), user=user, numbers=numbers, tally=False, replaces=old, reason=reason)
        if annul:
            stored = append_decision(s, kind="annulment", status="annulment", counted_slot=None, received_on=today,
                                     answers={}, source=f"аннулирование решения № {number}", **common)
        else:
            end_date = s.scalar(select(Meeting.end_date).where(Meeting.id == meeting_id))
            slot = slot_of(s, owner)
            status = "late" if received > end_date else "counted"
            if status == "counted" and s.scalar(select(Decision.id).where(
                    Decision.meeting_id == meeting_id, Decision.counted_slot == slot)) is not None:
                status = _second_status(s, owner_id=old.owner_id, slot=slot, meeting_id=meeting_id, answers=answers)
            stored = append_decision(s, kind="paper", status=status, counted_slot=slot if status == "counted" else None,
                                     received_on=received, answers=answers, marks=why,
                                     representative=representative, source=f"исправление решения № {number}",
                                     **common)
            stored.invalid = invalid_questions(numbers, answers, why)
        old.superseded_by_id = stored.id
        reseal_state(old, key)
        s.flush()
        _resettle_holding(s, key, meeting_id, owner)
        s.flush()
        record(s, actor=user, action="decision_annulled" if annul else "decision_corrected", meeting_id=meeting_id,
               secret_key=key, replaced=number, replacement=stored.number, reason=reason)
        rebuild_aggregate(s, meeting_id)
        if not annul:
            stored.status = s.scalar(select(Decision.status).where(Decision.id == stored.id))
    return Replacement(number, stored, annul)


def correct_paper_decision(session_factory: sessionmaker[Session], *, secret_key: str | None, meeting_id: int,
                           decision_id: int, marks: dict, reason: str, user: str,
                           received_on: dt.date | None = None, representative=KEEP,
                           today: dt.date | None = None) -> Replacement:
    """Исправление: a paper decision keyed wrongly is replaced by a new sealed record with the marks
    as on the paper (`check_paper_marks`); the old one stays, «corrected», with a link to the new
    one. The reason (at least REASON_MIN characters) is sealed with the new record and journaled;
    the running count follows. A closed count refuses (services/closing.ensure_open)."""
    return _replace_decision(session_factory, secret_key=secret_key, meeting_id=meeting_id, decision_id=decision_id,
                             reason=reason, user=user, marks=marks, received_on=received_on,
                             representative=representative, today=today)


def annul_decision(session_factory: sessionmaker[Session], *, secret_key: str | None, meeting_id: int,
                   decision_id: int, reason: str, user: str, today: dt.date | None = None) -> Replacement:
    """Аннулирование: a paper decision that should not have been registered (another owner's, a
    duplicate) stops counting; the old one stays, «annulled», and a sealed annulment record with the
    reason takes its place in the chain. Journaled; the count follows; a closed count refuses."""
    return _replace_decision(session_factory, secret_key=secret_key, meeting_id=meeting_id, decision_id=decision_id,
                             reason=reason, user=user, marks=None, received_on=None, representative=None,
                             today=today)


@dataclass
class JointDecision:
    id: int
    number: str
    owner: str
    status: str
    received_on: dt.date
    answers: dict[int, str]  # question number -> for|against|abstain|invalid
    representative: str = ""


@dataclass
class JointConflict:
    """Решения совместных собственников одного помещения, которые расходятся: the analyst picks
    the one that counts (`settle_joint_conflict`); until then the differing questions are invalid
    for the holding."""
    premise: str
    decisions: list[JointDecision]  # the counted one first
    differing: list[int]  # question numbers where the decisions differ


def joint_conflicts(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[JointConflict]:
    """Every joint holding of the meeting with a «joint_conflict» decision, with all its decisions
    received in time and the questions where they differ."""
    from services.holdings import joint_slots
    from services.registry import natural_key

    with session_factory() as s:
        conflicted = s.scalars(select(Decision.owner_id).where(
            Decision.meeting_id == meeting_id, Decision.status == "joint_conflict")).all()
        if not conflicted:
            return []
        slots = joint_slots(s, meeting_id)
        wanted = {slots.get(oid, oid) for oid in conflicted}
        members = {oid for oid, slot in slots.items() if slot in wanted} | set(conflicted)
        rows = s.execute(
            select(Decision, OwnerRecord.name, Premise.number).join(OwnerRecord, Decision.owner_id == OwnerRecord.id)
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(Decision.meeting_id == meeting_id, Decision.owner_id.in_(members),
                   Decision.status.in_(("counted", "joint_same", "joint_conflict")))
            .options(selectinload(Decision.answers))
        ).all()
        numbers = question_numbers(s, meeting_id)
    holdings: dict[int, list] = {}
    for d, name, premise in rows:
        holdings.setdefault(slots.get(d.owner_id, d.owner_id), []).append((d, name, premise))
    result = []
    for items in holdings.values():
        items.sort(key=lambda r: (r[0].status != "counted", r[0].seq))
        decisions = []
        for d, name, _premise in items:
            representative = of_decision(d)
            decisions.append(JointDecision(
                d.id, decision_number(meeting_id, d.seq), name, d.status, d.received_on,
                {numbers[a.question_id]: a.answer for a in d.answers},
                representative.describe() if representative else ""))
        differing = sorted(n for n in numbers.values() if len({x.answers.get(n) for x in decisions}) > 1)
        result.append(JointConflict(items[0][2], decisions, differing))
    result.sort(key=lambda c: natural_key(c.premise))
    return result


def set_electronic_decisions(session_factory: sessionmaker[Session], *, meeting_id: int, enabled: bool,
                             user: str, now: dt.datetime | None = None) -> None:
    """«Решения, подписанные кодом»: switching is recorded with who and when."""
    with session_factory.begin() as s:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        if m.electronic_decisions_count != enabled:
            m.electronic_decisions_count = enabled
            m.electronic_switched_at = now or utcnow()
            m.electronic_switched_by = user


ELECTRONIC_WARNING = (
    "С 01.03.2025 (Федеральный закон от 13.12.2024 № 463-ФЗ) собрание собственников МКД с использованием "
    "информационной системы проводится только в ГИС ЖКХ или региональной системе (ЖК РФ ст. 47.1). Решения, "
    "подписанные персональным кодом в Kvorum, можно учитывать только там, где это допускают правила органа, "
    "проводящего собрание (например, собрание, начатое до 01.03.2025, или товарищество, не связанное ст. 47.1). "
    "Иначе учитываются только подписанные письменные решения."
)


# ---------- verification of the seal chain ----------

@dataclass
class VerifyReport:
    meetings: int
    decisions: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        """The check's outcome in one line (the problems are listed under it), for the page and the CLI."""
        if self.ok:
            return (f"Проверено решений: {self.decisions} (собраний: {self.meetings}). Все печати верны, ничего не "
                    "изменено и не удалено.")
        return f"Найдены изменения в базе данных ({len(self.problems)}):"


def sealed_scans(pages) -> list[dict]:
    """What a decision's seal holds of the scanned pages it was registered from."""
    return [{"sheet": p.sheet, "sha256": p.image_sha256} for p in pages]


def _recompute_canonical(d: Decision, numbers: dict[int, int], by_id: dict[int, Decision] | None = None) -> str:
    """The sealed content rebuilt from the decision's rows as they are now. The owner's and the
    premise's data are the snapshot taken when it was sealed: correcting the registry later does
    not alter a decision, while editing the decision's own rows does show."""
    try:
        content = json.loads(d.canonical)
    except ValueError:
        return ""
    content.update({
        "meeting": d.meeting_id, "kind": d.kind, "seq": d.seq, "received_on": d.received_on.isoformat(),
        "submitted_at": d.submitted_at.replace(microsecond=0).isoformat(),
        "answers": [_sealed_answer(numbers.get(a.question_id), a.question_id, a.answer, a.mark)
                    for a in sorted(d.answers, key=lambda a: numbers.get(a.question_id, 0))],
    })
    if d.replaces_id is not None:
        content["replaces"] = _replaced_ref((by_id or {}).get(d.replaces_id))
        content["reason"] = d.change_reason
    else:
        content.pop("replaces", None)
        content.pop("reason", None)
    scans = sealed_scans(d.scans)
    if scans:
        content["scans"] = scans
    else:
        content.pop("scans", None)
    content["owner"] = {**content.get("owner", {}), "id": d.owner_id}
    representative = of_decision(d)
    if representative is not None:
        content["representative"] = representative.sealed()
    else:
        content.pop("representative", None)
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _content_changes(sealed: str, current: str, numbers: dict[int, int]) -> list[str]:
    """What differs between the sealed content and the rows as they are, in the domain's words."""
    try:
        was, now = json.loads(sealed), json.loads(current)
    except ValueError:
        return ["запечатанное содержание повреждено"]
    changes = []
    if was.get("received_on") != now.get("received_on"):
        changes.append(f"дата получения ({_date_ru(was.get('received_on'))} → {_date_ru(now.get('received_on'))})")
    old = {a["question_id"]: (a["answer"], a.get("mark")) for a in was.get("answers", [])}
    new = {a["question_id"]: (a["answer"], a.get("mark")) for a in now.get("answers", [])}

    def label(a) -> str:
        if not a:
            return "нет ответа"
        answer, mark = a
        return ANSWER_LABELS.get(answer, "нет ответа") + (f": {INVALID_MARKS.get(mark, mark)}" if mark else "")
    for qid in sorted(set(old) | set(new), key=lambda q: numbers.get(q, 0)):
        if old.get(qid) != new.get(qid):
            changes.append(f"ответ на вопрос {numbers.get(qid, '?')} ({label(old.get(qid))} → {label(new.get(qid))})")
    if was.get("owner", {}).get("id") != now.get("owner", {}).get("id"):
        changes.append("собственник, от которого решение")
    for key, what in (("kind", "вид решения"), ("submitted_at", "время подачи"), ("seq", "номер"),
                      ("meeting", "собрание"), ("representative", "представитель"),
                      ("replaces", "исправленное или аннулированное решение"), ("reason", "причина исправления"),
                      ("scans", "сканы бланка, с которых внесено решение")):
        if was.get(key) != now.get(key):
            changes.append(what)
    return changes or ["содержание"]


def _date_ru(iso) -> str:
    try:
        return dt.date.fromisoformat(iso).strftime("%d.%m.%Y")
    except (TypeError, ValueError):
        return str(iso)


def _slot_ru(slot) -> str:
    return "не занято" if slot is None else f"запись собственника № {slot}"


def _state_changes(d: Decision, secret_key: str) -> list[str]:
    """The decision's status and slots against their seal: what changed, or [] when intact."""
    if d.state is None or d.state_seal is None:
        return ["статус и место в подсчёте не запечатаны (печать состояния удалена в базе данных)"]
    if not hmac.compare_digest(compute_state_seal(secret_key, d.seal, d.state), d.state_seal):
        return ["печать статуса не соответствует (статус или место в подсчёте изменены в базе данных)"]
    try:
        sealed = json.loads(d.state)
    except ValueError:
        return ["печать статуса повреждена"]
    changes = []
    if sealed.get("status") != d.status:
        changes.append(f"статус («{STATUSES.get(sealed.get('status'), sealed.get('status'))}» → "
                       f"«{STATUSES.get(d.status, d.status)}»)")
    if sealed.get("counted_slot") != d.counted_slot:
        changes.append(f"место учтённого решения ({_slot_ru(sealed.get('counted_slot'))} → {_slot_ru(d.counted_slot)})")
    if sealed.get("online_slot") != d.online_slot:
        changes.append(f"место онлайн-ответа ({_slot_ru(sealed.get('online_slot'))} → {_slot_ru(d.online_slot)})")
    if sealed.get("superseded_by") != d.superseded_by_id:
        changes.append("ссылка на запись, заменившую решение")
    return changes


def _replacement_problems(d: Decision, by_id: dict[int, Decision], label: str) -> list[str]:
    """A correction and the decision it replaced must point at each other, and the replaced one be
    «corrected» / «annulled»: a replaced decision put back in force with an old state seal, or a
    correction's link moved, shows here even where each row's own seal holds."""
    problems = []
    if d.status in REPLACED:
        after = by_id.get(d.superseded_by_id) if d.superseded_by_id is not None else None
        if after is None or after.replaces_id != d.id:
            problems.append(f"{label}: {STATUSES[d.status].split(' —')[0]}, но записи, которая его заменила, нет "
                            "(удалена или изменена в базе данных).")
    if d.replaces_id is not None:
        before = by_id.get(d.replaces_id)
        if before is None or before.status not in REPLACED or before.superseded_by_id != d.id:
            what = decision_number(d.meeting_id, before.seq) if before is not None else "—"
            problems.append(f"{label}: заменяет решение № {what}, но то решение снова действует или изменено "
                            "в базе данных.")
    return problems


def verify_decisions(session_factory: sessionmaker[Session], *, secret_key: str,
                     meeting_id: int | None = None) -> VerifyReport:
    """Re-check every seal: the content as it is in the database now, the status and slots the
    count reads, the chain's links, the registry the meeting is counted on, and whether the running
    totals equal the full recount. Reads only: a broken seal is reported with what changed; the
    totals are rebuilt only by an administrator (services/tally.py `rebuild_running_totals`)."""
    from services.seals import check_registry_seal
    from services.tally import aggregate_differs

    problems: list[str] = []
    count = 0
    with session_factory() as s:
        stmt = select(Meeting).order_by(Meeting.id)
        if meeting_id is not None:
            stmt = stmt.where(Meeting.id == meeting_id)
        meetings = s.scalars(stmt).all()
        for m in meetings:
            numbers = dict(s.execute(select(AgendaQuestion.id, AgendaQuestion.number)
                                     .where(AgendaQuestion.meeting_id == m.id)).all())
            decisions = s.scalars(select(Decision).where(Decision.meeting_id == m.id)
                                  .options(selectinload(Decision.answers), selectinload(Decision.scans))
                                  .order_by(Decision.seq)).all()
            prev, expected_seq = "", 1
            by_id = {d.id: d for d in decisions}
            for d in decisions:
                count += 1
                label = f"Собрание № {m.id}, решение № {decision_number(m.id, d.seq)}"
                if d.seq != expected_seq:
                    problems.append(f"Собрание № {m.id}: перед решением № {decision_number(m.id, d.seq)} "
                                    f"удалено решений: {d.seq - expected_seq}.")
                if d.prev_seal != prev:
                    problems.append(f"{label}: нарушена цепочка печатей (предыдущее решение изменено или удалено).")
                current = _recompute_canonical(d, numbers, by_id)
                if current != d.canonical:
                    problems.append(f"{label}: в базе данных после подписания изменено: "
                                    f"{'; '.join(_content_changes(d.canonical, current, numbers))}.")
                if not hmac.compare_digest(compute_seal(secret_key, d.prev_seal, d.canonical), d.seal):
                    problems.append(f"{label}: печать не соответствует содержанию.")
                state = _state_changes(d, secret_key)
                if state:
                    problems.append(f"{label}: в базе данных изменено: {'; '.join(state)}.")
                problems.extend(_replacement_problems(d, by_id, label))
                prev, expected_seq = d.seal, d.seq + 1
            if m.seal_count != expected_seq - 1 or m.seal_head != prev:
                missing = m.seal_count - (expected_seq - 1)
                problems.append(f"Собрание № {m.id}: последние решения удалены или изменены (не хватает: {max(missing, 0)}).")
            problems.extend(check_registry_seal(s, secret_key, m.id, has_decisions=bool(decisions or m.seal_count)))
            differs = aggregate_differs(s, m.id)
            if differs:
                problems.append(f"Собрание № {m.id}: текущие итоги («Активность») расходятся с полным пересчётом "
                                f"({differs}). Итоги не изменены: пересчитать их может администратор "
                                "(«Пересчитать текущие итоги», manage.py rebuild-totals) — после того, как "
                                "причина выяснена.")
    return VerifyReport(len(meetings), count, problems)


# ---------- documents: the owner's filled decision, blank ballots ----------

def _ballot_owner(owner: OwnerRecord, premise: Premise, co_owners: list[str] | None = None):
    """The owner's block of a decision form. A joint holding — records of one joint group
    (`co_owners`: all their names), or one record naming several persons — gets a signature line
    for each joint owner."""
    from services.documents import BallotOwner
    from services.registry import format_holding_share

    if co_owners and len(co_owners) > 1:
        signers, joint = co_owners, True
    elif not owner.is_legal_entity and "," in owner.name:
        signers = [n.strip() for n in owner.name.split(",") if n.strip()]
        joint = len(signers) > 1
    else:
        signers, joint = [owner.name], owner.joint_group is not None
    # the СНИЛС of a person and the ОГРН of a legal entity only when they pass their check digits:
    # a wrong one is no identification, and the form leaves its line to fill in (ЖК ст. 48 ч. 5.1)
    return BallotOwner(name=owner.name, snils="" if owner.is_legal_entity else f.valid_snils(owner.snils),
                       premise=premise.number, area=format_area(premise.area, unit=False),
                       share=format_holding_share(owner.share, owner.joint_group),
                       votes=format_votes(record_votes(premise.area, owner.share)),
                       doc_number=owner.doc_number, doc_date=f.format_date(owner.doc_date), signers=signers,
                       joint=joint, legal_entity=owner.is_legal_entity,
                       ogrn=f.valid_ogrn(owner.ogrn) if owner.is_legal_entity else "")


def _ballot_representative(representative: Representative | None):
    """The representative's lines of a decision form, prefilled from a decision he signed."""
    from services.documents import BallotRepresentative

    if representative is None:
        return BallotRepresentative()
    if representative.office:  # a legal entity's head acts by office, without a power of attorney
        in_person = f"{representative.office}, {representative.name}"
    else:
        in_person = f"{representative.name}, по доверенности"
    if not representative.by_power_of_attorney:
        return BallotRepresentative(in_person=in_person)
    return BallotRepresentative(name=representative.name, poa_number=representative.poa_number,
                                poa_date=f.format_date(representative.poa_date),
                                poa_certified_by=representative.poa_certified_by, in_person=in_person)


def _representatives(s: Session, meeting_id: int, owner_ids) -> dict[int, Representative]:
    """Owner id -> the representative of the owner's latest decision in the meeting signed by one."""
    found: dict[int, Representative] = {}
    for d in s.scalars(select(Decision).where(Decision.meeting_id == meeting_id, Decision.owner_id.in_(owner_ids),
                                              Decision.representative_name != "").order_by(Decision.id)):
        found[d.owner_id] = of_decision(d)
    return found


def _co_owner_names(s: Session, owners: list[OwnerRecord]) -> dict[int, list[str]]:
    """Owner id -> the names of the joint holding's records, for owners in a joint group."""
    groups = {(o.premise_id, o.joint_group) for o in owners if o.joint_group is not None}
    if not groups:
        return {}
    names: dict[tuple[int, int], list[str]] = {}
    for premise_id, group, name in s.execute(
            select(OwnerRecord.premise_id, OwnerRecord.joint_group, OwnerRecord.name)
            .where(OwnerRecord.premise_id.in_({g[0] for g in groups}), OwnerRecord.joint_group.is_not(None))
            .order_by(OwnerRecord.id)):
        names.setdefault((premise_id, group), []).append(name)
    return {o.id: names.get((o.premise_id, o.joint_group), []) for o in owners if o.joint_group is not None}


def _agenda(s: Session, meeting_id: int):
    from services.sender import meeting_view

    view = meeting_view(s, meeting_id)
    questions = tuple(QuestionItem(q.id, q.number, q.text, q.materials, q.majority, q.proposal) for q in
                      s.scalars(select(AgendaQuestion).where(AgendaQuestion.meeting_id == meeting_id)
                                .order_by(AgendaQuestion.number)))
    return view, questions


def owner_ballot(s: Session, owner_id: int):
    """(meeting id, the owner's decision form filled with the answers given online)."""
    from services.documents import Ballot

    owner = s.get(OwnerRecord, owner_id)
    if owner is None:
        raise NotFound("Собственник не найден.")
    d = s.scalars(select(Decision).where(Decision.meeting_id == owner.meeting_id, Decision.online_slot == owner_id)
                  .options(selectinload(Decision.answers))).first()
    if d is None:
        raise ValidationError("Сначала ответьте на вопросы повестки дня.")
    representative = of_decision(d) or _representatives(s, owner.meeting_id, [owner.id]).get(owner.id)
    ballot = Ballot(owner=_ballot_owner(owner, s.get(Premise, owner.premise_id),
                                        _co_owner_names(s, [owner]).get(owner.id)),
                    answers={a.question_id: a.answer for a in d.answers}, fingerprint=fingerprint(d.seal),
                    submitted=format_local(d.submitted_at, zone=True),
                    representative=_ballot_representative(representative))
    return owner.meeting_id, ballot


def owner_decision_docx(session_factory: sessionmaker[Session], *, owner_id: int) -> bytes:
    """The owner's written decision filled with the answers given online, to sign and hand in."""
    from services.documents import decisions_docx

    with session_factory() as s:
        meeting_id, ballot = owner_ballot(s, owner_id)
        view, questions = _agenda(s, meeting_id)
    return decisions_docx(meeting=view, questions=questions, ballots=[ballot])


def owner_ids_of(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[int]:
    """Every owner record of the meeting (a ballot for each)."""
    with session_factory() as s:
        if s.get(Meeting, meeting_id) is None:
            raise NotFound("Собрание не найдено.")
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)
                              .order_by(OwnerRecord.id)))


def not_answered_owner_ids(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[int]:
    """Owners with no decision of any kind: the ones to print ballots for."""
    with session_factory() as s:
        decided = select(Decision.owner_id).where(Decision.meeting_id == meeting_id,
                                                  Decision.kind != "annulment", Decision.status != "annulled")
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id,
                                                           OwnerRecord.id.not_in(decided))))


def _ballots(s: Session, meeting_id: int, owner_ids: list[int]):
    from services.documents import Ballot
    from services.registry import natural_key

    rows = s.execute(select(OwnerRecord, Premise).join(Premise, OwnerRecord.premise_id == Premise.id)
                     .where(OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.in_(owner_ids))).all()
    rows.sort(key=lambda r: (natural_key(r[1].number), r[0].name))
    co_owners = _co_owner_names(s, [o for o, _p in rows])
    representatives = _representatives(s, meeting_id, owner_ids)
    return [(o.id, Ballot(owner=_ballot_owner(o, p, co_owners.get(o.id)), answers={},
                          representative=_ballot_representative(representatives.get(o.id)))) for o, p in rows]


def ballots_docx(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int]) -> bytes:
    """Бюллетени: one pre-filled decision form per owner with empty boxes, in one document."""
    from services.documents import decisions_docx

    if not owner_ids:
        raise ValidationError("Нет собственников, для которых нужны бюллетени.")
    with session_factory() as s:
        view, questions = _agenda(s, meeting_id)
        ballots = [b for _i, b in _ballots(s, meeting_id, owner_ids)]
    return decisions_docx(meeting=view, questions=questions, ballots=ballots)


def ballots_zip(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int]) -> bytes:
    """The same ballots as a .zip of one .docx per owner («бюллетень_кв_12_Иванов.docx»)."""
    import io
    import re
    import zipfile

    from services.documents import decisions_docx

    if not owner_ids:
        raise ValidationError("Нет собственников, для которых нужны бюллетени.")
    with session_factory() as s:
        view, questions = _agenda(s, meeting_id)
        ballots = _ballots(s, meeting_id, owner_ids)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, (oid, ballot) in enumerate(ballots, start=1):
            safe = re.sub(r"[^\w.-]+", "_", f"{ballot.owner.premise}_{ballot.owner.name}")[:80]
            zf.writestr(f"{n:04d}_бюллетень_пом_{safe}.docx",
                        decisions_docx(meeting=view, questions=questions, ballots=[ballot]))
    return buf.getvalue()


# ---------- the owner's copy of a code-signed decision ----------

def receipt_message(session_factory: sessionmaker[Session], *, decision_id: int, mail_from: str | None):
    """The copy of a code-signed decision for the owner's e-mail, or None without an address."""
    from email.message import EmailMessage

    from services.notice import MAIL_POLICY, NoticeError, check_email, header_safe, sender_address

    with session_factory() as s:
        d = s.get(Decision, decision_id, options=[selectinload(Decision.answers)])
        owner = s.get(OwnerRecord, d.owner_id)
        meeting = s.get(Meeting, d.meeting_id)
        numbers = {q.id: (q.number, q.text) for q in meeting.questions}
        emails = []
        for e in owner.emails or []:
            try:
                emails.append(check_email(e))
            except NoticeError:
                continue
        if not emails:
            return None
        lines = [f"Решение № {decision_number(d.meeting_id, d.seq)} принято {format_local(d.submitted_at, zone=True)}.",
                 f"Собрание собственников: {meeting.building.address}.", f"Собственник: {owner.name}.",
                 f"Отпечаток печати решения: {fingerprint(d.seal)}.", "", "Ваши ответы:"]
        for a in sorted(d.answers, key=lambda a: numbers[a.question_id][0]):
            number, text = numbers[a.question_id]
            lines.append(f"{number}. {text} — {ANSWER_LABELS[a.answer]}")
        initiator = meeting.initiator
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = header_safe(f"Ваше решение № {decision_number(d.meeting_id, d.seq)} принято", 200)
    msg["From"] = sender_address(mail_from, initiator)
    msg["To"] = ", ".join(emails)
    msg.set_content("\n".join(lines) + "\n", charset="utf-8", cte="quoted-printable")
    return msg


def send_receipt_copy(session_factory: sessionmaker[Session], *, settings, decision_id: int) -> None:
    """Send the copy in the background: a slow mail server must not hold the owner's page."""
    import threading

    from services.mailer import MailError, make_mailer

    message = receipt_message(session_factory, decision_id=decision_id, mail_from=settings.mail_from)
    if message is None:
        return

    def send():
        mailer = make_mailer(settings)
        try:
            mailer.send(message)
        except MailError as exc:
            log.warning("the copy of decision %s was not sent: %s", decision_id, exc.message)
        finally:
            mailer.close()

    threading.Thread(target=send, name="kvorum-receipt", daemon=True).start()


# ---------- what the staff sees ----------

def owner_choices(session_factory: sessionmaker[Session], *, meeting_id: int) -> dict[int, str]:
    """Owner id -> «пом. 12 — Иванов Иван Иванович», in the premises' natural order: what the
    paper entry's owner search offers (one query; no delivery status is needed there)."""
    from services.registry import natural_key

    with session_factory() as s:
        rows = s.execute(select(OwnerRecord.id, Premise.number, OwnerRecord.name)
                         .join(Premise, OwnerRecord.premise_id == Premise.id)
                         .where(OwnerRecord.meeting_id == meeting_id)).all()
    rows.sort(key=lambda r: (natural_key(r.number), r.name, r.id))
    return {r.id: f"пом. {r.number} — {r.name}" for r in rows}


def agenda_questions(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[QuestionItem]:
    """The meeting's agenda questions in order (the paper form's rows)."""
    with session_factory() as s:
        return [QuestionItem(q.id, q.number, q.text, q.materials, q.majority, q.proposal) for q in
                s.scalars(select(AgendaQuestion).where(AgendaQuestion.meeting_id == meeting_id)
                          .order_by(AgendaQuestion.number))]

@dataclass
class VotingSummary:
    owners: int
    entered: int  # «Пошел в приложение с помощью кода: Да»
    online: int  # answered online, decision not (yet) counted
    counted: int  # owner records with a counted decision
    late: int
    conflicts: int


def voting_summary(session_factory: sessionmaker[Session], *, meeting_id: int) -> VotingSummary:
    from sqlalchemy import func

    with session_factory() as s:
        owners = s.scalar(select(func.count()).select_from(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id))
        entered = s.scalar(select(func.count()).select_from(AccessCode).where(
            AccessCode.meeting_id == meeting_id, AccessCode.first_used_at.is_not(None)))
        by_status = dict(s.execute(select(Decision.status, func.count()).where(Decision.meeting_id == meeting_id)
                                   .group_by(Decision.status)).all())
        counted_owners = set(s.scalars(select(Decision.owner_id).where(Decision.meeting_id == meeting_id,
                                                                       Decision.counted_slot.is_not(None))))
        online_owners = set(s.scalars(select(Decision.owner_id).where(Decision.meeting_id == meeting_id,
                                                                      Decision.status == "online")))
    return VotingSummary(owners or 0, entered or 0, len(online_owners - counted_owners), len(counted_owners),
                         by_status.get("late", 0), by_status.get("conflict", 0))


def _history(d: Decision, by_id: dict[int, Decision]) -> str:
    """A decision's corrections in words: who replaced it, when and why; or what it replaces."""
    def act(x: Decision) -> str:
        return f"{format_local(x.submitted_at)}, {x.created_by or '—'}: «{x.change_reason}»"
    after = by_id.get(d.superseded_by_id) if d.superseded_by_id is not None else None
    if d.status == "corrected" and after is not None:
        return f"исправлено решением № {decision_number(d.meeting_id, after.seq)} — {act(after)}"
    if d.status == "annulled" and after is not None:
        return f"аннулировано — {act(after)}"
    before = by_id.get(d.replaces_id) if d.replaces_id is not None else None
    if before is not None:
        verb = "аннулирует" if d.kind == "annulment" else "исправляет"
        return f"{verb} решение № {decision_number(d.meeting_id, before.seq)}"
    return ""


@dataclass
class PaperDecision:
    """A paper decision in force, as the correction form starts from it."""
    id: int
    number: str
    owner_id: int
    received_on: dt.date
    marks: dict[int, str]  # question id -> for|against|abstain|none|several|invalid
    representative: Representative | None


def paper_decisions(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[PaperDecision]:
    """The meeting's paper decisions not yet corrected or annulled, by number: what may be corrected."""
    with session_factory() as s:
        found = s.scalars(select(Decision).where(Decision.meeting_id == meeting_id, Decision.kind == "paper",
                                                 Decision.status.not_in(REPLACED))
                          .options(selectinload(Decision.answers)).order_by(Decision.seq)).all()
        return [PaperDecision(d.id, decision_number(meeting_id, d.seq), d.owner_id, d.received_on,
                              {a.question_id: a.mark or a.answer for a in d.answers}, of_decision(d))
                for d in found]


def decisions_frame(session_factory: sessionmaker[Session], *, meeting_id: int):
    """Every decision of the meeting with its answers; a paper answer that differs from the same
    owner's online answer is listed in «Расходится с онлайн-ответами»."""
    import pandas as pd

    from services.registry import natural_key

    with session_factory() as s:
        questions = s.execute(select(AgendaQuestion.id, AgendaQuestion.number).where(
            AgendaQuestion.meeting_id == meeting_id).order_by(AgendaQuestion.number)).all()
        rows = s.execute(
            select(Decision, OwnerRecord.name, Premise.number).join(OwnerRecord, Decision.owner_id == OwnerRecord.id)
            .join(Premise, OwnerRecord.premise_id == Premise.id).where(Decision.meeting_id == meeting_id)
            .options(selectinload(Decision.answers))
        ).all()
    online = {d.owner_id: {a.question_id: a.answer for a in d.answers} for d, _n, _p in rows if d.online_slot}
    by_id = {d.id: d for d, _n, _p in rows}
    records = []
    for d, name, number in sorted(rows, key=lambda r: (natural_key(r[2]), r[1], r[0].seq)):
        answers = {a.question_id: a.answer for a in d.answers}
        marks = {a.question_id: a.mark for a in d.answers if a.mark}
        differs = ""
        if d.kind == "paper" and d.owner_id in online:
            differs = ", ".join(str(n) for qid, n in questions if online[d.owner_id].get(qid) != answers.get(qid))
        records.append({
            "id": d.id, "Номер помещения": number, "ФИО/Наименование собственника": name,
            "Решение": decision_number(meeting_id, d.seq), "Вид": KINDS[d.kind], "Статус": STATUSES[d.status],
            "История": _history(d, by_id),
            "Дата получения": d.received_on,
            **{f"Вопрос {n}": "" if d.kind == "annulment" else
               MARKS[marks[qid]] if qid in marks else ANSWER_LABELS.get(answers.get(qid, INVALID))
               for qid, n in questions},
            "Расходится с онлайн-ответами": differs,
            "Представитель": representative.describe() if (representative := of_decision(d)) else "",
            "Отпечаток": fingerprint(d.seal),
        })
    columns = ["id", "Номер помещения", "ФИО/Наименование собственника", "Решение", "Вид", "Статус", "История",
               "Дата получения", *[f"Вопрос {n}" for _q, n in questions], "Расходится с онлайн-ответами",
               "Представитель", "Отпечаток"]
    return pd.DataFrame(records, columns=columns)
