"""Reading an owner registry (реестр собственников) from a table file: pure, no storage.

`parse_registry(data, filename)` finds the header row, recognises the columns by keywords,
validates every row and returns a `RegistryReport`: the accepted owner records, the rejected
rows with row/column/reason, the warnings, and the summary. Nothing here touches the database.
"""
from __future__ import annotations

import dataclasses

import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from itertools import chain

from services import owner_fields as f
from services.spreadsheet import (
    CHUNK_ROWS,
    CSV_DELIMITERS,
    Sheet,
    TableFileError,
    WorkbookReader,
    _read_csv,
    csv_text,
    table_format,
)

HEADER_SEARCH_ROWS = 30

FIELD_LABELS = {
    "premise": "Номер помещения",
    "area": "Общая площадь",
    "owner": "ФИО/Наименование собственника",
    "share": "Доля собственника",
    "doc_number": "Номер документа",
    "doc_date": "Дата документа",
    "snils": "СНИЛС",
    "ogrn": "ОГРН",
    "contacts": "Адрес эл. почты и номер телефона",
    "kind": "Вид помещения",
    "entity": "Тип собственника",
    "right": "Вид права",
}
REQUIRED = ("premise", "owner", "area")


def _norm_header(value) -> str:
    text = f.clean_text(value).lower().replace("ё", "е")
    text = text.replace("e-mail", "email").replace("е-mail", "email")
    return " " + re.sub(r"[^\w]+", " ", text).strip() + " "


def classify_header(value) -> tuple[str, int] | None:
    """Which registry field a header cell names, with a priority (lower is a better match)."""
    h = _norm_header(value)
    if h.strip() == "":
        return None
    has = lambda *words: any(w in h for w in words)  # noqa: E731
    if has("кадастр", "рождени", " голос", "паспорт", " п п ", "подпис"):
        return None
    if has("площад"):
        if has(" жил") and not has("общ"):
            return None  # жилая площадь is not the area that gives votes
        return ("area", 0 if has("общ") else 1)
    if has("доля", "доли", "долей"):
        return ("share", 0)
    # «Вид права», «Вид собственности» (ЕГРН: «Общая совместная собственность»); not ЕГРН's «Вид,
    # номер и дата государственной регистрации права», which is the ownership document
    if has(" вид ", " форма ") and has("прав", "собственност") and not has("номер", "дата", "регистрац"):
        return ("right", 0)
    if has("снилс", "страхов"):
        return ("snils", 0)
    # «ОГРН», «ОГРН/ОГРНИП», «ОГРН юр. лица» (before the «юр. лицо» of the owner type); not a date of it
    if has("огрн") and not has("дата"):
        return ("ogrn", 0)
    if has("дата"):
        if has("документ", "регистрац", "свидетельств", "выписк", "прав"):
            return ("doc_date", 0)
        return ("doc_date", 2)
    if has("почт", "email", " mail", "телефон", " тел ", " контакт", " моб "):
        return ("contacts", 0)
    if (has(" вид ", " тип ", "назначени", "характеристик")) and has("помещ"):
        return ("kind", 0)
    if has(" тип собственник", "физ", " юр ", "юридическ", " лицо "):
        return ("entity", 0)
    if has("документ", "регистрац", "свидетельств", "выписк", "правоустанавлива", "номер права"):
        return ("doc_number", 0 if has("документ") else 1)
    if has("помещ", "квартир", " кв ", " пом ", " кв") and not has(" адрес"):
        return ("premise", 0 if has("номер", "помещ") else 1)
    if has("фио", " ф и о ", "собственник", "наименовани", "владел", "правообладател"):
        return ("owner", 0 if has("фио", " ф и о ") else 1)
    return None


@dataclass
class HeaderMatch:
    row_index: int  # index in sheet.rows of the last header row
    columns: dict[str, int]  # field -> column index (contacts: first of them)
    contact_columns: list[int]
    headers: dict[int, str]  # column index -> header text as in the file
    ignored: list[str]

    @property
    def score(self) -> int:
        return len(self.columns)

    @property
    def complete(self) -> bool:
        return all(k in self.columns for k in REQUIRED)


def _match_headers(cells: list) -> HeaderMatch:
    best: dict[str, tuple[int, int]] = {}
    contacts: list[int] = []
    headers: dict[int, str] = {}
    for col, cell in enumerate(cells):
        text = f.clean_text(cell)
        if not text:
            continue
        headers[col] = text
        hit = classify_header(text)
        if hit is None:
            continue
        name, prio = hit
        if name == "contacts":
            contacts.append(col)
            continue
        if name not in best or prio < best[name][0]:
            best[name] = (prio, col)
    columns = {name: col for name, (_p, col) in best.items()}
    if contacts:
        columns["contacts"] = contacts[0]
    used = set(columns.values()) | set(contacts)
    ignored = [headers[c] for c in sorted(headers) if c not in used]
    return HeaderMatch(-1, columns, contacts, headers, ignored)


def find_header(sheet: Sheet) -> HeaderMatch | None:
    """The best header row among the first 30 rows; a two-row header (merged cells) is joined."""
    best: HeaderMatch | None = None
    best_rank: tuple = ()
    limit = min(len(sheet.rows), HEADER_SEARCH_ROWS)
    for i in range(limit):
        row = sheet.rows[i]
        if not any(not f.is_blank(c) for c in row):
            continue
        candidates = [(_match_headers(row), i)]
        # A two-level header has several cells in its upper row; a one-cell title row is not one.
        if i + 1 < len(sheet.rows) and sum(not f.is_blank(c) for c in row) >= 2:
            upper, lower = row, sheet.rows[i + 1]
            joined, carry = [], ""
            for col in range(max(len(upper), len(lower))):
                u = f.clean_text(upper[col]) if col < len(upper) else ""
                lo = f.clean_text(lower[col]) if col < len(lower) else ""
                carry = u or (carry if lo else "")
                joined.append(f"{carry} {lo}".strip())
            candidates.append((_match_headers(joined), i + 1))
        for n, (match, idx) in enumerate(candidates):
            match.row_index = idx
            # on a tie a single header row wins over a joined pair: joining must add columns
            rank = (match.complete, match.score, n == 0)
            if best is None or rank > best_rank:
                best, best_rank = match, rank
    return best


@dataclass
class Issue:
    row: int | None
    column: str | None
    message: str


@dataclass
class Note:
    row: int | None
    premise: str | None
    message: str


@dataclass(slots=True)
class ParsedOwner:
    row: int | None
    premise: str
    premise_key: str
    kind: str
    area: Decimal
    name: str
    name_key: str
    is_legal_entity: bool
    share: Fraction
    doc_number: str
    doc_date: object
    snils: str
    emails: list[str]
    phones: list[str]
    joint: bool = False  # совместная собственность: one holding with the premise's other joint rows
    share_given: bool = True  # False: the share cell was empty (or «совместная» without a fraction)
    joint_group: int | None = None  # set by RowChecker.finish: the holding within the premise
    ogrn: str = ""  # ОГРН/ОГРНИП, digits only (owner_fields.parse_ogrn)

    @property
    def votes(self) -> Fraction:
        return Fraction(self.area) * self.share


@dataclass
class RegistryReport:
    filename: str
    format: str
    sheet: str
    header_row: int
    columns: dict[str, str]  # field -> header text as in the file
    ignored_columns: list[str]
    owners: list[ParsedOwner] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    rejected_rows: list[tuple[int, list, str]] = field(default_factory=list)  # row, cells, reasons
    header_cells: list = field(default_factory=list)
    # (owners, premises, total area, votes) of a compact report (compact()): its rows are not kept
    figures: tuple[int, int, Decimal, Fraction] | None = None

    def compact(self) -> "RegistryReport":
        """The report without its accepted rows, its figures kept: a large file's preview, whose
        rows the import process reads again from the file (services/registry_job.py). 200 000
        checked rows are several hundred megabytes the app server need not hold while the analyst
        looks at the preview."""
        figures = (self.owner_count, self.premises, self.total_area, self.votes)
        return dataclasses.replace(self, owners=[], figures=figures)

    @property
    def owner_count(self) -> int:
        return self.figures[0] if self.figures else len(self.owners)

    @property
    def premises(self) -> int:
        if self.figures:
            return self.figures[1]
        return len({o.premise_key for o in self.owners})

    @property
    def total_area(self) -> Decimal:
        if self.figures:
            return self.figures[2]
        seen: dict[str, Decimal] = {}
        for o in self.owners:
            seen.setdefault(o.premise_key, o.area)
        return sum(seen.values(), Decimal(0))

    @property
    def votes(self) -> Fraction:
        # Σ area × share, exact, in integers grouped by denominator: one Fraction per distinct
        # denominator instead of 100 000 Fraction products and sums.
        if self.figures:
            return self.figures[3]
        by_den: dict[int, int] = {}
        seen_joint: set[tuple[str, int]] = set()
        for o in self.owners:
            if o.joint_group is not None:  # a joint holding's votes count once
                if (o.premise_key, o.joint_group) in seen_joint:
                    continue
                seen_joint.add((o.premise_key, o.joint_group))
            num, den = o.area.as_integer_ratio()
            share = o.share
            den *= share.denominator
            by_den[den] = by_den.get(den, 0) + num * share.numerator
        return sum((Fraction(v, d) for d, v in by_den.items()), Fraction(0))

    def summary(self) -> dict:
        """The report of `manage.py check-registry --json`."""
        return {
            "owners": self.owner_count,
            "premises": self.premises,
            "total_area": round(float(self.total_area), 2),
            "votes": round(float(self.votes), 2),
            "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in self.errors],
            "warnings": [{"row": w.row, "premise": w.premise, "message": w.message} for w in self.warnings],
        }


@dataclass
class ExistingRegistry:
    """What is already stored, for «добавить к реестру»: premise key -> (number, area, owner keys)."""

    premises: dict[str, tuple[str, Decimal, set[str]]] = field(default_factory=dict)


_TOTAL = re.compile(r"^\s*(итого|всего)\b", re.IGNORECASE)


def _is_total(value) -> bool:
    return value.__class__ is str and _TOTAL.match(value) is not None


def _is_total_row(cells: list, header: HeaderMatch) -> bool:
    """A total row is labelled «Итого»/«Всего» in its first column, its premise or owner column, or
    its first filled cell. A note such as «всего 2 собственника» further right in an owner's row
    does not make it one: that owner is not dropped."""
    width = len(cells)
    if width and _is_total(cells[0]):
        return True
    for col in (header.columns["premise"], header.columns["owner"]):
        if col < width and _is_total(cells[col]):
            return True
    first = next((c for c in cells if not f.is_blank(c)), "")
    return _is_total(first)


def _is_skippable(cells: list, header: HeaderMatch) -> bool:
    values = [c for c in cells if not f.is_blank(c)]
    if not values:
        return True
    if _is_total_row(cells, header):
        return True
    key_cols = [header.columns[k] for k in REQUIRED]
    if all(col >= len(cells) or f.is_blank(cells[col]) for col in key_cols):
        return True  # a note, a section title or a signature line: no premise, owner or area
    # the header repeated on every printed page, or a row of column numbers 1, 2, 3 …
    premise_cell = cells[header.columns["premise"]] if header.columns["premise"] < len(cells) else ""
    if isinstance(premise_cell, str) and f.clean_text(premise_cell) == header.headers.get(header.columns["premise"]):
        return True
    nums = [c for c in values if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if len(nums) == len(values) >= 3 and [int(v) for v in nums] == list(range(int(nums[0]), int(nums[0]) + len(nums))):
        if all(float(v).is_integer() for v in nums) and int(nums[0]) == 1:
            return True
    return False


class _Memo:
    """`parse` of a cell, remembered per value: a registry repeats areas, shares, dates and the
    premise of co-owners, and 100 000 rows must be checked in about a second.

    `hits.get((type(value), value)) or miss(value)` gives (result, None) or (None, reason). The key
    holds the type, so 1, 1.0 and True, equal in Python but parsed differently, never share one.
    """

    def __init__(self, parse):
        self.parse = parse
        self.hits: dict = {}

    def miss(self, value) -> tuple:
        try:
            hit = (self.parse(value), None)
        except f.FieldError as exc:
            hit = (None, str(exc))
        self.hits[(value.__class__, value)] = hit
        return hit


class _PremiseMemo:
    """The premise cell, remembered per value like `_Memo`: (number, key, kind, reason, blank,
    repeats the header). The last two decide whether a row is an owner row at all."""

    def __init__(self, header_text: str | None):
        self.header_text = header_text
        self.hits: dict = {}

    def miss(self, value) -> tuple:
        if (value.__class__ is int or (value.__class__ is float and value.is_integer())) and -1e15 < value < 1e15:
            number = str(int(value))  # a flat's number as a spreadsheet keeps it: 12 or 12.0
            hit = (number, number, "residential", None, False, False)
            self.hits[(value.__class__, value)] = hit
            return hit
        blank = f.is_blank(value)
        repeats_header = isinstance(value, str) and f.clean_text(value) == self.header_text
        try:
            number = f.parse_premise_number(value)
            hit = (number, f.text_key(number), f.premise_kind(number, ""), None, blank, repeats_header)
        except f.FieldError as exc:
            hit = (None, None, None, str(exc), blank, repeats_header)
        self.hits[(value.__class__, value)] = hit
        return hit


_NO_CELL = ""  # what a missing column or a short row gives
_NO_SHARE = "доля не указана — принята 1 (всё помещение)"


_PERSON_NO_CONTACTS = (False, None)  # one object for the commonest answer: pickled once a chunk


def prepare_rows(rows: list[list], start: int, stop: int, c_owner: int, c_contacts: tuple[int, ...],
                 c_entity: int) -> list[tuple]:
    """What needs no other row and no memo, for rows[start:stop]: (legal entity, contacts as
    (emails, phones, unreadable) or None). They differ in nearly every row and are the costliest
    part of checking one, so this may run in the reading process, in parallel with the checks of
    the rows before (see prepare_sheet); what it returns is small to send.
    """
    clean_text, legal_entity, parse_contacts, is_blank = (
        f.clean_text, f.looks_like_legal_entity, f.parse_contacts, f.is_blank)
    single = c_contacts[0] if len(c_contacts) == 1 else None
    out = []
    append = out.append
    for idx in range(start, stop):
        cells = rows[idx]
        width = len(cells)
        raw_owner = cells[c_owner] if c_owner < width else _NO_CELL
        name = " ".join(raw_owner.split()) if raw_owner.__class__ is str else clean_text(raw_owner)
        legal = bool(name) and legal_entity(name, cells[c_entity] if -1 < c_entity < width else _NO_CELL)
        if single is not None:
            raw = cells[single] if single < width else _NO_CELL
            found = None if raw == "" or is_blank(raw) else parse_contacts(raw)
        else:
            contact_cells = [cells[c] if c < width else _NO_CELL for c in c_contacts]
            found = parse_contacts(*contact_cells) if any(not is_blank(c) for c in contact_cells) else None
        if found is None and not legal:
            append(_PERSON_NO_CONTACTS)
        else:
            append((legal, None if found is None else (found.emails, found.phones, found.invalid)))
    return out


def _prepare_columns(header: HeaderMatch) -> tuple:
    cols = header.columns
    return cols["owner"], tuple(header.contact_columns), cols.get("entity", -1)


def prepare_sheet(rows: list[list]):
    """The reading process's part (spreadsheet.WorkbookReader, prepare="registry"): for a sheet
    whose header is complete, a function giving each chunk's prepare_rows, tagged with the columns
    it was made for; None for any other sheet. The checking side uses it only when its own header
    has the same columns."""
    header = find_header(Sheet(name="", rows=rows))
    if header is None or not header.complete:
        return None
    columns = _prepare_columns(header)
    return lambda start, stop: ("registry", columns, start, prepare_rows(rows, start, stop, *columns))


class RowChecker:
    """Checks the owner rows under a found header, in order, as they become available.

    `feed(rows, start, stop)` checks rows[start:stop] (so a sheet still arriving from the reader
    can be checked chunk by chunk), `finish()` adds what needs every row: the shares of each
    premise adding up to 1. The checks of one row are the rules of the issue; across rows, a
    repeated owner of a premise and a premise whose area differs from its first row.
    """

    def __init__(self, header: HeaderMatch, report: RegistryReport, existing: ExistingRegistry | None,
                 row_numbers: list[int] | None = None):
        cols = header.columns
        self.header = header
        self.report = report
        self.existing = existing
        self.row_numbers = row_numbers
        self.label = {k: header.headers.get(c, FIELD_LABELS[k]) for k, c in cols.items()}
        report.columns = dict(self.label)
        # premise key -> (row or None for a stored premise, area, number as written first)
        self.first_area: dict[str, tuple[int | None, Decimal, str]] = {}
        self.owner_rows: dict[tuple[str, str], int | None] = {}
        if existing:
            for key, (number, area, owner_keys) in existing.premises.items():
                self.first_area[key] = (None, area, number)
                for ok in owner_keys:
                    self.owner_rows[(key, ok)] = None
        self.premises = _PremiseMemo(header.headers.get(cols["premise"]))
        # The cells read from these columns are cleaned of control characters (see feed); a CSV
        # whose text has none anywhere sets controls_possible False and skips the test per row.
        self.controls_possible = True
        self.control_columns = {c: header.headers.get(c, FIELD_LABELS[k])
                                for k, c in [*cols.items(), *(("contacts", c) for c in header.contact_columns)]}
        self.areas, self.shares, self.dates = _Memo(f.parse_area), _Memo(f.parse_holding_share), _Memo(f.parse_date)
        # one organisation owns many premises: its ОГРН is checked once
        self.ogrns = _Memo(f.parse_ogrn)

    def prepared_from(self, extra, start: int, stop: int) -> list[tuple] | None:
        """The part of a reader's prepare_sheet payload for rows[start:stop], if it is for this
        header's columns and of the right shape; else None (the rows are prepared here)."""
        if not (isinstance(extra, tuple) and len(extra) == 4 and extra[0] == "registry"
                and extra[1] == _prepare_columns(self.header) and isinstance(extra[3], list)):
            return None
        first, values = extra[2], extra[3]
        if not (isinstance(first, int) and first <= start and stop <= first + len(values)):
            return None
        part = values[start - first:stop - first]
        if not all(v.__class__ is tuple and len(v) == 2 and v[0].__class__ is bool for v in part):
            return None
        contacts = [v[1] for v in part if v[1] is not None]  # (e-mails, phones, unreadable): lists of text
        if not all(c.__class__ is tuple and len(c) == 3 for c in contacts):
            return None
        lists = list(chain.from_iterable(contacts))
        if not all(v.__class__ is list for v in lists) or not set(map(type, chain.from_iterable(lists))) <= {str}:
            return None
        return part

    def feed(self, rows: list[list], start: int, stop: int, prepared: list[tuple] | None = None) -> None:  # noqa: C901
        """Check rows[start:stop]; `prepared` is their prepare_rows, if already made elsewhere."""
        if prepared is None:
            prepared = prepare_rows(rows, start, stop, *_prepare_columns(self.header))
        header, report = self.header, self.report
        cols, label = header.columns, self.label
        c_premise, c_area, c_owner = cols["premise"], cols["area"], cols["owner"]
        # A column the file lacks is read as an empty cell; so is a cell beyond the end of a short row.
        c_share, c_date, c_doc, c_kind, c_snils, c_right, c_ogrn = (
            -1 if c is None else c
            for c in (cols.get(k) for k in ("share", "doc_date", "doc_number", "kind", "snils", "right", "ogrn"))
        )
        ogrns, ogrn_hits = self.ogrns, self.ogrns.hits
        is_joint_right = f.is_joint_right
        premises, areas, shares, dates = self.premises, self.areas, self.shares, self.dates
        premise_hits, area_hits, share_hits, date_hits = premises.hits, areas.hits, shares.hits, dates.hits
        first_area, owner_rows = self.first_area, self.owner_rows
        is_blank, clean_text, name_key = f.is_blank, f.clean_text, f.name_key
        premise_kind, FieldError, total_match = f.premise_kind, f.FieldError, _TOTAL.match
        whole = Fraction(1)
        owners, errors_out, warnings_out, rejected = report.owners, report.errors, report.warnings, report.rejected_rows
        label_premise, label_owner, label_area, label_share = label["premise"], label["owner"], label["area"], label.get("share")
        row_numbers = self.row_numbers
        has_controls, control_columns = f.has_controls, self.control_columns if self.controls_possible else ()

        for idx in range(start, stop):
            cells = rows[idx]
            width = len(cells)
            cleaned = None  # (column label, text as in the file) of cells whose control characters were removed
            if control_columns and has_controls("\n".join([c for c in cells if c.__class__ is str])):
                cells, cleaned = _without_controls(cells, control_columns)
            raw_premise = cells[c_premise] if c_premise < width else _NO_CELL
            raw_owner = cells[c_owner] if c_owner < width else _NO_CELL
            # --- rows that are not owners, cheapest checks first (see _is_skippable) ---
            (premise, premise_key, plain_kind, problem, premise_blank, repeats_header) = (
                premise_hits.get((raw_premise.__class__, raw_premise)) or premises.miss(raw_premise)
            )
            if (raw_owner.__class__ is str and total_match(raw_owner)) or (
                    raw_premise.__class__ is str and total_match(raw_premise)):
                continue
            first = cells[0] if width else _NO_CELL
            if first == "" or first is None:  # a table that starts further right: its first filled cell
                first = next((c for c in cells if not is_blank(c)), _NO_CELL)
            if first.__class__ is str and total_match(first):
                continue
            name = " ".join(raw_owner.split()) if raw_owner.__class__ is str else clean_text(raw_owner)
            raw_area = cells[c_area] if c_area < width else _NO_CELL
            if premise_blank or not name:
                if premise_blank and not name and is_blank(raw_area):
                    continue  # also every row with no value at all
                if _is_total_row(cells, header):
                    continue
            if repeats_header:
                continue
            if not (raw_owner.__class__ is str and name) and _is_skippable(cells, header):
                continue  # a row of column numbers 1, 2, 3 …: never one with the owner's name as text

            rowno = row_numbers[idx] if row_numbers else idx + 1
            errors: list[Issue] | None = None
            notes: list[Note] | None = None
            if problem is not None:
                errors = [Issue(rowno, label_premise, problem)]
            if not name:
                errors = (errors or []) + [Issue(rowno, label_owner, "не указан собственник")]
            elif len(name) > 1000:
                errors = (errors or []) + [Issue(rowno, label_owner, "ФИО/наименование собственника длиннее 1000 знаков")]
            area, problem = area_hits.get((raw_area.__class__, raw_area)) or areas.miss(raw_area)
            if problem is not None:
                errors = (errors or []) + [Issue(rowno, label_area, problem)]
            raw_share = cells[c_share] if -1 < c_share < width else _NO_CELL
            joint = c_right != -1 and c_right < width and is_joint_right(cells[c_right])
            share_given = True
            if raw_share == "" or raw_share is None or (raw_share.__class__ is str and raw_share.isspace()):
                share, share_given = whole, False  # whole premise, or a joint holding's: see finish()
            else:
                parsed, problem = share_hits.get((raw_share.__class__, raw_share)) or shares.miss(raw_share)
                if problem is not None:
                    errors = (errors or []) + [Issue(rowno, label_share, problem)]
                else:
                    share, marked_joint = parsed
                    joint = joint or marked_joint
                    if share is None:
                        share, share_given = whole, False

            owner_key = None
            if name and len(name) <= 1000:
                # name_key of a name already cleaned of extra spaces, without its work when no comma
                owner_key = name.lower().replace("ё", "е") if "," not in name else name_key(name)
                if premise_key:
                    earlier = owner_rows.get((premise_key, owner_key), -1)
                    if earlier != -1:
                        where = f"строку {earlier}" if earlier is not None else "запись, уже внесённую в реестр"
                        errors = (errors or []) + [
                            Issue(rowno, label_owner, f"повторяет {where}: то же помещение {premise} и тот же собственник")
                        ]
            if premise_key and area is not None:
                first = first_area.get(premise_key)
                if first is not None and first[1] != area:
                    where = f"в строке {first[0]}" if first[0] is not None else "в реестре"
                    errors = (errors or []) + [Issue(
                        rowno, label_area,
                        f"площадь помещения {premise} ({f.format_area(area)}) отличается от указанной {where} "
                        f"({f.format_area(first[1])})",
                    )]

            if cleaned:
                notes = (notes or []) + [Note(rowno, premise, f.controls_note(column, text)) for column, text in cleaned]
                legal, contacts = prepare_rows([cells], 0, 1, *_prepare_columns(header))[0]
            else:
                legal, contacts = prepared[idx - start]
            doc_date = None
            if c_date != -1:
                raw_date = cells[c_date] if c_date < width else _NO_CELL
                doc_date, problem = date_hits.get((raw_date.__class__, raw_date)) or dates.miss(raw_date)
                if problem is not None:
                    notes = (notes or []) + [Note(rowno, premise, f"{label['doc_date']}: {problem} — сохранено без даты")]
            snils = ""
            if c_snils != -1 and c_snils < width:
                try:
                    snils = f.parse_snils(cells[c_snils])
                except FieldError as exc:
                    notes = (notes or []) + [Note(rowno, premise, f"{exc} — сохранено без СНИЛС")]
            ogrn = ""
            if c_ogrn != -1 and c_ogrn < width:
                raw_ogrn = cells[c_ogrn]
                ogrn, problem = ogrn_hits.get((raw_ogrn.__class__, raw_ogrn)) or ogrns.miss(raw_ogrn)
                if problem is not None:
                    ogrn = ""
                    notes = (notes or []) + [Note(rowno, premise, f"{problem} — сохранено без ОГРН")]
            if contacts is None:
                emails, phones = [], []  # what parse_contacts gives for blank cells
            else:
                emails, phones, invalid = contacts
                if invalid:
                    notes = (notes or []) + [
                        Note(rowno, premise, f"контакт «{token[:60]}» не распознан как e-mail или телефон — сохранено без него")
                        for token in invalid
                    ]

            if errors:
                errors_out.extend(errors)
                rejected.append((rowno, list(cells), "; ".join(f"{e.column}: {e.message}" for e in errors)))
                continue

            if notes:
                warnings_out.extend(notes)
            if premise_key not in first_area:
                first_area[premise_key] = (rowno, area, premise)
            owner_rows[(premise_key, owner_key)] = rowno
            owners.append(ParsedOwner(
                rowno, premise, premise_key,
                plain_kind if c_kind == -1 else premise_kind(premise, cells[c_kind] if c_kind < width else _NO_CELL),
                area, name, owner_key,
                legal, share,
                clean_text(cells[c_doc])[:200] if -1 < c_doc < width else "", doc_date, snils, emails, phones,
                joint, share_given, None, ogrn,
            ))

    def finish(self) -> None:
        """What needs every row of a premise: its holdings and their shares (ЖК ст. 48 ч. 3; DOMAIN.md
        rule 8). Joint rows — marked «совместная», or several rows of one premise under one ownership
        document with the share empty, as ЕГРН lists joint owners — become one holding that carries
        the premise's votes (or its share's) once. The holdings' shares add up to at most 1: above,
        the premise's rows are refused, naming them and the sum; below, a warning (the missing part's
        votes stay outside the participants). A premise already in the registry («добавить») is
        checked by the database when stored."""
        stored = self.existing.premises if self.existing else {}
        by_premise: dict[str, list[ParsedOwner]] = {}
        for o in self.report.owners:
            rows = by_premise.get(o.premise_key)
            if rows is None:
                by_premise[o.premise_key] = [o]
            else:
                rows.append(o)
        refused: set[str] = set()
        for key, rows in by_premise.items():
            if len(rows) == 1 and not rows[0].joint:  # the common case: one owner of the premise
                o = rows[0]
                if not o.share_given:
                    self.report.warnings.append(Note(o.row, o.premise, _NO_SHARE))
                elif key not in stored and o.share.numerator != o.share.denominator:
                    self._short_of_one(o.premise, o.share)
                continue
            total, problem = _holdings(rows, self.report.warnings)
            if problem:
                self._refuse(rows, problem)
                refused.add(key)
            elif key in stored:
                continue
            elif total > 1:
                numbers = ", ".join(str(o.row) for o in rows if o.row is not None)
                self._refuse(rows, f"доли собственников помещения {rows[0].premise} в сумме {f.format_share(total)} — "
                                   f"больше 1 (строки {numbers}); помещение не принято. Исправьте доли или отметьте "
                                   "совместную собственность («совместная» в столбце доли)")
                refused.add(key)
            elif total.numerator != total.denominator:
                self._short_of_one(rows[0].premise, total)
        if refused:
            self.report.owners[:] = [o for o in self.report.owners if o.premise_key not in refused]

    def _short_of_one(self, number: str, total: Fraction) -> None:
        self.report.warnings.append(Note(
            None, number, f"доли собственников помещения {number} в сумме {f.format_share(total)}, а не 1 — "
                          "голоса недостающей части не учитываются"))

    def _refuse(self, rows: list[ParsedOwner], message: str) -> None:
        column = self.label.get("share", FIELD_LABELS["share"])
        cols = self.header.columns
        width = max(cols.values()) + 1
        for o in rows:
            self.report.errors.append(Issue(o.row, column, message))
            cells = [""] * width  # the row as far as it was read: for the file of refused rows
            for field_name, value in (("premise", o.premise), ("area", o.area), ("owner", o.name),
                                      ("share", f.format_share(o.share) if o.share_given else ""),
                                      ("doc_number", o.doc_number), ("doc_date", o.doc_date)):
                if field_name in cols:
                    cells[cols[field_name]] = value
            self.report.rejected_rows.append((o.row, cells, f"{column}: {message}"))


def _without_controls(cells: list, columns: dict[int, str]) -> tuple[list, list[tuple[str, str]]]:
    """A copy of the row with the control characters removed from the text of `columns` (index ->
    label), and (label, text as in the file) of each cell that had some."""
    cells = list(cells)
    cleaned = []
    for col, label in columns.items():
        if col < len(cells) and cells[col].__class__ is str and f.has_controls(cells[col]):
            cleaned.append((label, cells[col]))
            cells[col] = f.strip_controls(cells[col])
    return cells, cleaned


def _holdings(rows: list[ParsedOwner], warnings: list[Note]) -> tuple[Fraction, str]:
    """Group one premise's rows into holdings, give each joint member its holding's share and
    group; (Σ of the holdings' shares, each once; a reason to refuse the premise or '')."""
    def doc_key(o: ParsedOwner) -> str:
        return " ".join(o.doc_number.lower().split())

    # Rows marked joint are one holding whatever their documents (before 2016 each spouse got a
    # certificate of their own); rows with no share join it, or each other, under one document.
    groups: dict[tuple, list[ParsedOwner]] = {}
    singles: list[ParsedOwner] = []
    joint_docs = {doc_key(o) for o in rows if o.joint} - {""}
    for o in rows:
        if o.joint or (not o.share_given and doc_key(o) in joint_docs):
            groups.setdefault(("joint",), []).append(o)
        elif not o.share_given and doc_key(o):
            groups.setdefault(("blank", doc_key(o)), []).append(o)
        else:
            singles.append(o)
    for key in [k for k, members in groups.items() if k[0] == "blank" and len(members) == 1]:
        singles += groups.pop(key)  # one row with no share under its own document: the whole premise
    others = Fraction(0)
    for o in singles:
        if not o.share_given:
            warnings.append(Note(o.row, o.premise, _NO_SHARE))
        others += o.share
    explicit: dict[tuple, Fraction] = {}
    for key, members in groups.items():
        given = {m.share for m in members if m.share_given}
        if len(given) > 1:
            numbers = ", ".join(str(m.row) for m in members)
            return Fraction(0), (f"у совместных собственников помещения {members[0].premise} (строки {numbers}) разные "
                                 f"доли: {', '.join(sorted(f.format_share(g) for g in given))} — у совместной "
                                 "собственности одна доля на всех")
        if given:
            explicit[key] = given.pop()
    implicit = [k for k in groups if k not in explicit]
    remainder = 1 - others - sum(explicit.values(), Fraction(0))
    total = others
    for number, (key, members) in enumerate(groups.items(), start=1):
        if key in explicit:
            share = explicit[key]
        elif len(implicit) == 1 and remainder > 0:
            share = remainder  # the premise's part not held by its other owners
        else:
            share = Fraction(1)
        total += share
        for m in members:
            m.share, m.joint = share, True
            m.joint_group = number if len(members) > 1 else None
    return total, ""


def validate_rows(sheet: Sheet, header: HeaderMatch, report: RegistryReport, existing: ExistingRegistry | None) -> None:
    checker = RowChecker(header, report, existing, sheet.row_numbers)
    checker.feed(sheet.rows, header.row_index + 1, len(sheet.rows))
    checker.finish()


def release_memory(collect: bool = True) -> None:
    """Give the memory of a dropped preview back to the system: a collection (unless `collect` is
    False), then glibc's malloc_trim (freed blocks otherwise stay in the process, counted in its
    size, for reuse)."""
    if collect:
        gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the process instead
        pass


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector during bulk work.

    Reading and storing a large registry creates hundreds of thousands of objects and no reference
    cycles; CPython would walk all of them again and again in full collections (a third of the
    time of a 100 000-row import). Reference counting still frees everything meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_registry(data: bytes, filename: str, existing: ExistingRegistry | None = None,
                   progress=None, compact_from: int | None = None) -> RegistryReport:
    """Read and validate a registry file; raise TableFileError when it cannot be read at all.

    `progress(done, total)`, if given, is called as the rows of the chosen sheet are checked.
    A file with `compact_from` accepted rows or more comes back compact (RegistryReport.compact).
    """
    with gc_paused():
        fmt = table_format(data, filename)
        if fmt == "csv":
            return _parse_csv_in_worker(data, filename, existing, progress, compact_from)
        with WorkbookReader(data, filename, fmt, prepare="registry") as reader:
            report = _parse_workbook(reader, filename, fmt, existing, progress)
    if compact_from is not None and report.owner_count >= compact_from:
        return report.compact()
    return report


def _no_header(filename: str, best: HeaderMatch | None) -> TableFileError:
    found = [FIELD_LABELS[k] for k in REQUIRED if best and k in best.columns]
    missing = [FIELD_LABELS[k] for k in REQUIRED if not best or k not in best.columns]
    hint = f" Найдены: {', '.join('«' + x + '»' for x in found)}." if found else ""
    return TableFileError(
        f"В файле «{filename}» не найдена строка заголовков реестра: в первых {HEADER_SEARCH_ROWS} строках "
        f"нет столбцов {', '.join('«' + x + '»' for x in missing)}.{hint}"
    )


def _new_report(filename: str, fmt: str, sheet: Sheet, header: HeaderMatch) -> RegistryReport:
    return RegistryReport(
        filename=filename, format=fmt, sheet=sheet.name,
        header_row=sheet.row_number(header.row_index), columns={}, ignored_columns=header.ignored,
        header_cells=[header.headers.get(i, "") for i in range(max(header.headers) + 1)],
    )


def _finished(report: RegistryReport, filename: str) -> RegistryReport:
    if not report.owners and not report.errors:
        raise TableFileError(f"В файле «{filename}» найдены заголовки реестра, но нет ни одной строки с собственниками.")
    return report


def _better(match: HeaderMatch | None, than: HeaderMatch | None) -> bool:
    return match is not None and (than is None or (match.complete, match.score) > (than.complete, than.score))


def _parse_csv_text(text: str, filename: str, existing: ExistingRegistry | None, progress) -> RegistryReport:
    """A text file is tried with each delimiter; the one whose header is best is the file's. The
    header is among the first rows, so only they are read for the others: a 20 MB file is split
    into cells once, not three times."""
    import csv

    best: tuple[HeaderMatch, str] | None = None
    try:
        for delimiter in CSV_DELIMITERS:
            header = find_header(_read_csv(text, delimiter, limit=HEADER_SEARCH_ROWS + 1))
            if _better(header, best[0] if best else None):
                best = (header, delimiter)
        if best is None or not best[0].complete:
            raise _no_header(filename, best[0] if best else None)
        header, delimiter = best
        sheet = _read_csv(text, delimiter)
    except csv.Error as exc:
        raise TableFileError(f"Файл «{filename}» не читается как CSV: {exc}") from exc
    report = _new_report(filename, "csv", sheet, header)
    checker = RowChecker(header, report, existing, sheet.row_numbers)
    checker.controls_possible = f.has_controls(text) is not None
    total = len(sheet.rows)
    for start in range(header.row_index + 1, total, 10_000):
        checker.feed(sheet.rows, start, min(start + 10_000, total))
        if progress:
            progress(min(start + 10_000, total), total)
    checker.finish()
    return _finished(report, filename)


# ParsedOwner's fields in the order the reading process sends them (area as text, share as two integers)
_OWNER_FIELDS = ("row", "premise", "premise_key", "kind", "area", "name", "name_key", "is_legal_entity", "share",
                 "doc_number", "doc_date", "snils", "emails", "phones", "joint", "share_given", "joint_group", "ogrn")


def registry_csv_job(data: bytes, filename: str, args, send) -> None:
    """spreadsheet.JOBS["registry csv"], in the reading process: the whole check of a CSV registry,
    sent as plain values — ("progress", done, total) while checking, then ("report", header
    fields), ("owners", [...]), ("errors", [...]), ("warnings", [...]), ("rejected", [...])."""
    known, compact_from = args
    existing = None
    if known is not None:
        existing = ExistingRegistry({key: (number, Decimal(area), set(keys)) for key, (number, area, keys) in known.items()})
    with gc_paused():
        report = _parse_csv_text(csv_text(data, filename), filename, existing,
                                 lambda done, total: send(("progress", done, total)))
    send(("report", {"sheet": report.sheet, "header_row": report.header_row, "columns": report.columns,
                     "ignored_columns": report.ignored_columns, "header_cells": report.header_cells}))
    owners = report.owners
    if compact_from is not None and len(owners) >= compact_from:
        # Only the figures: rebuilding 200 000 owners from frames costs the app server a second of
        # its processor per file, which every other session waited for (issue 14, item 3).
        count, premises, area, votes = report.compact().figures
        send(("figures", count, premises, str(area), votes.numerator, votes.denominator))
        owners = []
    for start in range(0, len(owners), CHUNK_ROWS):
        send(("owners", [(o.row, o.premise, o.premise_key, o.kind, str(o.area), o.name, o.name_key, o.is_legal_entity,
                          o.share.numerator, o.share.denominator, o.doc_number, o.doc_date, o.snils, o.emails,
                          o.phones, o.joint, o.share_given, o.joint_group, o.ogrn)
                         for o in owners[start:start + CHUNK_ROWS]]))
    for kind, items, fields in (("errors", report.errors, ("row", "column", "message")),
                                ("warnings", report.warnings, ("row", "premise", "message"))):
        for start in range(0, len(items), CHUNK_ROWS):
            send((kind, [tuple(getattr(i, n) for n in fields) for i in items[start:start + CHUNK_ROWS]]))
    for start in range(0, len(report.rejected_rows), CHUNK_ROWS):
        send(("rejected", report.rejected_rows[start:start + CHUNK_ROWS]))


def _parse_csv_in_worker(data: bytes, filename: str, existing: ExistingRegistry | None, progress,
                         compact_from: int | None = None) -> RegistryReport:
    """A CSV registry checked by a reading process with the workbooks' limits (registry_csv_job):
    the app server gets only the report, built here from plain values; from `compact_from`
    accepted rows on, a compact one (RegistryReport.compact) without the rows."""
    known = None
    if existing is not None:
        known = {key: (number, str(area), sorted(keys)) for key, (number, area, keys) in existing.premises.items()}
    args = (known, compact_from)
    report: RegistryReport | None = None
    shares: dict[tuple[int, int], Fraction] = {}  # one Fraction per distinct share
    with WorkbookReader(data, filename, "csv", job="registry csv", args=args) as reader:
        for _kind, payload in reader.events():
            try:
                kind = payload[0]
                if kind == "progress":
                    if progress:
                        progress(int(payload[1]), int(payload[2]))
                elif kind == "report":
                    head = payload[1]
                    report = RegistryReport(
                        filename=filename, format="csv", sheet=str(head["sheet"]), header_row=int(head["header_row"]),
                        columns={str(k): str(v) for k, v in head["columns"].items()},
                        ignored_columns=[str(c) for c in head["ignored_columns"]],
                        header_cells=list(head["header_cells"]))
                elif kind == "owners":
                    append = report.owners.append
                    for t in payload[1]:
                        num, den = t[8], t[9]
                        share = shares.get((num, den))
                        if share is None:
                            share = shares[(num, den)] = Fraction(num, den)
                        if not all(t[i].__class__ is str for i in (1, 2, 3, 5, 6, 10, 12, 18)):
                            raise TypeError("owner text")
                        append(ParsedOwner(t[0], t[1], t[2], t[3], Decimal(t[4]), t[5], t[6], t[7] is True, share,
                                           t[10], t[11], t[12], list(t[13]), list(t[14]), t[15] is True,
                                           t[16] is True, t[17], t[18]))
                elif kind == "figures":
                    count, premises, area, num, den = payload[1:]
                    if not all(x.__class__ is int for x in (count, premises, num, den)) or area.__class__ is not str:
                        raise TypeError("figures")
                    report.figures = (count, premises, Decimal(area), Fraction(num, den))
                elif kind == "errors":
                    report.errors.extend(Issue(r, c, str(m)) for r, c, m in payload[1])
                elif kind == "warnings":
                    report.warnings.extend(Note(r, p, str(m)) for r, p, m in payload[1])
                elif kind == "rejected":
                    report.rejected_rows.extend((r, list(cells), str(why)) for r, cells, why in payload[1])
                else:
                    raise ValueError(kind)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError):
                raise reader._failure() from None
    if report is None:
        raise TableFileError(f"Файл «{filename}» не прочитан: проверка прервалась.")
    return report


def _parse_workbook(reader: WorkbookReader, filename: str, fmt: str, existing: ExistingRegistry | None,
                    progress) -> RegistryReport:
    """The first worksheet with a complete header is the registry. Its rows are checked chunk by
    chunk while the reader still sends the rest; the sheets after it are not read at all."""
    best: HeaderMatch | None = None  # of the sheets without a complete header: for the message
    sheet = Sheet(name="", rows=[])
    total = checked = 0
    header: HeaderMatch | None = None
    checker: RowChecker | None = None

    def look_for_header() -> None:
        nonlocal header, checker, checked, best
        header = find_header(sheet)
        if header is not None and header.complete:
            checker = RowChecker(header, _new_report(filename, fmt, sheet, header), existing)
            checked = header.row_index + 1
        elif _better(header, best):
            best = header

    for frame in reader.events():
        kind = frame[0]
        if kind == "sheet":
            sheet, total, header, checked = Sheet(name=frame[1], rows=[]), frame[2], None, 0
        elif kind == "sheet end":
            if header is None:
                look_for_header()  # a sheet shorter than the header search
            if checker is not None:
                checker.feed(sheet.rows, checked, len(sheet.rows))
                break
        elif header is None or checker is not None:  # rows; of a sheet without a header: not needed
            chunk_start = len(sheet.rows)
            sheet.rows.extend(frame[1])
            if header is None and len(sheet.rows) > HEADER_SEARCH_ROWS:
                look_for_header()  # the first 30 rows and the one under them are here
            if checker is not None:
                stop = len(sheet.rows)
                if checked < chunk_start:  # rows of earlier chunks, before the header was known
                    checker.feed(sheet.rows, checked, chunk_start)
                    checked = chunk_start
                checker.feed(sheet.rows, checked, stop, checker.prepared_from(frame[2], checked, stop))
                checked = stop
                if progress:
                    progress(checked, total)
    if checker is None:
        raise _no_header(filename, best)
    checker.finish()
    return _finished(checker.report, filename)
