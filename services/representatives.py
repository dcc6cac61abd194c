"""Представитель: who signs a written decision for an owner (ЖК РФ ст. 48 ч. 2).

A representative acts by a power of attorney (доверенность: its number, date, and who certified it,
ГК РФ ст. 185.1), or — for a legal entity's head — by office, without one (ГК РФ ст. 53). The power
of attorney itself is an attachment of the protocol (Приказ Минстроя № 266/пр; DOMAIN.md rule 13).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from services.errors import ValidationError

# «ООО «Ромашка» в лице генерального директора Иванова И.И., действующего на основании Устава»:
# the owner is what stands before «в лице»; what follows names the representative and the office.
_ON_BEHALF = re.compile(r"\s*,?\s+(?:в\s+лице|действующ\w*\s+на\s+основании|по\s+доверенности)\b.*$",
                        re.IGNORECASE | re.DOTALL)
_IN_PERSON = re.compile(r"\bв\s+лице\s+(?P<who>.+?)(?:\s*,?\s+действующ\w*\s+на\s+основании\b.*)?$",
                        re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Representative:
    name: str
    office: str = ""  # a legal entity's head: «генеральный директор»
    poa_number: str = ""
    poa_date: dt.date | None = None
    poa_certified_by: str = ""  # «нотариус г. Твери Петрова А.А., рег. № 69/12-н/69-2026-1-123»

    @property
    def by_power_of_attorney(self) -> bool:
        return bool(self.poa_number or self.poa_date)

    def checked(self) -> "Representative":
        """The same, cleaned, or a ValidationError saying what is missing."""
        clean = Representative(" ".join(self.name.split()), " ".join(self.office.split()),
                               " ".join(self.poa_number.split()), self.poa_date,
                               " ".join(self.poa_certified_by.split()))
        if not clean.name:
            raise ValidationError("Представитель: укажите ФИО представителя.")
        if not clean.office and not clean.by_power_of_attorney:
            raise ValidationError("Представитель: укажите доверенность (номер и дату) или должность "
                                  "руководителя юридического лица.")
        if clean.by_power_of_attorney and not (clean.poa_number and clean.poa_date):
            raise ValidationError("Представитель: у доверенности должны быть номер и дата.")
        if clean.poa_date and clean.poa_date > dt.date.today():
            raise ValidationError("Представитель: дата доверенности не может быть позже сегодняшней.")
        return clean

    def describe(self) -> str:
        """«Петров Пётр Петрович, по доверенности № 12 от 01.02.2026, удостоверена: нотариус …»."""
        parts = [self.name]
        if self.office:
            parts.append(self.office)
        if self.by_power_of_attorney:
            poa = f"по доверенности № {self.poa_number}"
            if self.poa_date:
                poa += f" от {self.poa_date:%d.%m.%Y}"
            if self.poa_certified_by:
                poa += f", удостоверена: {self.poa_certified_by}"
            parts.append(poa)
        return ", ".join(parts)

    def columns(self) -> dict:
        """The Decision row's columns."""
        return {"representative_name": self.name, "representative_office": self.office,
                "poa_number": self.poa_number, "poa_date": self.poa_date, "poa_certified_by": self.poa_certified_by}

    def sealed(self) -> dict:
        """What the decision's seal covers of it."""
        return {"name": self.name, "office": self.office, "poa_number": self.poa_number,
                "poa_date": self.poa_date.isoformat() if self.poa_date else "", "poa_certified_by": self.poa_certified_by}


def of_decision(d) -> Representative | None:
    """The representative stored on a Decision row, if any."""
    if not d.representative_name:
        return None
    return Representative(d.representative_name, d.representative_office, d.poa_number, d.poa_date,
                          d.poa_certified_by)


def split_signer(text: str) -> tuple[str, str]:
    """(the owner's name, what follows «в лице …» or «по доверенности …», '' if nothing): a legal
    entity's decision is matched by its name whatever follows it."""
    match = _ON_BEHALF.search(text)
    if not match:
        return text.strip(), ""
    return text[:match.start()].strip(" ,"), text[match.start():].strip(" ,")


def in_person_of(tail: str) -> str:
    """«в лице генерального директора Иванова И.И., действующего на основании Устава» →
    «генерального директора Иванова И.И.» (as written, in the genitive)."""
    match = _IN_PERSON.search(tail)
    return " ".join(match.group("who").split()).strip(" ,") if match else ""
