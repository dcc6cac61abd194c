"""Очно-заочное: the in-person discussion's attendance list (лист регистрации) — printed with a
signature column before the discussion, recorded afterwards, attached to the protocol (Приказ
№ 266/пр: «список присутствующих … с подписями»; ЖК РФ ст. 44.1, ст. 45 ч. 5). Decisions handed
in at the discussion are registered as paper decisions and counted with the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from services.errors import NotFound, ValidationError
from services.models import Attendance, Meeting, OwnerRecord, Premise, utcnow

HEADERS = ("№", "Помещение", "ФИО/Наименование собственника", "Представитель, доверенность", "Подпись")


@dataclass(frozen=True)
class Present:
    owner_id: int
    premise: str
    name: str
    representative: str


def _meeting(s: Session, meeting_id: int) -> Meeting:
    m = s.get(Meeting, meeting_id)
    if m is None:
        raise NotFound(f"Собрание № {meeting_id} не найдено.")
    if m.form != "очно-заочное":
        raise ValidationError("Лист регистрации ведётся для очно-заочного собрания: у этого собрания форма "
                              f"«{m.form}».")
    return m


def attendance(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[Present]:
    from services.registry import natural_key

    with session_factory() as s:
        rows = s.execute(
            select(Attendance.owner_id, Premise.number, OwnerRecord.name, Attendance.representative)
            .join(OwnerRecord, Attendance.owner_id == OwnerRecord.id)
            .join(Premise, OwnerRecord.premise_id == Premise.id).where(Attendance.meeting_id == meeting_id)
        ).all()
    return sorted((Present(*r) for r in rows), key=lambda p: (natural_key(p.premise), p.name))


def record_attendance(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int],
                      user: str, representative: str = "") -> int:
    """Mark owners present at the in-person discussion; those already marked stay as they are.
    Returns how many were added."""
    from services.closing import ensure_open

    representative = " ".join(representative.split())[:500]
    with session_factory.begin() as s:
        _meeting(s, meeting_id)
        ensure_open(s, meeting_id)
        known = set(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id,
                                                           OwnerRecord.id.in_(owner_ids))))
        if strangers := sorted(set(owner_ids) - known):
            raise ValidationError(f"Собственники {strangers} не из реестра собрания № {meeting_id}.")
        present = set(s.scalars(select(Attendance.owner_id).where(Attendance.meeting_id == meeting_id)))
        added = [oid for oid in dict.fromkeys(owner_ids) if oid not in present]
        now = utcnow()
        s.add_all(Attendance(meeting_id=meeting_id, owner_id=oid, representative=representative, recorded_at=now,
                             recorded_by=user[:100]) for oid in added)
        return len(added)


def remove_attendance(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int]) -> int:
    from services.closing import ensure_open

    with session_factory.begin() as s:
        _meeting(s, meeting_id)
        ensure_open(s, meeting_id)
        return s.execute(delete(Attendance).where(Attendance.meeting_id == meeting_id,
                                                  Attendance.owner_id.in_(owner_ids))).rowcount or 0


def _sheet(session_factory, meeting_id: int, rows: list[tuple[str, str, str]], title: str) -> bytes:
    from services.documents import signature_sheet_docx
    from services.meeting_details import in_person_text
    from services.sender import meeting_view

    with session_factory() as s:
        m = _meeting(s, meeting_id)
        view = meeting_view(s, meeting_id)
        when = in_person_text(m)
    return signature_sheet_docx(
        meeting=view, rows=rows, title=title, headers=HEADERS,
        lines=(f"Очное обсуждение вопросов повестки дня: {when}.",),
        footer="Регистрацию провёл: ____________________ / ____________________ /   «___» __________ 20___ г.")


def attendance_sheet_docx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """The blank attendance list to print for the discussion: every owner of the registry, with
    columns for a representative and the signature."""
    from services.registry import natural_key

    with session_factory() as s:
        rows = s.execute(select(Premise.number, OwnerRecord.name).join(OwnerRecord, OwnerRecord.premise_id == Premise.id)
                         .where(OwnerRecord.meeting_id == meeting_id)).all()
    rows = sorted(rows, key=lambda r: (natural_key(r[0]), r[1]))
    return _sheet(session_factory, meeting_id, [(number, name, "") for number, name in rows],
                  "Лист регистрации собственников помещений, присутствующих на очном обсуждении")


def attendance_list_docx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """The protocol's attachment: those recorded present (the signed sheet is the original)."""
    rows = [(p.premise, p.name, p.representative) for p in attendance(session_factory, meeting_id=meeting_id)]
    return _sheet(session_factory, meeting_id, rows,
                  "Список собственников помещений, присутствовавших на очном обсуждении")
