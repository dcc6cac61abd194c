"""Meetings (ОСС): create, edit, list, and the stages of a meeting."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services.errors import NotFound, ValidationError
from services.meeting_details import validate_details
from services.law import MAJORITY_KINDS
from services.models import AgendaQuestion, Building, Meeting, OwnerRecord, Premise

FORMS = ("заочное", "очно-заочное")
# the details `manage.py create-meeting --from meeting.json` reads as they are
JSON_DETAILS = ("kind", "initiator_kind", "initiator_ogrn", "initiator_address", "initiator_passport",
                "initiator_ownership_doc", "initiator_group", "invited", "archive_place", "in_person_place",
                "ground_text")
SPEAKER_MAX = 300  # AgendaQuestion.speaker


@dataclass
class QuestionData:
    text: str
    majority: str = "simple"
    materials: str = ""
    number: int | None = None
    proposal: str = ""  # «ПРЕДЛОЖЕНО»: the wording of the decision put to the vote
    speaker: str = ""  # «СЛУШАЛИ»: who reports on the question (optional)


@dataclass
class MeetingData:
    """What the analyst types in for a meeting: everything the notice and protocol need."""

    address: str
    initiator: str
    start_date: dt.date
    end_date: dt.date
    questions: list[QuestionData] = field(default_factory=list)
    form: str = "заочное"
    initiator_details: str = ""
    decisions_place: str = ""
    materials_place: str = ""
    gis_id: str = ""
    gis_posted_on: dt.date | None = None
    email_notice_decision_date: dt.date | None = None
    email_notice_decision_number: str = ""
    electronic_decisions_count: bool = False
    # the protocol's details (services/meeting_details.py)
    kind: str = "внеочередное"
    initiator_kind: str = "organisation"
    initiator_ogrn: str = ""
    initiator_address: str = ""
    initiator_passport: str = ""
    initiator_ownership_doc: str = ""
    initiator_group: str = ""
    invited: str = ""
    archive_place: str = ""
    in_person_at: dt.datetime | None = None
    in_person_place: str = ""
    ground_meeting_id: int | None = None
    ground_text: str = ""
    no_ground_confirmed_by: str = ""
    count_closed: bool = False
    # why the notice's terms change after notices went out (services/notice_terms.py)
    change_reason: str = ""
    id: int | None = None
    building_id: int | None = None

    @property
    def ground_missing(self) -> bool:
        """A заочное meeting with no recorded earlier meeting without quorum (ЖК ст. 47 ч. 1)."""
        return self.form == "заочное" and self.ground_meeting_id is None and not self.ground_text.strip()


def validate_meeting(data: MeetingData) -> None:
    problems: list[str] = []
    if not data.address.strip():
        problems.append("Укажите адрес дома.")
    if not data.initiator.strip():
        problems.append("Укажите инициатора собрания.")
    if data.form not in FORMS:
        problems.append(f"Форма собрания «{data.form}» не поддерживается: возможны {', '.join(FORMS)}.")
    if not isinstance(data.start_date, dt.date) or not isinstance(data.end_date, dt.date):
        problems.append("Укажите даты начала и окончания голосования.")
    elif data.end_date < data.start_date:
        problems.append("Дата окончания голосования раньше даты начала.")
    questions = [q for q in data.questions if q.text.strip()]
    if not questions:
        problems.append("Добавьте хотя бы один вопрос повестки дня.")
    for i, q in enumerate(questions, start=1):
        if q.majority not in MAJORITY_KINDS:
            problems.append(
                f"Вопрос {i}: неизвестный вид большинства «{q.majority}» (возможны: {', '.join(MAJORITY_KINDS)})."
            )
        if len(" ".join(q.speaker.split())) > SPEAKER_MAX:
            problems.append(f"Вопрос {i}: докладчик (СЛУШАЛИ) длиннее {SPEAKER_MAX} символов.")
    problems += validate_details(data)
    if problems:
        raise ValidationError(problems[0] if len(problems) == 1 else "Собрание не сохранено.", problems)


def _building(s: Session, address: str) -> Building:
    address = " ".join(address.split())
    # Compared in Python: SQLite's lower() folds only ASCII, and addresses are Cyrillic.
    key = address.lower().replace("ё", "е")
    for found in s.scalars(select(Building)):
        if " ".join(found.address.split()).lower().replace("ё", "е") == key:
            return found
    b = Building(address=address)
    s.add(b)
    s.flush()
    return b


def _apply(s: Session, meeting: Meeting, data: MeetingData) -> None:
    meeting.building = _building(s, data.address)
    meeting.form = data.form
    meeting.initiator = data.initiator.strip()
    meeting.initiator_details = data.initiator_details.strip()
    meeting.start_date = data.start_date
    meeting.end_date = data.end_date
    meeting.decisions_place = data.decisions_place.strip()
    meeting.materials_place = data.materials_place.strip()
    meeting.gis_id = data.gis_id.strip()
    meeting.gis_posted_on = data.gis_posted_on
    meeting.kind = data.kind
    meeting.initiator_kind = data.initiator_kind
    meeting.initiator_ogrn = "".join(ch for ch in data.initiator_ogrn if ch.isdigit())
    for name in ("initiator_address", "initiator_passport", "initiator_ownership_doc", "in_person_place",
                 "ground_text"):
        setattr(meeting, name, " ".join(getattr(data, name).split()))
    for name in ("initiator_group", "invited", "archive_place"):
        setattr(meeting, name, "\n".join(" ".join(x.split()) for x in getattr(data, name).splitlines() if x.strip()))
    meeting.in_person_at = data.in_person_at if data.form == "очно-заочное" else None
    if data.form != "очно-заочное":
        meeting.in_person_place = ""
    meeting.ground_meeting_id = data.ground_meeting_id
    wanted = [q for q in data.questions if q.text.strip()]
    existing = list(meeting.questions)
    # Questions that stay keep their rows (later stages reference them); the rest are removed.
    for row in existing[len(wanted):]:
        meeting.questions.remove(row)
    for i, row in enumerate(existing[: len(wanted)], start=1):
        row.number = -i  # step aside from the unique (meeting, number) while renumbering
    s.flush()
    for i, q in enumerate(wanted, start=1):
        if i <= len(existing):
            row = existing[i - 1]
        else:
            row = AgendaQuestion()
            meeting.questions.append(row)
        row.number = i
        row.text = q.text.strip()
        row.majority = q.majority
        row.materials = q.materials.strip()
        row.proposal = q.proposal.strip()
        row.speaker = " ".join(q.speaker.split())


def _add_meeting(s: Session, data: MeetingData) -> Meeting:
    meeting = Meeting(initiator="", start_date=data.start_date, end_date=data.end_date)
    meeting.building = _building(s, data.address)
    s.add(meeting)
    _apply(s, meeting, data)
    s.flush()
    return meeting


def create_meeting(session_factory: sessionmaker[Session], *, data: MeetingData) -> int:
    validate_meeting(data)
    with session_factory.begin() as s:
        return _add_meeting(s, data).id


def update_meeting(session_factory: sessionmaker[Session], *, meeting_id: int, data: MeetingData,
                   user: str = "") -> list[str]:
    """Save the meeting's card. Once notices went out, a change of what they said needs
    `data.change_reason` and becomes the next edition of the notice's terms; returns those changes."""
    from services.closing import ensure_open
    from services.notice_terms import record_change, terms_of

    validate_meeting(data)
    with session_factory.begin() as s:
        meeting = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions)])
        if meeting is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        ensure_open(s, meeting_id)
        old = terms_of(meeting)
        building = meeting.building_id
        _apply(s, meeting, data)
        changed = record_change(s, meeting, old=old, reason=data.change_reason, user=user)
        s.flush()
        if meeting.building_id != building and meeting.registry_seal is not None:
            # the registry's seal covers the building (its passport area): re-sealed for the new one
            from services.seals import instance_key, seal_registry

            key = instance_key(s)
            if key is not None:
                seal_registry(s, key, meeting_id)
    return changed


def get_meeting(session_factory: sessionmaker[Session], meeting_id: int) -> MeetingData:
    with session_factory() as s:
        m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions), selectinload(Meeting.building)])
        if m is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        return MeetingData(
            id=m.id, building_id=m.building_id, address=m.building.address, initiator=m.initiator,
            start_date=m.start_date, end_date=m.end_date, form=m.form, initiator_details=m.initiator_details,
            decisions_place=m.decisions_place, materials_place=m.materials_place, gis_id=m.gis_id,
            gis_posted_on=m.gis_posted_on, email_notice_decision_date=m.email_notice_decision_date,
            email_notice_decision_number=m.email_notice_decision_number,
            electronic_decisions_count=m.electronic_decisions_count,
            kind=m.kind, initiator_kind=m.initiator_kind, initiator_ogrn=m.initiator_ogrn,
            initiator_address=m.initiator_address, initiator_passport=m.initiator_passport,
            initiator_ownership_doc=m.initiator_ownership_doc, initiator_group=m.initiator_group, invited=m.invited,
            archive_place=m.archive_place, in_person_at=m.in_person_at, in_person_place=m.in_person_place,
            ground_meeting_id=m.ground_meeting_id, ground_text=m.ground_text,
            no_ground_confirmed_by=m.no_ground_confirmed_by, count_closed=m.count_closed_at is not None,
            questions=[QuestionData(q.text, q.majority, q.materials, q.number, q.proposal, q.speaker)
                       for q in m.questions],
        )


@dataclass
class MeetingRow:
    id: int
    address: str
    initiator: str
    start_date: dt.date
    end_date: dt.date
    questions: int
    owners: int
    form: str = "заочное"


def list_meetings(session_factory: sessionmaker[Session]) -> list[MeetingRow]:
    owners = (
        select(OwnerRecord.meeting_id, func.count().label("n")).group_by(OwnerRecord.meeting_id).subquery()
    )
    questions = (
        select(AgendaQuestion.meeting_id, func.count().label("n")).group_by(AgendaQuestion.meeting_id).subquery()
    )
    stmt = (
        select(Meeting, Building.address, func.coalesce(questions.c.n, 0), func.coalesce(owners.c.n, 0))
        .join(Building)
        .outerjoin(questions, questions.c.meeting_id == Meeting.id)
        .outerjoin(owners, owners.c.meeting_id == Meeting.id)
        .order_by(Meeting.start_date.desc(), Meeting.id.desc())
    )
    with session_factory() as s:
        return [
            MeetingRow(m.id, addr, m.initiator, m.start_date, m.end_date, nq, no, m.form)
            for m, addr, nq, no in s.execute(stmt)
        ]


@dataclass
class Stage:
    key: str
    title: str
    state: str  # Russian text for the stage list
    done: bool
    available: bool
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


STAGE_TITLES = (
    ("registry", "Реестр собственников"),
    ("notify", "Уведомление собственников"),
    ("voting", "Голосование"),
    ("results", "Итоги и протокол"),
)


def meeting_stages(session_factory: sessionmaker[Session], *, meeting_id: int, today: dt.date | None = None) -> list[Stage]:
    """Этапы ОСС with the state of each; stages of later releases say they are not open yet."""
    today = today or dt.date.today()
    m = get_meeting(session_factory, meeting_id)
    with session_factory() as s:
        owners = s.scalar(select(func.count()).select_from(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id)) or 0
        premises = s.scalar(select(func.count()).select_from(Premise).where(Premise.meeting_id == meeting_id)) or 0
    stages = []
    from services.registry import registry_line

    reg_state = registry_line(owners, premises) if owners else "Реестр не загружен"
    reg_warn = []
    if owners:
        from services.figures import count_of
        from services.registry import snils_missing

        if lacking := snils_missing(session_factory, meeting_id=meeting_id):
            reg_warn.append(f"Нет СНИЛС или он неверен: {count_of(lacking, 'собственник', 'собственника', 'собственников')}"
                            " — физических лиц. С 01.09.2025 СНИЛС указывается в письменном решении (ЖК РФ ст. 48 "
                            "ч. 5.1): в бланках решений для них оставлена строка.")
    stages.append(Stage("registry", "Реестр собственников", reg_state, owners > 0, True, reg_warn))
    notify_warn = []
    last_notice_day = m.start_date - dt.timedelta(days=10)
    if not m.gis_id or not m.gis_posted_on:
        notify_warn.append("Сообщение о собрании не отмечено как размещённое в ГИС ЖКХ (дата и идентификатор).")
    from services.notify import notify_summary

    from services.figures import format_count as n

    ns = notify_summary(session_factory, meeting_id=meeting_id)
    if ns.notified:
        notify_state = (f"Уведомлено законным способом {n(ns.notified)} из {n(ns.owners)}, в срок — {n(ns.in_time)}"
                        + (f"; только по эл. почте (доп.) — {n(ns.additional_only)}" if ns.additional_only else ""))
    elif ns.additional_only:
        notify_state = (f"Отправлено по эл. почте {n(ns.additional_only)} из {n(ns.owners)} (дополнительно: нет "
                        "решения ОСС об уведомлении по эл. почте)")
    else:
        notify_state = f"Уведомить не позднее {last_notice_day:%d.%m.%Y} (за 10 дней до начала голосования)"
    if ns.failed:
        notify_warn.append(f"Не доставлено уведомлений: {ns.failed}.")
    from services.figures import count_of
    from services.notice_terms import notified_on_old_terms

    with session_factory() as s:
        stale = len(notified_on_old_terms(s, meeting_id))
    if stale:
        notify_warn.append(f"Условия собрания изменены после отправки сообщений: {count_of(stale, 'собственник', 'собственника', 'собственников')} "
                           "уведомлены только на прежних условиях — направьте им сообщения повторно.")
    stages.append(Stage("notify", "Уведомление собственников", notify_state,
                        owners > 0 and ns.notified == owners and not stale, owners > 0, notify_warn))
    from services.voting import voting_summary

    vs = voting_summary(session_factory, meeting_id=meeting_id)
    if today < m.start_date:
        vote_state = f"Голосование начнётся {m.start_date:%d.%m.%Y}"
    elif today <= m.end_date:
        vote_state = f"Идёт голосование, последний день — {m.end_date:%d.%m.%Y}"
    else:
        vote_state = f"Голосование завершено {m.end_date:%d.%m.%Y}"
    if vs.entered or vs.counted or vs.online:
        vote_state += (f". Вошли по коду: {vs.entered}; заполнено онлайн: {vs.online}; "
                       f"учтено решений: {vs.counted} из {vs.owners}")
    stages.append(Stage("voting", "Голосование", vote_state, today > m.end_date, owners > 0))
    from services.closing import count_state, terms
    from services.owner_fields import format_date

    cs = count_state(session_factory, meeting_id=meeting_id)
    if cs.closed:
        results_state = (f"Подсчёт закрыт {format_date(cs.closed_at.date())}: протокол № {cs.number} от "
                         f"{format_date(cs.drawn_up_on)}" + (f", версия {cs.version}" if cs.version > 1 else ""))
    elif cs.versions:
        results_state = (f"Подсчёт открыт для изменения (причина: {cs.versions[-1].reason}); протокол — проект "
                         f"версии {cs.version + 1}")
    else:
        results_state = "Протокол — проект: подсчёт не закрыт"
    notes = [f"{t.title}: {'выполнено' if t.done else 'не позднее ' + format_date(t.due)} ({t.source})"
             for t in terms(session_factory, meeting_id=meeting_id)] if today > m.end_date or cs.closed else []
    results_warn = [f"Срок истёк {format_date(t.due)}: {t.title.lower()} ({t.source})."
                    for t in terms(session_factory, meeting_id=meeting_id) if not t.done and today > t.due]
    stages.append(Stage("results", "Итоги и протокол", results_state, cs.closed, owners > 0, results_warn, notes))
    return stages


def ground_warning(m: MeetingData) -> str:
    """The stages page's warning for a заочное meeting with no recorded ground, until confirmed."""
    if not m.ground_missing:
        return ""
    text = ("Заочное голосование проводится, если очное собрание с той же повесткой не имело кворума (ЖК РФ "
            "ст. 47 ч. 1). Основание не указано: выберите предыдущее собрание или опишите его в карточке собрания.")
    if m.no_ground_confirmed_by:
        return text + f" Проведение без указания основания подтвердил(а) {m.no_ground_confirmed_by}."
    return text


def confirm_without_ground(session_factory: sessionmaker[Session], *, meeting_id: int, user: str) -> None:
    """The analyst's explicit confirmation that a заочное meeting goes on without a recorded ground."""
    with session_factory.begin() as s:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        if not m.no_ground_confirmed_by:
            m.no_ground_confirmed_by = user[:100] or "—"


def repeat_meeting(session_factory: sessionmaker[Session], *, meeting_id: int, start_date: dt.date,
                   end_date: dt.date, today: dt.date | None = None, secret_key: str | None = None) -> int:
    """«Провести повторно»: a meeting that had no quorum is repeated as заочное with the same
    building, registry, agenda and details; the first is recorded as its ground (ЖК РФ ст. 47 ч. 1)."""
    from services.seals import after_registry_write
    from services.tally import recount

    today = today or dt.date.today()
    source = get_meeting(session_factory, meeting_id)
    if today <= source.end_date:
        raise ValidationError(f"Собрание № {meeting_id} ещё идёт (до {source.end_date:%d.%m.%Y}): повторить можно "
                              "собрание, голосование по которому завершено без кворума.")
    with session_factory() as s:
        again = s.scalar(select(Meeting.id).where(Meeting.ground_meeting_id == meeting_id).limit(1))
    if again is not None:  # a double click, or a second user: one repeat per meeting
        raise ValidationError(f"Собрание № {meeting_id} уже повторено: собрание № {again}.")
    if recount(session_factory, meeting_id=meeting_id).quorum:
        raise ValidationError(f"Собрание № {meeting_id} имело кворум: повторное заочное собрание проводится после "
                              "собрания без кворума (ЖК РФ ст. 47 ч. 1).")
    data = MeetingData(**{**source.__dict__, "id": None, "building_id": None, "form": "заочное",
                          "start_date": start_date, "end_date": end_date, "in_person_at": None,
                          "in_person_place": "", "ground_meeting_id": meeting_id, "ground_text": "",
                          "no_ground_confirmed_by": "", "count_closed": False, "gis_id": "", "gis_posted_on": None,
                          "questions": [QuestionData(q.text, q.majority, q.materials, proposal=q.proposal,
                                                     speaker=q.speaker) for q in source.questions]})
    validate_meeting(data)
    with session_factory.begin() as s:
        meeting = _add_meeting(s, data)
        premises = {}
        skip = {"id", "meeting_id", "premise_id", "seal", "created_at"}
        for p in s.scalars(select(Premise).where(Premise.meeting_id == meeting_id).order_by(Premise.id)):
            copy = Premise(meeting_id=meeting.id, **{c.key: getattr(p, c.key) for c in Premise.__table__.columns
                                                     if c.key not in skip})
            s.add(copy)
            premises[p.id] = copy
        s.flush()
        for o in s.scalars(select(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id).order_by(OwnerRecord.id)):
            s.add(OwnerRecord(meeting_id=meeting.id, premise_id=premises[o.premise_id].id,
                              **{c.key: getattr(o, c.key) for c in OwnerRecord.__table__.columns
                                 if c.key not in skip}))
        s.flush()
        after_registry_write(s, meeting.id, secret_key=secret_key)  # sealed as an import would be
        return meeting.id


def meeting_from_json(path: Path | str | None = None, *, text: str | None = None) -> MeetingData:
    """Read `manage.py create-meeting --from meeting.json`."""
    try:
        raw = json.loads(text if text is not None else Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"Файл {path} не найден.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Файл {path} не является JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValidationError("В JSON ожидается объект с полями address, initiator, form, start, end, questions.")
    missing = [k for k in ("address", "initiator", "start", "end", "questions") if k not in raw]
    if missing:
        raise ValidationError(f"В JSON нет полей: {', '.join(missing)}.")

    def date(key):
        try:
            return dt.date.fromisoformat(str(raw[key]))
        except ValueError:
            raise ValidationError(f"Поле {key}: ожидается дата в виде ГГГГ-ММ-ДД, указано «{raw[key]}».") from None

    in_person = None
    if raw.get("in_person_at"):
        try:
            in_person = dt.datetime.fromisoformat(str(raw["in_person_at"]))
        except ValueError:
            raise ValidationError(f"Поле in_person_at: ожидается дата и время в виде ГГГГ-ММ-ДДTЧЧ:ММ, указано "
                                  f"«{raw['in_person_at']}».") from None
    questions = []
    if not isinstance(raw["questions"], list):
        raise ValidationError("Поле questions должно быть списком вопросов.")
    for i, q in enumerate(raw["questions"], start=1):
        if isinstance(q, str):
            q = {"text": q}
        if not isinstance(q, dict) or not str(q.get("text", "")).strip():
            raise ValidationError(f"Вопрос {i}: нет текста (поле text).")
        questions.append(QuestionData(str(q["text"]), str(q.get("majority", "simple")), str(q.get("materials", "")),
                                      proposal=str(q.get("proposal", "")), speaker=str(q.get("speaker", ""))))
    return MeetingData(
        address=str(raw["address"]), initiator=str(raw["initiator"]), form=str(raw.get("form", "заочное")),
        start_date=date("start"), end_date=date("end"), questions=questions,
        initiator_details=str(raw.get("initiator_details", "")), decisions_place=str(raw.get("decisions_place", "")),
        materials_place=str(raw.get("materials_place", "")), gis_id=str(raw.get("gis_id", "")),
        in_person_at=in_person, **{k: str(raw[k]) for k in JSON_DETAILS if k in raw},
    )
