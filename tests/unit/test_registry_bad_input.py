"""Files that are not a readable registry: each gives a clear Russian TableFileError that names the
file, and nothing else ever escapes (no zipfile, calamine or decoding exception)."""
from __future__ import annotations

import io
import random
import zipfile

import pytest

from services.registry_parse import parse_registry
from services.spreadsheet import MAX_FILE_BYTES, TableFileError, read_table
from tests.filemakers import FORMATS, filename_for, make_table

GOOD = [["Квартира", "Площадь", "ФИО", "Доля"], ["1", 50, "Иванов Иван", "1"]]


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def _docx() -> bytes:
    return _zip({"[Content_Types].xml": "<Types/>", "_rels/.rels": "<Relationships/>",
                 "word/document.xml": "<w:document>Реестр собственников</w:document>"})


def _odt() -> bytes:
    return _zip({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<office:document/>"})


def _rezip(data: bytes, *, drop: str | None = None, halve: str | None = None) -> bytes:
    """The same archive with one member left out or cut in half."""
    src = zipfile.ZipFile(io.BytesIO(data))
    return _zip({n: (src.read(n)[: len(src.read(n)) // 2] if n == halve else src.read(n))
                 for n in src.namelist() if n != drop})


XLSX = make_table(GOOD, "xlsx")
ODS = make_table(GOOD, "ods")
XLS = make_table(GOOD, "xls")

HTML_TABLE = ("<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><meta charset=\"utf-8\"></head>"
              "<body><table><tr><td>Квартира</td><td>Площадь</td><td>ФИО</td></tr>"
              "<tr><td>1</td><td>50</td><td>Иванов</td></tr></table></body></html>")

BAD_FILES = [
    # (file name, content, a fragment of the message)
    ("пустой.xlsx", b"", "пуст"),
    ("пустой.csv", b"", "пуст"),
    ("пробелы.csv", b"  \r\n\r\n\t\n", "пуст"),
    ("только-bom.csv", b"\xef\xbb\xbf", "пуст"),
    ("договор.docx", _docx(), "документ Word"),
    ("договор.xlsx", _docx(), "документ Word"),
    ("письмо.ods", _odt(), "не таблица"),
    ("архив.xlsx", _zip({"readme.txt": "hello"}), "zip-архив, но не таблица"),
    ("шум.xlsx", random.Random(1).randbytes(64 * 1024), "не является таблицей"),
    ("нули.xlsx", bytes(4096), "не является таблицей"),
    ("скан.xlsx", b"%PDF-1.4\n" + random.Random(2).randbytes(4096), "не является таблицей"),
    ("фото.xls", b"\x89PNG\r\n\x1a\n" + bytes(100) + random.Random(3).randbytes(4096), "не является таблицей"),
    ("обрезанный.xlsx", XLSX[: len(XLSX) // 2], "повреждён"),
    ("обрезанный-хвост.xlsx", XLSX[:-10], "повреждён"),
    ("только-начало.xlsx", XLSX[:4], "повреждён"),
    ("обрезанный.ods", ODS[: len(ODS) // 2], "повреждён"),
    ("без-листа.xlsx", _rezip(XLSX, drop="xl/worksheets/sheet1.xml"), "повреждён"),
    ("без-книги.xlsx", _rezip(XLSX, drop="xl/workbook.xml"), "нет ни одного листа"),
    ("половина-листа.xlsx", _rezip(XLSX, halve="xl/worksheets/sheet1.xml"), "повреждён"),
    ("половина-содержимого.ods", _rezip(ODS, halve="content.xml"), "повреждён"),
    ("обрезанный.xls", XLS[: len(XLS) * 3 // 4], "повреждён"),
    ("обрезанный-хвост.xls", XLS[:-100], "повреждён"),
    ("ole-мусор.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random.Random(4).randbytes(4096), "повреждён"),
    ("выгрузка.xls", HTML_TABLE.encode(), "веб-страница"),
    ("выгрузка-bom.xls", b"\xef\xbb\xbf\r\n  " + HTML_TABLE.encode(), "веб-страница"),
    ("выгрузка-doctype.xls", b"<!DOCTYPE html>\n" + HTML_TABLE.encode("cp1251"), "веб-страница"),
    ("выгрузка.xlsx", b"<?xml version=\"1.0\"?><Workbook/>", "веб-страница или XML"),
]


@pytest.mark.parametrize("name,content,fragment", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_refuses_an_unreadable_file_with_a_russian_message_naming_it(name, content, fragment):
    with pytest.raises(TableFileError) as exc:
        parse_registry(content, name)
    message = str(exc.value)
    assert fragment in message
    assert f"«{name}»" in message


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rows", [
    [["Реестр собственников помещений"]],
    [["Реестр собственников помещений"], [], ["Дата составления: 01.02.2024"]],
    [],
], ids=["title", "title-and-date", "blank-sheet"])
def test_refuses_a_sheet_without_a_registry_header(fmt, rows):
    name = filename_for(fmt)
    if fmt == "csv" and not rows:
        content = b""
    else:
        content = make_table(rows, fmt)
    with pytest.raises(TableFileError, match="пуст|не найдена строка заголовков") as exc:
        parse_registry(content, name)
    assert f"«{name}»" in str(exc.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_names_the_missing_columns_when_the_header_is_incomplete(fmt):
    content = make_table([["Квартира", "ФИО", "Телефон"], ["1", "Иванов", "89111111111"]], fmt)
    with pytest.raises(TableFileError) as exc:
        parse_registry(content, filename_for(fmt))
    assert "«Общая площадь»" in str(exc.value)
    assert "«Номер помещения»" not in str(exc.value).split("Найдены")[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_refuses_a_header_without_any_owner_rows(fmt):
    content = make_table([["Реестр"], GOOD[0], [], ["Итого", 0]], fmt)
    with pytest.raises(TableFileError, match="нет ни одной строки с собственниками"):
        parse_registry(content, filename_for(fmt))


@pytest.mark.parametrize("name", ["большой.xlsx", "большой.csv", "большой.xls"])
def test_refuses_a_50_mb_file_before_reading_it(name):
    content = b"PK\x03\x04" + bytes(50 * 1024 * 1024)
    with pytest.raises(TableFileError, match="слишком большой: 50,0 МБ") as exc:
        read_table(content, name)
    assert f"«{name}»" in str(exc.value)


def test_reads_a_file_of_exactly_the_size_limit():
    rows = "Квартира;Площадь;ФИО\r\n1;50;Иванов\r\n".encode()
    filler = b" " * 1022 + b"\r\n"  # blank lines: kept short of the CSV field limit and the row limit
    content = rows + filler * ((MAX_FILE_BYTES - len(rows)) // len(filler))
    content += b" " * (MAX_FILE_BYTES - len(content))
    assert len(content) == MAX_FILE_BYTES
    report = parse_registry(content, "ровно.csv")
    assert [o.name for o in report.owners] == ["Иванов"]
    with pytest.raises(TableFileError, match="слишком большой"):
        read_table(content + b" ", "ровно.csv")


def test_refuses_a_zip_bomb_before_inflating_it():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = bytes(16 * 1024 * 1024)
            for _ in range(26):  # 416 MB of zeros, a few hundred kilobytes packed
                member.write(chunk)
    content = buf.getvalue()
    assert len(content) < MAX_FILE_BYTES
    with pytest.raises(TableFileError, match="после распаковки"):
        parse_registry(content, "бомба.xlsx")


def _flip_bytes(data: bytes, seed: int) -> bytes:
    rnd = random.Random(seed)
    damaged = bytearray(data)
    for _ in range(rnd.randint(1, 20)):
        damaged[rnd.randrange(len(damaged))] = rnd.randrange(256)
    return bytes(damaged)


# .xls is left out on purpose: some damaged BIFF files make calamine abort the whole process
# (an allocation from a corrupted length, tafia/calamine#550, #714), which no Python code can catch.
@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
@pytest.mark.parametrize("seed", range(200))
def test_a_randomly_damaged_file_is_read_or_refused_but_never_crashes(fmt, seed):
    content = _flip_bytes(XLSX if fmt == "xlsx" else ODS, seed)
    try:
        report = parse_registry(content, filename_for(fmt))
    except TableFileError as exc:
        assert "«реестр." in str(exc)
    else:
        assert len(report.owners) + len(report.errors) >= 1


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("cut", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_a_file_cut_short_is_refused_or_read_but_never_crashes(fmt, cut):
    whole = {"xlsx": XLSX, "xls": XLS, "ods": ODS, "csv": make_table(GOOD, "csv")}[fmt]
    content = whole[: max(1, int(len(whole) * cut))]
    try:
        parse_registry(content, filename_for(fmt))
    except TableFileError as exc:
        assert "«реестр." in str(exc)


def test_reads_a_utf16_csv_that_excel_saves_as_unicode_text():
    content = "Квартира\tПлощадь\tФИО\r\n1\t50\tИванов\r\n".encode("utf-16")
    report = parse_registry(content, "юникод.csv")
    assert [(o.premise, o.name) for o in report.owners] == [("1", "Иванов")]
