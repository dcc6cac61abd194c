"""Parsing and validating the values of one owner-registry row.

Every function takes what a spreadsheet cell may hold (str, float, int, date, '') and returns the
clean value, or raises FieldError with a Russian reason. The registry import and the in-place
editing of the registry table both use these, so a value is judged the same way everywhere.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from services import figures
from services.law import JOINT_RIGHT_STEM


class FieldError(ValueError):
    """A cell value that cannot be accepted; str(exc) is the reason in Russian."""


_SPACES = re.compile(r"\s+")
_PREMISE_PREFIX = re.compile(
    r"^(?:№\s*)?(?:кв(?:артира)?|пом(?:ещение)?|н/?п|помещ)\s*[.:]?\s*(?:№\s*)?(?=\S)", re.IGNORECASE
)
_NON_RESIDENTIAL = re.compile(r"^(?:н|нп|нж)[\s\-.]*\d", re.IGNORECASE)


def is_blank(value) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def clean_text(value) -> str:
    if isinstance(value, str):
        # split() and strip() treat exactly the characters \s matches as spaces: the same result
        # as collapsing \s+ and stripping, several times faster on a 100 000-row registry.
        return " ".join(value.split())
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACES.sub(" ", str(value)).strip()


# Control characters (C0 and C1, DEL) and the two non-characters XML 1.0 forbids, and a lone
# surrogate: text holding one cannot go into a .docx/.xlsx (python-docx and docxtpl refuse it,
# the package is not made). Tab and line feed are spaces to clean_text, so they never reach here
# in a single-line field; a multi-line field keeps them (see strip_controls).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
CONTROLS_POLICY = "управляющие (непечатаемые) символы удаляются из текста, строка принимается"


has_controls = _CONTROLS.search  # (text) -> a match or None: the quick test before cleaning


def find_controls(text: str) -> str:
    """The control characters in `text` as «U+0007, U+0000» (first five), or '' when there are none."""
    found = list(dict.fromkeys(_CONTROLS.findall(text)))
    return ", ".join(f"U+{ord(c):04X}" for c in found[:5]) + (" …" if len(found) > 5 else "")


def strip_controls(text: str) -> str:
    """`text` without control characters. Those that are spaces to str.split (vertical tab, form
    feed, U+001C–U+001F, U+0085) become spaces; tab, line feed and carriage return stay (a
    multi-line field keeps its lines; clean_text makes them spaces in a single-line one)."""
    return _CONTROLS.sub(_control_replacement, text)


def _control_replacement(match: re.Match) -> str:
    return " " if match.group().isspace() else ""


def controls_note(column: str, text: str) -> str:
    """The warning of a field whose control characters were removed (the import's policy)."""
    return f"{column}: удалены управляющие символы ({find_controls(text)}) — {CONTROLS_POLICY}"


def text_key(value: str) -> str:
    """Identity of a name or number: case, ё/е and spaces ignored."""
    return "".join(value.lower().replace("ё", "е").split())


def name_key(value: str) -> str:
    return " ".join(value.lower().replace("ё", "е").replace(" ,", ",").replace(",", ", ").split())


# ---------- premise number ----------

def parse_premise_number(value) -> str:
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    text = clean_text(value)
    if not text:
        raise FieldError("не указан номер помещения")
    text = _PREMISE_PREFIX.sub("", text).strip() or text
    if len(text) > 50:
        raise FieldError(f"номер помещения длиннее 50 знаков: «{text[:60]}…»")
    return text


def premise_kind(number: str, kind_cell=None) -> str:
    kind_text = clean_text(kind_cell).lower()
    if "нежил" in kind_text:
        return "non_residential"
    if "жил" in kind_text or "кварт" in kind_text:
        return "residential"
    if _NON_RESIDENTIAL.match(number) or kind_text.startswith(("маш", "кладов", "офис", "магаз")):
        return "non_residential"
    return "residential"


# ---------- area ----------

_AREA_UNITS = re.compile(r"(кв\.?\s*м\.?|м\.?\s*кв\.?|м²|м2|m²|m2|sq\.?\s*m)\s*$", re.IGNORECASE)
_MAX_AREA = Decimal("1000000")


def _to_decimal(text: str) -> Decimal:
    text = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    if "," in text and "." in text:
        # the last separator is the decimal one: «1.234,56» or «1,234.56»
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    else:
        text = text.replace(",", ".")
    return Decimal(text)


def parse_area(value) -> Decimal:
    if isinstance(value, bool):
        raise FieldError("площадь не является числом")
    if isinstance(value, (int, float)):
        if isinstance(value, float):
            # a spreadsheet keeps 50 as 50.0: read it as the 50 a CSV gives, so messages agree
            area = Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
        else:
            area = Decimal(value)
    else:
        text = clean_text(value)
        if not text:
            raise FieldError("не указана площадь помещения")
        number = _AREA_UNITS.sub("", text).strip()
        try:
            area = _to_decimal(number)
        except (InvalidOperation, ValueError):
            raise FieldError(f"площадь «{text[:40]}» не является числом") from None
    if not area.is_finite():
        raise FieldError("площадь не является числом")
    if area <= 0:
        raise FieldError(f"площадь должна быть больше нуля, указано {area}")
    if area >= _MAX_AREA:
        raise FieldError(f"площадь {area} м² нереально велика для одного помещения")
    if area.as_tuple().exponent < -4:
        area = area.quantize(Decimal("0.0001"))
    return area


def format_area(area: Decimal) -> str:
    """An area as the registry holds it, for people: «50,00 м²», «10,0125 м²» — every stored digit,
    so a table cell or a message never shows two different areas alike, and a cell read back is
    the same area (services/figures.py writes the figures; rounded ones are its format_area)."""
    return figures.format_area(area, exact=True)


# ---------- share ----------

_SHARE_WORDS = re.compile(r"\s*(доли|доля|долей)\s*$", re.IGNORECASE)
_FRACTION = re.compile(r"^(\d+)\s*/\s*(\d+)$")


def _float_share(value: float) -> Fraction:
    exact = Fraction(Decimal(repr(value)))
    near = exact.limit_denominator(1000)
    return near if abs(near - exact) < Fraction(1, 10**9) else exact


def parse_share(value) -> Fraction:
    """Доля: «1», «1/2», «0,5», «0.5», «50%». Blank is handled by the caller (whole premise)."""
    if isinstance(value, (dt.date, dt.datetime)):
        raise FieldError(
            f"доля прочитана как дата {value:%d.%m} — Excel превратил дробь в дату; "
            "введите долю как текст, например «1/2»"
        )
    if isinstance(value, bool):
        raise FieldError("доля не распознана")
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError("доля не распознана")
    if isinstance(value, int):
        share = Fraction(value)
    elif isinstance(value, float):
        share = _float_share(value)
    else:
        text = _SHARE_WORDS.sub("", clean_text(value)).replace(" ", "")
        try:
            if text.endswith("%"):
                share = Fraction(_to_decimal(text[:-1])) / 100
            elif m := _FRACTION.match(text):
                if int(m.group(2)) == 0:
                    raise FieldError(f"доля «{text}»: знаменатель равен нулю")
                share = Fraction(int(m.group(1)), int(m.group(2)))
            else:
                share = Fraction(_to_decimal(text))
        except (InvalidOperation, ValueError, ZeroDivisionError, OverflowError):  # «inf», «NaN»
            raise FieldError(f"доля «{clean_text(value)[:40]}» не распознана (пример: 1, 1/2, 0,5, 50%)") from None
    if share <= 0:
        raise FieldError(f"доля должна быть больше нуля, указано {format_share(share)}")
    if share > 1:
        raise FieldError(f"доля не может быть больше 1, указано {format_share(share)}")
    return share


# Совместная собственность as registries write it in the share cell or a «Вид права» column:
# «совместная», «общая совместная», «совм.», «Общая совместная собственность» (ГК РФ ст. 244 ч. 2).
# The stem is kept with its source in services/law.py (VOTE_RULES["joint_holding"]).
_JOINT = re.compile(rf"\b{JOINT_RIGHT_STEM}(?:естн\w*|\.|\b)", re.IGNORECASE)
_JOINT_WORDS = ("общ", "совм", "собствен", "доля", "прав")


def is_joint_right(value) -> bool:
    """Whether a cell («Вид права», or the share cell) says the ownership is joint (совместная)."""
    return isinstance(value, str) and bool(_JOINT.search(value.replace("ё", "е")))


def parse_holding_share(value) -> tuple[Fraction | None, bool]:
    """The share cell: (share, joint). «совместная» alone is (None, True): the holding's share
    follows from the premise's other rows; «1/2 совместная» is (1/2, True); anything else is
    `parse_share` with joint False."""
    if is_joint_right(value):
        tokens = re.split(r"[\s,;:()]+", clean_text(value).lower().replace("ё", "е"))
        rest = "".join(t for t in tokens if t and not t.startswith(_JOINT_WORDS) and t not in ("в", "-"))
        return (parse_share(rest) if rest else None), True
    return parse_share(value), False


def format_share(share: Fraction) -> str:
    return str(share.numerator) if share.denominator == 1 else f"{share.numerator}/{share.denominator}"


# ---------- dates ----------

_DATE_RU = re.compile(r"^(\d{1,2})[./\-](\d{1,2})[./\-](\d{2}|\d{4})(?:\s*г\.?)?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


def parse_date(value) -> dt.date | None:
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value < 80000:
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))  # a spreadsheet serial day
    text = clean_text(value)
    try:
        if m := _DATE_RU.match(text):
            day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if year < 100:
                year += 2000 if year <= dt.date.today().year % 100 else 1900
            return dt.date(year, month, day)
        if m := _DATE_ISO.match(text):
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise FieldError(f"дата «{text[:40]}» не существует") from None
    raise FieldError(f"дата «{text[:40]}» не распознана (ожидается ДД.ММ.ГГГГ)")


def format_date(value: dt.date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


# ---------- СНИЛС ----------

def snils_checksum_ok(digits: str) -> bool:
    number = int(digits[:9])
    if number <= 1001998:  # numbers up to 001-001-998 carry no check digits
        return True
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    if total > 101:
        total %= 101
    check = 0 if total in (100, 101) else total
    return check == int(digits[9:])


def parse_snils(value) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = f"{int(value):011d}"
    digits = re.sub(r"\D", "", str(value))
    if len(digits) != 11:
        raise FieldError(f"СНИЛС «{clean_text(value)[:30]}» должен содержать 11 цифр")
    if not snils_checksum_ok(digits):
        raise FieldError(f"СНИЛС {format_snils(digits)}: неверные контрольные цифры")
    return format_snils(digits)


def format_snils(digits: str) -> str:
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


def valid_snils(stored: str) -> str:
    """A stored СНИЛС as the decision form prints it («112-233-445 95»), or '' when it is missing
    or fails its check digits: the form then leaves a line to fill in by hand."""
    digits = _NON_DIGITS.sub("", stored or "")
    return format_snils(digits) if len(digits) == 11 and snils_checksum_ok(digits) else ""


# ---------- ОГРН ----------

def ogrn_checksum_ok(digits: str) -> bool:
    """ОГРН: 13 digits, the 13th = (the first 12 as a number mod 11) mod 10; ОГРНИП: 15 digits,
    the 15th = (the first 14 mod 13) mod 10."""
    if len(digits) == 13:
        return int(digits[:12]) % 11 % 10 == int(digits[12])
    if len(digits) == 15:
        return int(digits[:14]) % 13 % 10 == int(digits[14])
    return False


def parse_ogrn(value) -> str:
    """ОГРН or ОГРНИП of an owner, as its digits; '' for a blank cell."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet keeps a long number as a float; 13–15 digits fit exactly
    digits = _NON_DIGITS.sub("", str(value))
    if len(digits) not in (13, 15):
        raise FieldError(f"ОГРН «{clean_text(value)[:30]}» должен содержать 13 цифр (ОГРНИП — 15)")
    if not ogrn_checksum_ok(digits):
        raise FieldError(f"ОГРН {digits}: неверное контрольное число")
    return digits


def valid_ogrn(stored: str) -> str:
    """A stored ОГРН/ОГРНИП for the decision form, or '' when missing or failing its check digit."""
    digits = _NON_DIGITS.sub("", stored or "")
    return digits if ogrn_checksum_ok(digits) else ""


# ---------- contacts ----------

_EMAIL = re.compile(r"[\w.%+'\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}", re.UNICODE)
_EMAILISH = re.compile(r"\S*@\S*")
_PHONE_RUN = re.compile(r"\+?\d[\d\s\-().]*\d|\+?\d")
_CHUNKS = re.compile(r"[,;\n\r]+")
_CONTACT_WORDS = re.compile(r"(?i)\b(тел|телефон|моб|e-?mail|эл\.?\s*почта|почта|дом|раб)\b\.?:?")
_CONTACT_PUNCT = re.compile(r"[\s:+().\-–—/]+")
_NON_DIGITS = re.compile(r"\D")


@dataclass(slots=True)
class Contacts:
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _phone_from_digits(digits: str) -> str | None:
    if len(digits) == 11 and digits[0] in "78":
        return "7" + digits[1:]
    if len(digits) == 10 and digits[0] != "0":
        return "7" + digits
    return None


def _split_phones(run: str, out: Contacts) -> None:
    found_before = len(out.phones)
    groups = [_NON_DIGITS.sub("", g) for g in run.split()]
    groups = [g for g in groups if g]
    pending = ""
    for group in groups:
        candidate = pending + group
        if len(candidate) < 10:
            pending = candidate
            continue
        phone = _phone_from_digits(candidate)
        if phone:
            out.phones.append(phone)
            pending = ""
        elif pending and _phone_from_digits(pending) is None and len(group) >= 10 and _phone_from_digits(group):
            out.invalid.append(pending)
            out.phones.append(_phone_from_digits(group))
            pending = ""
        else:
            out.invalid.append(run.strip())
            return
    if pending:
        # the run as written when nothing in it was a phone, else just the leftover digits
        out.invalid.append(run.strip() if len(out.phones) == found_before else pending)


def _add_phone_run(run: str, out: Contacts) -> None:
    before = len(out.phones)
    _split_phones(run, out)
    for phone in out.phones[before:]:
        if out.phones.count(phone) > 1:
            out.phones.pop(out.phones.index(phone, before))


def parse_contacts(*cells) -> Contacts:
    """Any number of e-mails and phones in any cells, separated by spaces, commas, ; or new lines."""
    if len(cells) == 1 and cells[0].__class__ is str:
        # The usual cell, one e-mail or one phone and no separator: the chunk loop below would
        # take the same fast path for it, after splitting.
        cell = cells[0]
        if "," not in cell and ";" not in cell and "\n" not in cell and "\r" not in cell:
            chunk = cell.strip()
            if "@" in chunk:
                whole = _EMAIL.match(chunk)
                if whole is not None and whole.end() == len(chunk):
                    email = chunk.strip(".").lower()
                    return Contacts([email] if len(email) <= 254 else [], [], [])
            elif chunk:
                whole = _PHONE_RUN.match(chunk)
                if whole is not None and whole.end() == len(chunk):
                    out = Contacts([], [], [])
                    _add_phone_run(chunk, out)
                    return out
    out = Contacts([], [], [])
    for cell in cells:
        if is_blank(cell):
            continue
        if isinstance(cell, float) and cell.is_integer():
            cell = str(int(cell))
        for chunk in _CHUNKS.split(str(cell)):
            chunk = chunk.strip()
            if not chunk:
                continue
            # Fast paths, same results: a chunk that is one e-mail or one phone and nothing else
            # (the usual case) is taken whole, without the searches for what is left over.
            if "@" in chunk:
                whole = _EMAIL.match(chunk)
                only_email = whole is not None and whole.end() == len(chunk)
                for email in [chunk] if only_email else _EMAIL.findall(chunk):
                    email = email.strip(".").lower()
                    if email not in out.emails and len(email) <= 254:
                        out.emails.append(email)
                if only_email:
                    continue
                rest = _EMAIL.sub(" ", chunk)
                for bad in _EMAILISH.findall(rest):
                    out.invalid.append(bad)
                rest = _EMAILISH.sub(" ", rest)
            else:
                rest = chunk  # neither an e-mail nor an e-mail-like token can be there
            whole = _PHONE_RUN.match(rest)
            only_phone = whole is not None and whole.end() == len(rest)
            for run in [rest] if only_phone else _PHONE_RUN.findall(rest):
                _add_phone_run(run, out)
            if only_phone:
                continue
            leftover = _PHONE_RUN.sub(" ", rest)
            leftover = _CONTACT_WORDS.sub(" ", leftover)
            leftover = _CONTACT_PUNCT.sub(" ", leftover).strip()
            if leftover:
                out.invalid.append(leftover)
    return out


def format_contacts(emails: list[str], phones: list[str]) -> str:
    return " ".join([*emails, *phones])


# ---------- owners ----------

_LEGAL = re.compile(
    r"(^|[\s«\"(])(ооо|оао|зао|пао|ао|нао|гуп|муп|фгуп|гбу|мбу|гку|мку|тсж|жск|тсн|нко|ано|"
    r"общество|администрация|департамент|комитет|министерство|управление|учреждение|"
    r"российская федерация|субъект|муниципальн|городской округ|фонд|корпорация|компания|банк)"
    r"($|[\s»\"),.])",
    re.IGNORECASE,
)


def parse_owner_name(value) -> str:
    name = clean_text(value)
    if not name:
        raise FieldError("не указан собственник")
    if len(name) > 1000:
        raise FieldError("ФИО/наименование собственника длиннее 1000 знаков")
    return name


# The same words matched against the lower-cased name: twice as fast as IGNORECASE on Cyrillic.
_LEGAL_LOWER = re.compile(_LEGAL.pattern)


def looks_like_legal_entity(name: str, entity_cell=None, *, lowered: str | None = None) -> bool:
    """A legal entity by the «Тип собственника» cell when it says so, else by the words of the
    name; `lowered` is name.lower() when the caller has it already."""
    if entity_cell is not None and entity_cell != "":
        hint = clean_text(entity_cell).lower()
        if hint:
            if "юр" in hint or "организац" in hint:
                return True
            if "физ" in hint or "ип" == hint:
                return False
    return _LEGAL_LOWER.search(name.lower() if lowered is None else lowered) is not None
