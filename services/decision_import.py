"""Written decisions typed into a spreadsheet: reading (pure) and registering (one transaction).

Columns: «Номер помещения», «ФИО/Наименование собственника», optional «Дата получения», and one
column per agenda question headed «Вопрос N» or «N». A cell says «За», «Против» or «Воздержался»
(any case); an empty cell or several answers («За, Против») is that question's invalid answer
(ЖК РФ ст. 48 ч. 6). A row is matched to its owner record by premise number and name as written in
the registry (case, spaces and ё/е ignored).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services import owner_fields as f
from services.errors import ValidationError
from services.models import AgendaQuestion, Decision, OwnerRecord, Premise
from services.spreadsheet import TableFileError, read_table
from services.voting import INVALID, append_decision

WORDS = {"за": "for", "против": "against", "воздержался": "abstain", "воздержалась": "abstain",
         "воздержались": "abstain", "возд": "abstain", "воздерж": "abstain"}
_QUESTION = re.compile(r"^(?:вопрос\s*(?:№\s*)?)?(\d{1,3})\.?$", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[,;/+\n]\s*|\s+и\s+")


@dataclass
class DecisionRow:
    row: int
    owner_id: int
    premise: str
    name: str
    received_on: dt.date
    answers: dict[int, str]  # question id -> answer


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class DecisionsReport:
    filename: str
    rows: list[DecisionRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    invalid_answers: int = 0


def parse_answer(value) -> str | None:
    """«За» → for …; empty or several marks → invalid; None when the text is not an answer at all."""
    text = f.clean_text(value).lower().replace("ё", "е").strip(" .!")
    if not text:
        return INVALID
    parts = [p for p in _SPLIT.split(text) if p]
    found = []
    for p in parts:
        key = WORDS.get(p.replace("воздержалась", "воздержался"))
        if key is None:
            return None
        found.append(key)
    return found[0] if len(set(found)) == 1 and len(found) == 1 else INVALID


def _header(cells: list) -> tuple[dict[str, int], dict[int, int]] | None:
    cols: dict[str, int] = {}
    questions: dict[int, int] = {}
    for i, cell in enumerate(cells):
        text = f.clean_text(cell).lower().replace("ё", "е")
        if not text:
            continue
        if m := _QUESTION.match(text):
            questions[int(m.group(1))] = i
        elif "получ" in text or ("дата" in text and "документ" not in text):
            cols.setdefault("date", i)
        elif "помещ" in text or "квартир" in text or text in ("№ кв", "кв"):
            cols.setdefault("premise", i)
        elif "фио" in text or "собственник" in text or "наименован" in text:
            cols.setdefault("owner", i)
    if "premise" in cols and "owner" in cols and questions:
        return cols, questions
    return None


def parse_decisions(session_factory: sessionmaker[Session], *, meeting_id: int, data: bytes, filename: str,
                    today: dt.date | None = None) -> DecisionsReport:
    """Read and check a decisions spreadsheet against the meeting's registry; stores nothing."""
    today = today or dt.date.today()
    table = read_table(data, filename)
    sheets = table.csv_variants if table.format == "csv" else table.sheets
    with session_factory() as s:
        numbers = dict(s.execute(select(AgendaQuestion.number, AgendaQuestion.id)
                                 .where(AgendaQuestion.meeting_id == meeting_id)).all())
        owners = {}
        for oid, number, name in s.execute(
                select(OwnerRecord.id, Premise.number, OwnerRecord.name).join(Premise)
                .where(OwnerRecord.meeting_id == meeting_id)):
            owners[(f.text_key(number), f.name_key(name))] = oid
        counted = set(s.scalars(select(Decision.owner_id).where(Decision.meeting_id == meeting_id,
                                                                Decision.counted_slot.is_not(None))))
    found = None
    for sheet in sheets:
        for idx, cells in enumerate(sheet.rows[:30]):
            header = _header(cells)
            if header:
                found = (sheet, idx, header)
                break
        if found:
            break
    if not found:
        raise TableFileError(f"В файле «{filename}» не найдена строка заголовков: нужны столбцы «Номер помещения», "
                             "«ФИО/Наименование собственника» и «Вопрос 1», «Вопрос 2» … (или «1», «2» …).")
    sheet, header_idx, (cols, qcols) = found
    unknown = sorted(set(qcols) - set(numbers))
    if unknown:
        raise TableFileError(f"В файле «{filename}» есть столбцы вопросов {', '.join(map(str, unknown))}, "
                             f"а в повестке собрания вопросов {len(numbers)}.")
    missing_q = sorted(set(numbers) - set(qcols))
    report = DecisionsReport(filename)
    seen: dict[int, int] = {}
    for idx in range(header_idx + 1, len(sheet.rows)):
        cells = sheet.rows[idx]
        if all(f.is_blank(c) for c in cells):
            continue
        rowno = sheet.row_number(idx)
        get = lambda c: cells[c] if c < len(cells) else ""  # noqa: E731
        premise = f.clean_text(get(cols["premise"]))
        name = f.clean_text(get(cols["owner"]))
        if re.match(r"^(итого|всего)\b", premise.lower()) or re.match(r"^(итого|всего)\b", name.lower()):
            continue
        errors = []
        oid = owners.get((f.text_key(premise), f.name_key(name)))
        if not premise or not name:
            errors.append(RowError(rowno, "Номер помещения" if not premise else "ФИО/Наименование собственника",
                                   "не заполнено"))
        elif oid is None:
            errors.append(RowError(rowno, "ФИО/Наименование собственника",
                                   f"в реестре нет собственника «{name[:80]}» в помещении {premise[:20]}"))
        elif oid in seen:
            errors.append(RowError(rowno, "ФИО/Наименование собственника",
                                   f"повторяет строку {seen[oid]}: решение этого собственника уже есть в файле"))
        elif oid in counted:
            errors.append(RowError(rowno, "ФИО/Наименование собственника",
                                   "у собственника уже есть учтённое решение — повторно не учитывается"))
        received = today
        if "date" in cols and not f.is_blank(get(cols["date"])):
            try:
                received = f.parse_date(get(cols["date"]))
            except f.FieldError as exc:
                errors.append(RowError(rowno, "Дата получения", str(exc)))
            else:
                if received > today:
                    errors.append(RowError(rowno, "Дата получения", "дата позже сегодняшней"))
        answers: dict[int, str] = {numbers[n]: INVALID for n in missing_q}
        for n, col in qcols.items():
            answer = parse_answer(get(col))
            if answer is None:
                errors.append(RowError(rowno, f"Вопрос {n}", f"ответ «{f.clean_text(get(col))[:40]}» не распознан: "
                                                             "нужно «За», «Против» или «Воздержался»"))
            else:
                answers[numbers[n]] = answer
        if errors:
            report.errors.extend(errors)
            continue
        seen[oid] = rowno
        report.invalid_answers += sum(1 for a in answers.values() if a == INVALID)
        report.rows.append(DecisionRow(rowno, oid, premise, name, received, answers))
    return report


@dataclass
class ImportedDecisions:
    counted: int
    late: int
    total: int


# Above this many rows the running count is rebuilt once from the decisions (a few GROUP BY
# queries) instead of being bumped row by row; the result is the same, exactly.
BULK_TALLY_ROWS = 100


def store_decisions(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int,
                    report: DecisionsReport, user: str = "") -> ImportedDecisions:
    """Register the accepted rows as paper decisions, all in one transaction."""
    if not report.rows:
        raise ValidationError("В файле нет ни одной принятой строки — импортировать нечего.")
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import contains_eager

    from services.models import Meeting
    from services.tally import rebuild_aggregate
    from services.voting import question_numbers

    with session_factory() as s:
        end = s.get(Meeting, meeting_id).end_date
        numbers = question_numbers(s, meeting_id)
    bulk = len(report.rows) > BULK_TALLY_ROWS
    counted = late = 0
    loaded: list[OwnerRecord] = []
    try:
        with session_factory.begin() as s:
            for i, r in enumerate(report.rows):
                is_late = r.received_on > end
                append_decision(s, secret_key=secret_key, meeting_id=meeting_id, owner_id=r.owner_id,
                                kind="paper", status="late" if is_late else "counted", online_slot=None,
                                counted_slot=None if is_late else r.owner_id, received_on=r.received_on,
                                answers=r.answers, now=None, user=user, source=f"{report.filename}, строка {r.row}",
                                numbers=numbers, tally=not bulk)
                late += is_late
                counted += not is_late
                if i == 0 and bulk:
                    # Under the chain's lock now: load the remaining owners with their premises in a
                    # few queries; append_decision finds them in the session instead of reading each.
                    # `loaded` keeps them referenced (the identity map holds objects weakly).
                    ids = [row.owner_id for row in report.rows[1:]]
                    for k in range(0, len(ids), 500):
                        loaded += s.scalars(select(OwnerRecord).join(OwnerRecord.premise)
                                            .options(contains_eager(OwnerRecord.premise))
                                            .where(OwnerRecord.id.in_(ids[k:k + 500]))).all()
            if bulk:
                rebuild_aggregate(s, meeting_id)
    except IntegrityError as exc:
        raise ValidationError("Решения не загружены: пока файл проверялся, у кого-то из собственников появилось "
                              "учтённое решение. Проверьте файл ещё раз; ничего не сохранено.") from exc
    return ImportedDecisions(counted, late, len(report.rows))


def import_decisions(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int, data: bytes,
                     filename: str, user: str = "") -> tuple[DecisionsReport, ImportedDecisions]:
    report = parse_decisions(session_factory, meeting_id=meeting_id, data=data, filename=filename)
    return report, store_decisions(session_factory, secret_key=secret_key, meeting_id=meeting_id, report=report,
                                   user=user)
