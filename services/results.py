"""Активность и итоги: participation figures for the charts, the protocol (Приказ Минстроя России
от 30.04.2025 № 266/пр) with its attachments, and the results as a spreadsheet."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services import owner_fields as f
from services.errors import NotFound, ValidationError
from services.exports import xlsx_bytes, xml_text
from services.law import MAJORITY_KINDS, TIME_LIMITS
from services.models import AccessCode, Decision, Delivery, Meeting, OwnerRecord, Premise, ScanPage
from services.representatives import of_decision
from services.figures import count_of, format_local, format_percent, format_votes, record_votes
from services.tally import AREA_SCALE, Tally, percent2, recount, votes2

PROTOCOL_DAYS = TIME_LIMITS["protocol"].days  # Приказ № 266/пр: within 10 days after the meeting
POWERS_OF_ATTORNEY_FILE = "Доверенности представителей.xlsx"  # «Приложение N. » before it in the package
STATUS_ORDER = ("Уведомлены", "Не уведомлены", "Вошли по коду", "Заполнили онлайн", "Решение учтено")


# ---------- participation by status ----------

@dataclass
class StatusFigure:
    status: str
    owners: int
    votes: Fraction


def activity_version(session_factory: sessionmaker[Session], *, meeting_id: int) -> tuple:
    """A cheap fingerprint of everything `activity_figures` reads (indexed counts and maxima):
    equal fingerprints, equal figures."""
    m = meeting_id
    queries = (
        select(func.count(), func.max(OwnerRecord.id), func.sum(OwnerRecord.share_num + OwnerRecord.share_den))
        .where(OwnerRecord.meeting_id == m),
        select(func.count(), func.sum(type_coerce(Premise.area, BigInteger))).where(Premise.meeting_id == m),
        select(func.count(Delivery.sent_at), func.max(Delivery.id), func.max(Delivery.sent_at))
        .where(Delivery.meeting_id == m, Delivery.purpose == "notice"),
        select(func.count(AccessCode.first_used_at), func.max(AccessCode.first_used_at))
        .where(AccessCode.meeting_id == m),
        select(Meeting.seal_count).where(Meeting.id == m),
    )
    with session_factory() as s:
        return tuple(tuple(s.execute(q).one()) for q in queries)


_FIGURES_CACHE: dict = {}


def live_activity_figures(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[StatusFigure]:
    """`activity_figures`, recomputed only when the data behind them changed — what the
    self-refreshing «Активность» page asks for every few seconds."""
    key = (str(session_factory.kw.get("bind").url), meeting_id)
    version = activity_version(session_factory, meeting_id=meeting_id)
    cached = _FIGURES_CACHE.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    figures = activity_figures(session_factory, meeting_id=meeting_id)
    if len(_FIGURES_CACHE) > 64:
        _FIGURES_CACHE.clear()
    _FIGURES_CACHE[key] = (version, figures)
    return figures


def activity_figures(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[StatusFigure]:
    """Owners and their votes: notified / not notified / entered with the code / answered online /
    decision counted — one GROUP BY over the registry with a flag per owner; a joint holding's votes
    once, shared among its records.

    Each flag is a membership in one uncorrelated set of the meeting's owner ids (PostgreSQL hashes
    it once, SQLite builds it once) rather than a correlated EXISTS probed per owner and evaluated
    again for the GROUP BY: 4× faster on PostgreSQL for 100 000 owners (bench/tally.py). The
    slots hold the owner id, so the decisions' unique (meeting_id, *_slot) indexes answer them."""
    m = meeting_id
    # «Уведомлены»: by the meeting's notice only, not by the results notice (purpose «results»)
    notified = OwnerRecord.id.in_(select(Delivery.owner_id).where(Delivery.meeting_id == m, Delivery.purpose == "notice",
                                                                  Delivery.status == "sent"))
    entered = OwnerRecord.id.in_(select(AccessCode.owner_id).where(AccessCode.meeting_id == m,
                                                                   AccessCode.first_used_at.is_not(None)))
    online = OwnerRecord.id.in_(select(Decision.online_slot).where(Decision.meeting_id == m,
                                                                   Decision.online_slot.is_not(None)))
    # A joint holding's votes count once: each of its n records carries 1/n of them, and its
    # counted decision (in the holding's slot, its smallest record id) marks every record of it.
    holdings = (select(OwnerRecord.premise_id, OwnerRecord.joint_group, func.count().label("members"),
                       func.min(OwnerRecord.id).label("slot"))
                .where(OwnerRecord.meeting_id == m, OwnerRecord.joint_group.is_not(None))
                .group_by(OwnerRecord.premise_id, OwnerRecord.joint_group).subquery())
    counted = func.coalesce(holdings.c.slot, OwnerRecord.id).in_(
        select(Decision.counted_slot).where(Decision.meeting_id == m, Decision.counted_slot.is_not(None)))
    per_owner = (
        select((OwnerRecord.share_den * func.coalesce(holdings.c.members, 1)).label("den"), notified.label("n"),
               entered.label("e"), online.label("o"), counted.label("c"),
               (type_coerce(Premise.area, BigInteger) * OwnerRecord.share_num).label("units"))
        .join(Premise, OwnerRecord.premise_id == Premise.id)
        .outerjoin(holdings, (holdings.c.premise_id == OwnerRecord.premise_id)
                   & (holdings.c.joint_group == OwnerRecord.joint_group))
        .where(OwnerRecord.meeting_id == m)
        .subquery()
    )
    keys = [per_owner.c.den, per_owner.c.n, per_owner.c.e, per_owner.c.o, per_owner.c.c]
    stmt = select(*keys, func.count(), func.sum(per_owner.c.units)).group_by(*keys)
    owners = dict.fromkeys(STATUS_ORDER, 0)
    votes = {k: Fraction(0) for k in STATUS_ORDER}
    with session_factory() as s:
        for den, n, e, o, c, count, units in s.execute(stmt):
            v = Fraction(int(units or 0), den * AREA_SCALE)
            for key, on in (("Уведомлены", n), ("Не уведомлены", not n), ("Вошли по коду", e),
                            ("Заполнили онлайн", o), ("Решение учтено", c)):
                if on:
                    owners[key] += count
                    votes[key] += v
    return [StatusFigure(k, owners[k], votes[k]) for k in STATUS_ORDER]


def results_rows(t: Tally) -> tuple[list[str], list[list]]:
    header = ["№", "Вопрос", "Необходимое большинство", "За, голосов", "За, % от участников", "За, % от всех",
              "Против, голосов", "Против, % от участников", "Против, % от всех", "Воздержались, голосов",
              "Воздержались, % от участников", "Воздержались, % от всех", "Недействительно, голосов", "Решение"]
    rows = []
    for q in t.questions:
        row = [q.number, q.text, MAJORITY_KINDS[q.majority].label]
        for key in ("for", "against", "abstain"):
            row += [votes2(q.votes[key]), percent2(q.share_of_participants(key)), percent2(q.share_of_all(key))]
        row += [votes2(q.votes["invalid"]), "принято" if q.adopted else "не принято"]
        rows.append(row)
    return header, rows


VERDICT_COLUMNS = ["№", "Вопрос", "Решение", "«За», % по правилу", "Требуется", "За, голосов", "Против, голосов",
                   "Воздержались, голосов", "Недействительно, голосов"]


def no_quorum_note(t: Tally) -> str | None:
    """Said above the verdicts while there is no quorum: a «не принято» beside a share above its bar
    otherwise reads as a contradiction (ЖК РФ ст. 45 ч. 3: without a quorum the meeting decides nothing)."""
    if t.quorum:
        return None
    return ("Кворума нет: ни одно решение не принято, какой бы ни была доля «за» (ЖК РФ ст. 45 ч. 3). "
            f"Для кворума нужно более 50 % всех голосов, сейчас — {format_percent(t.participation)}.")


def verdict_rows(t: Tally) -> list[dict]:
    """Each question's verdict next to the percentage its majority is measured against (of the
    participants for a simple majority, of all votes otherwise) and the bar it had to clear: what
    the results and activity pages show. All the percentages are in the .xlsx (results_rows)."""
    rows = []
    for q in t.questions:
        kind = MAJORITY_KINDS[q.majority]
        base = "участников" if kind.base == "participants" else "всех голосов"
        rows.append(dict(zip(VERDICT_COLUMNS, [
            q.number, q.text, "принято" if q.adopted else "не принято",
            f"{format_percent(q.decisive_share())} {base}", kind.needs, format_votes(q.votes["for"]),
            format_votes(q.votes["against"]), format_votes(q.votes["abstain"]), format_votes(q.votes["invalid"])])))
    return rows


def activity_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int, tally: Tally) -> bytes:
    figures = activity_figures(session_factory, meeting_id=meeting_id)
    summary = [
        ["Всего голосов", votes2(tally.all_votes)],
        ["Площадь помещений по реестру, м²", votes2(tally.registry_area)],
        ["Площадь по техническому паспорту, м²", votes2(tally.passport_area) if tally.passport_area else ""],
        ["Голосов участников", votes2(tally.participants)],
        ["Участие, %", percent2(tally.participation)],
        ["Кворум", "есть" if tally.quorum else "нет"],
        ["Заполнено онлайн, решение не сдано: собственников", tally.online_records],
        ["Заполнено онлайн, решение не сдано: голосов", votes2(tally.online_votes)],
    ]
    header, rows = results_rows(tally)
    return xlsx_bytes([
        ("Сводка", ["Показатель", "Значение"], summary),
        ("Активность", ["Статус", "Собственников", "Голосов"],
         [[x.status, x.owners, votes2(x.votes)] for x in figures]),
        ("Участие по дням", ["Дата", "Голосов участников (нарастающим итогом)"],
         [[d, votes2(v)] for d, v in tally.by_day]),
        ("Итоги по вопросам", header, rows),
    ])


# ---------- the protocol ----------

@dataclass
class ProtocolData:
    chair: str
    secretary: str
    counters: str
    drawn_up_on: dt.date | None
    place: str


def protocol_data(session_factory: sessionmaker[Session], *, meeting_id: int) -> ProtocolData:
    with session_factory() as s:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        return ProtocolData(m.protocol_chair, m.protocol_secretary, m.protocol_counters, m.protocol_date,
                            m.protocol_place)


def save_protocol_data(session_factory: sessionmaker[Session], *, meeting_id: int, data: ProtocolData) -> None:
    problems = []
    if not data.chair.strip():
        problems.append("Укажите председателя общего собрания.")
    if not data.secretary.strip():
        problems.append("Укажите секретаря общего собрания.")
    if data.drawn_up_on is None:
        problems.append("Укажите дату составления протокола.")
    if problems:
        raise ValidationError(problems[0] if len(problems) == 1 else "Данные протокола не сохранены.", problems)
    with session_factory.begin() as s:
        from services.closing import ensure_open

        ensure_open(s, meeting_id)
        m = s.get(Meeting, meeting_id)
        if data.drawn_up_on < m.end_date:
            raise ValidationError("Протокол составляется после окончания голосования "
                                  f"({m.end_date:%d.%m.%Y}).")
        m.protocol_chair = " ".join(data.chair.split())[:300]
        m.protocol_secretary = " ".join(data.secretary.split())[:300]
        m.protocol_counters = "\n".join(" ".join(x.split()) for x in data.counters.splitlines() if x.strip())
        m.protocol_date = data.drawn_up_on
        m.protocol_place = " ".join(data.place.split())[:300]


GAP = "____"  # a blank of an agenda template's proposal the analyst has not filled in


def protocol_warnings(session_factory: sessionmaker[Session], *, meeting_id: int,
                      today: dt.date | None = None) -> list[str]:
    today = today or dt.date.today()
    warnings = []
    with session_factory() as s:
        m = s.get(Meeting, meeting_id)
        last = m.end_date + dt.timedelta(days=PROTOCOL_DAYS)
        drawn = m.protocol_date or today
        if today <= m.end_date:
            warnings.append(f"Голосование ещё идёт (до {m.end_date:%d.%m.%Y}): итоги предварительные.")
        if drawn > last:
            warnings.append(f"Протокол составляется позже 10 дней после окончания голосования (срок — "
                            f"{last:%d.%m.%Y}, Приказ Минстроя России № 266/пр).")
        if not m.gis_id and m.count_closed_at is None:
            warnings.append("Не указан идентификатор собрания в ГИС ЖКХ, который служит номером протокола: без него "
                            "при закрытии подсчёта протокол получит порядковый номер управляющей организации за год.")
        for q in sorted(m.questions, key=lambda x: x.number):
            if not q.proposal.strip():
                warnings.append(f"Вопрос {q.number}: не указана формулировка предложения — в протоколе "
                                "«ПРЕДЛОЖЕНО» повторит текст вопроса. Укажите её в карточке собрания.")
            elif GAP in q.proposal:
                warnings.append(f"Вопрос {q.number}: в формулировке предложения остались незаполненные места "
                                f"«{GAP}». Заполните их в карточке собрания.")
    return warnings


def resolution(q, *, proposal: str, quorum: bool) -> str:
    """«РЕШИЛИ (ПОСТАНОВИЛИ)» of one question (Приказ Минстроя № 44/пр п. 20, kept by 266/пр): the
    proposal's wording when adopted; otherwise that it was not, with the majority it needed and the
    «за» it got, so the protocol shows why. `q` is a tally.QuestionResult."""
    if q.adopted:
        return proposal or q.text
    if not quorum:
        return "Решение не принято: кворум отсутствует (ЖК РФ ст. 45 ч. 3)."
    kind = MAJORITY_KINDS[q.majority]
    if q.majority == "simple":
        got = f"{format_percent(q.share_of_participants('for'))} от числа голосов участников"
    else:
        got = f"{format_percent(q.share_of_all('for'))} от общего числа голосов"
    return (f"Решение не принято: требуется {kind.rule} ({kind.source}); голосов «за»: "
            f"{_fmt(q.votes['for'])} ({got}).")


def _fmt(v: Fraction) -> str:
    return format_votes(v)


def _pct(share: Fraction) -> str:
    return format_percent(share, sign=False)  # the template writes « %» after it


def protocol_context(session_factory: sessionmaker[Session], *, meeting_id: int, tally: Tally) -> dict:
    from services.meeting_details import INITIATOR_KIND_WORDS, in_person_text, invited_list
    from services.models import ProtocolVersion
    from services.sender import meeting_view

    with session_factory() as s:
        m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions), selectinload(Meeting.building)])
        view = meeting_view(s, meeting_id)  # the initiator's details as the notice gave them
        ground = _ground(s, m)
        earlier = s.execute(select(ProtocolVersion.version, ProtocolVersion.reason)
                            .where(ProtocolVersion.meeting_id == meeting_id)
                            .order_by(ProtocolVersion.version.desc()).limit(1)).first()
    asked = {q.number: q for q in m.questions}
    questions = []
    for q in tally.questions:
        row = asked.get(q.number)
        proposal = (row.proposal if row is not None else "") or q.text

        def part(key):
            return {"votes": _fmt(q.votes[key]), "of_participants": _pct(q.share_of_participants(key)),
                    "of_all": _pct(q.share_of_all(key))}
        questions.append({
            "number": q.number, "text": q.text, "majority": MAJORITY_KINDS[q.majority].label,
            "majority_rule": MAJORITY_KINDS[q.majority].rule, "for": part("for"), "against": part("against"),
            "abstain": part("abstain"), "invalid": _fmt(q.votes["invalid"]),
            "decision": "Решение принято" if q.adopted else "Решение не принято",
            "speaker": row.speaker if row is not None else "", "proposal": proposal,
            "resolution": resolution(q, proposal=proposal, quorum=tally.quorum),
        })
    counters = [c for c in m.protocol_counters.splitlines() if c.strip()]
    closed = m.count_closed_at is not None
    listed = attachments(session_factory, meeting_id=meeting_id)
    drawn = f.format_date(m.protocol_date) if closed or m.protocol_date else ""
    return {
        "draft": not closed, "number": m.protocol_number if closed else "", "date": drawn or "«___» ________ 20__ г.",
        "place": m.protocol_place or view.address, "address": view.address, "form": view.form,
        "form_genitive": {"заочное": "заочного", "очно-заочное": "очно-заочного"}.get(view.form, view.form),
        "kind": m.kind, "kind_genitive": {"внеочередное": "внеочередного", "годовое": "годового"}.get(m.kind, m.kind),
        "initiator": view.initiator, "initiator_kind": INITIATOR_KIND_WORDS.get(m.initiator_kind, ""),
        # a protocol changed after its count was closed: its edition and why (the earlier ones are kept)
        "revision": earlier.version + 1 if earlier else 1, "revision_reason": earlier.reason if earlier else "",
        "initiator_details": view.initiator_details, "in_person": in_person_text(m), "ground": ground,
        "invited": [i.describe() for i in invited_list(m.invited)], "archive_place": m.archive_place,
        "start_date": f.format_date(view.start_date), "end_date": f.format_date(view.end_date),
        "decisions_place": view.decisions_place, "chair": m.protocol_chair or "____________________",
        "secretary": m.protocol_secretary or "____________________", "counters": counters,
        "initiator_signs": not counters,
        "all_votes": _fmt(tally.all_votes), "registry_area": _fmt(tally.registry_area),
        "passport_area": _fmt(tally.passport_area) if tally.passport_area else "",
        "unregistered_area": _fmt(tally.unregistered_area) if tally.unregistered_area else "",
        "participants": _fmt(tally.participants), "participants_records": tally.participant_records,
        "participation": _pct(tally.participation),
        "quorum": "Кворум имеется, общее собрание правомочно." if tally.quorum else
                  "Кворум отсутствует, общее собрание неправомочно; решения не приняты.",
        "questions": questions, "gis_posted_on": f.format_date(m.gis_posted_on),
        "attachments": [{"number": i, "title": a.title, "pages": a.note} for i, a in enumerate(listed, start=1)],
    }


def _ground(s: Session, m: Meeting) -> str:
    """The ground of a заочное meeting (ЖК РФ ст. 47 ч. 1), as the protocol states it."""
    if m.form != "заочное":
        return ""
    if m.ground_meeting_id is not None:
        first = s.get(Meeting, m.ground_meeting_id)
        if first is not None:
            return (f"Общее собрание проводится в форме заочного голосования, так как собрание с той же повесткой "
                    f"дня, проведённое в форме {'очно-заочного' if first.form == 'очно-заочное' else first.form + 'го'} "
                    f"голосования с {f.format_date(first.start_date)} по {f.format_date(first.end_date)}, не имело "
                    "кворума (ЖК РФ ст. 47 ч. 1).")
    if m.ground_text.strip():
        return f"Основание проведения заочного голосования: {m.ground_text.strip()}"
    return ""


@dataclass(frozen=True)
class Attachment:
    title: str  # as the protocol lists it
    file: str  # the file in the package, after «Приложение N. » (a folder's name when `folder`)
    make: object  # () -> bytes; for a folder, () -> iterable of (file name in the folder, bytes)
    note: str = ""
    folder: bool = False


def attachments(session_factory: sessionmaker[Session], *, meeting_id: int,
                public_url: str = "") -> list[Attachment]:
    """The protocol's attachments in the order of the requirements (Приказ № 266/пр; DOMAIN.md rule
    13), only those that exist: registry, notice, proof of notice, participants, those present at
    the in-person part, the invited, the documents considered, powers of attorney, written
    decisions (their list, the scans of those registered from scans, the code-signed ones). The
    protocol numbers them and the package names its files by the same numbers."""
    from services.attendance import attendance, attendance_list_docx
    from services.meeting_details import invited_list
    from services.notify import delivery_register_xlsx
    from services.registry import registry_xlsx

    sf, mid = session_factory, meeting_id
    with sf() as s:
        m = s.get(Meeting, mid, options=[selectinload(Meeting.questions)])
        paper = s.scalar(select(func.count()).select_from(Decision).where(
            Decision.meeting_id == mid, Decision.counted_slot.is_not(None), Decision.kind != "electronic")) or 0
        electronic = s.scalar(select(func.count()).select_from(Decision).where(
            Decision.meeting_id == mid, Decision.kind == "electronic")) or 0
        materials = [q for q in m.questions if q.materials.strip()]
        scans = len(decision_scans(s, mid))
        invited = invited_list(m.invited)
        in_person = m.form == "очно-заочное"
    out = [
        Attachment("Реестр собственников помещений в многоквартирном доме.", "Реестр собственников.xlsx",
                   lambda: registry_xlsx(sf, meeting_id=mid)),
        Attachment("Сообщение о проведении общего собрания.", "Сообщение о проведении собрания.docx",
                   lambda: notice_docx(sf, meeting_id=mid, public_url=public_url)),
        Attachment("Документы, подтверждающие направление (вручение) сообщения о проведении собрания (реестр "
                   "вручения).", "Реестр вручения сообщений.xlsx", lambda: delivery_register_xlsx(sf, meeting_id=mid)),
        Attachment("Список собственников, принявших участие в собрании, с их идентифицирующими данными.",
                   "Список участников.xlsx", lambda: participants_xlsx(sf, meeting_id=mid)),
    ]
    if in_person and attendance(sf, meeting_id=mid):
        out.append(Attachment("Список собственников, присутствовавших на очном обсуждении (лист регистрации с "
                              "подписями).", "Список присутствовавших.docx",
                              lambda: attendance_list_docx(sf, meeting_id=mid)))
    if invited:
        out.append(Attachment("Список лиц, приглашённых для участия в общем собрании.", "Список приглашённых.xlsx",
                              lambda: invited_xlsx(sf, meeting_id=mid)))
    if materials:
        out.append(Attachment("Документы, рассмотренные общим собранием (материалы по вопросам повестки дня).",
                              "Документы по вопросам повестки дня.xlsx", lambda: materials_xlsx(sf, meeting_id=mid)))
    if powers_of_attorney(sf, meeting_id=mid):
        out.append(Attachment("Доверенности представителей собственников (перечень; копии прилагаются).",
                              "Доверенности представителей.xlsx", lambda: powers_of_attorney_xlsx(sf, meeting_id=mid)))
    if paper or electronic:
        out.append(Attachment("Письменные решения собственников (перечень; подлинники прилагаются).",
                              "Решения собственников (перечень).xlsx", lambda: decisions_list_xlsx(sf, meeting_id=mid)))
    if scans:
        out.append(Attachment(
            "Письменные решения собственников, внесённые по сканам: изображения подписанных листов ("
            + count_of(scans, "изображение", "изображения", "изображений") + ") с перечнем и SHA-256 каждого "
            "изображения, записанным в печать решения.", SCANS_FOLDER,
            lambda: decision_scan_files(sf, meeting_id=mid), folder=True))
    if electronic:
        out.append(Attachment("Решения собственников, подписанные персональным кодом, с их печатями.",
                              "Решения, подписанные кодом.docx", lambda: electronic_decisions_docx(sf, meeting_id=mid)))
    return out


# ---------- the scans of the written decisions ----------

SCANS_FOLDER = "Письменные решения (сканы)"
SCANS_LIST_FILE = "Перечень сканов.xlsx"
SCANS_HEADER = ["№", "Решение", "Статус решения", "Номер помещения", "ФИО/Наименование собственника", "Лист",
                "Листов", "Файл", "SHA-256", "Хэш записан в печать решения", "Изображение совпадает с печатью",
                "Откуда (файл скана, страница)"]
SCAN_CHUNK = 50  # images read from the database at a time: a package of a thousand pages is not held twice
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|]')


def safe_file_part(text: str, limit: int = 60) -> str:
    """A piece of a file name from a name or a premise number: Cyrillic kept, no path separators,
    no characters Windows refuses, no control or invisible format characters (a right-to-left mark
    could disguise the extension), words joined by «_», never empty or starting with a dot."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    text = "_".join(_UNSAFE_NAME.sub(" ", text).split())
    return text[:limit].strip("._") or "без_имени"


@dataclass(frozen=True)
class DecisionScan:
    """One scanned page of a written decision in force, as the package files and lists it."""
    page_id: int
    decision: str  # the number of the decision in force
    sealed_in: str  # the decision whose seal holds the SHA-256 (a corrected one's, for its correction)
    status: str
    premise: str
    owner: str
    sheet: int | None
    sheets: int | None
    file: str  # the image's file name in the folder
    sha256: str  # as the seal holds it
    source: str  # the uploaded file and its page


def decision_scans(s: Session, meeting_id: int) -> list[DecisionScan]:
    """The scanned pages of the meeting's paper decisions in force (not corrected, not annulled),
    by premise, owner, decision and sheet. A correction keyed again from the same paper carries the
    pages of the decision it corrected: the paper is the same; their SHA-256 stays in the corrected
    one's seal, which the list names. Each page gets its file name: «кв_12_Иванов_Иван_Иванович_лист_1.jpg»."""
    from services.registry import natural_key
    from services.voting import REPLACED, STATUSES, decision_number

    pages: dict[int, list] = defaultdict(list)
    for row in s.execute(select(ScanPage.id, ScanPage.decision_id, ScanPage.sheet, ScanPage.sheets,
                                ScanPage.image_sha256, ScanPage.file_name, ScanPage.file_page)
                         .where(ScanPage.meeting_id == meeting_id, ScanPage.decision_id.is_not(None))
                         .order_by(ScanPage.sheet, ScanPage.id)):
        pages[row.decision_id].append(row)
    if not pages:
        return []
    decisions = {d.id: d for d in s.execute(
        select(Decision.id, Decision.seq, Decision.kind, Decision.status, Decision.replaces_id, Decision.owner_id)
        .where(Decision.meeting_id == meeting_id))}
    # what each scanned decision's seal holds of its pages: {"sheet", "sha256"} (services/voting.sealed_scans)
    canonical = dict(s.execute(select(Decision.id, Decision.canonical).where(Decision.id.in_(list(pages)))).all())
    owners = {o.id: o for o in s.execute(
        select(OwnerRecord.id, OwnerRecord.name, Premise.number, Premise.kind)
        .join(Premise, Premise.id == OwnerRecord.premise_id).where(OwnerRecord.meeting_id == meeting_id))}
    found = []
    for d in decisions.values():
        if d.kind != "paper" or d.status in REPLACED or d.owner_id not in owners:
            continue
        source, seen = d, set()
        while source.id not in pages and source.replaces_id in decisions and source.id not in seen:
            seen.add(source.id)
            source = decisions[source.replaces_id]
        if source.id in pages:
            found.append((d, source))
    found.sort(key=lambda x: (natural_key(owners[x[0].owner_id].number), owners[x[0].owner_id].name, x[0].seq))
    out, used = [], set()
    for d, source in found:
        owner = owners[d.owner_id]
        try:
            sealed = {x.get("sheet"): x.get("sha256") for x in json.loads(canonical.get(source.id) or "{}")
                      .get("scans", [])}
        except (ValueError, AttributeError):
            sealed = {}
        number = decision_number(meeting_id, d.seq)
        prefix = "пом" if owner.kind == "non_residential" else "кв"
        for p in pages[source.id]:
            stem = (f"{prefix}_{safe_file_part(owner.number, 20)}_{safe_file_part(owner.name)}"
                    f"_лист_{p.sheet or p.file_page}")
            name, n = f"{stem}.jpg", 1
            while name in used:  # the same owner's second decision (kept as a conflict), and so on
                n += 1
                name = f"{stem}_решение_{number}.jpg" if n == 2 else f"{stem}_решение_{number}_{n}.jpg"
            used.add(name)
            out.append(DecisionScan(p.id, number, decision_number(meeting_id, source.seq), STATUSES[d.status],
                                    owner.number, owner.name, p.sheet, p.sheets, name,
                                    sealed.get(p.sheet) or p.image_sha256, f"{p.file_name}, стр. {p.file_page}"))
    return out


def decision_scan_files(session_factory: sessionmaker[Session], *, meeting_id: int) -> Iterator[tuple[str, bytes]]:
    """The images of `decision_scans`, read a few at a time, then their list (SCANS_LIST_FILE):
    decision, owner, premise, sheet, file and the SHA-256 the decision's seal holds, with whether
    the image given matches it — so the inspectorate can check each file against the seal."""
    with session_factory() as s:
        scans = decision_scans(s, meeting_id)
    matches: dict[int, bool] = {}
    for start in range(0, len(scans), SCAN_CHUNK):
        chunk = scans[start:start + SCAN_CHUNK]
        with session_factory() as s:
            images = dict(s.execute(select(ScanPage.id, ScanPage.image)
                                    .where(ScanPage.id.in_([x.page_id for x in chunk]))).all())
        for x in chunk:
            image = images.get(x.page_id) or b""
            matches[x.page_id] = hashlib.sha256(image).hexdigest() == x.sha256
            yield x.file, image
    rows = [[i, x.decision, x.status, x.premise, x.owner, x.sheet, x.sheets, x.file, x.sha256, x.sealed_in,
             "да" if matches.get(x.page_id) else "НЕТ", x.source] for i, x in enumerate(scans, start=1)]
    note = [["Каждое изображение — страница подписанного письменного решения, с которой решение внесено."],
            ["SHA-256 файла (например, «certutil -hashfile ФАЙЛ SHA256» или «sha256sum ФАЙЛ») должен совпасть с "
             "указанным: тот же хэш записан в печать решения («Проверить печати решений», "
             "manage.py verify-decisions)."]]
    yield SCANS_LIST_FILE, xlsx_bytes([("Сканы решений", SCANS_HEADER, rows), ("Пояснение", ["Как проверить"], note)])


def invited_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    from services.meeting_details import invited_list

    with session_factory() as s:
        text = s.scalar(select(Meeting.invited).where(Meeting.id == meeting_id)) or ""
    rows = [[i, x.who, x.represents, x.purpose] for i, x in enumerate(invited_list(text), start=1)]
    return xlsx_bytes([("Приглашённые", ["№", "Кто приглашён (ФИО, должность)", "Кого представляет",
                                         "Цель участия"], rows)])


def materials_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    with session_factory() as s:
        m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions)])
        rows = [[q.number, q.text, q.materials] for q in m.questions if q.materials.strip()]
        place = m.materials_place
    return xlsx_bytes([("Документы", ["№ вопроса", "Вопрос повестки дня", "Документы (материалы)"],
                        rows + ([["", "Где ознакомиться с материалами", place]] if place else []))])


PROTOCOL_TEMPLATE_NAME = "protocol.docx"


def protocol_docx(session_factory: sessionmaker[Session], *, meeting_id: int, tally: Tally | None = None,
                  stored: bool = True) -> bytes:
    """The protocol: as the closed count fixed it, or a draft («ПРОЕКТ») of the count as it stands."""
    from docxtpl import DocxTemplate

    from services.closing import stored_protocol
    from services.documents import TEMPLATES_DIR, xml_safe

    if stored and (fixed := stored_protocol(session_factory, meeting_id=meeting_id)) is not None:
        return fixed
    tally = tally or recount(session_factory, meeting_id=meeting_id)
    tpl = DocxTemplate(str(TEMPLATES_DIR / PROTOCOL_TEMPLATE_NAME))
    tpl.render(xml_safe(protocol_context(session_factory, meeting_id=meeting_id, tally=tally)), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def results_xlsx(tally: Tally) -> bytes:
    header, rows = results_rows(tally)
    summary = [["Всего голосов", votes2(tally.all_votes)], ["Голосов участников", votes2(tally.participants)],
               ["Участие, %", percent2(tally.participation)], ["Кворум", "есть" if tally.quorum else "нет"]]
    return xlsx_bytes([("Итоги", header, rows), ("Кворум", ["Показатель", "Значение"], summary)])


# ---------- attachments ----------

def participants_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """Список участников: owners whose decisions are counted, with their identification data."""
    from services.registry import natural_key

    with session_factory() as s:
        rows = s.execute(
            select(OwnerRecord, Premise, Decision).join(Premise, OwnerRecord.premise_id == Premise.id)
            .join(Decision, Decision.owner_id == OwnerRecord.id)
            .where(Decision.meeting_id == meeting_id, Decision.counted_slot.is_not(None))
        ).all()
    rows.sort(key=lambda r: (natural_key(r[1].number), r[0].name))
    header = ["№", "Номер помещения", "ФИО/Наименование собственника", "СНИЛС", "Документ о праве собственности",
              "Дата документа", "Площадь, м²", "Доля", "Голосов", "Решение", "Вид решения", "Дата получения",
              "Представитель"]
    data = []
    for i, (o, p, d) in enumerate(rows, start=1):
        from services.voting import KINDS, decision_number

        representative = of_decision(d)
        data.append([i, p.number, o.name, o.snils, o.doc_number, o.doc_date,
                     p.area, f.format_share(o.share), votes2(record_votes(p.area, o.share)),
                     decision_number(meeting_id, d.seq), KINDS[d.kind], d.received_on,
                     representative.describe() if representative else ""])
    return xlsx_bytes([("Участники собрания", header, data)])


POWERS_OF_ATTORNEY_HEADER = ["№", "Номер помещения", "ФИО/Наименование собственника", "Представитель",
                             "Номер доверенности", "Дата доверенности", "Кем удостоверена", "Решение"]


def powers_of_attorney(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[list]:
    """Доверенности: the powers of attorney by which representatives signed the counted decisions
    (ЖК РФ ст. 48 ч. 2), one row each, as the protocol's attachment lists them."""
    from services.registry import natural_key
    from services.voting import decision_number

    with session_factory() as s:
        rows = s.execute(
            select(OwnerRecord.name, Premise.number, Decision).join(Premise, OwnerRecord.premise_id == Premise.id)
            .join(Decision, Decision.owner_id == OwnerRecord.id)
            .where(Decision.meeting_id == meeting_id, Decision.counted_slot.is_not(None),
                   Decision.representative_name != "", Decision.poa_number != "")
        ).all()
    rows.sort(key=lambda r: (natural_key(r[1]), r[0]))
    return [[i, number, name, d.representative_name, d.poa_number, d.poa_date, d.poa_certified_by,
             decision_number(meeting_id, d.seq)] for i, (name, number, d) in enumerate(rows, start=1)]


def powers_of_attorney_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int,
                            rows: list[list] | None = None) -> bytes:
    """The list of powers of attorney as a spreadsheet (the protocol's attachment «Доверенности»)."""
    if rows is None:
        rows = powers_of_attorney(session_factory, meeting_id=meeting_id)
    return xlsx_bytes([("Доверенности", POWERS_OF_ATTORNEY_HEADER, rows)])


def decisions_list_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """Written decisions listed for their scans, and every decision with its seal."""
    from services.voting import decisions_frame

    frame = decisions_frame(session_factory, meeting_id=meeting_id).drop(columns="id")
    return xlsx_bytes([("Решения собственников", list(frame.columns), frame.values.tolist())])


def electronic_decisions_docx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """Code-signed decisions printed with their seals (python-docx: a generated listing)."""
    from docx import Document
    from docx.shared import Pt

    from services.voting import ANSWER_LABELS, decision_number

    doc = Document()
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(11)
    with session_factory() as s:
        m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.questions), selectinload(Meeting.building)])
        numbers = {q.id: (q.number, q.text) for q in m.questions}
        rows = s.execute(select(Decision, OwnerRecord.name, Premise.number)
                         .join(OwnerRecord, Decision.owner_id == OwnerRecord.id)
                         .join(Premise, OwnerRecord.premise_id == Premise.id)
                         .where(Decision.meeting_id == meeting_id, Decision.kind == "electronic")
                         .options(selectinload(Decision.answers)).order_by(Decision.seq)).all()
        doc.add_heading("Решения собственников, подписанные персональным кодом", level=1)
        doc.add_paragraph(xml_text(f"Многоквартирный дом: {m.building.address}. Решений: {len(rows)}."))
        if not rows:
            doc.add_paragraph("Решений, подписанных кодом, нет.")
        for d, name, number in rows:
            doc.add_heading(xml_text(f"Решение № {decision_number(meeting_id, d.seq)} — помещение {number}, {name}"),
                            level=2)
            doc.add_paragraph(f"Подписано {format_local(d.submitted_at, zone=True)} персональным кодом "
                              "собственника.")
            for a in sorted(d.answers, key=lambda a: numbers[a.question_id][0]):
                n, text = numbers[a.question_id]
                doc.add_paragraph(xml_text(f"{n}. {text} — {ANSWER_LABELS[a.answer]}"))
            doc.add_paragraph(f"Печать (HMAC-SHA256): {d.seal}")
            doc.add_paragraph(f"Предыдущая печать цепочки: {d.prev_seal or '—'}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def notice_docx(session_factory: sessionmaker[Session], *, meeting_id: int, public_url: str) -> bytes:
    from docx import Document

    from services.notice import notice_text_for_gis
    from services.notice_terms import edition_in_force, view_of_edition
    from services.sender import meeting_view

    with session_factory() as s:
        if s.get(Meeting, meeting_id) is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        view = meeting_view(s, meeting_id)
        # the notice in force: the terms the owners were last notified on, not later unsent edits
        edition = edition_in_force(s, meeting_id)
    doc = Document()
    if edition is not None and edition.version > 1:
        doc.add_paragraph(xml_text(f"Редакция {edition.version} сообщения: условия собрания изменены "
                                   f"({edition.reason}); сообщения направлены повторно."))
    lines = notice_text_for_gis(view if edition is None else view_of_edition(view, edition), public_url)
    for line in lines.splitlines():
        doc.add_paragraph(xml_text(line))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def protocol_package_zip(session_factory: sessionmaker[Session], *, meeting_id: int, public_url: str) -> bytes:
    """The protocol and every attachment, numbered as the protocol lists them."""
    from services.notify import delivery_register_xlsx
    from services.registry import registry_xlsx

    tally = recount(session_factory, meeting_id=meeting_id)
    parts: list[tuple[str, object]] = [
        ("Протокол.docx", protocol_docx(session_factory, meeting_id=meeting_id, tally=tally)),
        ("Итоги голосования.xlsx", results_xlsx(tally)),
    ]
    for i, a in enumerate(attachments(session_factory, meeting_id=meeting_id, public_url=public_url), start=1):
        parts.append((f"Приложение {i}. {a.file}", a))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, part in parts:
            if isinstance(part, Attachment) and part.folder:
                _write_folder(zf, name, part.make())
            else:
                zf.writestr(name, part.make() if isinstance(part, Attachment) else part)
    return buf.getvalue()


def _write_folder(zf: zipfile.ZipFile, folder: str, files: Iterable[tuple[str, bytes]]) -> None:
    """A folder of the package, its files written as they come; JPEG images stored as they are
    (compressing them again only costs time)."""
    for name, data in files:
        zf.writestr(f"{folder}/{name}", data,
                    compress_type=zipfile.ZIP_STORED if name.lower().endswith(".jpg") else zipfile.ZIP_DEFLATED)
