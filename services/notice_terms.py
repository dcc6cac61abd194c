"""Change control of a meeting's terms once its notices went out (issue 16, trap 2).

The notice tells the owners the dates, the form (and the in-person part), the place of receiving
decisions and the agenda (ЖК РФ ст. 45 ч. 5). Once any notice is sent those terms are locked: a
change needs a reason, is recorded as the next edition of the terms (the first edition — what the
earlier notices said — is recorded with it), and the notices sent before it stay given on the old
terms. Which edition a delivery carried follows from when it was sent. The 10-day rule of each
delivery was checked on the start date it carried; owners notified only on old terms must be
notified again, and the protocol attaches the notice in force.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from services.errors import ValidationError
from services.models import Delivery, Meeting, NoticeTerms, utcnow

REASON_MIN = 10
LOCKED = "Сообщения о собрании уже направлены"


def terms_of(m: Meeting) -> dict:
    """What a notice of the meeting says, as plain data (the meeting's questions loaded)."""
    return {
        "start": m.start_date.isoformat(), "end": m.end_date.isoformat(), "form": m.form,
        "in_person_at": m.in_person_at.isoformat(timespec="minutes") if m.in_person_at else None,
        "in_person_place": m.in_person_place or "", "decisions_place": m.decisions_place or "",
        "questions": [[q.number, q.text, q.majority, q.proposal or ""] for q in sorted(m.questions,
                                                                                       key=lambda q: q.number)],
    }


def _ru(day: str | None) -> str:
    return dt.date.fromisoformat(day).strftime("%d.%m.%Y") if day else "—"


def changes(old: dict, new: dict) -> list[str]:
    """The differences a notice would show, in Russian."""
    out = []
    if old["start"] != new["start"]:
        out.append(f"начало голосования: {_ru(old['start'])} → {_ru(new['start'])}")
    if old["end"] != new["end"]:
        out.append(f"окончание приёма решений: {_ru(old['end'])} → {_ru(new['end'])}")
    if old["form"] != new["form"]:
        out.append(f"форма собрания: {old['form']} → {new['form']}")
    if (old["in_person_at"], old["in_person_place"]) != (new["in_person_at"], new["in_person_place"]):
        out.append("дата, время или место очного обсуждения")
    if old["decisions_place"] != new["decisions_place"]:
        out.append("место (адрес) приёма решений")
    if old["questions"] != new["questions"]:
        out.append("повестка дня (вопросы, их формулировки или большинство)")
    return out


def notices_given(s: Session, meeting_id: int) -> bool:
    """Any notice of the meeting sent, handed or on its way."""
    return bool(s.scalar(select(exists().where(
        Delivery.meeting_id == meeting_id, Delivery.purpose == "notice",
        Delivery.status.in_(("sent", "queued", "sending"))))))


@dataclass(frozen=True)
class Edition:
    version: int
    terms: dict
    reason: str
    since: dt.datetime | None  # None: the first edition, in force from the start
    by: str


def editions(s: Session, meeting_id: int) -> list[Edition]:
    rows = s.scalars(select(NoticeTerms).where(NoticeTerms.meeting_id == meeting_id).order_by(NoticeTerms.version))
    return [Edition(r.version, json.loads(r.terms), r.reason, r.created_at if r.version > 1 else None, r.created_by)
            for r in rows]


def current_since(s: Session, meeting_id: int) -> dt.datetime | None:
    """When the terms in force began (a notice sent before carried older terms); None: the terms
    never changed after notices went out."""
    last = s.execute(select(NoticeTerms.version, NoticeTerms.created_at).where(NoticeTerms.meeting_id == meeting_id)
                     .order_by(NoticeTerms.version.desc()).limit(1)).first()
    return last.created_at if last is not None and last.version > 1 else None


def record_change(s: Session, meeting: Meeting, *, old: dict, reason: str, user: str) -> list[str]:
    """Called by update_meeting after applying a change, in its transaction: refuse a change of the
    notice's terms without a reason once notices went out; otherwise record the editions. Returns
    the changes (empty: nothing a notice says changed)."""
    s.flush()
    s.refresh(meeting, attribute_names=["questions"])
    new = terms_of(meeting)
    found = changes(old, new)
    if not found or not notices_given(s, meeting.id):
        return []
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN:
        raise ValidationError(
            f"{LOCKED}: изменить условия, которые в них указаны, можно только с указанием причины (не короче "
            f"{REASON_MIN} символов). Изменено: {'; '.join(found)}.", [f"Изменено: {c}." for c in found])
    have = editions(s, meeting.id)
    if not have:  # the first notices' terms, in force until now
        s.add(NoticeTerms(meeting_id=meeting.id, version=1, terms=json.dumps(old, ensure_ascii=False), reason="",
                          created_at=meeting.created_at or utcnow(), created_by=""))
    s.add(NoticeTerms(meeting_id=meeting.id, version=(have[-1].version if have else 1) + 1,
                      terms=json.dumps(new, ensure_ascii=False), reason=reason, created_at=utcnow(),
                      created_by=user[:100]))
    return found


def load_terms(s: Session, meeting_id: int) -> dict:
    m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions)])
    return terms_of(m)


def notice_lock(session_factory, *, meeting_id: int) -> tuple[bool, list[Edition]]:
    """(notices went out, the editions of the terms so far) for the meeting's card."""
    with session_factory() as s:
        return notices_given(s, meeting_id), editions(s, meeting_id)


def carried_since(since: dt.datetime):
    """A delivery carried the terms in force since `since`: made (queued, or recorded as handed)
    after it — the sender renders an e-mail when it sends it, later still — and, for a paper one,
    handed on that day or later (a notice handed before the change carried the old terms, whenever
    it was recorded)."""
    from sqlalchemy import and_, or_

    return and_(Delivery.created_at >= since,
                or_(Delivery.delivered_on.is_(None), Delivery.delivered_on >= since.date()))


def notified_on_old_terms(s: Session, meeting_id: int) -> list[int]:
    """Owners whose lawful notices all went out before the terms in force: notified only of terms
    that changed since, so to be notified again."""
    from services.models import OwnerRecord

    since = current_since(s, meeting_id)
    if since is None:
        return []
    lawful = (Delivery.meeting_id == meeting_id, Delivery.purpose == "notice", Delivery.status == "sent",
              Delivery.lawful.is_(True))
    before = select(Delivery.owner_id).where(*lawful, ~carried_since(since))
    after = select(Delivery.owner_id).where(*lawful, carried_since(since))
    return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id,
                                                       OwnerRecord.id.in_(before), OwnerRecord.id.not_in(after))
                          .order_by(OwnerRecord.id)))


def edition_in_force(s: Session, meeting_id: int) -> Edition | None:
    """The edition of the terms the owners were last notified on: the newest edition with a lawful
    notice sent while it was in force (None: the terms never changed after notices went out)."""
    have = editions(s, meeting_id)
    if not have:
        return None
    for edition in reversed(have):
        stmt = select(exists().where(Delivery.meeting_id == meeting_id, Delivery.purpose == "notice",
                                     Delivery.status == "sent", Delivery.lawful.is_(True)))
        if edition.since is not None:
            stmt = select(exists().where(Delivery.meeting_id == meeting_id, Delivery.purpose == "notice",
                                         Delivery.status == "sent", Delivery.lawful.is_(True),
                                         carried_since(edition.since)))
        if s.scalar(stmt):
            return edition
    return have[0]


def view_of_edition(view, edition: Edition):
    """A notice's MeetingView with the terms of an edition (materials stay the questions' present ones)."""
    import dataclasses

    from services.meeting_details import format_in_person
    from services.notice import QuestionView

    t = edition.terms
    materials = {q.number: q.materials for q in view.questions}
    at = dt.datetime.fromisoformat(t["in_person_at"]) if t["in_person_at"] else None
    return dataclasses.replace(
        view, start_date=dt.date.fromisoformat(t["start"]), end_date=dt.date.fromisoformat(t["end"]), form=t["form"],
        decisions_place=t["decisions_place"], in_person=format_in_person(t["form"], at, t["in_person_place"]),
        questions=tuple(QuestionView(n, text, materials.get(n, "")) for n, text, _maj, _prop in t["questions"]))


def owners_to_notify_again(session_factory, *, meeting_id: int) -> tuple[list[int], Edition | None]:
    """(owners notified only on old terms, the edition in force) for the notify page."""
    with session_factory() as s:
        have = editions(s, meeting_id)
        return notified_on_old_terms(s, meeting_id), (have[-1] if have else None)
