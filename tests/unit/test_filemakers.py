"""tests/filemakers.py writes what an office program would: checked by reading the files back."""
from __future__ import annotations

import datetime as dt

import pytest

from services.spreadsheet import read_table
from tests.filemakers import CSV_DELIMITERS, CSV_ENCODINGS, FORMATS, make_table

ROWS = [
    ["Реестр"],
    [],
    ["Квартира", "Площадь", "ФИО", "Доля", "Дата"],
    ["1", 50.5, "Иванов Иван\nИванова Ирина", "1/2", dt.date(2020, 2, 4)],
    [12, 40, "Ёлкин; Пётр, «Н-1»", "", dt.datetime(2021, 3, 5, 10, 30)],
]


def _sheet(content: bytes, fmt: str, delimiter: str = ";"):
    table = read_table(content, f"x.{fmt}")
    assert table.format == fmt
    if fmt == "csv":
        (sheet,) = [s for s in table.csv_variants if s.name.endswith(("табуляция)" if delimiter == "\t" else f"{delimiter})"))]
        return sheet
    return table.sheets[0]


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_spreadsheets_keep_numbers_dates_and_text_typed(fmt):
    rows = _sheet(make_table(ROWS, fmt), fmt).rows
    assert rows[0][0] == "Реестр"
    assert all(c == "" for c in rows[1])
    assert rows[3][:4] == ["1", 50.5, "Иванов Иван\nИванова Ирина", "1/2"]
    assert rows[3][4] == dt.date(2020, 2, 4)
    assert rows[4][0] == 12 and not isinstance(rows[4][0], str)
    assert rows[4][2] == "Ёлкин; Пётр, «Н-1»" and rows[4][3] == ""
    assert rows[4][4] == dt.datetime(2021, 3, 5, 10, 30)


@pytest.mark.parametrize("encoding", CSV_ENCODINGS)
@pytest.mark.parametrize("delimiter", CSV_DELIMITERS)
def test_csv_is_written_in_the_asked_encoding_and_delimiter(encoding, delimiter):
    content = make_table(ROWS, "csv", encoding=encoding, delimiter=delimiter)
    assert content.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    content.decode(encoding)  # cp1251 is really cp1251
    sheet = _sheet(content, "csv", delimiter)
    assert sheet.rows[2] == ["Квартира", "Площадь", "ФИО", "Доля", "Дата"]
    assert sheet.rows[3] == ["1", "50,5", "Иванов Иван\nИванова Ирина", "1/2", "04.02.2020"]
    assert sheet.rows[4] == ["12", "40", "Ёлкин; Пётр, «Н-1»", "", "05.03.2021 10:30"]
    assert sheet.row_numbers == [1, 2, 3, 4, 6]


def test_every_format_is_listed_and_an_unknown_one_is_refused():
    assert set(FORMATS) == {"xlsx", "xls", "ods", "csv"}
    with pytest.raises(ValueError):
        make_table(ROWS, "docx")
