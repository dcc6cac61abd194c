"""The owner-registry import rules (issue 3 §4), each on real files written in every format.

Every test builds a registry as rows of cells, writes it with tests/filemakers.py as .xlsx, .xls,
.ods and .csv, and reads it back with `parse_registry`, the function behind the registry page,
`manage.py check-registry` and `import-registry`.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from services.registry_parse import parse_registry
from services.spreadsheet import TableFileError
from tests.filemakers import CSV_DELIMITERS, CSV_ENCODINGS, FORMATS, filename_for, make_table

HEADER = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
          "Номер документа", "Дата документа", "Адрес эл. почты и номер телефона"]
TITLE = ["Реестр собственников помещений в многоквартирном доме по адресу: г. Псков, ул. Новая, д. 1"]


def owner(premise="1", area=50, name="Иванов Иван Иванович", share="1", doc="123456-789",
          date=dt.date(2020, 2, 4), contacts="mail@mail.ru 79111111111") -> list:
    """One row in the seed's column order; override what a test is about."""
    return [premise, area, name, share, doc, date, contacts]


def read(rows, fmt, **csv_options):
    return parse_registry(make_table(rows, fmt, **csv_options), filename_for(fmt))


def read_with_header(body, fmt, header=HEADER):
    """A title row, an empty row, the header at row 3, the body from row 4."""
    return read([TITLE, [], header, *body], fmt)


def errors(report):
    return [(e.row, e.column, e.message) for e in report.errors]


def warnings(report):
    return [(w.row, w.premise, w.message) for w in report.warnings]


formats = pytest.mark.parametrize("fmt", FORMATS)


# ---------- the header row ----------

@formats
@pytest.mark.parametrize("titles", [0, 1, 5, 29])
def test_finds_the_header_row_below_any_number_of_title_rows_within_the_first_30(fmt, titles):
    rows = [[f"Заголовок {i + 1}"] for i in range(titles)] + [HEADER, owner()]
    report = read(rows, fmt)
    assert report.header_row == titles + 1
    assert [o.name for o in report.owners] == ["Иванов Иван Иванович"]
    assert [o.row for o in report.owners] == [titles + 2]


@formats
def test_does_not_look_for_the_header_below_row_30(fmt):
    rows = [[f"Заголовок {i + 1}"] for i in range(30)] + [HEADER, owner()]
    with pytest.raises(TableFileError, match="не найдена строка заголовков"):
        read(rows, fmt)


@pytest.mark.parametrize("field,header", [
    ("premise", "Номер помещения"),
    ("premise", "№ пом."),
    ("premise", "№ квартиры"),
    ("premise", "Квартира"),
    ("premise", "Помещение"),
    ("area", "Общая площадь"),
    ("area", "Площадь"),
    ("area", "Площадь помещения, кв. м"),
    ("owner", "ФИО/Наименование собственника"),
    ("owner", "ФИО"),
    ("owner", "Собственник"),
    ("owner", "Наименование"),
    ("share", "Доля собственника"),
    ("share", "Доля в праве"),
    ("share", "Доля"),
    ("doc_number", "Номер документа"),
    ("doc_number", "Документ"),
    ("doc_number", "Номер регистрации права"),
    ("doc_date", "Дата документа"),
    ("doc_date", "Дата регистрации"),
    ("snils", "СНИЛС"),
    ("snils", "Страховой номер"),
    ("contacts", "Адрес эл. почты"),
    ("contacts", "E-mail"),
    ("contacts", "Email"),
    ("contacts", "Электронная почта"),
    ("contacts", "Телефон"),
    ("contacts", "Тел."),
    ("contacts", "Адрес эл. почты и номер телефона"),
])
@pytest.mark.parametrize("spelling", [str, str.upper, str.lower, lambda h: f" {h.replace(' ', '  ')}: "])
def test_recognises_every_header_name_in_any_case_and_punctuation(field, header, spelling):
    defaults = {"premise": "Номер помещения", "area": "Общая площадь", "owner": "ФИО"}
    values = {"premise": "7", "area": "41,2", "owner": "Сидоров Сидор", "share": "1/2",
              "doc_number": "60:27:01-02/2019", "doc_date": "04.02.2020", "snils": "112-233-445 95",
              "contacts": "sid@mail.ru"}
    columns = {**defaults, field: spelling(header)}
    header_row = list(columns.values())
    body_row = [values[k] for k in columns]
    report = read([header_row, body_row], "xlsx")
    assert report.columns[field] == " ".join(spelling(header).split())
    assert report.ignored_columns == []
    (o,) = report.owners
    parsed = {"premise": o.premise, "area": o.area, "owner": o.name, "share": o.share,
              "doc_number": o.doc_number, "doc_date": o.doc_date, "snils": o.snils, "contacts": o.emails}
    expected = {"premise": "7", "area": Decimal("41.2"), "owner": "Сидоров Сидор", "share": Fraction(1, 2),
                "doc_number": "60:27:01-02/2019", "doc_date": dt.date(2020, 2, 4), "snils": "112-233-445 95",
                "contacts": ["sid@mail.ru"]}
    assert parsed[field] == expected[field]


@pytest.mark.parametrize("header", ["Ф.И.О.", "ф. и. о.", "Ф.И.О. собственника"])
def test_recognises_the_owner_column_spelled_with_dots(header):
    report = read([["Квартира", "Площадь", header], ["1", 50, "Иванов Иван"]], "csv")
    assert report.columns["owner"] == header
    assert [o.name for o in report.owners] == ["Иванов Иван"]


@formats
def test_recognises_columns_in_any_order(fmt):
    order = [6, 3, 0, 5, 2, 4, 1]
    header = [HEADER[i] for i in order]
    row = owner(premise="5", area="33,4", name="Петров Петр", share="1/2", doc="77-1",
                date=dt.date(2019, 5, 6), contacts="petr@mail.ru")
    report = read([header, [row[i] for i in order], [owner(premise="5", area="33,4", name="Петрова Анна",
                                                           share="1/2")[i] for i in order]], fmt)
    assert report.errors == []
    first = report.owners[0]
    assert (first.premise, first.area, first.name, first.share, first.doc_number, first.doc_date, first.emails) == (
        "5", Decimal("33.4"), "Петров Петр", Fraction(1, 2), "77-1", dt.date(2019, 5, 6), ["petr@mail.ru"])


@formats
def test_ignores_unknown_columns_and_lists_them(fmt):
    header = ["№ п/п", "Квартира", "Кадастровый номер", "Площадь", "ФИО", "Примечание", "Доля"]
    row = [1, "12", "60:27:0000000:123", "50", "Иванов Иван", "звонить вечером", "1"]
    report = read([header, row], fmt)
    assert report.ignored_columns == ["№ п/п", "Кадастровый номер", "Примечание"]
    (o,) = report.owners
    assert (o.premise, o.area, o.name, o.doc_number) == ("12", Decimal(50), "Иванов Иван", "")


@formats
def test_reads_every_contact_column(fmt):
    header = ["Квартира", "Площадь", "ФИО", "E-mail", "Телефон", "Тел.", "Электронная почта"]
    row = ["1", 50, "Иванов Иван", "ivan@mail.ru", "+7 (911) 111-11-11", "8 922 222-22-22", "ivan2@mail.ru"]
    report = read([header, row], fmt)
    (o,) = report.owners
    assert o.emails == ["ivan@mail.ru", "ivan2@mail.ru"]
    assert o.phones == ["79111111111", "79222222222"]
    assert report.ignored_columns == []


# ---------- values ----------

@formats
@pytest.mark.parametrize("cell,number", [
    ("12", "12"),
    ("12а", "12а"),
    ("Н-1", "Н-1"),
    (12, "12"),      # a typed number: the spreadsheet keeps 12.0
    (12.0, "12"),
])
def test_reads_the_premise_number_as_text(fmt, cell, number):
    report = read_with_header([owner(premise=cell)], fmt)
    assert [o.premise for o in report.owners] == [number]


@formats
@pytest.mark.parametrize("cell,area", [
    (50, Decimal("50")),
    (50.25, Decimal("50.25")),
    (Decimal("64.1"), Decimal("64.1")),
    ("50,00", Decimal("50")),
    ("50.00 м²", Decimal("50")),
    ("50 кв.м", Decimal("50")),
    ("50 м2", Decimal("50")),
])
def test_reads_the_area(fmt, cell, area):
    report = read_with_header([owner(area=cell)], fmt)
    assert [o.area for o in report.owners] == [area]
    assert report.errors == []


@formats
@pytest.mark.parametrize("cell,share", [
    ("1", Fraction(1)),
    ("1/2", Fraction(1, 2)),
    ("0,5", Fraction(1, 2)),
    ("0.5", Fraction(1, 2)),
    ("50%", Fraction(1, 2)),
    (1, Fraction(1)),
    (0.5, Fraction(1, 2)),
])
def test_reads_the_share(fmt, cell, share):
    report = read_with_header([owner(premise="1", share=cell, name="А"), owner(premise="2", share=cell, name="Б")], fmt)
    assert [o.share for o in report.owners] == [share, share]
    assert report.errors == []


@formats
def test_takes_an_empty_share_as_the_whole_premise_with_a_warning(fmt):
    report = read_with_header([owner(premise="3", share="")], fmt)
    assert [o.share for o in report.owners] == [Fraction(1)]
    assert warnings(report) == [(4, "3", "доля не указана — принята 1 (всё помещение)")]


@formats
@pytest.mark.parametrize("cell", [dt.date(2020, 2, 4), "04.02.2020", "2020-02-04"])
def test_reads_the_document_date(fmt, cell):
    report = read_with_header([owner(date=cell)], fmt)
    assert [o.doc_date for o in report.owners] == [dt.date(2020, 2, 4)]


@formats
@pytest.mark.parametrize("cell,emails,phones", [
    ("mail@mail.ru 79111111111", ["mail@mail.ru"], ["79111111111"]),
    ("a@b.ru, c@d.ru; +7 (911) 111-11-11\n8 922 222-22-22", ["a@b.ru", "c@d.ru"], ["79111111111", "79222222222"]),
    ("+7 (911) 111-11-11", [], ["79111111111"]),
    ("8 911 111-11-11", [], ["79111111111"]),
    ("9111111111", [], ["79111111111"]),
    ("a@b.ru\nc@d.ru\ne@f.ru", ["a@b.ru", "c@d.ru", "e@f.ru"], []),
    ("", [], []),
])
def test_reads_any_number_of_emails_and_phones_in_a_contact_cell(fmt, cell, emails, phones):
    report = read_with_header([owner(contacts=cell)], fmt)
    (o,) = report.owners
    assert (o.emails, o.phones) == (emails, phones)
    assert report.warnings == []


@formats
def test_reads_a_snils_column(fmt):
    header = ["Квартира", "Площадь", "ФИО", "СНИЛС"]
    report = read([header, ["1", 50, "Иванов Иван", "11223344595"]], fmt)
    assert [o.snils for o in report.owners] == ["112-233-445 95"]


# ---------- CSV variants ----------

@pytest.mark.parametrize("encoding", CSV_ENCODINGS)
@pytest.mark.parametrize("delimiter", CSV_DELIMITERS)
def test_reads_csv_in_every_encoding_with_every_delimiter(encoding, delimiter):
    rows = [TITLE, HEADER,
            owner(premise="1", area="50,5", name="Иванов Иван Иванович, Иванова Ирина Ивановна",
                  contacts="ivan@mail.ru, 8 911 111-11-11"),
            owner(premise="2", area="33,4", name="Ёлкина Анна", share="1/2", date="06.01.2020", contacts="")]
    report = read(rows, "csv", encoding=encoding, delimiter=delimiter)
    assert [(o.row, o.premise, o.area, o.name, o.share) for o in report.owners] == [
        (3, "1", Decimal("50.5"), "Иванов Иван Иванович, Иванова Ирина Ивановна", Fraction(1)),
        (4, "2", Decimal("33.4"), "Ёлкина Анна", Fraction(1, 2)),
    ]
    assert report.owners[0].emails == ["ivan@mail.ru"] and report.owners[0].phones == ["79111111111"]
    assert report.errors == []


# ---------- skipped rows ----------

@formats
def test_skips_empty_rows_and_total_rows_silently(fmt):
    body = [
        owner(premise="1"),
        [],
        ["", "", "", "", "", "", ""],
        owner(premise="2", area=40),
        ["Итого", 90, "", "", "", "", ""],
        ["ВСЕГО по дому:", 90],
        ["", "", "Итого собственников: 2"],
        owner(premise="3", area=30),
    ]
    report = read_with_header(body, fmt)
    assert [(o.row, o.premise) for o in report.owners] == [(4, "1"), (7, "2"), (11, "3")]
    assert report.errors == [] and report.warnings == []


# ---------- rejected rows ----------

@formats
@pytest.mark.parametrize("row,column,message", [
    (owner(premise=""), "Номер помещения", "не указан номер помещения"),
    (owner(name=""), "ФИО/Наименование собственника", "не указан собственник"),
    (owner(area=""), "Общая площадь", "не указана площадь помещения"),
    (owner(area="пятьдесят"), "Общая площадь", "площадь «пятьдесят» не является числом"),
    (owner(area=0), "Общая площадь", "площадь должна быть больше нуля, указано 0"),
    (owner(area="-5"), "Общая площадь", "площадь должна быть больше нуля, указано -5"),
    (owner(share="половина"), "Доля собственника", "доля «половина» не распознана (пример: 1, 1/2, 0,5, 50%)"),
    (owner(share="inf"), "Доля собственника", "доля «inf» не распознана (пример: 1, 1/2, 0,5, 50%)"),
    (owner(share="0"), "Доля собственника", "доля должна быть больше нуля, указано 0"),
    (owner(share="3/2"), "Доля собственника", "доля не может быть больше 1, указано 3/2"),
    (owner(share="150%"), "Доля собственника", "доля не может быть больше 1, указано 3/2"),
    (owner(share=2), "Доля собственника", "доля не может быть больше 1, указано 2"),
])
def test_rejects_a_bad_row_with_its_row_number_column_and_russian_reason(fmt, row, column, message):
    report = read_with_header([owner(premise="100", name="Хороший Собственник"), row], fmt)
    assert errors(report) == [(5, column, message)]
    assert [o.premise for o in report.owners] == ["100"]
    assert [r[0] for r in report.rejected_rows] == [5]


@formats
def test_rejects_share_above_one(fmt):
    report = read_with_header([owner(share="2/1")], fmt)
    assert errors(report) == [(4, "Доля собственника", "доля не может быть больше 1, указано 2")]
    assert report.owners == []


@formats
def test_reports_every_reason_of_a_row_at_once(fmt):
    report = read_with_header([owner(premise="", name="", area="abc", share="2")], fmt)
    assert errors(report) == [
        (4, "Номер помещения", "не указан номер помещения"),
        (4, "ФИО/Наименование собственника", "не указан собственник"),
        (4, "Общая площадь", "площадь «abc» не является числом"),
        (4, "Доля собственника", "доля не может быть больше 1, указано 2"),
    ]
    assert report.owners == []


@formats
@pytest.mark.parametrize("again", [
    "Иванов Иван Иванович",
    "иванов иван иванович",
    "ИВАНОВ  ИВАН   ИВАНОВИЧ",
    " Иванов Иван\nИванович ",
])
def test_rejects_the_same_premise_and_owner_as_an_earlier_row(fmt, again):
    report = read_with_header([owner(premise="7", share="1/2"), owner(premise="8"),
                               owner(premise="7", name=again, share="1/2")], fmt)
    assert errors(report) == [(6, "ФИО/Наименование собственника",
                               "повторяет строку 4: то же помещение 7 и тот же собственник")]
    assert [(o.row, o.premise) for o in report.owners] == [(4, "7"), (5, "8")]


@formats
def test_accepts_the_same_owner_in_another_premise(fmt):
    report = read_with_header([owner(premise="7"), owner(premise="8")], fmt)
    assert report.errors == []
    assert len(report.owners) == 2


@formats
def test_rejects_a_premise_whose_area_differs_from_an_earlier_row(fmt):
    report = read_with_header([owner(premise="2", area=50, name="Петров Петр", share="1/2"),
                               owner(premise="2", area="50,0", name="Петрова Анна", share="1/4"),
                               owner(premise="2", area=55, name="Петров Павел", share="1/4")], fmt)
    assert errors(report) == [(6, "Общая площадь",
                               "площадь помещения 2 (55,00\u00a0м²) отличается от указанной в строке 4 (50,00\u00a0м²)")]
    assert [o.name for o in report.owners] == ["Петров Петр", "Петрова Анна"]


def test_gives_csv_line_numbers_counting_the_header_and_line_breaks_inside_cells():
    rows = [HEADER,
            owner(premise="1", name="Иванов Иван", contacts="a@b.ru\nc@d.ru\n8 911 111-11-11"),  # lines 2-4
            owner(premise="2", area=0)]                                                          # line 5
    report = read(rows, "csv")
    assert errors(report) == [(5, "Общая площадь", "площадь должна быть больше нуля, указано 0")]
    assert [o.row for o in report.owners] == [2]


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_gives_spreadsheet_row_numbers_counting_leading_empty_rows_and_columns(fmt):
    rows = [[], [], ["", "Реестр"], [], ["", "Квартира", "Площадь", "ФИО"], ["", "1", 50, "Иванов"],
            [], ["", "2", 0, "Петров"]]
    report = read(rows, fmt)
    assert report.header_row == 5
    assert errors(report) == [(8, "Площадь", "площадь должна быть больше нуля, указано 0")]


# ---------- warnings ----------

@formats
@pytest.mark.parametrize("cell,emails,phones,token", [
    ("ivan@mail", [], [], "ivan@mail"),
    ("mail@mail.ru, ivan@@mail.ru", ["mail@mail.ru"], [], "ivan@@mail.ru"),
    ("mail@mail.ru 12345", ["mail@mail.ru"], [], "12345"),
    ("8 911 111-11-11; 911-11-11", [], ["79111111111"], "911-11-11"),
])
def test_keeps_the_owner_without_an_invalid_contact_and_warns(fmt, cell, emails, phones, token):
    report = read_with_header([owner(premise="4", contacts=cell)], fmt)
    (o,) = report.owners
    assert (o.emails, o.phones) == (emails, phones)
    assert warnings(report) == [
        (4, "4", f"контакт «{token}» не распознан как e-mail или телефон — сохранено без него")]
    assert report.errors == []


@formats
def test_keeps_the_owner_without_a_snils_with_wrong_check_digits_and_warns(fmt):
    header = ["Квартира", "Площадь", "ФИО", "Доля", "СНИЛС"]
    report = read([header, ["1", 50, "Иванов Иван", "1", "112-233-445 96"],
                   ["2", 50, "Петров Петр", "1", "112-233-445 95"]], fmt)
    assert [o.snils for o in report.owners] == ["", "112-233-445 95"]
    assert warnings(report) == [(2, "1", "СНИЛС 112-233-445 96: неверные контрольные цифры — сохранено без СНИЛС")]
    assert report.errors == []


@formats
@pytest.mark.parametrize("shares,total", [(["1/2"], "1/2"), (["1/2", "1/3"], "5/6")])
def test_warns_when_the_shares_of_a_premise_do_not_add_up_to_one(fmt, shares, total):
    body = [owner(premise="9", name=f"Собственник {i}", share=s) for i, s in enumerate(shares)]
    body.append(owner(premise="10", name="Другой", share="1/3"))
    body.append(owner(premise="10", name="Третий", share="2/3"))
    report = read_with_header(body, fmt)
    assert report.errors == []
    assert warnings(report) == [(None, "9", f"доли собственников помещения 9 в сумме {total}, а не 1 — голоса "
                                            "недостающей части не учитываются")]
    assert len(report.owners) == len(shares) + 2


@formats
@pytest.mark.parametrize("shares,total,rows", [(["1/2", "0,75"], "5/4", "4, 5"), (["1", "1"], "2", "4, 5"),
                                               (["", ""], "2", "4, 5"), (["1/2", "1/2", "1/100"], "101/100", "4, 5, 6")])
def test_refuses_the_rows_of_a_premise_whose_shares_add_up_to_more_than_one(fmt, shares, total, rows):
    """ЖК ст. 48 ч. 3: a premise never carries more votes than its area (DOMAIN.md rule 8). Rows with
    no share and different documents are not a joint holding: each would be the whole flat."""
    body = [owner(premise="9", name=f"Собственник {i}", share=s, doc=f"77-{i}") for i, s in enumerate(shares)]
    body.append(owner(premise="10", name="Другой", share="1"))
    report = read_with_header(body, fmt)
    assert [o.premise for o in report.owners] == ["10"]
    message = (f"доли собственников помещения 9 в сумме {total} — больше 1 (строки {rows}); помещение не принято. "
               "Исправьте доли или отметьте совместную собственность («совместная» в столбце доли)")
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (int(r), "Доля собственника", message) for r in rows.split(", ")]
    assert [r[0] for r in report.rejected_rows] == [int(r) for r in rows.split(", ")]


# ---------- summary ----------

@formats
def test_summarises_owners_premises_total_area_and_exact_votes(fmt):
    body = [
        owner(premise="1", area=50, name="Иванов Иван Иванович, Иванова Ирина Ивановна", share="1"),
        owner(premise="2", area=50, name="Петров Петр Петрович", share="1/2"),
        owner(premise="2", area=50, name="Петрова Анна", share="1/2"),
        owner(premise="3", area="33,3", name="А", share="1/3"),
        owner(premise="3", area="33,3", name="Б", share="1/3"),
        owner(premise="3", area="33,3", name="В", share="1/3"),
        owner(premise="4", area="10,01", name="Г", share="1/7"),
        owner(premise="4", area="0", name="Д", share="6/7"),  # rejected: counts nowhere
    ]
    report = read_with_header(body, fmt)
    assert len(report.owners) == 7
    assert report.premises == 4
    assert report.total_area == Decimal("143.31")
    assert report.votes == Fraction(50) + Fraction(50) + Fraction(333, 10) + Fraction(1001, 100) / 7
    summary = report.summary()
    assert (summary["owners"], summary["premises"], summary["total_area"], summary["votes"]) == (
        7, 4, 143.31, round(float(Fraction(1333, 10) + Fraction(1001, 700)), 2))
    assert summary["votes"] == 134.73


@formats
def test_reads_a_joint_ownership_cell_as_one_record(fmt):
    report = read_with_header([owner(name="Иванов Иван Иванович, Иванова Ирина Ивановна", share="1")], fmt)
    assert [o.name for o in report.owners] == ["Иванов Иван Иванович, Иванова Ирина Ивановна"]
    assert report.summary()["owners"] == 1
    assert report.warnings == []


@formats
def test_votes_are_exact_for_shares_that_floats_cannot_hold(fmt):
    body = [owner(premise="1", area="10,1", name=f"Собственник {i}", share="1/3") for i in range(3)]
    report = read_with_header(body, fmt)
    assert report.votes == Fraction(101, 10)  # 3 × 10,1 × 1/3, not 10.099999…
    assert report.warnings == []


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_rejects_a_share_that_excel_turned_into_a_date_and_says_so(fmt):
    report = read_with_header([owner(share=dt.date(2024, 2, 1))], fmt)
    (error,) = report.errors
    assert (error.row, error.column) == (4, "Доля собственника")
    assert error.message.startswith("доля прочитана как дата 01.02")
    assert "«1/2»" in error.message
