"""Reading an owner registry (реестр собственников) from a table file: pure, no storage.

`parse_registry(data, filename)` finds the header row, recognises the columns by keywords,
validates every row and returns a `RegistryReport`: the accepted owner records, the rejected
rows with row/column/reason, the warnings, and the summary. Nothing here touches the database.
"""
from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from services import owner_fields as f
from services.spreadsheet import Sheet, TableFileError, read_table

HEADER_SEARCH_ROWS = 30

FIELD_LABELS = {
    "premise": "Номер помещения",
    "area": "Общая площадь",
    "owner": "ФИО/Наименование собственника",
    "share": "Доля собственника",
    "doc_number": "Номер документа",
    "doc_date": "Дата документа",
    "snils": "СНИЛС",
    "contacts": "Адрес эл. почты и номер телефона",
    "kind": "Вид помещения",
    "entity": "Тип собственника",
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
    if has("снилс", "страхов"):
        return ("snils", 0)
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


@dataclass
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

    @property
    def premises(self) -> int:
        return len({o.premise_key for o in self.owners})

    @property
    def total_area(self) -> Decimal:
        seen: dict[str, Decimal] = {}
        for o in self.owners:
            seen.setdefault(o.premise_key, o.area)
        return sum(seen.values(), Decimal(0))

    @property
    def votes(self) -> Fraction:
        # Σ area × share, exact, in integers grouped by denominator: one Fraction per distinct
        # denominator instead of 100 000 Fraction products and sums.
        by_den: dict[int, int] = {}
        for o in self.owners:
            num, den = o.area.as_integer_ratio()
            share = o.share
            den *= share.denominator
            by_den[den] = by_den.get(den, 0) + num * share.numerator
        return sum((Fraction(v, d) for d, v in by_den.items()), Fraction(0))

    def summary(self) -> dict:
        """The report of `manage.py check-registry --json`."""
        return {
            "owners": len(self.owners),
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


def _is_skippable(cells: list, header: HeaderMatch) -> bool:
    values = [c for c in cells if not f.is_blank(c)]
    if not values:
        return True
    for c in values:
        if isinstance(c, str) and _TOTAL.match(c):
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


def _premise_fields(value) -> tuple[str, str, str]:
    number = f.parse_premise_number(value)
    return number, f.text_key(number), f.premise_kind(number, "")


_NO_CELL = ""  # what a missing column or a short row gives


def validate_rows(sheet: Sheet, header: HeaderMatch, report: RegistryReport, existing: ExistingRegistry | None) -> None:
    cols = header.columns
    label = {k: header.headers.get(c, FIELD_LABELS[k]) for k, c in cols.items()}
    report.columns = dict(label)
    c_premise, c_area, c_owner = cols["premise"], cols["area"], cols["owner"]
    c_share, c_doc, c_date = cols.get("share"), cols.get("doc_number"), cols.get("doc_date")
    c_snils, c_kind, c_entity = cols.get("snils"), cols.get("kind"), cols.get("entity")
    c_contacts = header.contact_columns
    premise_header = header.headers.get(c_premise)

    first_area: dict[str, tuple[int | None, Decimal, str]] = {}
    owner_rows: dict[tuple[str, str], int | None] = {}
    if existing:
        for key, (number, area, owner_keys) in existing.premises.items():
            first_area[key] = (None, area, number)
            for ok in owner_keys:
                owner_rows[(key, ok)] = None

    premises, areas, shares, dates = _Memo(_premise_fields), _Memo(f.parse_area), _Memo(f.parse_share), _Memo(f.parse_date)
    premise_hits, area_hits, share_hits, date_hits = premises.hits, areas.hits, shares.hits, dates.hits
    is_blank, clean_text, name_key = f.is_blank, f.clean_text, f.name_key
    parse_owner_name, parse_contacts, looks_like_legal_entity = f.parse_owner_name, f.parse_contacts, f.looks_like_legal_entity
    premise_kind, FieldError = f.premise_kind, f.FieldError
    total_match, is_str = _TOTAL.match, str.__instancecheck__
    whole = Fraction(1)
    owners, errors_out, warnings_out, rejected = report.owners, report.errors, report.warnings, report.rejected_rows
    label_premise, label_owner, label_area = label["premise"], label["owner"], label["area"]
    label_share = label.get("share")
    no_share = "доля не указана — принята 1 (всё помещение)"
    # A column the file lacks is read as an empty cell; so is a cell beyond the end of a short row.
    c_share, c_date, c_doc, c_kind = (-1 if c is None else c for c in (c_share, c_date, c_doc, c_kind))
    c_entity = -1 if c_entity is None else c_entity
    c_contact = c_contacts[0] if len(c_contacts) == 1 else None

    rows = sheet.rows
    row_numbers = sheet.row_numbers
    for idx in range(header.row_index + 1, len(rows)):
        cells = rows[idx]
        width = len(cells)
        raw_premise = cells[c_premise] if c_premise < width else _NO_CELL
        raw_owner = cells[c_owner] if c_owner < width else _NO_CELL
        raw_area = cells[c_area] if c_area < width else _NO_CELL
        # --- rows that are not owners: the checks of _is_skippable, cheapest first ---
        if any(map(total_match, filter(is_str, cells))):
            continue
        if is_blank(raw_premise) and is_blank(raw_owner) and is_blank(raw_area):
            continue  # also every row with no value at all
        if isinstance(raw_premise, str) and clean_text(raw_premise) == premise_header:
            continue
        if not (isinstance(raw_owner, str) and raw_owner.strip()) and _is_skippable(cells, header):
            continue  # a row of column numbers 1, 2, 3 …: never one with the owner's name as text

        rowno = row_numbers[idx] if row_numbers else idx + 1
        get = lambda c: cells[c] if c is not None and -1 < c < width else _NO_CELL  # noqa: E731
        errors: list[Issue] | None = None
        notes: list[Note] | None = None

        premise = name = share = premise_key = owner_key = None
        parsed, problem = premise_hits.get((raw_premise.__class__, raw_premise)) or premises.miss(raw_premise)
        if problem is None:
            premise, premise_key, plain_kind = parsed
        else:
            errors = [Issue(rowno, label_premise, problem)]
        try:
            name = parse_owner_name(raw_owner)
        except FieldError as exc:
            errors = (errors or []) + [Issue(rowno, label_owner, str(exc))]
        area, problem = area_hits.get((raw_area.__class__, raw_area)) or areas.miss(raw_area)
        if problem is not None:
            errors = (errors or []) + [Issue(rowno, label_area, problem)]
        raw_share = cells[c_share] if -1 < c_share < width else _NO_CELL
        if is_blank(raw_share):
            share = whole
            notes = [Note(rowno, premise, no_share)]
        else:
            share, problem = share_hits.get((raw_share.__class__, raw_share)) or shares.miss(raw_share)
            if problem is not None:
                errors = (errors or []) + [Issue(rowno, label_share, problem)]

        if name:
            owner_key = name_key(name)
        if premise_key and owner_key:
            earlier = owner_rows.get((premise_key, owner_key), -1)
            if earlier != -1:
                where = f"строку {earlier}" if earlier is not None else "запись, уже внесённую в реестр"
                errors = (errors or []) + [
                    Issue(rowno, label_owner, f"повторяет {where}: то же помещение {premise} и тот же собственник")
                ]
        if premise_key and area is not None and premise_key in first_area:
            erow, earea, _num = first_area[premise_key]
            if earea != area:
                where = f"в строке {erow}" if erow is not None else "в реестре"
                errors = (errors or []) + [Issue(
                    rowno, label_area,
                    f"площадь помещения {premise} ({f.format_area(area)}) отличается от указанной {where} ({f.format_area(earea)})",
                )]

        doc_date = None
        if c_date != -1:
            raw_date = cells[c_date] if c_date < width else _NO_CELL
            doc_date, problem = date_hits.get((raw_date.__class__, raw_date)) or dates.miss(raw_date)
            if problem is not None:
                notes = (notes or []) + [Note(rowno, premise, f"{label['doc_date']}: {problem} — сохранено без даты")]
        snils = ""
        if c_snils is not None:
            try:
                snils = f.parse_snils(get(c_snils))
            except FieldError as exc:
                notes = (notes or []) + [Note(rowno, premise, f"{exc} — сохранено без СНИЛС")]
        if c_contact is not None:
            raw_contact = get(c_contact)
            contacts = None if is_blank(raw_contact) else parse_contacts(raw_contact)
        else:
            contact_cells = [get(c) for c in c_contacts]
            contacts = parse_contacts(*contact_cells) if any(not is_blank(c) for c in contact_cells) else None
        if contacts is None:
            emails, phones = [], []  # what parse_contacts gives for blank cells
        else:
            emails, phones = contacts.emails, contacts.phones
            if contacts.invalid:
                notes = (notes or []) + [
                    Note(rowno, premise, f"контакт «{token[:60]}» не распознан как e-mail или телефон — сохранено без него")
                    for token in contacts.invalid
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
            plain_kind if c_kind == -1 else premise_kind(premise, get(c_kind)), area, name, owner_key,
            looks_like_legal_entity(name, cells[c_entity] if -1 < c_entity < width else _NO_CELL), share,
            clean_text(cells[c_doc])[:200] if -1 < c_doc < width else "", doc_date, snils, emails, phones,
        ))

    # Shares of each premise must add up to 1. Summed only where a premise has several owners;
    # Fractions are normalised, so «≠ 1» is numerator ≠ denominator.
    totals: dict[str, Fraction] = {}
    numbers: dict[str, str] = {}
    if existing:
        for key, (number, _area, _owners) in existing.premises.items():
            numbers[key] = number
    for o in report.owners:
        key = o.premise_key
        total = totals.get(key)
        totals[key] = o.share if total is None else total + o.share
        if key not in numbers:
            numbers[key] = o.premise
    if existing:
        for key in list(totals):
            if key in existing.premises:
                totals[key] = Fraction(-1)  # stored shares are not known here; checked after import
    for key, total in totals.items():
        if total.numerator != total.denominator and total.numerator >= 0:
            report.warnings.append(Note(
                None, numbers[key], f"доли собственников помещения {numbers[key]} в сумме {f.format_share(total)}, а не 1"
            ))


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


def parse_registry(data: bytes, filename: str, existing: ExistingRegistry | None = None) -> RegistryReport:
    """Read and validate a registry file; raise TableFileError when it cannot be read at all."""
    with gc_paused():
        return _parse_registry(data, filename, existing)


def _parse_registry(data: bytes, filename: str, existing: ExistingRegistry | None) -> RegistryReport:
    table = read_table(data, filename)
    sheets = table.csv_variants if table.format == "csv" else table.sheets
    best: tuple[HeaderMatch, Sheet] | None = None
    for sheet in sheets:
        header = find_header(sheet)
        if header is None:
            continue
        if header.complete and table.format != "csv":
            best = (header, sheet)
            break
        if best is None or (header.complete, header.score) > (best[0].complete, best[0].score):
            best = (header, sheet)
    if best is None or not best[0].complete:
        found = [FIELD_LABELS[k] for k in REQUIRED if best and k in best[0].columns]
        missing = [FIELD_LABELS[k] for k in REQUIRED if not best or k not in best[0].columns]
        hint = f" Найдены: {', '.join('«' + x + '»' for x in found)}." if found else ""
        raise TableFileError(
            f"В файле «{filename}» не найдена строка заголовков реестра: в первых {HEADER_SEARCH_ROWS} строках "
            f"нет столбцов {', '.join('«' + x + '»' for x in missing)}.{hint}"
        )
    header, sheet = best
    report = RegistryReport(
        filename=filename, format=table.format, sheet=sheet.name,
        header_row=sheet.row_number(header.row_index), columns={}, ignored_columns=header.ignored,
        header_cells=[header.headers.get(i, "") for i in range(max(header.headers) + 1)],
    )
    validate_rows(sheet, header, report, existing)
    if not report.owners and not report.errors:
        raise TableFileError(f"В файле «{filename}» найдены заголовки реестра, но нет ни одной строки с собственниками.")
    return report
