"""Write a table (a list of rows of cells) as a real file in every format the registry import reads.

Tests and benchmarks describe a registry as plain Python rows and get back the bytes an office
program would have saved:

    data = make_table([["Квартира", "Площадь", "ФИО"], ["1", 50, "Иванов"]], "xlsx")

Cells may be `str`, `int`, `float`, `Decimal`, `datetime.date`/`datetime.datetime`, `None` or
`""` (an empty cell). In the spreadsheet formats numbers are stored as numbers and dates as real
spreadsheet dates (a date number format in .xlsx/.xls, `office:date-value` in .ods); CSV has no
types, so there a date is written as «ДД.ММ.ГГГГ» and a number with a decimal comma, the way a
Russian Excel exports it. Text is always stored as text, so «1/2» stays a string.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Iterable, Sequence

#: Every format the import reads; use it to parametrize tests over formats.
FORMATS = ("xlsx", "xls", "ods", "csv")
#: The encodings a CSV registry comes in.
CSV_ENCODINGS = ("utf-8", "utf-8-sig", "cp1251")
#: The delimiters a CSV registry comes with.
CSV_DELIMITERS = (";", ",", "\t")

Row = Sequence[object]


def make_table(
    rows: Iterable[Row],
    fmt: str,
    *,
    encoding: str = "utf-8",
    delimiter: str = ";",
    sheet_name: str = "Реестр",
) -> bytes:
    """The bytes of a file in `fmt` (one of FORMATS) holding `rows` on one sheet.

    `encoding` and `delimiter` apply to CSV only ("utf-8-sig" writes a BOM).
    """
    rows = [list(r) for r in rows]
    if fmt == "xlsx":
        return _xlsx(rows, sheet_name)
    if fmt == "xls":
        return _xls(rows, sheet_name)
    if fmt == "ods":
        return _ods(rows, sheet_name)
    if fmt == "csv":
        return _csv(rows, encoding=encoding, delimiter=delimiter)
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def filename_for(fmt: str, stem: str = "реестр") -> str:
    """A file name with the format's extension, e.g. «реестр.xlsx»."""
    return f"{stem}.{fmt}"


def write_table(path, rows: Iterable[Row], fmt: str | None = None, **kwargs) -> None:
    """Write `rows` to `path` (a pathlib.Path); the format defaults to the path's extension."""
    fmt = fmt or path.suffix.lstrip(".").lower()
    path.write_bytes(make_table(rows, fmt, **kwargs))


def _is_blank(cell) -> bool:
    return cell is None or cell == ""


def _is_number(cell) -> bool:
    return isinstance(cell, (int, float, Decimal)) and not isinstance(cell, bool)


# ---------- .xlsx ----------

def _xlsx(rows: list[list], sheet_name: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name
    for r, row in enumerate(rows, start=1):
        for c, cell in enumerate(row, start=1):
            if _is_blank(cell):
                continue
            if isinstance(cell, Decimal):
                cell = float(cell)
            target = ws.cell(row=r, column=c, value=cell)
            if isinstance(cell, dt.datetime):
                target.number_format = "DD.MM.YYYY HH:MM"
            elif isinstance(cell, dt.date):
                target.number_format = "DD.MM.YYYY"
            elif isinstance(cell, str):
                target.data_type = "s"  # «1/2» or «=...» must stay text
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------- .xls (BIFF8) ----------

def _xls(rows: list[list], sheet_name: str) -> bytes:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet(sheet_name[:31])
    date_style = xlwt.easyxf(num_format_str="DD.MM.YYYY")
    datetime_style = xlwt.easyxf(num_format_str="DD.MM.YYYY HH:MM")
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if _is_blank(cell):
                continue
            if isinstance(cell, dt.datetime):
                ws.write(r, c, cell, datetime_style)
            elif isinstance(cell, dt.date):
                ws.write(r, c, cell, date_style)
            elif _is_number(cell):
                ws.write(r, c, float(cell))
            else:
                ws.write(r, c, str(cell))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------- .ods ----------

def _ods(rows: list[list], sheet_name: str) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name=sheet_name)
    for row in rows:
        tr = TableRow()
        for cell in row:
            if _is_blank(cell):
                tc = TableCell()
            elif isinstance(cell, dt.datetime):
                tc = TableCell(valuetype="date", datevalue=cell.strftime("%Y-%m-%dT%H:%M:%S"))
                tc.addElement(P(text=cell.strftime("%d.%m.%Y %H:%M")))
            elif isinstance(cell, dt.date):
                tc = TableCell(valuetype="date", datevalue=cell.isoformat())
                tc.addElement(P(text=cell.strftime("%d.%m.%Y")))
            elif _is_number(cell):
                tc = TableCell(valuetype="float", value=str(cell))
                tc.addElement(P(text=_csv_number(cell)))
            else:
                tc = TableCell(valuetype="string")
                # one <text:p> per line: that is how a line break inside a cell is stored
                for line in str(cell).split("\n"):
                    tc.addElement(P(text=line))
            tr.addElement(tc)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


# ---------- .csv ----------

def _csv_number(cell) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).replace(".", ",")


def _csv_cell(cell) -> str:
    if _is_blank(cell):
        return ""
    if isinstance(cell, dt.datetime):
        return cell.strftime("%d.%m.%Y %H:%M")
    if isinstance(cell, dt.date):
        return cell.strftime("%d.%m.%Y")
    if _is_number(cell):
        return _csv_number(cell)
    return str(cell)


def _csv(rows: list[list], *, encoding: str, delimiter: str) -> bytes:
    if delimiter not in CSV_DELIMITERS:
        raise ValueError(f"unsupported CSV delimiter {delimiter!r}")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_cell(c) for c in row])
    return buf.getvalue().encode(encoding)
