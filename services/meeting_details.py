"""The details of a meeting that its notice and protocol name beyond dates and agenda: the kind,
the initiator as a structured party, invited persons, where the documents are kept, the
in-person part of an очно-заочное meeting and the ground of a заочное one.

Sources: Приказ Минстроя России от 30.04.2025 № 266/пр (in force from 01.09.2025; it keeps the
list of details of № 44/пр п. 12–13 and adds the initiator's passport data — see the Московская
область ГЖН note of 02.09.2025, riamo.ru, «вводятся обязательные реквизиты: … паспортные данные
инициатора»); ЖК РФ ст. 45 ч. 2 (a group of owners holding at least 10 % of the votes may call
an extraordinary meeting), ст. 45 ч. 5 (the notice of an очно-заочное meeting names the date,
time and place of the in-person discussion), ст. 47 ч. 1 (a заочное meeting follows an in-person
one that had no quorum). DOMAIN.md rules 1, 13.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.figures import format_percent, format_votes, record_votes
from services.models import Meeting, OwnerRecord, Premise

KINDS = ("внеочередное", "годовое")
INITIATOR_KINDS = {
    "organisation": "Организация (управляющая организация и др.)",
    "owner": "Собственник помещения",
    "group": "Группа собственников",
}
# as the protocol names the initiator's kind (an organisation needs no word: its name says it)
INITIATOR_KIND_WORDS = {"organisation": "", "owner": "собственник помещения", "group": "группа собственников"}
GROUP_MIN_SHARE = Fraction(1, 10)  # ЖК РФ ст. 45 ч. 2: not less than 10 % of all votes


def ogrn_ok(value: str) -> bool:
    """ОГРН (13 digits) or ОГРНИП (15) as typed, with its check digit (owner_fields.ogrn_checksum_ok)."""
    from services.owner_fields import ogrn_checksum_ok

    return ogrn_checksum_ok(re.sub(r"\D", "", value or ""))


def _lines(text: str) -> list[str]:
    return [" ".join(x.split()) for x in (text or "").splitlines() if x.strip()]


@dataclass(frozen=True)
class Invited:
    who: str
    represents: str
    purpose: str

    def describe(self) -> str:
        parts = [self.who]
        if self.represents:
            parts.append(f"представитель {self.represents}")
        if self.purpose:
            parts.append(f"цель участия: {self.purpose}")
        return ", ".join(parts)


def invited_list(text: str) -> list[Invited]:
    """Lines «кто; кого представляет; цель участия» (the last two may be empty)."""
    out = []
    for line in _lines(text):
        who, represents, purpose = ([p.strip() for p in line.split(";", 2)] + ["", ""])[:3]
        if who:
            out.append(Invited(who, represents, purpose))
    return out


@dataclass(frozen=True)
class GroupShare:
    votes: Fraction
    all_votes: Fraction
    matched: list[str]
    unmatched: list[str]

    @property
    def share(self) -> Fraction:
        return self.votes / self.all_votes if self.all_votes else Fraction(0)

    @property
    def enough(self) -> bool:
        return not self.unmatched and self.all_votes > 0 and self.share >= GROUP_MIN_SHARE


def group_share(s: Session, meeting_id: int, members: str) -> GroupShare:
    """The votes of the owners named in a group initiator, found in the registry by name (a joint
    holding's votes shared among its members), against all votes of the building."""
    from services.owner_fields import name_key
    from services.tally import recount_all_votes

    names = _lines(members)
    keys = {name_key(n): n for n in names}
    rows = s.execute(
        select(OwnerRecord.name_key, OwnerRecord.premise_id, OwnerRecord.joint_group, OwnerRecord.share_num,
               OwnerRecord.share_den, Premise.area)
        .join(Premise, OwnerRecord.premise_id == Premise.id).where(OwnerRecord.meeting_id == meeting_id)
    ).all()
    members_of = {}
    for r in rows:
        if r.joint_group is not None:
            members_of[(r.premise_id, r.joint_group)] = members_of.get((r.premise_id, r.joint_group), 0) + 1
    votes, found = Fraction(0), set()
    for r in rows:
        if r.name_key in keys:
            found.add(r.name_key)
            v = record_votes(r.area, Fraction(r.share_num, r.share_den))
            votes += v / members_of.get((r.premise_id, r.joint_group), 1) if r.joint_group is not None else v
    return GroupShare(votes, recount_all_votes(s, meeting_id), [keys[k] for k in keys if k in found],
                      [keys[k] for k in keys if k not in found])


def initiator_details_text(m: Meeting, s: Session | None = None) -> str:
    """The initiator's identity details as the notice and the protocol print them."""
    if m.initiator_kind == "organisation":
        parts = [f"ОГРН {m.initiator_ogrn}" if m.initiator_ogrn else "",
                 f"адрес: {m.initiator_address}" if m.initiator_address else ""]
    elif m.initiator_kind == "owner":
        parts = [f"паспорт: {m.initiator_passport}" if m.initiator_passport else "",
                 f"документ о праве собственности: {m.initiator_ownership_doc}" if m.initiator_ownership_doc else ""]
    else:
        members = _lines(m.initiator_group)
        parts = [f"собственники: {'; '.join(members)}" if members else ""]
        if s is not None and members:
            g = group_share(s, m.id, m.initiator_group)
            parts.append(f"в совокупности {format_votes(g.votes)} голосов ({format_percent(g.share)} от общего "
                         "числа голосов)")
    text = "; ".join(p for p in parts if p)
    legacy = (m.initiator_details or "").strip()
    return "; ".join(x for x in (text, legacy) if x)


def in_person_text(m: Meeting) -> str:
    """«15.12.2026 в 19:00, двор дома» — the in-person discussion of an очно-заочное meeting."""
    return format_in_person(m.form, m.in_person_at, m.in_person_place)


def format_in_person(form: str, at: dt.datetime | None, place: str) -> str:
    if form != "очно-заочное" or at is None:
        return ""
    return f"{at:%d.%m.%Y} в {at:%H:%M}" + (f", {place}" if place else "")


def validate_details(data) -> list[str]:
    """Problems that stop saving a meeting (`MeetingData`): what is given must be right; what is
    missing is listed only when the count is closed (`missing_for_protocol`)."""
    problems = []
    if data.kind not in KINDS:
        problems.append(f"Вид собрания «{data.kind}» не поддерживается: возможны {', '.join(KINDS)}.")
    if data.initiator_kind not in INITIATOR_KINDS:
        problems.append(f"Неизвестный вид инициатора «{data.initiator_kind}».")
    if data.initiator_kind == "organisation" and data.initiator_ogrn.strip() and not ogrn_ok(data.initiator_ogrn):
        problems.append(f"ОГРН инициатора «{data.initiator_ogrn.strip()}» неверен: нужно 13 цифр (ОГРНИП — 15) с "
                        "верной контрольной цифрой.")
    if data.form == "очно-заочное":
        if data.in_person_at is None:
            problems.append("Для очно-заочного собрания укажите дату и время очного обсуждения (ЖК РФ ст. 45 ч. 5).")
        elif isinstance(data.start_date, dt.date) and isinstance(data.end_date, dt.date) and not (
                data.start_date <= data.in_person_at.date() <= data.end_date):
            problems.append(f"Очное обсуждение ({data.in_person_at:%d.%m.%Y}) должно пройти в период собрания: "
                            f"с {data.start_date:%d.%m.%Y} по {data.end_date:%d.%m.%Y}.")
        if not data.in_person_place.strip():
            problems.append("Для очно-заочного собрания укажите место очного обсуждения (ЖК РФ ст. 45 ч. 5).")
    for i, line in enumerate(_lines(data.invited), start=1):
        if not line.split(";")[0].strip():
            problems.append(f"Приглашённые, строка {i}: не указано, кто приглашён.")
    return problems


def missing_for_protocol(s: Session, m: Meeting) -> list[str]:
    """What the protocol needs and the meeting lacks (Приказ № 266/пр; DOMAIN.md rule 13), in Russian;
    empty when the count may be closed."""
    missing = []
    if m.initiator_kind == "organisation":
        if not m.initiator_ogrn:
            missing.append("ОГРН инициатора-организации.")
        if not m.initiator_address.strip():
            missing.append("Адрес инициатора-организации.")
    elif m.initiator_kind == "owner":
        if not m.initiator_passport.strip():
            missing.append("Паспортные данные инициатора-собственника.")
        if not m.initiator_ownership_doc.strip():
            missing.append("Документ о праве собственности инициатора.")
    else:
        if not _lines(m.initiator_group):
            missing.append("Состав группы собственников — инициаторов.")
        else:
            g = group_share(s, m.id, m.initiator_group)
            if g.unmatched:
                missing.append(f"Инициаторы не найдены в реестре собственников: {', '.join(g.unmatched)}.")
            elif not g.enough:
                missing.append(f"Группа инициаторов владеет {format_percent(g.share)} голосов — меньше 10 % "
                               "(ЖК РФ ст. 45 ч. 2).")
    if not m.archive_place.strip():
        missing.append("Место (адрес) хранения протокола и решений собственников.")
    if not m.protocol_chair.strip():
        missing.append("Председатель общего собрания.")
    if not m.protocol_secretary.strip():
        missing.append("Секретарь общего собрания.")
    if not m.protocol_place.strip():
        missing.append("Место составления протокола.")
    if m.form == "очно-заочное" and (m.in_person_at is None or not m.in_person_place.strip()):
        missing.append("Дата, время и место очного обсуждения.")
    if m.form == "заочное" and m.ground_meeting_id is None and not m.ground_text.strip() \
            and not m.no_ground_confirmed_by:
        missing.append("Основание заочного собрания (ЖК РФ ст. 47 ч. 1): предыдущее собрание без кворума "
                       "или подтверждение проведения без него.")
    owners = s.scalar(select(func.count()).select_from(OwnerRecord).where(OwnerRecord.meeting_id == m.id))
    if not owners:
        missing.append("Реестр собственников.")
    for q in sorted(m.questions, key=lambda x: x.number):
        if "____" in (q.proposal or ""):
            missing.append(f"Вопрос {q.number}: незаполненные места «____» в формулировке предложения.")
    return missing
