"""A legal entity's ОГРН in the owner registry (issue 15, item 6): the column is recognised by its
usual headers, the number is checked by its check digit, and a wrong one is kept out with a
warning, as a wrong СНИЛС is. Every test reads a real file written by tests/filemakers.py."""
from __future__ import annotations

import pytest

from services import owner_fields as f
from services.registry_parse import classify_header, parse_registry
from tests.filemakers import FORMATS, filename_for, make_table

SBER = "1027700132195"  # ОГРН: 102770013219 mod 11 = 5
IP = "304500116000157"  # ОГРНИП: 30450011600015 mod 13 = 7
HEADER = ["Квартира", "Площадь", "ФИО/Наименование собственника", "Доля", "ОГРН"]

formats = pytest.mark.parametrize("fmt", FORMATS)


def read(rows, fmt):
    return parse_registry(make_table(rows, fmt), filename_for(fmt))


def warnings(report):
    return [(w.row, w.premise, w.message) for w in report.warnings]


@pytest.mark.parametrize("digits,ok", [
    (SBER, True), ("1027700132196", False), ("1037739010891", True), ("1037739010890", False),
    (IP, True), ("304500116000158", False),
    ("102770013219", False), ("10277001321951", False), ("", False),
])
def test_checks_the_ogrn_and_ogrnip_check_digit(digits, ok):
    assert f.ogrn_checksum_ok(digits) is ok


@pytest.mark.parametrize("cell,digits", [
    (SBER, SBER), ("1 027 700 132 195", SBER), ("ОГРН 1027700132195", SBER), (1027700132195, SBER),
    (1027700132195.0, SBER), (IP, IP), ("", ""), ("   ", ""), (None, ""),
])
def test_reads_an_ogrn_cell_as_its_digits(cell, digits):
    assert f.parse_ogrn(cell) == digits


@pytest.mark.parametrize("cell,reason", [
    ("1027700132196", "ОГРН 1027700132196: неверное контрольное число"),
    ("304500116000158", "ОГРН 304500116000158: неверное контрольное число"),
    ("12345", "ОГРН «12345» должен содержать 13 цифр (ОГРНИП — 15)"),
    ("10277001321950", "ОГРН «10277001321950» должен содержать 13 цифр (ОГРНИП — 15)"),
])
def test_refuses_an_ogrn_with_a_wrong_check_digit_or_length(cell, reason):
    with pytest.raises(f.FieldError) as exc:
        f.parse_ogrn(cell)
    assert str(exc.value) == reason


@pytest.mark.parametrize("header", ["ОГРН", "ОГРН/ОГРНИП", "ОГРН юр. лица", "огрн", "ОГРН (ОГРНИП)"])
def test_recognises_the_ogrn_column_by_its_usual_headers(header):
    assert classify_header(header) == ("ogrn", 0)


@pytest.mark.parametrize("header,field", [("Дата присвоения ОГРН", "doc_date"), ("СНИЛС", "snils"),
                                          ("Юр. лицо", "entity")])
def test_other_columns_are_not_taken_for_the_ogrn(header, field):
    assert classify_header(header)[0] == field


@formats
def test_reads_a_valid_ogrn_and_ogrnip(fmt):
    report = read([HEADER,
                   ["1", 50, "ООО «Ромашка»", "1", SBER],
                   ["2", 40, "ИП Иванов Иван Иванович", "1", IP],
                   ["3", 30, "Петров Пётр Петрович", "1", ""]], fmt)
    assert report.columns["ogrn"] == "ОГРН"
    assert [(o.name, o.ogrn) for o in report.owners] == [
        ("ООО «Ромашка»", SBER), ("ИП Иванов Иван Иванович", IP), ("Петров Пётр Петрович", "")]
    assert report.warnings == [] and report.errors == []


@formats
def test_reads_an_ogrn_stored_as_a_number(fmt):
    report = read([HEADER, ["1", 50, "АО «Лютик»", "1", 1027700132195]], fmt)
    assert [o.ogrn for o in report.owners] == [SBER]


@formats
def test_keeps_the_owner_without_an_ogrn_with_a_wrong_check_digit_and_warns(fmt):
    report = read([HEADER,
                   ["1", 50, "ООО «Ромашка»", "1", "1027700132196"],
                   ["2", 50, "ООО «Василёк»", "1", SBER],
                   ["3", 50, "ООО «Лютик»", "1", "12345"]], fmt)
    assert [(o.name, o.ogrn) for o in report.owners] == [
        ("ООО «Ромашка»", ""), ("ООО «Василёк»", SBER), ("ООО «Лютик»", "")]
    assert warnings(report) == [
        (2, "1", "ОГРН 1027700132196: неверное контрольное число — сохранено без ОГРН"),
        (4, "3", "ОГРН «12345» должен содержать 13 цифр (ОГРНИП — 15) — сохранено без ОГРН"),
    ]
    assert report.errors == []


@formats
def test_the_same_wrong_ogrn_is_reported_on_every_row_that_has_it(fmt):
    # one organisation owning several premises: its ОГРН is checked once, but each row hears of it
    report = read([HEADER, *[[str(n), 50, "ООО «Ромашка»", "1", "1027700132196"] for n in (1, 2, 3)]], fmt)
    assert [w[0] for w in warnings(report)] == [2, 3, 4]


@formats
def test_a_file_without_an_ogrn_column_gives_no_ogrn(fmt):
    report = read([HEADER[:4], ["1", 50, "ООО «Ромашка»", "1"]], fmt)
    assert "ogrn" not in report.columns
    assert [o.ogrn for o in report.owners] == [""]
    assert report.warnings == []


@formats
def test_an_ogrn_column_headed_for_legal_entities_does_not_become_the_owner_type(fmt):
    report = read([["Квартира", "Площадь", "ФИО", "ОГРН юр. лица", "Тип собственника"],
                   ["1", 50, "ООО «Ромашка»", SBER, "юр. лицо"]], fmt)
    assert (report.columns["ogrn"], report.columns["entity"]) == ("ОГРН юр. лица", "Тип собственника")
    [o] = report.owners
    assert (o.ogrn, o.is_legal_entity) == (SBER, True)
