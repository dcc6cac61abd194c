"""The cell parsers of one registry row: what a spreadsheet cell may hold -> a clean value or a
FieldError with a Russian reason. Registry-level rules (rows, columns, files) are in
test_registry_import.py; here every value rule is pinned down on the bare function."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import owner_fields as f

CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"


def _is_russian(message: str) -> bool:
    return any(ch in CYRILLIC for ch in message.lower())


# ---------- premise number ----------

@pytest.mark.parametrize("cell,number", [
    ("12", "12"),
    ("12а", "12а"),
    ("Н-1", "Н-1"),
    (12.0, "12"),   # what a spreadsheet stores for a typed 12
    (12, "12"),
    ("  12 ", "12"),
    ("кв. 12", "12"),
    ("Помещение Н-1", "Н-1"),
])
def test_reads_the_premise_number_as_text(cell, number):
    assert f.parse_premise_number(cell) == number


@pytest.mark.parametrize("cell", ["", None, "   "])
def test_rejects_a_missing_premise_number(cell):
    with pytest.raises(f.FieldError, match="не указан номер помещения"):
        f.parse_premise_number(cell)


# ---------- area ----------

@pytest.mark.parametrize("cell,area", [
    (50, Decimal("50")),
    (50.0, Decimal("50")),
    (33.4, Decimal("33.4")),  # the float's shortest repr, not 33.39999…
    ("50,00", Decimal("50")),
    ("50.00", Decimal("50")),
    ("50.00 м²", Decimal("50")),
    ("50 кв.м", Decimal("50")),
    ("50 кв. м.", Decimal("50")),
    ("50 м2", Decimal("50")),
    ("50,5 м²", Decimal("50.5")),
    ("1 234,5", Decimal("1234.5")),
])
def test_reads_the_area_as_an_exact_number(cell, area):
    assert f.parse_area(cell) == area
    assert isinstance(f.parse_area(cell), Decimal)


@pytest.mark.parametrize("cell,reason", [
    ("", "не указана площадь"),
    (None, "не указана площадь"),
    ("abc", "не является числом"),
    ("пятьдесят", "не является числом"),
    ("NaN", "не является числом"),
    ("inf", "не является числом"),
    (float("nan"), "не является числом"),
    (float("inf"), "не является числом"),
    (True, "не является числом"),
    ("0", "больше нуля"),
    ("0,00", "больше нуля"),
    (0.0, "больше нуля"),
    (-1.5, "больше нуля"),
    ("-3", "больше нуля"),
])
def test_rejects_an_area_that_is_missing_not_a_number_or_not_positive(cell, reason):
    with pytest.raises(f.FieldError, match=reason) as exc:
        f.parse_area(cell)
    assert _is_russian(str(exc.value))


@pytest.mark.parametrize("area, shown", [
    (Decimal("50"), "50,00\u00a0м²"),
    (Decimal("10.01"), "10,01\u00a0м²"),
    (Decimal("1234.5"), "1\u00a0234,50\u00a0м²"),
    (Decimal("10.0125"), "10,0125\u00a0м²"),  # every stored digit: read back, the same area
])
def test_formats_the_area_with_two_decimals_at_least_a_decimal_comma_and_the_unit(area, shown):
    assert f.format_area(area) == shown
    assert f.parse_area(shown) == area


# ---------- share ----------

@pytest.mark.parametrize("cell,share", [
    ("1", Fraction(1)),
    ("1/2", Fraction(1, 2)),
    ("1 / 2", Fraction(1, 2)),
    ("0,5", Fraction(1, 2)),
    ("0.5", Fraction(1, 2)),
    ("50%", Fraction(1, 2)),
    ("50 %", Fraction(1, 2)),
    ("100%", Fraction(1)),
    ("3/4 доли", Fraction(3, 4)),
    ("1/3", Fraction(1, 3)),
    (1, Fraction(1)),
    (1.0, Fraction(1)),
    (0.5, Fraction(1, 2)),
    (1 / 3, Fraction(1, 3)),  # a spreadsheet's =1/3 is the nearest float, read back as the fraction
])
def test_reads_the_share_exactly(cell, share):
    assert f.parse_share(cell) == share
    assert isinstance(f.parse_share(cell), Fraction)


@pytest.mark.parametrize("cell,reason", [
    ("abc", "не распознана"),
    ("½", "не распознана"),
    ("1/0", "не распознана"),
    ("-1/2", "не распознана"),
    ("NaN", "не распознана"),
    ("inf", "не распознана"),
    ("Infinity", "не распознана"),
    ("-inf", "не распознана"),
    (float("nan"), "не распознана"),
    (float("inf"), "не распознана"),
    (True, "не распознана"),
    (dt.date(2024, 2, 1), "дата"),  # Excel turned «1/2» into 1 February
])
def test_rejects_an_unreadable_share(cell, reason):
    with pytest.raises(f.FieldError, match=reason) as exc:
        f.parse_share(cell)
    assert _is_russian(str(exc.value))


@pytest.mark.parametrize("cell", ["0", "0/1", "0%", 0, 0.0, "-0,5", -0.5])
def test_rejects_a_share_not_above_zero(cell):
    with pytest.raises(f.FieldError, match="больше нуля|не распознана"):
        f.parse_share(cell)


@pytest.mark.parametrize("cell", ["2/1", "3/2", "1.5", "1,01", "150%", 2, 1.5])
def test_rejects_share_above_one(cell):
    with pytest.raises(f.FieldError, match="не может быть больше 1"):
        f.parse_share(cell)


@given(st.integers(min_value=1, max_value=10**6).flatmap(
    lambda b: st.tuples(st.integers(min_value=1, max_value=b), st.just(b))))
def test_any_share_a_over_b_round_trips_exactly(ab):
    a, b = ab
    share = f.parse_share(f"{a}/{b}")
    assert share == Fraction(a, b)
    assert f.parse_share(f.format_share(share)) == share


@given(st.integers(min_value=1, max_value=10**6).flatmap(
    lambda b: st.tuples(st.integers(min_value=b + 1, max_value=10 * b + 1), st.just(b))))
def test_any_share_a_over_b_above_one_is_rejected(ab):
    a, b = ab
    with pytest.raises(f.FieldError):
        f.parse_share(f"{a}/{b}")


@given(st.integers(min_value=1, max_value=10000))
def test_any_percent_with_two_decimals_reads_exactly(hundredths):
    text = f"{hundredths // 100},{hundredths % 100:02d}%"
    assert f.parse_share(text) == Fraction(hundredths, 10000)


@pytest.mark.parametrize("share,text", [(Fraction(1), "1"), (Fraction(1, 2), "1/2"), (Fraction(2, 6), "1/3")])
def test_formats_the_share_as_a_fraction(share, text):
    assert f.format_share(share) == text


# ---------- dates ----------

@pytest.mark.parametrize("cell", [
    dt.date(2020, 2, 4),
    dt.datetime(2020, 2, 4, 10, 30),
    43865.0,  # the spreadsheet serial day of 04.02.2020
    "04.02.2020",
    "4.2.2020",
    "04.02.2020 г.",
    "2020-02-04",
    "2020-02-04 00:00:00",
])
def test_reads_the_document_date(cell):
    assert f.parse_date(cell) == dt.date(2020, 2, 4)


def test_reads_a_blank_date_as_none():
    assert f.parse_date("") is None


@pytest.mark.parametrize("cell,reason", [
    ("31.02.2020", "не существует"),
    ("2020-13-01", "не существует"),
    ("вчера", "не распознана"),
])
def test_rejects_an_impossible_or_unreadable_date(cell, reason):
    with pytest.raises(f.FieldError, match=reason):
        f.parse_date(cell)


def test_formats_the_date_the_russian_way():
    assert f.format_date(dt.date(2020, 2, 4)) == "04.02.2020"


# ---------- СНИЛС ----------

@pytest.mark.parametrize("cell", ["112-233-445 95", "11223344595", "112 233 445 95", 11223344595.0, 11223344595])
def test_reads_a_valid_snils_in_its_standard_form(cell):
    assert f.parse_snils(cell) == "112-233-445 95"


@pytest.mark.parametrize("cell,reason", [
    ("112-233-445 96", "неверные контрольные цифры"),
    ("112-233-445 00", "неверные контрольные цифры"),
    ("123", "11 цифр"),
    ("abc", "11 цифр"),
])
def test_rejects_a_snils_with_wrong_check_digits_or_length(cell, reason):
    with pytest.raises(f.FieldError, match=reason):
        f.parse_snils(cell)


@given(st.integers(min_value=1001999, max_value=999_999_999))
def test_exactly_one_check_number_fits_any_snils(number):
    body = f"{number:09d}"
    fitting = [c for c in range(100) if f.snils_checksum_ok(f"{body}{c:02d}")]
    assert len(fitting) == 1


# ---------- contacts ----------

@pytest.mark.parametrize("cell", [
    "+7 (911) 111-11-11",
    "8 911 111-11-11",
    "8(911)1111111",
    "89111111111",
    "79111111111",
    "+79111111111",
    "9111111111",  # ten digits get the 7
    "тел. 8-911-111-11-11",
    89111111111.0,
])
def test_normalises_a_phone_to_eleven_digits_starting_with_7(cell):
    contacts = f.parse_contacts(cell)
    assert contacts.phones == ["79111111111"]
    assert contacts.emails == [] and contacts.invalid == []


@pytest.mark.parametrize("separator", [" ", ", ", ",", "; ", ";", "\n", "\r\n", " ,\n"])
def test_reads_any_number_of_emails_and_phones_with_any_separator(separator):
    cell = separator.join(["ivan@mail.ru", "+7 (911) 111-11-11", "Ivanova@Example.com", "8 922 222-22-22",
                           "9333333333"])
    contacts = f.parse_contacts(cell)
    assert contacts.emails == ["ivan@mail.ru", "ivanova@example.com"]
    assert contacts.phones == ["79111111111", "79222222222", "79333333333"]
    assert contacts.invalid == []


def test_reads_contacts_from_several_cells():
    contacts = f.parse_contacts("ivan@mail.ru", "", "+7 911 111 11 11", None, "petr@mail.ru")
    assert contacts.emails == ["ivan@mail.ru", "petr@mail.ru"]
    assert contacts.phones == ["79111111111"]


def test_keeps_each_contact_once():
    contacts = f.parse_contacts("ivan@mail.ru 89111111111", "IVAN@mail.ru +7 911 111-11-11")
    assert contacts.emails == ["ivan@mail.ru"]
    assert contacts.phones == ["79111111111"]


@pytest.mark.parametrize("cell,valid_emails,valid_phones,bad", [
    ("not-an-email@", [], [], "not-an-email@"),
    ("ivan@mail", [], [], "ivan@mail"),
    ("123", [], [], "123"),
    ("911-11-11", [], [], "911-11-11"),
    ("ivan@mail.ru, @@", ["ivan@mail.ru"], [], "@@"),
    ("ivan@mail.ru; 12345", ["ivan@mail.ru"], [], "12345"),
    ("89111111111, нет", [], ["79111111111"], "нет"),
])
def test_lists_an_invalid_contact_token_and_keeps_the_valid_ones(cell, valid_emails, valid_phones, bad):
    contacts = f.parse_contacts(cell)
    assert contacts.emails == valid_emails
    assert contacts.phones == valid_phones
    assert bad in contacts.invalid


@given(st.sampled_from(["+7", "8", "7", ""]),
       st.from_regex(r"9[0-9]{9}", fullmatch=True),
       st.sampled_from(["{a}{b}{c}{d}", "({a}) {b}-{c}-{d}", "{a} {b} {c} {d}", "{a}-{b}-{c}-{d}", "({a}){b}{c}{d}"]))
def test_any_russian_mobile_number_is_normalised_the_same_way(prefix, ten, layout):
    a, b, c, d = ten[:3], ten[3:6], ten[6:8], ten[8:]
    written = f"{prefix} {layout.format(a=a, b=b, c=c, d=d)}".strip()
    contacts = f.parse_contacts(written)
    assert contacts.phones == ["7" + ten], written
    assert contacts.invalid == []


# ---------- owner ----------

@pytest.mark.parametrize("cell,name", [
    ("Иванов Иван Иванович", "Иванов Иван Иванович"),
    ("  Иванов   Иван\nИванович ", "Иванов Иван Иванович"),
    ("Иванов Иван Иванович, Иванова Ирина Ивановна", "Иванов Иван Иванович, Иванова Ирина Ивановна"),
])
def test_reads_the_owner_name_with_spaces_tidied(cell, name):
    assert f.parse_owner_name(cell) == name


@pytest.mark.parametrize("cell", ["", None, "  "])
def test_rejects_a_missing_owner(cell):
    with pytest.raises(f.FieldError, match="не указан собственник"):
        f.parse_owner_name(cell)


@pytest.mark.parametrize("a,b", [
    ("Иванов Иван", "иванов иван"),
    ("Иванов  Иван", "Иванов Иван"),
    ("Ёлкин Пётр", "Елкин Петр"),
    ("Иванов И.И.,Иванова И.И.", "Иванов И.И., Иванова И.И."),
])
def test_owner_identity_ignores_case_and_spaces(a, b):
    assert f.name_key(a) == f.name_key(b)
