"""Reading an owner registry (реестр собственников) from a table file: pure, no storage.

`parse_registry(data, filename)` finds the header row, recognises the columns by keywords,
validates every row and returns a `RegistryReport`: the accepted owner records, the rejected
rows with row/column/reason, the warnings, and the summary. Nothing here touches the database.
"""
from __future__ import annotations

import re
from collections import defaultdict
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
        return sum((o.votes for o in self.owners), Fraction(0))

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


def _memo(parse):
    """`parse` of a cell, remembered per value: a registry repeats areas, shares, dates and the
    premise of co-owners, and 100 000 rows must be checked in about a second.

    Returns (result, None) or (None, reason). The key holds the type, so 1, 1.0 and True, which
    are equal in Python but are parsed differently, never share an entry.
    """
    cache: dict = {}

    def call(value):
        key = (value.__class__, value)
        hit = cache.get(key)
        if hit is None:
            try:
                hit = (parse(value), None)
            except f.FieldError as exc:
                hit = (None, str(exc))
            cache[key] = hit
        return hit

    return call


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

    premise_of, area_of, share_of, date_of = _memo(_premise_fields), _memo(f.parse_area), _memo(f.parse_share), _memo(f.parse_date)
    is_blank, clean_text, name_key = f.is_blank, f.clean_text, f.name_key
    parse_owner_name, parse_contacts, looks_like_legal_entity = f.parse_owner_name, f.parse_contacts, f.looks_like_legal_entity
    total_match = _TOTAL.match
    whole = Fraction(1)
    owners, errors_out, warnings_out, rejected = report.owners, report.errors, report.warnings, report.rejected_rows
    label_premise, label_owner, label_area = label["premise"], label["owner"], label["area"]
    label_share = label.get("share")

    rows = sheet.rows
    row_numbers = sheet.row_numbers
    for idx in range(header.row_index + 1, len(rows)):
        cells = rows[idx]
        width = len(cells)
        # --- rows that are not owners (see _is_skippable, which this inlines for speed) ---
        values = [c for c in cells if not (c is None or c == "" or (isinstance(c, str) and not c.strip()))]
        if not values:
            continue
        if any(isinstance(c, str) and total_match(c) for c in values):
            continue
        raw_premise = cells[c_premise] if c_premise < width else _NO_CELL
        raw_owner = cells[c_owner] if c_owner < width else _NO_CELL
        raw_area = cells[c_area] if c_area < width else _NO_CELL
        if is_blank(raw_premise) and is_blank(raw_owner) and is_blank(raw_area):
            continue
        if isinstance(raw_premise, str) and clean_text(raw_premise) == premise_header:
            continue
        if len(values) >= 3 and not any(isinstance(c, str) for c in values) and _is_skippable(cells, header):
            continue

        rowno = row_numbers[idx] if row_numbers else idx + 1
        get = lambda c: cells[c] if c is not None and c < width else _NO_CELL  # noqa: E731
        errors: list[Issue] = []
        notes: list[Note] = []

        premise = area = name = share = premise_key = owner_key = None
        parsed, problem = premise_of(raw_premise)
        if problem is None:
            premise, premise_key, plain_kind = parsed
        else:
            errors.append(Issue(rowno, label_premise, problem))
        try:
            name = parse_owner_name(raw_owner)
        except f.FieldError as exc:
            errors.append(Issue(rowno, label_owner, str(exc)))
        area, problem = area_of(raw_area)
        if problem is not None:
            errors.append(Issue(rowno, label_area, problem))
        raw_share = get(c_share)
        if is_blank(raw_share):
            share = whole
            notes.append(Note(rowno, premise, "доля не указана — принята 1 (всё помещение)"))
        else:
            share, problem = share_of(raw_share)
            if problem is not None:
                errors.append(Issue(rowno, label_share, problem))

        if name:
            owner_key = name_key(name)
        if premise_key and owner_key:
            earlier = owner_rows.get((premise_key, owner_key), -1)
            if earlier != -1:
                where = f"строку {earlier}" if earlier is not None else "запись, уже внесённую в реестр"
                errors.append(Issue(rowno, label_owner, f"повторяет {where}: то же помещение {premise} и тот же собственник"))
        if premise_key and area is not None and premise_key in first_area:
            erow, earea, _num = first_area[premise_key]
            if earea != area:
                where = f"в строке {erow}" if erow is not None else "в реестре"
                errors.append(Issue(
                    rowno, label_area,
                    f"площадь помещения {premise} ({f.format_area(area)}) отличается от указанной {where} ({f.format_area(earea)})",
                ))

        doc_date = None
        if c_date is not None:
            doc_date, problem = date_of(get(c_date))
            if problem is not None:
                notes.append(Note(rowno, premise, f"{label['doc_date']}: {problem} — сохранено без даты"))
        snils = ""
        if c_snils is not None:
            try:
                snils = f.parse_snils(get(c_snils))
            except f.FieldError as exc:
                notes.append(Note(rowno, premise, f"{exc} — сохранено без СНИЛС"))
        contact_cells = [get(c) for c in c_contacts]
        if any(not is_blank(c) for c in contact_cells):
            contacts = parse_contacts(*contact_cells)
            emails, phones = contacts.emails, contacts.phones
            for token in contacts.invalid:
                notes.append(Note(rowno, premise, f"контакт «{token[:60]}» не распознан как e-mail или телефон — сохранено без него"))
        else:
            emails, phones = [], []

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
            plain_kind if c_kind is None else f.premise_kind(premise, get(c_kind)), area, name, owner_key,
            looks_like_legal_entity(name, get(c_entity)), share,
            clean_text(get(c_doc))[:200], doc_date, snils, emails, phones,
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


def parse_registry(data: bytes, filename: str, existing: ExistingRegistry | None = None) -> RegistryReport:
    """Read and validate a registry file; raise TableFileError when it cannot be read at all."""
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
