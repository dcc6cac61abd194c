"""Written decisions typed into a spreadsheet: reading (pure) and registering (one transaction).

Columns: «Номер помещения», «ФИО/Наименование собственника», optional «Дата получения», and one
column per agenda question headed «Вопрос N» or «N». A cell says «За», «Против» or «Воздержался»
(any case); an empty cell or several answers («За, Против») is that question's invalid answer
(ЖК РФ ст. 48 ч. 6). A row is matched to its owner record by premise number and name as written in
the registry (case, spaces and ё/е ignored); a legal entity by its name whatever «в лице …» follows
it; one of the joint owners a registry cell lists («Иванов И. И., Иванова А. П.») by their own name.

The receipt date decides whether a decision counts (ЖК РФ ст. 47 ч. 2), so it is never guessed:
a row without one takes the one date the analyst gives for the file, or — only while decisions are
still being received — today's date, said so in the report. After the end date a file with rows
without a date and no date given is refused.

Optional representative columns (ЖК РФ ст. 48 ч. 2): «Представитель» / «ФИО представителя»,
«Должность», «Доверенность» / «Номер доверенности», «Дата доверенности», «Кем удостоверена».
A row naming a representative needs a power of attorney (number and date) or the office of a legal
entity's head. Without these columns «ООО «Ромашка» в лице генерального директора Иванова И.И.» in
the owner cell records the director as the representative.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services import owner_fields as f
from services.errors import ValidationError
from services.holdings import joint_slots
from services.models import AgendaQuestion, Decision, DecisionAnswer, Meeting, OwnerRecord, Premise
from services.representatives import Representative, in_person_of, split_signer
from services.spreadsheet import TableFileError, read_table
from services.voting import INVALID, append_decision

WORDS = {"за": "for", "против": "against", "воздержался": "abstain", "воздержалась": "abstain",
         "воздержались": "abstain", "возд": "abstain", "воздерж": "abstain"}
_QUESTION = re.compile(r"^(?:вопрос\s*(?:№\s*)?)?(\d{1,3})\.?$", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[,;/+\n]\s*|\s+и\s+")
# the persons one registry cell of joint owners lists: «Иванов И. И., Иванова А. П.», «… и …»
_PERSONS = re.compile(r"\s*[,;\n]\s*|\s+и\s+", re.IGNORECASE)
# a person's name at the end of «генерального директора Иванова И.И.» (the office before it)
_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_NAME_AT_END = re.compile(rf"(?:{_WORD}\s+[А-ЯЁ]\.\s*(?:[А-ЯЁ]\.?)?|[А-ЯЁ]\.\s*(?:[А-ЯЁ]\.\s*)?{_WORD}"
                          rf"|(?:{_WORD}\s+){{1,2}}{_WORD})$")
_POA_IN_TEXT = re.compile(r"доверенност\w*\s*(?:№\s*(?P<number>[^\s,]+))?\s*(?:от\s*(?P<date>\d{1,2}\.\d{1,2}\.\d{2,4}))?",
                          re.IGNORECASE)

#: Representative columns: key -> the name used when a row's message names a column the file lacks.
REPRESENTATIVE_COLUMNS = {"rep_name": "Представитель", "rep_office": "Должность", "poa_number": "Номер доверенности",
                          "poa_date": "Дата доверенности", "poa_certified": "Кем удостоверена"}
DATE_COLUMN = "Дата получения"


@dataclass
class DecisionRow:
    row: int
    owner_id: int
    premise: str
    name: str
    received_on: dt.date
    answers: dict[int, str]  # question id -> answer
    representative: Representative | None = None


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
    has_date_column: bool = False
    undated_rows: list[int] = field(default_factory=list)  # rows whose receipt date the file does not give
    received_on: dt.date | None = None  # the date the analyst gave for those rows
    notes: list[str] = field(default_factory=list)  # what the analyst should know: dates taken by default
    refusal: str = ""  # why the file cannot be imported as it is (storing it is refused)

    @property
    def needs_date(self) -> bool:
        """The file leaves receipt dates to the analyst: the page asks for one date."""
        return not self.has_date_column or bool(self.undated_rows)


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


def _column_key(text: str) -> str | None:
    """What a header cell (lower case, ё as е) names; representative columns are told apart first:
    «Дата доверенности» is no receipt date, «ФИО представителя» no owner."""
    if "удостовер" in text:
        return "poa_certified"
    if "доверенн" in text:
        return "poa_date" if "дата" in text or text.endswith(" от") else "poa_number"
    if "должност" in text:
        return "rep_office"
    if "представител" in text or "подписал" in text:
        return "rep_name"
    if "получ" in text or ("дата" in text and "документ" not in text):
        return "date"
    if "помещ" in text or "квартир" in text or text in ("№ кв", "кв"):
        return "premise"
    if "фио" in text or "собственник" in text or "наименован" in text:
        return "owner"
    return None


def _header(cells: list) -> tuple[dict[str, int], dict[int, int], dict[str, str]] | None:
    """(column key -> index, question number -> index, column key -> its header as written)."""
    cols: dict[str, int] = {}
    questions: dict[int, int] = {}
    labels: dict[str, str] = {}
    for i, cell in enumerate(cells):
        text = f.clean_text(cell).lower().replace("ё", "е")
        if not text:
            continue
        if m := _QUESTION.match(text):
            questions[int(m.group(1))] = i
        elif (key := _column_key(text)) is not None and key not in cols:
            cols[key] = i
            labels[key] = f.clean_text(cell)[:60]
    if "premise" in cols and "owner" in cols and questions:
        return cols, questions, labels
    return None


def _persons(text: str) -> list[str]:
    """The name keys of the persons a cell lists (one for a cell naming one person)."""
    return [f.name_key(p) for p in _PERSONS.split(text) if p.strip()]


def _signer_representative(tail: str) -> Representative | None:
    """«в лице генерального директора Иванова И.И., действующего на основании …» → the director
    (office and name as written); None when the tail names no person in office."""
    who = in_person_of(tail)
    match = _NAME_AT_END.search(who) if who else None
    if not match or not who[:match.start()].strip(" ,"):
        return None
    number = date = None
    if poa := _POA_IN_TEXT.search(tail):
        number = poa.group("number")
        try:
            date = f.parse_date(poa.group("date")) if poa.group("date") else None
        except f.FieldError:
            date = None
    by_poa = bool(number and date)
    office = who[:match.start()].strip(" ,")
    if by_poa and office.lower().startswith("представител"):
        office = ""  # «в лице представителя …, действующего по доверенности»: no office, a power of attorney
    try:
        return Representative(" ".join(match.group().split()), office, number if by_poa else "",
                              date if by_poa else None).checked()
    except ValidationError:
        return None


def _row_representative(get, cols: dict[str, int], labels: dict[str, str], rowno: int, tail: str,
                        today: dt.date) -> tuple[Representative | None, list[RowError]]:
    """The representative a row names in its own columns, or the one «в лице …» names; the row's
    errors when it names one incompletely (ЖК РФ ст. 48 ч. 2: a power of attorney or an office)."""
    def label(key: str) -> str:
        return labels.get(key, REPRESENTATIVE_COLUMNS[key])

    values = {k: f.clean_text(get(cols[k])) for k in REPRESENTATIVE_COLUMNS if k in cols}
    if not any(values.values()):
        return (_signer_representative(tail) if tail else None), []
    name, office = values.get("rep_name", ""), values.get("rep_office", "")
    number, certified = values.get("poa_number", ""), values.get("poa_certified", "")
    errors: list[RowError] = []
    poa_date = None
    if values.get("poa_date"):
        try:
            poa_date = f.parse_date(get(cols["poa_date"]))
        except f.FieldError as exc:
            errors.append(RowError(rowno, label("poa_date"), str(exc)))
        else:
            if poa_date > today:
                errors.append(RowError(rowno, label("poa_date"), "дата доверенности позже сегодняшней"))
    if not name:
        errors.append(RowError(rowno, label("rep_name"), "не указано ФИО представителя, хотя сведения о "
                                                         "представителе заполнены"))
    if number or values.get("poa_date"):
        if not number:
            errors.append(RowError(rowno, label("poa_number"), "не указан номер доверенности представителя"))
        if not values.get("poa_date"):
            errors.append(RowError(rowno, label("poa_date"), "не указана дата доверенности представителя"))
    elif not office:
        who = f"представитель «{name[:80]}»" if name else "представитель"
        errors.append(RowError(rowno, label("poa_number"),
                               f"{who} указан без доверенности: нужны номер и дата доверенности или должность "
                               "руководителя юридического лица (ЖК РФ ст. 48 ч. 2)"))
    if errors:
        return None, errors
    try:
        return Representative(name, office, number, poa_date, certified).checked(), []
    except ValidationError as exc:
        return None, [RowError(rowno, label("rep_name"), exc.message)]


def _without_controls(report: DecisionsReport, rowno: int, cells: list, header: list) -> list:
    """The row with control characters removed from its text, each such cell noted with its row
    and column (the policy of every import: removed, the row accepted)."""
    out = list(cells)
    for col, cell in enumerate(cells):
        if cell.__class__ is str and f.has_controls(cell):
            label = f.strip_controls(f.clean_text(header[col])) if col < len(header) and not f.is_blank(header[col]) else f"столбец {col + 1}"
            report.notes.append(f"Строка {rowno}: {f.controls_note(f'«{label[:60]}»', cell)}.")
            out[col] = f.strip_controls(cell)
    return out


def parse_decisions(session_factory: sessionmaker[Session], *, meeting_id: int, data: bytes, filename: str,
                    today: dt.date | None = None, received_on: dt.date | None = None) -> DecisionsReport:
    """Read and check a decisions spreadsheet against the meeting's registry; stores nothing.

    `received_on`: the receipt date of the rows whose date the file does not give (the analyst's,
    one for the file). Without it such rows take today's date while decisions are still received;
    after the end date the report carries a refusal instead (storing it raises)."""
    today = today or dt.date.today()
    if received_on is not None and received_on > today:
        raise ValidationError("Дата получения решений не может быть позже сегодняшней.")
    table = read_table(data, filename)
    sheets = table.csv_variants if table.format == "csv" else table.sheets
    with session_factory() as s:
        end_date = s.scalar(select(Meeting.end_date).where(Meeting.id == meeting_id))
        numbers = dict(s.execute(select(AgendaQuestion.number, AgendaQuestion.id)
                                 .where(AgendaQuestion.meeting_id == meeting_id)).all())
        owners: dict[tuple[str, str], int] = {}
        # one of the persons a registry cell of joint owners lists -> that record (None: two records name them)
        persons: dict[tuple[str, str], int | None] = {}
        for oid, number, name, legal in s.execute(
                select(OwnerRecord.id, Premise.number, OwnerRecord.name, OwnerRecord.is_legal_entity).join(Premise)
                .where(OwnerRecord.meeting_id == meeting_id)):
            premise_key = f.text_key(number)
            owners[(premise_key, f.name_key(name))] = oid
            listed = [] if legal else _persons(name)
            if len(listed) > 1:
                for person in listed:
                    key = (premise_key, person)
                    persons[key] = oid if persons.get(key, oid) == oid else None
        # an owner whose decision already counts (or counts once with a joint co-owner's) is refused
        counted = set(s.scalars(select(Decision.owner_id).where(
            Decision.meeting_id == meeting_id,
            Decision.counted_slot.is_not(None) | Decision.status.in_(("joint_same", "joint_conflict")))))

    def match(premise_key: str, cell: str) -> tuple[int | None, str]:
        """(owner id, what follows the owner's name: «в лице …»)."""
        if (oid := owners.get((premise_key, f.name_key(cell)))) is not None:
            return oid, ""
        owner, tail = split_signer(cell)
        if tail and (oid := owners.get((premise_key, f.name_key(owner)))) is not None:
            return oid, tail
        found = {persons.get((premise_key, person)) for person in _persons(owner)}
        return (found.pop() if len(found) == 1 else None), tail

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
    sheet, header_idx, (cols, qcols, labels) = found
    unknown = sorted(set(qcols) - set(numbers))
    if unknown:
        raise TableFileError(f"В файле «{filename}» есть столбцы вопросов {', '.join(map(str, unknown))}, "
                             f"а в повестке собрания вопросов {len(numbers)}.")
    missing_q = sorted(set(numbers) - set(qcols))
    report = DecisionsReport(filename, has_date_column="date" in cols, received_on=received_on)
    date_label = labels.get("date", DATE_COLUMN)
    seen: dict[int, int] = {}
    for idx in range(header_idx + 1, len(sheet.rows)):
        cells = sheet.rows[idx]
        if all(f.is_blank(c) for c in cells):
            continue
        rowno = sheet.row_number(idx)
        if any(c.__class__ is str and f.has_controls(c) for c in cells):
            cells = _without_controls(report, rowno, cells, sheet.rows[header_idx])
        get = lambda c: cells[c] if c < len(cells) else ""  # noqa: E731
        premise = f.clean_text(get(cols["premise"]))
        name = f.clean_text(get(cols["owner"]))
        if re.match(r"^(итого|всего)\b", premise.lower()) or re.match(r"^(итого|всего)\b", name.lower()):
            continue
        errors = []
        oid, tail = match(f.text_key(premise), name) if premise and name else (None, "")
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
        if "date" in cols and not f.is_blank(get(cols["date"])):
            try:
                received = f.parse_date(get(cols["date"]))
            except f.FieldError as exc:
                errors.append(RowError(rowno, date_label, str(exc)))
            else:
                if received > today:
                    errors.append(RowError(rowno, date_label, "дата позже сегодняшней"))
        else:
            received = received_on or today
            report.undated_rows.append(rowno)
        representative, rep_errors = _row_representative(get, cols, labels, rowno, tail, today)
        errors += rep_errors
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
        report.rows.append(DecisionRow(rowno, oid, premise, name, received, answers, representative))
    _date_notes(report, cols=cols, date_label=date_label, today=today, end_date=end_date)
    return report


def _date_notes(report: DecisionsReport, *, cols: dict[str, int], date_label: str, today: dt.date,
                end_date: dt.date) -> None:
    """Say where the receipt dates of the undated rows come from, or refuse the file after the end
    date when none was given: an imported decision's date is never guessed (ЖК РФ ст. 47 ч. 2)."""
    without = set(report.undated_rows)
    undated = [r.row for r in report.rows if r.row in without]
    if not undated:
        return
    if "date" in cols:
        shown = ", ".join(map(str, undated[:10])) + (" …" if len(undated) > 10 else "")
        where = f"в столбце «{date_label}» не заполнена дата (строки {shown})"
    else:
        where = f"нет столбца «{DATE_COLUMN}»"
    if report.received_on is not None:
        report.notes.append(f"В файле «{report.filename}» {where}: для строк без даты ({len(undated)}) принята "
                            f"указанная дата получения {report.received_on:%d.%m.%Y}.")
    elif today > end_date:
        report.refusal = (
            f"Решения из файла «{report.filename}» не загружены: {where}, а приём решений окончен "
            f"{end_date:%d.%m.%Y}. Дата получения решает, учитывается ли решение (ЖК РФ ст. 47 ч. 2), и принять "
            f"за неё дату загрузки нельзя. Заполните столбец «{DATE_COLUMN}» или укажите одну дату получения "
            "для всего файла.")
    else:
        report.notes.append(f"В файле «{report.filename}» {where}: для строк без даты ({len(undated)}) принята "
                            f"сегодняшняя дата {today:%d.%m.%Y}. Если решения получены раньше, укажите дату их "
                            "получения.")


@dataclass
class ImportedDecisions:
    counted: int
    late: int
    total: int
    joint_same: int = 0  # a joint co-owner's decision agreeing with the counted one: counted once
    joint_conflicts: int = 0  # a joint co-owner's differing decision: the analyst picks the one that counts
    conflicts: int = 0


# Above this many rows the running count is rebuilt once from the decisions (a few GROUP BY
# queries) instead of being bumped row by row; the result is the same, exactly.
BULK_TALLY_ROWS = 100


def store_decisions(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int,
                    report: DecisionsReport, user: str = "") -> ImportedDecisions:
    """Register the accepted rows as paper decisions, all in one transaction, with the statuses of
    `register_paper_decision`: counted in the holding's place (a joint holding counts once); a
    joint co-owner's decision after the counted one is «joint_same» when it agrees and
    «joint_conflict» when it does not; late when received after the end date."""
    if report.refusal:
        raise ValidationError(report.refusal)
    if not report.rows:
        raise ValidationError("В файле нет ни одной принятой строки — импортировать нечего.")
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import contains_eager

    from services.tally import rebuild_aggregate
    from services.voting import question_numbers

    with session_factory() as s:
        end = s.get(Meeting, meeting_id).end_date
        numbers = question_numbers(s, meeting_id)
    bulk = len(report.rows) > BULK_TALLY_ROWS
    counts = dict.fromkeys(("counted", "late", "joint_same", "joint_conflict", "conflict"), 0)
    loaded: list[OwnerRecord] = []
    try:
        with session_factory.begin() as s:
            # The chain's lock first (the meeting's row on PostgreSQL, the write lock on SQLite): the
            # counted places read next are the ones the inserts below meet.
            s.execute(update(Meeting).where(Meeting.id == meeting_id).values(seal_count=Meeting.seal_count))
            slots = joint_slots(s, meeting_id)
            taken = {slot: (did, oid) for did, oid, slot in s.execute(
                select(Decision.id, Decision.owner_id, Decision.counted_slot)
                .where(Decision.meeting_id == meeting_id, Decision.counted_slot.is_not(None)))}
            taken_answers: dict[int, dict[int, str]] = {}
            for i, r in enumerate(report.rows):
                slot = slots.get(r.owner_id, r.owner_id)
                if r.received_on > end:
                    status = "late"
                elif slot not in taken:
                    status = "counted"
                elif taken[slot][1] == r.owner_id:
                    status = "conflict"
                else:
                    if slot not in taken_answers:
                        taken_answers[slot] = dict(s.execute(
                            select(DecisionAnswer.question_id, DecisionAnswer.answer)
                            .where(DecisionAnswer.decision_id == taken[slot][0])).all())
                    status = "joint_same" if taken_answers[slot] == r.answers else "joint_conflict"
                stored = append_decision(
                    s, secret_key=secret_key, meeting_id=meeting_id, owner_id=r.owner_id, kind="paper",
                    status=status, online_slot=None, counted_slot=slot if status == "counted" else None,
                    received_on=r.received_on, answers=r.answers, now=None, user=user,
                    source=f"{report.filename}, строка {r.row}", numbers=numbers, tally=not bulk,
                    representative=r.representative)
                counts[status] += 1
                if status == "counted":
                    taken[slot], taken_answers[slot] = (stored.id, r.owner_id), r.answers
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
    return ImportedDecisions(counts["counted"], counts["late"], len(report.rows), counts["joint_same"],
                             counts["joint_conflict"], counts["conflict"])


def import_decisions(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int, data: bytes,
                     filename: str, user: str = "", received_on: dt.date | None = None,
                     today: dt.date | None = None) -> tuple[DecisionsReport, ImportedDecisions]:
    """Read, check and store a decisions file (`manage.py import-decisions`); see `parse_decisions`
    for `received_on`."""
    report = parse_decisions(session_factory, meeting_id=meeting_id, data=data, filename=filename, today=today,
                             received_on=received_on)
    return report, store_decisions(session_factory, secret_key=secret_key, meeting_id=meeting_id, report=report,
                                   user=user)
