"""One owner, one figure (DOMAIN.md rule 8): Власов holds 1/2 of a 10.01 m² flat, 5.005 votes exactly,
and every paper that names his votes — the e-mail and the printed notice, the blank ballot, his
filled decision, the registry export, the participants list and the protocol — shows «5,01»,
never 5.00 (the float rounding these once used) nor «5.01». The vote page is in
tests/app/test_one_rounding_pages.py."""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from babel.numbers import format_decimal
from docx import Document
from sqlalchemy import select

from services.mailer import SmtpMailer
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import OwnerRecord
from services.notify import print_notices, queue_notices
from services.registry import import_registry, registry_xlsx
from services.results import participants_xlsx, protocol_package_zip
from services.sender import SenderConfig, run_sender
from services.settings import load_settings
from services.voting import (
    ballots_docx,
    owner_decision_docx,
    register_paper_decision,
    submit_online_decision,
    voter_page,
)

SECRET = "one-rounding-secret"
TODAY = dt.date.today()
PUBLIC_URL = "http://kvorum.test"
OWNER = "Власов Виктор Викторович"
AREA, SHARE = 10.01, "1/2"  # 10.01 × 1/2 = 5.005 exactly: a tie, rounded up
FIGURE = "5,01"
WRONG = {"5,00", "5.00", "5.01", "5.005", "5,005"}  # float's rounding, and figures not written for people
HEADER = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
          "Адрес эл. почты и номер телефона"]
ROWS = [
    ["1", 40, "Андреев Андрей Андреевич", "1", "andreev@example.ru"],
    ["3", AREA, OWNER, SHARE, "vlasov@example.ru"],
    ["3", AREA, "Власова Вера Викторовна", SHARE, ""],
]
#: every decimal figure of a text, thousands grouped or not, never a piece of a longer one
NUMBER = re.compile(r"(?<![\d.,\u00a0])\d{1,3}(?:\u00a0\d{3})*[.,]\d{2,3}(?!\d)")


def registry_file() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
        ws.cell(row=ws.max_row, column=4).data_type = "s"  # «1/2» stays text, as typed in Excel
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def assert_shows_the_figure(text: str, where: str) -> None:
    found = numbers(text)
    assert FIGURE in found, (where, found)
    assert not WRONG & set(found), (where, found)


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def docx_fields(data: bytes) -> dict[str, str]:
    """The two-column tables of a document as {label: value}."""
    doc = Document(io.BytesIO(data))
    return {r.cells[0].text: r.cells[-1].text for t in doc.tables for r in t.rows if len(r.cells) == 2}


def as_shown(cell) -> str:
    """A number cell as a Russian spreadsheet shows it: its own number format, in the ru_RU locale."""
    assert isinstance(cell.value, (int, float)), f"{cell.coordinate}: {cell.value!r} is not a number"
    return format_decimal(Decimal(str(cell.value)), format=cell.number_format, locale="ru_RU")


def sheet_cell(data: bytes, name_column: str, column: str, name: str = OWNER):
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[1]]
    [row] = [r for r in ws.iter_rows(min_row=2) if r[header.index(name_column)].value == name]
    return row[header.index(column)]


@pytest.fixture
def meeting(session_factory) -> tuple[int, int, list[int]]:
    """An open meeting with Власов's half of flat 3; returns (meeting id, his owner id, question ids)."""
    meeting_id = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Примерная, д. 1", initiator="ООО «УК»", start_date=TODAY - dt.timedelta(days=5),
        end_date=TODAY + dt.timedelta(days=5), questions=[QuestionData("Выбор совета дома"),
                                                          QuestionData("Ремонт крыши", "two_thirds")]))
    report, _result = import_registry(session_factory, meeting_id=meeting_id, data=registry_file(),
                                      filename="реестр.xlsx", replace=True)
    assert not report.errors, report.errors
    with session_factory() as s:
        owner_id = s.scalar(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id,
                                                         OwnerRecord.name == OWNER))
    questions = [q.id for q in voter_page(session_factory, owner_id=owner_id).questions]
    return meeting_id, owner_id, questions


def test_the_owners_votes_read_5_01_in_every_notice_ballot_export_and_the_protocol(
        session_factory, meeting, smtp_server, tmp_path):
    meeting_id, owner_id, questions = meeting
    page = voter_page(session_factory, owner_id=owner_id)
    assert (page.area, page.share, page.votes) == ("10,01", "1/2", FIGURE)

    # the notice by e-mail, through the sender and a real SMTP server: text and HTML parts
    queue_notices(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], request_key="one-rounding",
                  confirm_late=True)
    settings = load_settings({"KVORUM_DATA_DIR": str(tmp_path), **smtp_server.env()})
    config = SenderConfig(secret_key=SECRET, public_url=PUBLIC_URL, mail_from="УК <oss@uk.example>",
                          retry_seconds=0.05)
    assert run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config,
                      until_idle=True).sent == 1
    [message] = smtp_server.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part, where in ((text, "e-mail text"), (html, "e-mail HTML")):
        assert f"площадь 10,01 м², доля 1/2, количество голосов {FIGURE}." in part, where
        assert_shows_the_figure(part, where)

    # the printed notice
    notice = docx_text(print_notices(session_factory, meeting_id=meeting_id, owner_ids=[owner_id],
                                     secret_key=SECRET, public_url=PUBLIC_URL))
    assert f"(площадь 10,01 м², доля 1/2, голосов {FIGURE})" in notice
    assert_shows_the_figure(notice, "printed notice")

    # the blank ballot, and the decision filled from his online answers
    ballot = ballots_docx(session_factory, meeting_id=meeting_id, owner_ids=[owner_id])
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner_id,
                           answers=dict.fromkeys(questions, "for"), today=TODAY)
    filled = owner_decision_docx(session_factory, owner_id=owner_id)
    for document, where in ((ballot, "ballot"), (filled, "filled decision")):
        fields = docx_fields(document)
        assert (fields["Общая площадь помещения, м²"], fields["Доля в праве собственности"],
                fields["Количество голосов"]) == ("10,01", "1/2", FIGURE), where
        assert_shows_the_figure(docx_text(document), where)

    # his signed decision comes back: he alone takes part, with his 5.005 votes
    register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting_id, owner_id=owner_id,
                            received_on=TODAY, answers=dict.fromkeys(questions, "for"), today=TODAY)

    # the registry export and the participants list: numbers, 5.01 by the one rounding, shown «5,01»
    for data, column, where in (
            (registry_xlsx(session_factory, meeting_id=meeting_id), "Количество голосов", "registry export"),
            (participants_xlsx(session_factory, meeting_id=meeting_id), "Голосов", "participants list")):
        cell = sheet_cell(data, "ФИО/Наименование собственника", column)
        assert cell.value == 5.01, where
        assert as_shown(cell) == FIGURE, where

    # the protocol package: the protocol itself and its attachments say the same
    with zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=meeting_id,
                                                         public_url=PUBLIC_URL))) as zf:
        protocol = docx_text(zf.read("Протокол.docx"))
        participants = zf.read("Приложение 4. Список участников.xlsx")
        registry = zf.read("Приложение 1. Реестр собственников.xlsx")
        results = openpyxl.load_workbook(io.BytesIO(zf.read("Итоги голосования.xlsx")))
    assert f"Количество голосов собственников, принявших участие в голосовании: {FIGURE} (" in protocol
    assert f"«за» — {FIGURE} голосов (100,00\u00a0% от числа проголосовавших" in protocol
    assert_shows_the_figure(protocol, "protocol")
    assert as_shown(sheet_cell(participants, "ФИО/Наименование собственника", "Голосов")) == FIGURE
    assert as_shown(sheet_cell(registry, "ФИО/Наименование собственника", "Количество голосов")) == FIGURE
    quorum = {r[0].value: r[1] for r in results["Кворум"].iter_rows(min_row=2)}
    assert as_shown(quorum["Голосов участников"]) == FIGURE
    answers = results["Итоги"]
    header = [c.value for c in answers[1]]
    assert [as_shown(r[header.index("За, голосов")]) for r in answers.iter_rows(min_row=2)] == [FIGURE, FIGURE]
