"""The data model (SQLAlchemy 2.x typed declarative).

Areas are kept as whole ten-thousandths of a square metre (`Area`) and shares as an integer
numerator/denominator pair, so that votes = area × share stay exact in Python and can be summed
exactly in SQL on SQLite and PostgreSQL alike (no float ever enters the count).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from services.figures import record_votes

AREA_SCALE = 10_000  # 1 unit = 0.0001 m²


class Area(TypeDecorator):
    """Площадь: Decimal in Python, an exact integer of 1/10000 m² in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int((Decimal(value) * AREA_SCALE).to_integral_value())

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)) / AREA_SCALE


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class User(Base):
    """Сотрудник управляющей организации."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="admin")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Building(Base):
    """МКД: многоквартирный дом."""

    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(500))
    # Общая площадь помещений по техническому паспорту, when the analyst enters it.
    passport_area: Mapped[Decimal | None] = mapped_column(Area, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    meetings: Mapped[list["Meeting"]] = relationship(back_populates="building")


class Meeting(Base):
    """ОСС: общее собрание собственников помещений."""

    __tablename__ = "meetings"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="ck_meeting_dates"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="RESTRICT"))
    form: Mapped[str] = mapped_column(String(30), default="заочное")
    initiator: Mapped[str] = mapped_column(String(500))
    # Identity details of the initiator for the notice and the protocol (ОГРН/ИНН, адрес; or
    # for an owner: premise and ownership document).
    initiator_details: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)  # last day decisions are accepted
    decisions_place: Mapped[str] = mapped_column(Text, default="")  # место/адрес приёма решений
    materials_place: Mapped[str] = mapped_column(Text, default="")  # где ознакомиться с материалами
    gis_id: Mapped[str] = mapped_column(String(100), default="")  # идентификатор ОСС в ГИС ЖКХ
    gis_posted_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # An earlier meeting's decision that notices may go by e-mail (ЖК ст. 45 ч. 4): without it an
    # e-mail notice is only an additional one, and a lawful channel is still needed.
    email_notice_decision_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    email_notice_decision_number: Mapped[str] = mapped_column(String(100), default="")
    # «Решения, подписанные кодом»: whether code-signed electronic decisions count (DOMAIN.md rule 2).
    electronic_decisions_count: Mapped[bool] = mapped_column(Boolean, default=False)
    electronic_switched_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    electronic_switched_by: Mapped[str] = mapped_column(String(100), default="")
    # Head of the decisions' seal chain: removing the newest decision is detectable too.
    seal_head: Mapped[str] = mapped_column(String(64), default="")
    seal_count: Mapped[int] = mapped_column(Integer, default=0)
    # Печать реестра (services/seals.py): counts of premises and owner records and an HMAC over the
    # registry the meeting is counted on; NULL until the registry is first sealed.
    registry_seal: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # For the protocol (Приказ № 266/пр): who signs it and when it is drawn up.
    protocol_chair: Mapped[str] = mapped_column(String(300), default="")
    protocol_secretary: Mapped[str] = mapped_column(String(300), default="")
    protocol_counters: Mapped[str] = mapped_column(Text, default="")
    protocol_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    protocol_place: Mapped[str] = mapped_column(String(300), default="")
    # Details the protocol names (Приказ № 266/пр; DOMAIN.md rule 13), services/meeting_details.py.
    kind: Mapped[str] = mapped_column(String(20), default="внеочередное")  # годовое | внеочередное
    initiator_kind: Mapped[str] = mapped_column(String(20), default="organisation")  # | owner | group
    initiator_ogrn: Mapped[str] = mapped_column(String(20), default="")
    initiator_address: Mapped[str] = mapped_column(Text, default="")
    initiator_passport: Mapped[str] = mapped_column(Text, default="")
    initiator_ownership_doc: Mapped[str] = mapped_column(Text, default="")
    initiator_group: Mapped[str] = mapped_column(Text, default="")  # a group of owners: one per line
    invited: Mapped[str] = mapped_column(Text, default="")  # «кто; кого представляет; цель» per line
    archive_place: Mapped[str] = mapped_column(Text, default="")  # where the protocol and decisions are kept
    # Очно-заочное: the in-person discussion (ЖК ст. 45 ч. 5), local time of the company.
    in_person_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    in_person_place: Mapped[str] = mapped_column(Text, default="")
    # Заочное: the earlier meeting without quorum it repeats (ЖК ст. 47 ч. 1), or a described one.
    ground_meeting_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ground_text: Mapped[str] = mapped_column(Text, default="")
    no_ground_confirmed_by: Mapped[str] = mapped_column(String(100), default="")
    # «Закрыть подсчёт»: the figures are fixed, the protocol gets its number, decisions are locked.
    count_closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    count_closed_by: Mapped[str] = mapped_column(String(100), default="")
    protocol_number: Mapped[str] = mapped_column(String(100), default="")
    protocol_year: Mapped[int | None] = mapped_column(Integer, nullable=True)  # company sequence: year
    protocol_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)  # and number in it
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    building: Mapped[Building] = relationship(back_populates="meetings")
    questions: Mapped[list["AgendaQuestion"]] = relationship(
        back_populates="meeting", order_by="AgendaQuestion.number", cascade="all, delete-orphan"
    )


class AgendaQuestion(Base):
    """Вопрос повестки дня."""

    __tablename__ = "agenda_questions"
    __table_args__ = (UniqueConstraint("meeting_id", "number", name="uq_question_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    majority: Mapped[str] = mapped_column(String(20), default="simple")
    materials: Mapped[str] = mapped_column(Text, default="")
    # The protocol's «ПРЕДЛОЖЕНО» (the wording put to the vote; «РЕШИЛИ» repeats it when adopted)
    # and «СЛУШАЛИ» (who reported on the question): Приказ Минстроя № 44/пр п. 20, kept by 266/пр.
    proposal: Mapped[str] = mapped_column(Text, default="", server_default="")
    speaker: Mapped[str] = mapped_column(String(300), default="", server_default="")

    meeting: Mapped[Meeting] = relationship(back_populates="questions")


class Premise(Base):
    """Помещение (квартира или нежилое помещение) in the registry of one meeting."""

    __tablename__ = "premises"
    __table_args__ = (
        UniqueConstraint("meeting_id", "number_key", name="uq_premise_number"),
        CheckConstraint("area > 0", name="ck_premise_area"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(50))
    number_key: Mapped[str] = mapped_column(String(50))  # case/space-insensitive identity
    kind: Mapped[str] = mapped_column(String(20), default="residential")  # or non_residential
    area: Mapped[Decimal] = mapped_column(Area)
    # Keyed tags of the area and of the number (services/seals.py): a change behind the app shows.
    seal: Mapped[str | None] = mapped_column(String(40), nullable=True)

    owners: Mapped[list["OwnerRecord"]] = relationship(
        back_populates="premise", cascade="all, delete-orphan"
    )


class OwnerRecord(Base):
    """Собственник: one registry row — a person, a legal entity, or joint owners in one cell."""

    __tablename__ = "owner_records"
    __table_args__ = (
        UniqueConstraint("premise_id", "name_key", name="uq_owner_in_premise"),
        CheckConstraint("share_num > 0 AND share_den > 0 AND share_num <= share_den", name="ck_share"),
        Index("ix_owner_meeting", "meeting_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    premise_id: Mapped[int] = mapped_column(ForeignKey("premises.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1000))
    name_key: Mapped[str] = mapped_column(String(1000))
    is_legal_entity: Mapped[bool] = mapped_column(Boolean, default=False)
    share_num: Mapped[int] = mapped_column(BigInteger, default=1)
    share_den: Mapped[int] = mapped_column(BigInteger, default=1)
    doc_number: Mapped[str] = mapped_column(String(200), default="")
    doc_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    ogrn: Mapped[str] = mapped_column(String(20), default="")  # a legal entity's ОГРН (decision form)
    snils: Mapped[str] = mapped_column(String(14), default="")
    emails: Mapped[list] = mapped_column(JSON, default=list)
    phones: Mapped[list] = mapped_column(JSON, default=list)
    source_row: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Совместная собственность: the records of one premise with the same group are one joint
    # holding, carrying the holding's share each; its votes count once (services/holdings.py).
    joint_group: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Keyed tags of the share, the holding (premise, joint group) and the name (services/seals.py).
    seal: Mapped[str | None] = mapped_column(String(60), nullable=True)

    premise: Mapped[Premise] = relationship(back_populates="owners")

    @property
    def share(self) -> Fraction:
        return Fraction(self.share_num, self.share_den)

    @property
    def votes(self) -> Fraction:
        """Голоса = площадь × доля, exact."""
        return record_votes(self.premise.area, self.share)


class SendJob(Base):
    """One «Отправить уведомления» action: the deliveries it queued share its id."""

    __tablename__ = "send_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    # The page's one-time token of the confirmation: a double click or a rerun finds the same job.
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    total: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # sent after the 10-day limit, confirmed


class Delivery(Base):
    """Вручение сообщения: one notice to one owner by one channel — a row of the реестр вручения.

    E-mail deliveries are queued (status «queued») and sent by the background sender; paper ones
    (под роспись, заказное письмо) are recorded by the analyst as done.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("job_id", "owner_id", name="uq_delivery_job_owner"),
        Index("ix_delivery_queue", "status", "next_attempt_at"),
        Index("ix_delivery_owner", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owner_records.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("send_jobs.id", ondelete="CASCADE"), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))  # email | registered_mail | hand
    # notice: the meeting's notice (ЖК ст. 45 ч. 4); results: the results notice (ст. 46 ч. 3)
    purpose: Mapped[str] = mapped_column(String(20), default="notice")
    lawful: Mapped[bool] = mapped_column(Boolean, default=True)  # False: an additional e-mail notice
    address: Mapped[str] = mapped_column(String(500), default="")  # e-mail, or the postal number
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|sending|sent|failed|skipped
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # paper: date handed/posted
    message_id: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")


class AccessCode(Base):
    """Персональный код доступа: one per owner record, kept only as an HMAC of the code."""

    __tablename__ = "access_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owner_records.id", ondelete="CASCADE"), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True)
    first_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Decision(Base):
    """Решение собственника: an owner record's answers on the agenda, sealed.

    kind: «online» (answers given with the code; counted only when the signed paper decision is
    registered), «electronic» (code-signed, in a meeting that counts those), «paper» (a signed
    written decision registered by staff). `online_slot` and `counted_slot` hold the owner id when
    the decision occupies that owner's single online / single counted place, so the database
    itself refuses a second one (NULLs never collide), whatever two browser tabs do.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("meeting_id", "online_slot", name="uq_decision_online"),
        UniqueConstraint("meeting_id", "counted_slot", name="uq_decision_counted"),
        UniqueConstraint("meeting_id", "seq", name="uq_decision_seq"),
        Index("ix_decision_owner", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owner_records.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # online | electronic | paper
    status: Mapped[str] = mapped_column(String(20))  # counted | online | late | conflict | corrected | annulled …
    online_slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counted_slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    received_on: Mapped[dt.date] = mapped_column(Date)  # the day the decision was received
    seq: Mapped[int] = mapped_column(Integer)  # position in the meeting's seal chain
    canonical: Mapped[str] = mapped_column(Text)  # the sealed content, canonical JSON
    prev_seal: Mapped[str] = mapped_column(String(64), default="")
    seal: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100), default="")  # staff user, or «owner»
    source: Mapped[str] = mapped_column(String(200), default="")  # e.g. the spreadsheet and its row
    # Представитель (ЖК ст. 48 ч. 2): who signed for the owner, by a power of attorney (доверенность:
    # number, date, who certified it) or, for a legal entity's head, by office.
    representative_name: Mapped[str] = mapped_column(String(500), default="", server_default="")
    representative_office: Mapped[str] = mapped_column(String(300), default="", server_default="")
    poa_number: Mapped[str] = mapped_column(String(100), default="", server_default="")
    poa_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    poa_certified_by: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Печать состояния: what may legitimately change later (status, counted and online slot), as
    # canonical JSON, and its HMAC bound to `seal`; every service that changes them re-seals.
    state: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_seal: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Исправление / аннулирование (migration 0014): a paper decision corrected or annulled keeps its
    # row, with the status «corrected» / «annulled» and the record that replaced it (in its state
    # seal); that record (a corrected paper decision, or an «annulment») points back and keeps the
    # analyst's reason, both in its sealed content. Plain ids: the seal check cross-checks the pair.
    superseded_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replaces_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    change_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    answers: Mapped[list["DecisionAnswer"]] = relationship(
        back_populates="decision", cascade="all, delete-orphan", order_by="DecisionAnswer.question_id"
    )
    # the scanned pages the decision was registered from (issue 17): their hashes are in its seal
    scans: Mapped[list["ScanPage"]] = relationship(
        viewonly=True, order_by="(ScanPage.sheet, ScanPage.id)",
        primaryjoin="Decision.id == foreign(ScanPage.decision_id)")


class DecisionAnswer(Base):
    """One agenda question's answer in a decision: for | against | abstain | invalid."""

    __tablename__ = "decision_answers"
    __table_args__ = (UniqueConstraint("decision_id", "question_id", name="uq_answer_question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("agenda_questions.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(10))
    # why a paper answer is «invalid» (ЖК ст. 48 ч. 6): «none» (no mark) or «several» (more than one);
    # None when not said (online answers are never invalid; older or imported decisions)
    mark: Mapped[str | None] = mapped_column(String(10), nullable=True)

    decision: Mapped[Decision] = relationship(back_populates="answers")


class Throttle(Base):
    """Attempts against guessing (staff passwords, owners' codes), one row per bucket: an account,
    a client address, a browser session, a minute of the code page. The key is a keyed digest, never
    the typed text or the address; `failures` counts attempts in a row without success, each counted
    before its secret is checked (services/throttle.py)."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # let through (checked or being checked)
    refused: Mapped[int] = mapped_column(Integer, default=0)  # refused unchecked while locked
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class TallyAggregate(Base):
    """Running sums behind the live count (Активность): kept up to date in the transaction that
    adds a decision, rebuilt when the registry changes, always equal to a full recount.

    question_id 0 holds the meeting-wide rows: «participants», «online» (answered online without a
    counted decision) and «day:YYYY-MM-DD» (counted decisions by the day received). `units` is
    Σ area (1/10000 m²) × share numerator for one share denominator, so the sum stays exact.
    """

    __tablename__ = "tally_aggregates"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer: Mapped[str] = mapped_column(String(20), primary_key=True)
    share_den: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Журнал действий: append-only (database triggers refuse UPDATE and DELETE). It records who
    did what and how much — counts, never the personal data itself."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_meeting", "meeting_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # The database's time (services/audit.py reads it; triggers refuse any other, migration 0007).
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    meeting_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no FK: the log outlives meetings
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # The journal's chain: position, the previous event's seal, HMAC over this event and it.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prev_seal: Mapped[str] = mapped_column(String(64), default="", server_default="")
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IntegrityState(Base):
    """One row: the journal chain's head (locked by every append, so appends are serialised across
    processes) and whether data from before the seals (migration 0007) still awaits sealing."""

    __tablename__ = "integrity_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    journal_head: Mapped[str] = mapped_column(String(64), default="", server_default="")
    journal_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The journal kept before the upgrade, sealed as one block on the first start with the key.
    legacy_events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    legacy_seal: Mapped[str] = mapped_column(String(64), default="", server_default="")
    upgrade_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class ProtocolVersion(Base):
    """A closed count: the figures and the protocol as they were fixed. A reopened count closed
    again makes the next version; the earlier ones are kept."""

    __tablename__ = "protocol_versions"
    __table_args__ = (UniqueConstraint("meeting_id", "version", name="uq_protocol_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(100))
    drawn_up_on: Mapped[dt.date] = mapped_column(Date)
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    closed_by: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # why the count was reopened (version > 1)
    reopened_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    reopened_by: Mapped[str] = mapped_column(String(100), default="")
    figures: Mapped[str] = mapped_column(Text, default="")  # JSON: the counted figures
    docx: Mapped[bytes] = mapped_column(LargeBinary)


class Attendance(Base):
    """Лист регистрации очной части: an owner (or representative) present at the in-person
    discussion of an очно-заочное meeting."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "owner_id", name="uq_attendance_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owner_records.id", ondelete="CASCADE"))
    representative: Mapped[str] = mapped_column(String(500), default="")  # and the power of attorney
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100), default="")



class NoticeTerms(Base):
    """The terms a meeting's notice carried (dates, form, in-person part, place of receiving
    decisions, agenda), recorded when they change after notices went out: version 1 is what the
    first notices said, each change after that — with its reason — the next version. A delivery
    carried the version in force when it was sent (services/notice_terms.py)."""

    __tablename__ = "notice_terms"
    __table_args__ = (UniqueConstraint("meeting_id", "version", name="uq_notice_terms_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    terms: Mapped[str] = mapped_column(Text)  # JSON
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")


class WebSession(Base):
    """A signed-in browser, server side (services/web_sessions.py): a staff login, or an owner who
    entered a code. The browser holds only a signed cookie with the token; the row keeps the token's
    keyed digest, the browser it belongs to, and when it was last seen. Logout, the idle timeout and
    a disabled account end it (`revoked_at`). An owner's session also keeps the answers chosen but
    not yet sent (`draft`, JSON), so a reload does not lose them; they go when the decision is sent."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "staff" | "owner"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("owner_records.id", ondelete="CASCADE"),
                                                 nullable=True, index=True)
    browser_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # the browser took the cookie
    draft: Mapped[str] = mapped_column(Text, default="")


class ScanBatch(Base):
    """A stack of scanned paper decisions read at once (issue 17): the files' pages, read and then
    reviewed; registered as decisions only when an analyst confirms them, with one receipt date."""

    __tablename__ = "scan_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # the reading's last step
    status: Mapped[str] = mapped_column(String(20), default="reading")  # reading | read | failed
    files: Mapped[str] = mapped_column(Text, default="")  # JSON: [{"name", "pages", "error"}]
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")


class ScanPage(Base):
    """One scanned page: where it came from, the image (JPEG) and its SHA-256, what the reader
    found, and what became of it. status: accepted (every mark clear, signed) | review (a doubt, for
    the analyst) | manual (no Kvorum code, or a code that does not fit: typed in by hand) | error
    (unreadable) | confirmed (the analyst checked it) | registered (a decision holds it) |
    dismissed (set aside by the analyst)."""

    __tablename__ = "scan_pages"
    __table_args__ = (Index("ix_scan_page_batch", "batch_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("scan_batches.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64), default="", index=True)  # the uploaded file's
    file_page: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of Russian messages
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("owner_records.id", ondelete="SET NULL"),
                                                 nullable=True, index=True)
    sheet: Mapped[int | None] = mapped_column(Integer, nullable=True)  # page of the owner's sheet
    sheets: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answers: Mapped[str] = mapped_column(Text, default="{}")  # JSON: question number -> answer, as read
    doubtful: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [[question number, option]]
    measures: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the boxes' ink shares
    signed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    homography: Mapped[str] = mapped_column(Text, default="")  # JSON 3×3: image -> straightened page
    image: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decision_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
