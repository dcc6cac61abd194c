"""The owner registry of a meeting: import (one transaction), listing, editing, export."""
from __future__ import annotations

import datetime as dt
import re
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from sqlalchemy import JSON, BigInteger, Connection, Table, delete, func, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services import owner_fields as f
from services.closing import ensure_open
from services.errors import NotFound, ValidationError
from services.exports import xlsx_bytes
from services.figures import count_of, record_votes, round2
from services.models import Meeting, OwnerRecord, Premise
from services.registry_parse import ExistingRegistry, ParsedOwner, RegistryReport, gc_paused, parse_registry

# The seed service's columns, in its order and words.
COL_PREMISE = "Номер помещения"
COL_AREA = "Общая площадь"
COL_NAME = "ФИО/Наименование собственника"
COL_SHARE = "Доля собственника"
COL_DOC = "Номер документа"
COL_DATE = "Дата документа"
COL_CONTACTS = "Адрес эл. почты и номер телефона"
COL_STATUS = "Статус"
REGISTRY_COLUMNS = [COL_PREMISE, COL_AREA, COL_NAME, COL_SHARE, COL_DOC, COL_DATE, COL_CONTACTS, COL_STATUS]
EDITABLE_COLUMNS = REGISTRY_COLUMNS[:-1]
SHARES_ABOVE_ONE = "shares of one premise add up to more than 1"  # the database's refusal (migration 0006)


def _require_meeting(s: Session, meeting_id: int) -> Meeting:
    meeting = s.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"Собрание № {meeting_id} не найдено.")
    return meeting


def existing_registry(session_factory: sessionmaker[Session], *, meeting_id: int) -> ExistingRegistry:
    out = ExistingRegistry()
    stmt = (
        select(Premise.number_key, Premise.number, Premise.area, OwnerRecord.name_key)
        .join(OwnerRecord, OwnerRecord.premise_id == Premise.id, isouter=True)
        .where(Premise.meeting_id == meeting_id)
    )
    with session_factory() as s:
        for key, number, area, owner_key in s.execute(stmt):
            entry = out.premises.setdefault(key, (number, area, set()))
            if owner_key:
                entry[2].add(owner_key)
    return out


def check_registry(
    session_factory: sessionmaker[Session] | None, *, data: bytes, filename: str,
    meeting_id: int | None = None, replace: bool = True, progress=None, compact_from: int | None = None,
) -> RegistryReport:
    """Read and validate a file without storing anything (the preview, `check-registry`);
    `progress(done, total)` hears of the rows checked so far. A file of `compact_from` accepted
    rows or more comes back without its rows (RegistryReport.compact: a preview's figures)."""
    existing = None
    if session_factory is not None and meeting_id is not None and not replace:
        existing = existing_registry(session_factory, meeting_id=meeting_id)
    return parse_registry(data, filename, existing, progress, compact_from)


@dataclass
class ImportResult:
    owners: int
    premises: int
    total_area: Decimal
    votes: Fraction
    rejected: int
    warnings: int
    replaced: bool


def store_registry(
    session_factory: sessionmaker[Session], *, meeting_id: int, report: RegistryReport, replace: bool,
    secret_key: str | None = None,
) -> ImportResult:
    """Store the accepted rows of a checked file in one transaction: all of them or nothing; sealed
    (services/seals.py) when the instance key is at hand."""
    from services import seals

    if not report.owners:
        raise ValidationError("В файле нет ни одной принятой строки — импортировать нечего.")
    owners = report.owners
    with session_factory() as s:  # no query: the instance key the sessions carry
        key = seals.instance_key(s, secret_key)
    tag_key = seals._subkey(key) if key else None
    # The rows' seals are made before the transaction (half of a large import's work): SQLite has
    # one writer, and everyone else's writes wait while this transaction holds it.
    premise_seals: dict[str, str] = {}
    owner_seals: list[str] = []
    if tag_key:
        with gc_paused():
            for o in owners:
                if o.premise_key not in premise_seals:
                    premise_seals[o.premise_key] = seals.premise_seal(
                        tag_key, meeting_id=meeting_id, number_key=o.premise_key, number=o.premise, kind=o.kind,
                        area=o.area)
            owner_seals = [seals.owner_seal(tag_key, meeting_id=meeting_id, premise_key=o.premise_key,
                                            name_key=o.name_key, name=o.name, legal=o.is_legal_entity,
                                            share_num=o.share.numerator, share_den=o.share.denominator,
                                            joint_group=o.joint_group) for o in owners]
    try:
        with gc_paused(), session_factory.begin() as s:
            _require_meeting(s, meeting_id)
            seals.lock_meeting(s, meeting_id)
            ensure_open(s, meeting_id)  # a closed count fixed the registry too
            conn = s.connection()
            if replace:
                _refuse_losing_history(s, meeting_id, None)
                conn.execute(delete(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id))
                conn.execute(delete(Premise).where(Premise.meeting_id == meeting_id))
                known: dict[str, int] = {}
            else:
                known = dict(conn.execute(
                    select(Premise.number_key, Premise.id).where(Premise.meeting_id == meeting_id)
                ).all())
            new_premises: dict[str, ParsedOwner] = {}  # premise key -> its first owner's row
            for o in owners:
                if o.premise_key not in known and o.premise_key not in new_premises:
                    new_premises[o.premise_key] = o
            if new_premises:
                firsts = list(new_premises.values())
                _insert_rows(conn, Premise.__table__, {
                    "meeting_id": [meeting_id] * len(firsts), "number": [o.premise for o in firsts],
                    "number_key": [o.premise_key for o in firsts], "kind": [o.kind for o in firsts],
                    "area": [o.area for o in firsts],
                    **({"seal": [premise_seals[o.premise_key] for o in firsts]} if tag_key else {}),
                })
                known = dict(conn.execute(
                    select(Premise.number_key, Premise.id).where(Premise.meeting_id == meeting_id)
                ).all())
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            n = len(owners)
            _insert_rows(conn, OwnerRecord.__table__, {
                "meeting_id": [meeting_id] * n, "premise_id": [known[o.premise_key] for o in owners],
                "name": [o.name for o in owners], "name_key": [o.name_key for o in owners],
                "is_legal_entity": [o.is_legal_entity for o in owners],
                "share_num": [o.share.numerator for o in owners], "share_den": [o.share.denominator for o in owners],
                "doc_number": [o.doc_number for o in owners], "doc_date": [o.doc_date for o in owners],
                "snils": [o.snils for o in owners], "ogrn": [o.ogrn for o in owners],
                "emails": [o.emails for o in owners],
                "phones": [o.phones for o in owners], "source_row": [o.row for o in owners], "created_at": [now] * n,
                "joint_group": [o.joint_group for o in owners],
                **({"seal": owner_seals} if tag_key else {}),
            })
            if key:  # the new rows carry their tags; the meeting's seal (and any row never sealed) now
                seals.after_registry_write(s, meeting_id, secret_key=key, premise_ids=(), owner_ids=())
    except IntegrityError as exc:
        if SHARES_ABOVE_ONE in str(exc):
            raise ValidationError(
                "Доли собственников одного из помещений вместе с уже внесёнными в реестр превышают 1. Ничего не "
                "сохранено: проверьте доли помещений, которые уже есть в реестре, или замените реестр целиком."
            ) from exc
        raise ValidationError(
            "Реестр изменился, пока файл проверялся (помещение или собственник уже есть). "
            "Проверьте файл ещё раз и повторите импорт; ничего не сохранено."
        ) from exc
    return ImportResult(
        owners=len(report.owners), premises=report.premises, total_area=report.total_area, votes=report.votes,
        rejected=len({e.row for e in report.errors}), warnings=len(report.warnings), replaced=replace,
    )


def _insert_rows(conn: Connection, table: Table, columns: dict[str, list]) -> None:
    """INSERT rows given column by column (lists of equal length) in the open transaction.

    On SQLite the rows go straight to the driver's executemany, each value converted once by its
    column type's own bind processor: SQLAlchemy's per-row parameter handling costs several times
    the insert itself on a 100 000-row registry. Other databases take the ordinary Core insert.
    """
    dialect = conn.dialect
    names = list(columns)
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
        conn.execute(table.insert(), [dict(zip(names, row)) for row in zip(*columns.values())])
        return
    table_columns = [table.c[name] for name in names]
    values = []
    for column, name in zip(table_columns, names):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        column_values = columns[name]
        if process is None:
            values.append(column_values)
        elif isinstance(column.type, JSON):
            values.append(_json_values(column_values, process))
        else:  # dates, the one import time, areas, flags: few distinct values, each converted once
            done: dict = {}
            values.append([
                done[key] if (key := (v.__class__, v)) in done else done.setdefault(key, process(v)) for v in column_values
            ])
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(dialect.identifier_preparer.format_column(c) for c in table_columns)}) "
        f"VALUES ({', '.join('?' * len(table_columns))})"
    )
    conn.exec_driver_sql(sql, list(zip(*values)))


def _json_values(lists: list[list[str]], process) -> list:
    """The JSON of each list of e-mails or phones, as the column's own processor writes it.

    A list of plain ASCII strings (what nearly every e-mail and phone is) is written here, in the
    processor's own form (json.dumps: '["a", "b"]'); anything else — a quote, a backslash, a
    control or non-ASCII character — goes to the processor.
    """
    empty = process([])
    out = []
    for v in lists:
        if not v:
            out.append(empty)
            continue
        joined = '", "'.join(v)
        if joined.isascii() and joined.isprintable() and "\\" not in joined and joined.count('"') == 2 * (len(v) - 1):
            out.append('["' + joined + '"]')
        else:
            out.append(process(v))
    return out


def import_registry(
    session_factory: sessionmaker[Session], *, meeting_id: int, data: bytes, filename: str, replace: bool,
    secret_key: str | None = None,
) -> tuple[RegistryReport, ImportResult]:
    report = check_registry(session_factory, data=data, filename=filename, meeting_id=meeting_id, replace=replace)
    return report, store_registry(session_factory, meeting_id=meeting_id, report=report, replace=replace,
                                  secret_key=secret_key)


def rejected_rows_xlsx(report: RegistryReport) -> bytes:
    """The rejected rows as they were in the file, plus the reason: to fix and upload again."""
    header = ["Строка", *[h or f"Столбец {i + 1}" for i, h in enumerate(report.header_cells)], "Причина"]
    width = len(report.header_cells)
    rows = []
    for rowno, cells, reason in report.rejected_rows:
        cells = list(cells[:width]) + [""] * (width - len(cells[:width]))
        rows.append([rowno, *cells, reason])
    return xlsx_bytes([("Отклонённые строки", header, rows)])


# ---------- reading ----------

@dataclass
class RegistrySummary:
    owners: int
    premises: int
    total_area: Decimal
    votes: Fraction

    @property
    def line(self) -> str:
        return registry_line(self.owners, self.premises)


def registry_line(owners: int, premises: int) -> str:
    """«Сведения о 48 собственниках / 42 помещениях», «о 1 собственнике / 1 помещении»: the registry
    page, the notify page and the stages list say it alike."""
    return (f"Сведения о {count_of(owners, 'собственнике', 'собственниках', 'собственниках')} / "
            f"{count_of(premises, 'помещении', 'помещениях', 'помещениях')}")


def registry_summary(session_factory: sessionmaker[Session], *, meeting_id: int) -> RegistrySummary:
    with session_factory() as s:
        owners = s.scalar(select(func.count()).select_from(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id))
        premises, area_units = s.execute(
            select(func.count(), func.coalesce(func.sum(type_coerce(Premise.area, BigInteger)), 0)).where(
                Premise.meeting_id == meeting_id
            )
        ).one()
        area = type_coerce(Premise.area, BigInteger)
        # sole and shared holdings summed by the database, per share denominator (exact integers);
        # a joint holding's votes count once, so its rows come here
        by_den: dict[int, int] = {int(den): int(units) for den, units in s.execute(
            select(OwnerRecord.share_den, func.sum(area * OwnerRecord.share_num))
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(OwnerRecord.meeting_id == meeting_id, OwnerRecord.joint_group.is_(None))
            .group_by(OwnerRecord.share_den))}
        joint = s.execute(
            select(area, OwnerRecord.share_num, OwnerRecord.share_den, OwnerRecord.premise_id, OwnerRecord.joint_group)
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(OwnerRecord.meeting_id == meeting_id, OwnerRecord.joint_group.is_not(None))
            .order_by(OwnerRecord.id)
        )
        seen_joint: set[tuple[int, int]] = set()
        for area_units_row, num, den, premise_id, group in joint:
            if (premise_id, group) in seen_joint:
                continue
            seen_joint.add((premise_id, group))
            by_den[den] = by_den.get(den, 0) + int(area_units_row) * num
        votes = sum((Fraction(v, d * 10_000) for d, v in by_den.items()), Fraction(0))
    return RegistrySummary(owners or 0, premises or 0, Decimal(int(area_units)) / 10_000, votes)


def snils_missing(session_factory: sessionmaker[Session], *, meeting_id: int) -> int:
    """How many owner records of persons (not legal entities) have no СНИЛС or one failing its check
    digits: since 01.09.2025 a person's written decision carries the СНИЛС (ЖК РФ ст. 48 ч. 5.1),
    and their forms are printed with a blank line for it."""
    persons = (OwnerRecord.meeting_id == meeting_id, OwnerRecord.is_legal_entity.is_(False))
    with session_factory() as s:
        empty = s.scalar(select(func.count()).select_from(OwnerRecord).where(*persons, OwnerRecord.snils == ""))
        given = s.scalars(select(OwnerRecord.snils).where(*persons, OwnerRecord.snils != ""))
        return (empty or 0) + sum(1 for snils in given if not f.valid_snils(snils))


REGISTRY_PAGE_ROWS = 100  # rows of the registry table a page shows: the table of 200 000 owners is paged


@dataclass
class RegistryPage:
    frame: pd.DataFrame  # the page's rows (registry_frame's columns), indexed by owner record id
    total: int  # owners matching the search, on all pages
    page: int  # 1-based, clamped to 1..pages
    pages: int


_ORDER_CACHE: OrderedDict[tuple, array] = OrderedDict()  # 8 bytes an owner, not a list's 36
_ORDER_CACHE_SIZE = 16  # (meeting, registry state, search) orders kept: a few analysts paging a few searches
_order_lock = threading.Lock()


def _ordered_ids(s: Session, meeting_id: int, search: str) -> list[int]:
    """Every owner record id of the meeting matching `search`, in the table's order: premise
    numbers naturally, then names. Only ids, numbers and names are read for the whole registry.

    Kept per registry state: every registry write re-seals the meeting in its transaction, which
    sets the meeting's seal and its time of change (models.Meeting.updated_at), and the count and
    the largest id are checked too. Paging through 200 000 owners then costs a page, not a sort,
    per click; a registry without a seal (written without the instance key) is never kept."""
    seal, changed = s.execute(select(Meeting.registry_seal, Meeting.updated_at).where(Meeting.id == meeting_id)).one()
    count, last = s.execute(select(func.count(), func.max(OwnerRecord.id))
                            .where(OwnerRecord.meeting_id == meeting_id)).one()
    key = (s.get_bind().url.render_as_string(), meeting_id, seal, changed, count, last, search.strip())
    if seal is not None:
        with _order_lock:
            if key in _ORDER_CACHE:
                _ORDER_CACHE.move_to_end(key)
                return _ORDER_CACHE[key].tolist()
    rows = s.execute(
        select(OwnerRecord.id, Premise.number, OwnerRecord.name)
        .join(Premise, OwnerRecord.premise_id == Premise.id)
        .where(OwnerRecord.meeting_id == meeting_id)
        .order_by(OwnerRecord.id)
    ).all()
    needle = f.name_key(search) if search.strip() else ""
    if needle:
        rows = [r for r in rows if needle in f.name_key(r[2]) or needle == f.text_key(r[1])]
    keys: dict[str, tuple] = {}  # one natural key per premise number: two owners a flat share it
    for _rid, number, _name in rows:
        if number not in keys:
            keys[number] = natural_key(number)
    rows.sort(key=lambda r: (keys[r[1]], r[2]))
    ids = [r[0] for r in rows]
    if seal is not None:
        with _order_lock:
            _ORDER_CACHE[key] = array("q", ids)
            while len(_ORDER_CACHE) > _ORDER_CACHE_SIZE:
                _ORDER_CACHE.popitem(last=False)
    return ids


def _frame_of(s: Session, meeting_id: int, ids: list[int]) -> pd.DataFrame:
    """The table's rows of these owner records, in the order of `ids`."""
    details: dict[int, tuple] = {}
    for start in range(0, len(ids), 10_000):  # within every database's limit of bound parameters
        chunk = ids[start:start + 10_000]
        for row in s.execute(
            select(
                OwnerRecord.id, Premise.number, Premise.area, OwnerRecord.name, OwnerRecord.share_num,
                OwnerRecord.share_den, OwnerRecord.doc_number, OwnerRecord.doc_date, OwnerRecord.emails,
                OwnerRecord.phones, OwnerRecord.joint_group,
            )
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.in_(chunk))
        ):
            details[row[0]] = tuple(row)
    status = owner_status_marks(s, meeting_id, ids if len(ids) <= 10_000 else None)
    records = []
    for rid in ids:
        if rid not in details:  # deleted since the order was read
            continue
        _rid, number, area, name, num, den, doc, ddate, emails, phones, group = details[rid]
        records.append((
            rid, number, f.format_area(area), name, format_holding_share(Fraction(num, den), group), doc,
            f.format_date(ddate), f.format_contacts(emails or [], phones or []), status.get(rid, ""),
        ))
    return pd.DataFrame.from_records(records, columns=["id", *REGISTRY_COLUMNS]).set_index("id")


def registry_page(session_factory: sessionmaker[Session], *, meeting_id: int, search: str = "", page: int = 1,
                  rows: int = REGISTRY_PAGE_ROWS) -> RegistryPage:
    """One page of the registry table: only its rows are read in full and formatted, so a
    200 000-owner registry costs its page, not the whole table, on every run of the page."""
    with session_factory() as s:
        ids = _ordered_ids(s, meeting_id, search)
        pages = max(1, -(-len(ids) // rows))
        page = min(max(1, int(page)), pages)
        return RegistryPage(_frame_of(s, meeting_id, ids[(page - 1) * rows:page * rows]), len(ids), page, pages)


def registry_frame(session_factory: sessionmaker[Session], *, meeting_id: int, search: str = "") -> pd.DataFrame:
    """The whole registry table in the seed's columns, indexed by owner record id, sorted naturally."""
    with session_factory() as s:
        return _frame_of(s, meeting_id, _ordered_ids(s, meeting_id, search))


def format_holding_share(share: Fraction, joint_group: int | None) -> str:
    """«1/2», or for a joint holding «совместная» (with its share when it is not the whole premise)."""
    if joint_group is None:
        return f.format_share(share)
    return "совместная" if share == 1 else f"{f.format_share(share)} совместная"


def status_mark(last_notice: dt.datetime | None, code_used: bool) -> str:
    """«Статус» of the seed's registry: the code-sent mark with its date, and the code-used mark."""
    parts = []
    if last_notice is not None:
        parts.append(f"✉ {last_notice:%d.%m.%Y}")
    if code_used:
        parts.append("🔑 вход по коду")
    return " · ".join(parts)


def owner_status_marks(s: Session, meeting_id: int, owner_ids: list[int] | None = None) -> dict[int, str]:
    """«Статус» of the meeting's owners (of `owner_ids` only, when given)."""
    from services.models import AccessCode, Delivery

    # the notice's mark: a results notice (purpose «results») carries no code and notifies of nothing
    sent_q = (select(Delivery.owner_id, func.max(Delivery.sent_at))
              .where(Delivery.meeting_id == meeting_id, Delivery.purpose == "notice", Delivery.status == "sent")
              .group_by(Delivery.owner_id))
    used_q = select(AccessCode.owner_id).where(AccessCode.meeting_id == meeting_id,
                                               AccessCode.first_used_at.is_not(None))
    if owner_ids is not None:
        sent_q = sent_q.where(Delivery.owner_id.in_(owner_ids))
        used_q = used_q.where(AccessCode.owner_id.in_(owner_ids))
    sent = dict(s.execute(sent_q).all())
    used = set(s.scalars(used_q))
    return {oid: status_mark(sent.get(oid), oid in used) for oid in set(sent) | used}


_DIGITS = re.compile(r"(\d+)")
_NONRESIDENTIAL = re.compile(r"^(н|нп|нж)\b|^н[\s\-.]*\d")


def natural_key(number: str) -> tuple:
    """2 < 10 < 12а < Н-1: numbers by value, then letters; non-residential «Н…» after flats."""
    text = number.lower().replace("ё", "е")
    nonres = 1 if _NONRESIDENTIAL.match(text) else 0
    return (nonres, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(text) if p))


# ---------- editing ----------

@dataclass
class OwnerInput:
    """One row of the registry table as the analyst typed it (texts, as in the table)."""

    premise: str
    area: str
    name: str
    share: str = "1"
    doc_number: str = ""
    doc_date: str = ""
    contacts: str = ""


def _parse_input(row: OwnerInput, where: str) -> dict:
    # Control characters (pasted from another program) are removed, as an import removes them:
    # the documents made from the registry cannot hold them.
    row = OwnerInput(**{k: f.strip_controls(v) if isinstance(v, str) else v for k, v in vars(row).items()})
    problems = []
    values: dict = {}
    for key, parser, label in (
        ("premise", f.parse_premise_number, COL_PREMISE),
        ("area", f.parse_area, COL_AREA),
        ("name", f.parse_owner_name, COL_NAME),
        ("share", lambda v: Fraction(1) if f.is_blank(v) else (f.parse_holding_share(v)[0] or Fraction(1)), COL_SHARE),
        ("doc_date", f.parse_date, COL_DATE),
    ):
        try:
            values[key] = parser(getattr(row, key))
        except f.FieldError as exc:
            problems.append(f"{where}, «{label}»: {exc}")
    contacts = f.parse_contacts(row.contacts)
    for token in contacts.invalid:
        problems.append(f"{where}, «{COL_CONTACTS}»: «{token[:60]}» — не e-mail и не телефон")
    if problems:
        raise ValidationError(problems[0] if len(problems) == 1 else "Изменения не сохранены.", problems)
    values["doc_number"] = f.clean_text(row.doc_number)[:200]
    values["emails"], values["phones"] = contacts.emails, contacts.phones
    return values


def _premise_for(s: Session, meeting_id: int, number: str, area: Decimal) -> Premise:
    key = f.text_key(number)
    premise = s.scalar(select(Premise).where(Premise.meeting_id == meeting_id, Premise.number_key == key))
    if premise is None:
        premise = Premise(meeting_id=meeting_id, number=number, number_key=key, kind=f.premise_kind(number), area=area)
        s.add(premise)
        s.flush()
    elif premise.area != area:
        # The area belongs to the premise: changing it in one row changes it for every co-owner.
        premise.area = area
    return premise


def apply_registry_changes(
    session_factory: sessionmaker[Session], *, meeting_id: int,
    edited: dict[int, OwnerInput] | None = None, added: list[OwnerInput] | None = None,
    deleted: list[int] | None = None, secret_key: str | None = None,
) -> int:
    """Apply a batch of edits from the registry table in one transaction: all valid, or none saved;
    the rows touched and the meeting's registry seal are re-sealed in it (services/seals.py)."""
    from services.seals import after_registry_write, lock_meeting

    edited, added, deleted = edited or {}, added or [], deleted or []
    problems: list[str] = []
    parsed_edits, parsed_adds = {}, []
    for rid, row in edited.items():
        try:
            parsed_edits[rid] = _parse_input(row, f"Помещение {row.premise or '?'}")
        except ValidationError as exc:
            problems.extend(exc.details or [exc.message])
    for i, row in enumerate(added, start=1):
        try:
            parsed_adds.append(_parse_input(row, f"Новая строка {i}"))
        except ValidationError as exc:
            problems.extend(exc.details or [exc.message])
    if problems:
        raise ValidationError("Изменения не сохранены: исправьте ошибки.", problems)
    changed = 0
    try:
        with session_factory.begin() as s:
            _require_meeting(s, meeting_id)
            lock_meeting(s, meeting_id)
            ensure_open(s, meeting_id)  # a closed count fixed the registry too
            touched: set[int] = set()
            check_premise_shares(s, meeting_id, edited=parsed_edits, added=parsed_adds, deleted=deleted)
            if deleted:
                _refuse_losing_history(s, meeting_id, deleted)
            for rid in deleted:
                rec = s.get(OwnerRecord, rid)
                if rec is not None and rec.meeting_id == meeting_id:
                    s.delete(rec)
                    changed += 1
            s.flush()
            for rid, v in parsed_edits.items():
                rec = s.get(OwnerRecord, rid)
                if rec is None or rec.meeting_id != meeting_id:
                    raise NotFound("Собственник не найден — возможно, его уже удалили. Обновите страницу.")
                premise = _premise_for(s, meeting_id, v["premise"], v["area"])
                rec.premise_id = premise.id
                _set_owner(rec, v)
                if rec.joint_group is not None:  # a joint holding has one share: its co-owners follow
                    for other in s.scalars(select(OwnerRecord).where(
                            OwnerRecord.premise_id == premise.id, OwnerRecord.joint_group == rec.joint_group,
                            OwnerRecord.id != rec.id)):
                        other.share_num, other.share_den = rec.share_num, rec.share_den
                        touched.add(other.id)
                touched.add(rec.id)
                changed += 1
            for v in parsed_adds:
                premise = _premise_for(s, meeting_id, v["premise"], v["area"])
                rec = OwnerRecord(meeting_id=meeting_id, premise_id=premise.id)
                _set_owner(rec, v)
                s.add(rec)
                s.flush()
                touched.add(rec.id)
                changed += 1
            s.flush()
            _drop_empty_premises(s, meeting_id)
            premises = set(s.scalars(select(OwnerRecord.premise_id).where(OwnerRecord.id.in_(touched)))) \
                if touched else set()
            after_registry_write(s, meeting_id, secret_key=secret_key, premise_ids=premises, owner_ids=touched)
            if parsed_edits:
                # an area or a share behind counted decisions may have changed: recount the aggregate
                from services.tally import rebuild_aggregate

                rebuild_aggregate(s, meeting_id)
    except IntegrityError as exc:
        if SHARES_ABOVE_ONE in str(exc):
            raise ValidationError("Изменения не сохранены: доли собственников одного помещения в сумме больше 1.") from exc
        raise ValidationError(
            "Изменения не сохранены: у помещения уже есть собственник с таким ФИО/наименованием."
        ) from exc
    return changed


def holding_shares(records) -> dict:
    """Premise -> Σ of its holdings' shares, a joint holding once. `records`: (premise, joint group
    or None, share) for every owner record."""
    totals: dict = {}
    seen: set = set()
    for premise, group, share in records:
        if group is not None:
            if (premise, group) in seen:
                continue
            seen.add((premise, group))
        totals[premise] = totals.get(premise, Fraction(0)) + share
    return totals


def check_premise_shares(s: Session, meeting_id: int, *, edited: dict[int, dict], added: list[dict],
                         deleted: list[int]) -> None:
    """The invariant of ЖК ст. 48 ч. 3 (DOMAIN.md rule 8), exactly, on the registry as the change
    would leave it: the holdings of a premise add up to at most 1 (the database refuses it too, but
    without saying which premise)."""
    current = s.execute(select(OwnerRecord.id, Premise.number_key, Premise.number, OwnerRecord.joint_group,
                               OwnerRecord.share_num, OwnerRecord.share_den)
                        .join(Premise, OwnerRecord.premise_id == Premise.id)
                        .where(OwnerRecord.meeting_id == meeting_id)).all()
    numbers = {key: number for _id, key, number, *_rest in current}
    groups = {rid: (key, group) for rid, key, _n, group, _num, _den in current}
    state = {rid: (key, group, Fraction(num, den)) for rid, key, _n, group, num, den in current if rid not in deleted}
    for rid, v in edited.items():
        if rid in state:
            key = f.text_key(v["premise"])
            numbers.setdefault(key, v["premise"])
            state[rid] = (key, state[rid][1], v["share"])
            for other, (okey, ogroup) in groups.items():  # a joint holding's co-owners follow its share
                if other != rid and other in state and ogroup is not None and (okey, ogroup) == groups[rid]:
                    state[other] = (state[other][0], ogroup, v["share"])
    records = list(state.values())
    for v in added:
        key = f.text_key(v["premise"])
        numbers.setdefault(key, v["premise"])
        records.append((key, None, v["share"]))
    over = [(numbers[key], total) for key, total in holding_shares(records).items() if total > 1]
    if over:
        problems = [f"у помещения {number} доли собственников в сумме {f.format_share(total)} — больше 1"
                    for number, total in over]
        raise ValidationError(f"Изменения не сохранены: {problems[0]}." if len(problems) == 1
                              else "Изменения не сохранены: доли собственников превышают 1.", problems)


def _set_owner(rec: OwnerRecord, v: dict) -> None:
    rec.name = v["name"]
    rec.name_key = f.name_key(v["name"])
    rec.is_legal_entity = f.looks_like_legal_entity(v["name"])
    rec.share_num, rec.share_den = v["share"].numerator, v["share"].denominator
    rec.doc_number = v["doc_number"]
    rec.doc_date = v["doc_date"]
    rec.emails, rec.phones = v["emails"], v["phones"]


def _drop_empty_premises(s: Session, meeting_id: int) -> None:
    used = select(OwnerRecord.premise_id).where(OwnerRecord.meeting_id == meeting_id)
    s.execute(delete(Premise).where(Premise.meeting_id == meeting_id, Premise.id.not_in(used)))


def _refuse_losing_history(s: Session, meeting_id: int, owner_ids: list[int] | None) -> None:
    """Owners already notified or with a decision keep their records: deleting them would take the
    proof of notice and the decisions with them (they are attachments of the protocol)."""
    from services.models import Decision, Delivery

    checks = ((Decision, "решения собственников"), (Delivery, "отметки об уведомлении"))
    for model, what in checks:
        stmt = select(func.count()).select_from(model).where(model.meeting_id == meeting_id)
        if owner_ids is not None:
            stmt = stmt.where(model.owner_id.in_(owner_ids))
        if s.scalar(stmt):
            who = "У удаляемых собственников" if owner_ids is not None else "В собрании"
            raise ValidationError(
                f"{who} уже есть {what}: удалить или заменить эти записи нельзя, иначе пропадут приложения к "
                "протоколу. Исправьте записи в таблице или добавьте новые («Добавить к реестру»)."
            )


def delete_all_owners(session_factory: sessionmaker[Session], *, meeting_id: int,
                      secret_key: str | None = None) -> int:
    from services.seals import after_registry_write, lock_meeting

    with session_factory.begin() as s:
        _require_meeting(s, meeting_id)
        lock_meeting(s, meeting_id)
        ensure_open(s, meeting_id)  # a closed count fixed the registry too
        _refuse_losing_history(s, meeting_id, None)
        n = s.execute(delete(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id)).rowcount
        s.execute(delete(Premise).where(Premise.meeting_id == meeting_id))
        after_registry_write(s, meeting_id, secret_key=secret_key, premise_ids=(), owner_ids=())
        return n or 0


def registry_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """Export of the registry in the seed's columns plus the fields a protocol attachment needs."""
    stmt = (
        select(Premise.number, Premise.kind, Premise.area, OwnerRecord)
        .join(Premise, OwnerRecord.premise_id == Premise.id)
        .where(OwnerRecord.meeting_id == meeting_id)
    )
    with session_factory() as s:
        rows = s.execute(stmt).all()
    rows.sort(key=lambda r: (natural_key(r[0]), r[3].name))
    header = [
        COL_PREMISE, "Вид помещения", "Общая площадь, м²", COL_NAME, "Юридическое лицо", COL_SHARE,
        "Количество голосов", COL_DOC, COL_DATE, "СНИЛС", "ОГРН", "Адрес эл. почты", "Телефон",
    ]
    data = [
        [
            number, "нежилое" if kind == "non_residential" else "жилое", area, rec.name, rec.is_legal_entity,
            f.format_share(rec.share), round2(record_votes(area, rec.share)), rec.doc_number, rec.doc_date,
            rec.snils, rec.ogrn, ", ".join(rec.emails or []), ", ".join(rec.phones or []),
        ]
        for number, kind, area, rec in rows
    ]
    return xlsx_bytes([("Реестр собственников", header, data)])
