"""Helpers shared by the page tests: the app path, a seed-layout registry file, element texts."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
from streamlit.testing.v1 import AppTest

from tests import hang

from services.meetings import MeetingData, QuestionData

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
TIMEOUT = hang.PAGE_RUN  # a hang guard: the first run of a test imports pandas and upgrades the schema

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "pravlenie-2026"
ADMIN_NAME = "Анна Сергеевна Ключникова"

#: The seed's registry columns, in the seed's order.
SEED_HEADER = [
    "Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
    "Номер документа", "Дата документа", "Адрес эл. почты и номер телефона",
]
#: Four owners of three premises (flat 2 is shared half and half).
SEED_ROWS = [
    ["1", 50.0, "Иванов Иван Иванович", "1", "77-01/001", dt.date(2020, 2, 4), "ivanov@example.ru 79111111111"],
    ["2", 45.5, "Петров Пётр Петрович", "1/2", "77-01/002", dt.date(2020, 1, 6), "petrov@example.ru"],
    ["2", 45.5, "Петрова Анна Сергеевна", "1/2", "77-01/003", dt.date(2020, 1, 6), "79222222222"],
    ["3", 64.1, "ООО «Ромашка»", "1", "77-01/004", dt.date(2013, 4, 4), "office@romashka.example"],
]
SEED_OWNERS, SEED_PREMISES = 4, 3
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def registry_xlsx(rows=SEED_ROWS, header=SEED_HEADER) -> bytes:
    """An .xlsx registry in the seed's layout, as Excel would save it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Реестр"
    ws.append(header)
    for row in rows:
        ws.append(row)
        ws.cell(row=ws.max_row, column=4).data_type = "s"  # «1/2» stays text
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def meeting_data(**over) -> MeetingData:
    today = dt.date.today()
    base = dict(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК Тверь»",
        start_date=today + dt.timedelta(days=15), end_date=today + dt.timedelta(days=45),
        questions=[QuestionData("Выбор совета дома"), QuestionData("Капитальный ремонт крыши", "two_thirds")],
    )
    base.update(over)
    return MeetingData(**base)


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def button(at: AppTest, label: str):
    """The one button with this label (fails loudly when there is none or several)."""
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, f"{len(found)} buttons «{label}»; there are: {[b.label for b in at.button]}"
    return found[0]


def text_input(at: AppTest, label: str):
    found = [w for w in [*at.text_input, *at.text_area] if w.label == label]
    assert len(found) == 1, f"{len(found)} inputs «{label}»"
    return found[0]


def assert_ran_cleanly(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
