"""«Закрыть подсчёт»: the count of a meeting fixed, its protocol numbered and dated, its decisions
locked; a reopened count closed again makes the next version, the earlier ones are kept.

While the count is open every protocol document is a draft («ПРОЕКТ»). The number is the
meeting's identifier in ГИС ЖКХ where set (Приказ № 266/пр; DOMAIN.md rule 11), otherwise the
company's own sequence per calendar year («3/2026»).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services.errors import NotFound, ValidationError
from services.law import TIME_LIMITS
from services.models import Meeting, ProtocolVersion, utcnow

REASON_MIN = 10  # characters: a reason that says something


class CountClosed(ValidationError):
    """A change to a meeting whose count is closed."""


def ensure_open(s: Session, meeting_id: int) -> None:
    """Refuse a change that would alter what a closed count fixed (decisions, registry, area,
    protocol details)."""
    closed = s.scalar(select(Meeting.count_closed_at).where(Meeting.id == meeting_id))
    if closed is not None:
        raise CountClosed(f"Подсчёт голосов по собранию № {meeting_id} закрыт {closed:%d.%m.%Y}: изменения не "
                          "принимаются. Чтобы внести изменение, откройте подсчёт с указанием причины на странице "
                          "«Итоги и протокол» — протокол получит новую версию, прежняя сохранится.")


@dataclass
class VersionRow:
    version: int
    number: str
    drawn_up_on: dt.date
    closed_at: dt.datetime
    closed_by: str
    reopened_at: dt.datetime | None
    reopened_by: str
    reason: str


@dataclass
class CountState:
    closed: bool
    closed_at: dt.datetime | None
    number: str
    drawn_up_on: dt.date | None
    versions: list[VersionRow] = field(default_factory=list)

    @property
    def version(self) -> int:
        return self.versions[-1].version if self.versions else 0


def count_state(session_factory: sessionmaker[Session], *, meeting_id: int) -> CountState:
    with session_factory() as s:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        versions = [VersionRow(v.version, v.number, v.drawn_up_on, v.closed_at, v.closed_by, v.reopened_at,
                               v.reopened_by, v.reason)
                    for v in s.scalars(select(ProtocolVersion).where(ProtocolVersion.meeting_id == meeting_id)
                                       .order_by(ProtocolVersion.version))]
        return CountState(m.count_closed_at is not None, m.count_closed_at, m.protocol_number, m.protocol_date,
                          versions)


def _next_company_number(s: Session, year: int) -> tuple[int, str]:
    if s.bind.dialect.name == "postgresql":
        # two counts closed at once must not take the same number (SQLite: one writer already)
        s.execute(text("SELECT pg_advisory_xact_lock(4714)"))
    last = s.scalar(select(func.max(Meeting.protocol_seq)).where(Meeting.protocol_year == year)) or 0
    return last + 1, f"{last + 1}/{year}"


def closing_problems(session_factory: sessionmaker[Session], *, meeting_id: int, today: dt.date) -> list[str]:
    """Why the count cannot be closed today, in Russian; empty when it can."""
    from services.meeting_details import missing_for_protocol

    with session_factory() as s:
        m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions)])
        if m is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        problems = []
        if today <= m.end_date:
            problems.append(f"Приём решений продолжается до {m.end_date:%d.%m.%Y} включительно: подсчёт "
                            "закрывается после этой даты.")
        problems += missing_for_protocol(s, m)
        return problems


def close_count(session_factory: sessionmaker[Session], *, meeting_id: int, user: str,
                today: dt.date | None = None, drawn_up_on: dt.date | None = None) -> CountState:
    """Fix the figures, number and date the protocol, lock the decisions; store the protocol of
    this version. Closing a closed count does nothing (a double click)."""
    from services.results import protocol_docx
    from services.tally import recount, tally_json

    today = today or dt.date.today()
    problems = closing_problems(session_factory, meeting_id=meeting_id, today=today)
    if problems:
        raise ValidationError("Подсчёт не закрыт: в собрании не хватает сведений для протокола.", problems)
    with session_factory.begin() as s:
        m = s.get(Meeting, meeting_id)
        drawn = drawn_up_on or m.protocol_date or today
        if drawn < m.end_date:  # as save_protocol_data: not before the last day of receiving decisions
            raise ValidationError(f"Дата протокола ({drawn:%d.%m.%Y}) раньше окончания приёма решений "
                                  f"({m.end_date:%d.%m.%Y}).")
        # the row update is the lock: of two clicks (or two users) one closes, the other finds it done
        taken = s.execute(update(Meeting).where(Meeting.id == meeting_id, Meeting.count_closed_at.is_(None))
                          .values(count_closed_at=utcnow(), count_closed_by=user[:100], protocol_date=drawn)
                          .execution_options(synchronize_session=False)).rowcount
        if not taken:
            return count_state(session_factory, meeting_id=meeting_id)
        s.refresh(m)
        if m.gis_id.strip():
            m.protocol_number = m.gis_id.strip()
        elif not m.protocol_number:  # a reopened count keeps its number
            m.protocol_seq, m.protocol_number = _next_company_number(s, drawn.year)
            m.protocol_year = drawn.year
    try:
        tally = recount(session_factory, meeting_id=meeting_id)
        document = protocol_docx(session_factory, meeting_id=meeting_id, tally=tally, stored=False)
        with session_factory.begin() as s:
            m = s.get(Meeting, meeting_id)
            previous = s.scalar(select(ProtocolVersion).where(ProtocolVersion.meeting_id == meeting_id)
                                .order_by(ProtocolVersion.version.desc()).limit(1))
            s.add(ProtocolVersion(meeting_id=meeting_id, version=(previous.version + 1) if previous else 1,
                                  number=m.protocol_number, drawn_up_on=m.protocol_date, closed_by=user[:100],
                                  reason=previous.reason if previous else "", figures=json.dumps(
                                      tally_json(tally), ensure_ascii=False, default=str), docx=document))
    except Exception:
        with session_factory.begin() as s:  # not closed after all: nothing half-written stays
            s.execute(update(Meeting).where(Meeting.id == meeting_id)
                      .values(count_closed_at=None, count_closed_by="").execution_options(synchronize_session=False))
        raise
    return count_state(session_factory, meeting_id=meeting_id)


def reopen_count(session_factory: sessionmaker[Session], *, meeting_id: int, user: str, reason: str) -> CountState:
    """Open a closed count again for a correction; the reason stays with the version it replaces."""
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN:
        raise ValidationError("Укажите причину изменения протокола (не короче 10 символов): она сохраняется в "
                              "истории версий и в журнале.")
    with session_factory.begin() as s:
        taken = s.execute(update(Meeting).where(Meeting.id == meeting_id, Meeting.count_closed_at.is_not(None))
                          .values(count_closed_at=None, count_closed_by="")
                          .execution_options(synchronize_session=False)).rowcount
        if taken:
            latest = s.scalar(select(ProtocolVersion).where(ProtocolVersion.meeting_id == meeting_id)
                              .order_by(ProtocolVersion.version.desc()).limit(1))
            if latest is not None:
                latest.reopened_at, latest.reopened_by, latest.reason = utcnow(), user[:100], reason
    return count_state(session_factory, meeting_id=meeting_id)


def stored_protocol(session_factory: sessionmaker[Session], *, meeting_id: int,
                    version: int | None = None) -> bytes | None:
    """The protocol as a closed count fixed it (the latest version, or the one asked for); None
    while the count is open and no `version` is asked."""
    with session_factory() as s:
        if version is None:
            if s.scalar(select(Meeting.count_closed_at).where(Meeting.id == meeting_id)) is None:
                return None
            stmt = select(ProtocolVersion.docx).where(ProtocolVersion.meeting_id == meeting_id) \
                .order_by(ProtocolVersion.version.desc()).limit(1)
        else:
            stmt = select(ProtocolVersion.docx).where(ProtocolVersion.meeting_id == meeting_id,
                                                      ProtocolVersion.version == version)
        return s.scalar(stmt)


def results_notice_due(m: Meeting) -> dt.date:
    """The last day to make the results known (ЖК РФ ст. 46 ч. 3): 10 days after the decisions were
    taken — the protocol's date, or the end of voting while there is none."""
    return (m.protocol_date or m.end_date) + dt.timedelta(days=TIME_LIMITS["results_notice"].days)


@dataclass(frozen=True)
class Term:
    title: str
    due: dt.date
    rule: str
    source: str
    done: bool = False


def terms(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[Term]:
    """The deadlines after the voting: protocol, results notice, originals to the housing
    inspectorate (ГЖИ) — as dated data of services/law.py."""
    from services.models import Delivery

    with session_factory() as s:
        m = s.get(Meeting, meeting_id)
        results_sent = s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.meeting_id == meeting_id, Delivery.purpose == "results", Delivery.status == "sent")) or 0
    end = m.end_date
    limits = TIME_LIMITS
    protocol_due = end + dt.timedelta(days=limits["protocol"].days)
    # the company receives the originals when the protocol is drawn up (it runs the meeting), at
    # the latest when the initiator's period ends; the inspectorate's 5 days run from then
    received = min(m.protocol_date, end + dt.timedelta(days=limits["originals_to_manager"].days)) \
        if m.protocol_date else end + dt.timedelta(days=limits["originals_to_manager"].days)
    return [
        Term("Оформить протокол", protocol_due, limits["protocol"].rule, limits["protocol"].source,
             m.count_closed_at is not None),
        Term("Сообщить собственникам об итогах", results_notice_due(m),
             limits["results_notice"].rule, limits["results_notice"].source, results_sent > 0),
        Term("Передать подлинники решений и протокола в ГЖИ",
             received + dt.timedelta(days=limits["originals_to_inspectorate"].days),
             f"{limits['originals_to_manager'].rule}; {limits['originals_to_inspectorate'].rule}",
             limits["originals_to_inspectorate"].source),
    ]
