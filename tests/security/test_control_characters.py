"""Issue 14 §6 and §3: control characters in imported text, and CSV read by the limited worker.

A control character in an owner's name, accepted from a CSV, made the protocol package, the
signature sheet and the code-signed decisions fail silently (XML has no place for it). The policy
now: every import removes control characters from the text it keeps and warns naming the row and
the column; the document writers remove any that still reach them (a database filled before).
A CSV registry is read and checked by the reading process with the workbooks' limits.
"""
from __future__ import annotations

import io
import zipfile

import docx
import openpyxl
import pytest
import xlsxwriter
from sqlalchemy import select, update

from services import spreadsheet
from services.models import OwnerRecord
from services.notify import signature_sheet
from services.registry import store_registry
from services.registry_parse import parse_registry
from services.results import electronic_decisions_docx, protocol_package_zip
from services.spreadsheet import TableFileError
from services.voting import set_electronic_decisions, submit_online_decision
from tests.integration.test_tally import SECRET, build

HEADER = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
          "Номер документа", "Адрес эл. почты и номер телефона"]
# C0 controls (NUL, SOH, BEL, BS, SO, ESC), DEL and C1 (U+0080, U+009F). VT, FF, U+001C–U+001F and NEL
# were never kept: str.split takes them for spaces, so a name holding one is cleaned of it anyway.
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0e", "\x1b", "\x7f", "\x80", "\x9f"]
FILLER = 60  # ordinary rows first: a NUL in the first 4 KB makes the file «not a table» at all
XML_INVALID = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))]


def _rows(char: str) -> list[list[str]]:
    rows = [[str(i), "50", f"Собственник Обычный {i}", "1", f"77-01/{i:03d}", f"o{i}@example.ru"]
            for i in range(1, FILLER + 1)]
    rows.append(["100", "45,5", f"Иванов{char} Иван Иванович", "1", f"77-01/1{char}00",
                 f"ivanov@example.ru{char}"])
    rows.append([f"10{char}1", "40", "Петров Пётр", "1", "77-01/101", "petrov@example.ru"])
    return rows


def _csv(rows) -> bytes:
    return "\r\n".join(";".join(r) for r in [HEADER, *rows]).encode("utf-8") + b"\r\n"


def _xlsx(rows) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("Реестр")
    for r, row in enumerate([HEADER, *rows]):
        for c, value in enumerate(row):
            ws.write_string(r, c, value)  # xlsxwriter keeps a control character as _xHHHH_
    wb.close()
    return buf.getvalue()


def _has_control(text: str) -> bool:
    return any(c in text for c in CONTROLS)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_an_import_removes_control_characters_and_warns_with_row_and_column(fmt, char):
    rows = _rows(char)
    data = _csv(rows) if fmt == "csv" else _xlsx(rows)
    report = parse_registry(data, f"реестр.{fmt}")

    assert len(report.owners) == FILLER + 2 and not report.errors
    ivanov = next(o for o in report.owners if o.premise == "100")
    assert ivanov.name == "Иванов Иван Иванович"
    assert ivanov.doc_number.replace(" ", "") == "77-01/100"
    assert ivanov.emails == ["ivanov@example.ru"]
    petrov = next(o for o in report.owners if o.name == "Петров Пётр")
    assert petrov.premise.replace(" ", "") == "101"
    for o in report.owners:
        assert not _has_control(o.name + o.premise + o.doc_number + "".join(o.emails))
    warned = {(w.row, w.message.split(":")[0]) for w in report.warnings}
    assert (FILLER + 2, "ФИО/Наименование собственника") in warned, report.warnings
    assert (FILLER + 2, "Номер документа") in warned
    assert (FILLER + 2, "Адрес эл. почты и номер телефона") in warned
    assert (FILLER + 3, "Номер помещения") in warned
    note = next(w.message for w in report.warnings if w.row == FILLER + 2)
    assert f"U+{ord(char):04X}" in note and "удалены управляющие символы" in note


def _meeting_with_controls(session_factory) -> tuple[int, list[int]]:
    """A meeting whose owners' names and premise hold XML-invalid characters, as a database filled
    before the imports cleaned them holds them (PostgreSQL refuses NUL itself); one owner has signed
    his decision with his code."""
    m, ids, q = build(session_factory, [("1", "40,0", "Андреев", "1"), ("2", "40,0", "Борисова", "1")])
    with session_factory.begin() as s:
        s.execute(update(OwnerRecord).where(OwnerRecord.id == ids["Андреев"])
                  .values(name="Андреев\x02 Андрей\x01\x07\x1b", doc_number="77\x0b-01"))
        s.execute(update(OwnerRecord).where(OwnerRecord.id == ids["Борисова"]).values(name="Борисова\x08 Бэлла\x0c"))
    set_electronic_decisions(session_factory, meeting_id=m, enabled=True, user="admin")
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=ids["Андреев"],
                           answers={qid: "for" for qid in q})
    return m, list(ids.values())


def _docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_the_signature_sheet_is_made_and_opens(session_factory):
    m, owner_ids = _meeting_with_controls(session_factory)
    text = _docx_text(signature_sheet(session_factory, meeting_id=m, owner_ids=owner_ids))
    assert "Андреев Андрей" in text and "Борисова Бэлла" in text
    assert not any(c in text for c in XML_INVALID if c not in "\t\n\r")


def test_the_code_signed_decisions_are_made_and_open(session_factory):
    m, _owner_ids = _meeting_with_controls(session_factory)
    text = _docx_text(electronic_decisions_docx(session_factory, meeting_id=m))
    assert "Андреев Андрей" in text
    assert not any(c in text for c in XML_INVALID if c not in "\t\n\r")


def test_the_protocol_package_is_made_and_every_part_opens(session_factory):
    m, _owner_ids = _meeting_with_controls(session_factory)
    package = zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=m,
                                                              public_url="https://kvorum.example")))
    names = package.namelist()
    assert "Приложение 6. Решения, подписанные кодом.docx" in names
    registry = None
    for name in names:
        data = package.read(name)
        if name.endswith(".docx"):
            _docx_text(data)
        else:
            wb = openpyxl.load_workbook(io.BytesIO(data))
            if name.startswith("Приложение 1."):
                registry = [c.strip() for row in wb.active.iter_rows(values_only=True) for c in row
                            if isinstance(c, str)]
    assert "Андреев Андрей" in registry and "Борисова Бэлла" in registry
    with session_factory() as s:  # nothing was changed in the database by making the documents
        assert s.scalar(select(OwnerRecord.name).where(OwnerRecord.name.like("Андреев%"))) == "Андреев\x02 Андрей\x01\x07\x1b"


def test_an_imported_registry_with_control_characters_makes_its_documents(session_factory):
    m, _ids, _q = build(session_factory, [("1", "40,0", "Андреев", "1")])
    report = parse_registry(_csv(_rows("\x01")), "реестр.csv")
    store_registry(session_factory, meeting_id=m, report=report, replace=True)
    with session_factory() as s:
        owner_ids = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == m)))
        names = list(s.scalars(select(OwnerRecord.name).where(OwnerRecord.meeting_id == m)))
    assert "Иванов Иван Иванович" in names and not any(_has_control(n) for n in names)
    assert "Иванов Иван Иванович" in _docx_text(signature_sheet(session_factory, meeting_id=m, owner_ids=owner_ids))


def test_a_csv_is_read_by_the_limited_reading_process(monkeypatch):
    """A CSV that needs more memory than the reading process may have is refused with the workbooks'
    message; read in the app server, as before, it was read whole (and held everyone up)."""
    monkeypatch.setattr(spreadsheet, "WORKBOOK_MEMORY_LIMIT", 160 * 1024**2)
    row = ";".join(["1"] * 400)  # 400 cells a line: millions of one-character cells in all
    data = ("Номер помещения;Общая площадь;ФИО/Наименование собственника\r\n"
            + (row + "\r\n") * (19 * 1024**2 // (len(row) + 2))).encode("utf-8")
    with pytest.raises(TableFileError) as refused:
        parse_registry(data, "много ячеек.csv")
    assert str(refused.value) == ("Файл «много ячеек.csv» повреждён или сохранён не как таблица CSV: его не удалось "
                                  "прочитать (не хватило памяти).")


def test_a_csv_read_for_decisions_goes_through_the_reading_process_too(monkeypatch):
    from services.spreadsheet import read_table

    monkeypatch.setattr(spreadsheet, "WORKBOOK_MEMORY_LIMIT", 160 * 1024**2)
    row = ";".join(["1"] * 400)
    data = ("Номер помещения;ФИО/Наименование собственника;1\r\n"
            + (row + "\r\n") * (19 * 1024**2 // (len(row) + 2))).encode("utf-8")
    with pytest.raises(TableFileError, match="не хватило памяти"):
        read_table(data, "решения.csv")
