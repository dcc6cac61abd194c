"""Storing, editing and exporting the registry, on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from services.errors import ValidationError
from services.meetings import MeetingData, QuestionData, create_meeting
from services.registry import (
    OwnerInput,
    apply_registry_changes,
    check_registry,
    delete_all_owners,
    import_registry,
    registry_frame,
    registry_summary,
    registry_xlsx,
    rejected_rows_xlsx,
    store_registry,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "samples" / "registry_demo.xlsx"
HEADER = "Номер помещения;Общая площадь;ФИО/Наименование собственника;Доля собственника;Номер документа;Дата документа;Адрес эл. почты и номер телефона"


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8")


@pytest.fixture
def meeting_id(session_factory) -> int:
    return create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК»", start_date=dt.date(2026, 12, 10),
        end_date=dt.date(2026, 12, 30), questions=[QuestionData("Вопрос 1")],
    ))


def test_imports_the_sample_registry_with_exact_summary(session_factory, meeting_id):
    report, result = import_registry(
        session_factory, meeting_id=meeting_id, data=SAMPLE.read_bytes(), filename=SAMPLE.name, replace=True
    )
    summary = registry_summary(session_factory, meeting_id=meeting_id)
    assert (summary.owners, summary.premises) == (48, 42)
    assert summary.line == "Сведения о 48 собственниках / 42 помещениях"
    assert summary.total_area == report.total_area == Decimal("2236.5")
    assert summary.votes == report.votes
    assert result.owners == 48 and result.rejected == 0


def test_votes_are_exact_for_thirds(session_factory, meeting_id):
    data = csv_bytes("1;50;Андреев;1/3;;;", "1;50;Борисова;2/3;;;", "2;33,33;Власов;1;;;")
    import_registry(session_factory, meeting_id=meeting_id, data=data, filename="r.csv", replace=True)
    summary = registry_summary(session_factory, meeting_id=meeting_id)
    assert summary.votes == Fraction(50) + Fraction(3333, 100)
    assert summary.total_area == Decimal("83.33")


def test_replace_swaps_the_whole_registry(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=SAMPLE.read_bytes(), filename=SAMPLE.name, replace=True)
    import_registry(session_factory, meeting_id=meeting_id, data=csv_bytes("5;40;Сидоров;1;;;"), filename="r.csv", replace=True)
    frame = registry_frame(session_factory, meeting_id=meeting_id)
    assert list(frame["ФИО/Наименование собственника"]) == ["Сидоров"]


def test_add_mode_rejects_owners_already_in_the_registry(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=csv_bytes("5;40;Сидоров;1/2;;;"), filename="a.csv", replace=True)
    report = check_registry(
        session_factory, data=csv_bytes("5;40;сидоров;1/2;;;", "5;41;Сидорова;1/2;;;", "5;40;Сидорова Анна;1/2;;;"),
        filename="b.csv", meeting_id=meeting_id, replace=False,
    )
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "ФИО/Наименование собственника"), (3, "Общая площадь"),
    ]
    store_registry(session_factory, meeting_id=meeting_id, report=report, replace=False)
    assert registry_summary(session_factory, meeting_id=meeting_id).owners == 2


def test_failed_import_leaves_the_registry_as_it_was(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=SAMPLE.read_bytes(), filename=SAMPLE.name, replace=True)
    before = registry_frame(session_factory, meeting_id=meeting_id)
    report = check_registry(None, data=csv_bytes("7;40;Новиков;1;;;", "8;40;Орлов;1;;;"), filename="r.csv")
    # Two records the database refuses (same premise and owner) — the second insert fails mid-way.
    dup = report.owners[0]
    report.owners.append(dataclasses.replace(dup, row=99))
    with pytest.raises(ValidationError, match="ничего не сохранено"):
        store_registry(session_factory, meeting_id=meeting_id, report=report, replace=True)
    after = registry_frame(session_factory, meeting_id=meeting_id)
    assert after.equals(before)


def test_edit_with_valid_values_is_saved_and_area_moves_with_premise(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=csv_bytes("2;50;Петров;1/2;;;", "2;50;Петрова;1/2;;;"),
                    filename="r.csv", replace=True)
    frame = registry_frame(session_factory, meeting_id=meeting_id)
    rid = int(frame.index[0])
    apply_registry_changes(session_factory, meeting_id=meeting_id, edited={
        rid: OwnerInput(premise="2", area="52,5 м²", name="Петров Петр Петрович", share="1/2", doc_number="77-1",
                        doc_date="04.02.2020", contacts="p@mail.ru, 8 (911) 111-11-11"),
    })
    frame = registry_frame(session_factory, meeting_id=meeting_id)
    row = frame.loc[rid]
    assert row["ФИО/Наименование собственника"] == "Петров Петр Петрович"
    assert row["Дата документа"] == "04.02.2020"
    assert row["Адрес эл. почты и номер телефона"] == "p@mail.ru 79111111111"
    assert set(frame["Общая площадь"]) == {"52,50\u00a0м²"}  # the co-owner's premise area changed too


@pytest.mark.parametrize("field,value,reason", [
    ("share", "3/2", "больше 1"),
    ("area", "-4", "больше нуля"),
    ("name", "  ", "не указан собственник"),
    ("contacts", "not-an-email@", "не e-mail"),
    ("doc_date", "31.02.2020", "не существует"),
])
def test_invalid_edit_is_refused_and_nothing_is_saved(session_factory, meeting_id, field, value, reason):
    import_registry(session_factory, meeting_id=meeting_id, data=csv_bytes("2;50;Петров;1;;;"), filename="r.csv", replace=True)
    before = registry_frame(session_factory, meeting_id=meeting_id)
    rid = int(before.index[0])
    values = dict(premise="2", area="50", name="Петров", share="1", doc_number="", doc_date="", contacts="")
    values[field] = value
    with pytest.raises(ValidationError) as exc:
        apply_registry_changes(session_factory, meeting_id=meeting_id, edited={rid: OwnerInput(**values)})
    assert reason in " ".join([exc.value.message, *exc.value.details])
    assert registry_frame(session_factory, meeting_id=meeting_id).equals(before)


def test_edit_that_duplicates_another_owner_is_refused(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=csv_bytes("2;50;Петров;1/2;;;", "2;50;Петрова;1/2;;;"),
                    filename="r.csv", replace=True)
    frame = registry_frame(session_factory, meeting_id=meeting_id)
    rid = int(frame.index[frame["ФИО/Наименование собственника"] == "Петрова"][0])
    with pytest.raises(ValidationError, match="уже есть собственник"):
        apply_registry_changes(session_factory, meeting_id=meeting_id, edited={
            rid: OwnerInput(premise="2", area="50", name="ПЕТРОВ", share="1/2"),
        })
    assert len(registry_frame(session_factory, meeting_id=meeting_id)) == 2


def test_add_and_delete_owners_by_hand(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=csv_bytes("2;50;Петров;1;;;"), filename="r.csv", replace=True)
    rid = int(registry_frame(session_factory, meeting_id=meeting_id).index[0])
    apply_registry_changes(session_factory, meeting_id=meeting_id,
                           added=[OwnerInput(premise="Н-1", area="120", name="ООО «Аптека»")], deleted=[rid])
    frame = registry_frame(session_factory, meeting_id=meeting_id)
    assert list(frame["Номер помещения"]) == ["Н-1"]
    summary = registry_summary(session_factory, meeting_id=meeting_id)
    assert (summary.owners, summary.premises, summary.total_area) == (1, 1, Decimal(120))  # premise 2 went with its owner


def test_delete_all_empties_the_registry(session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=SAMPLE.read_bytes(), filename=SAMPLE.name, replace=True)
    assert delete_all_owners(session_factory, meeting_id=meeting_id) == 48
    assert registry_summary(session_factory, meeting_id=meeting_id).owners == 0


def test_registry_sorts_premises_naturally_and_searches_names(session_factory, meeting_id):
    data = csv_bytes("10;40;Борисов;1;;;", "2;40;Алексеева Алёна;1;;;", "12а;40;Власов;1;;;", "Н-1;90;ООО Ромашка;1;;;", "12;40;Глебов;1;;;")
    import_registry(session_factory, meeting_id=meeting_id, data=data, filename="r.csv", replace=True)
    frame = registry_frame(session_factory, meeting_id=meeting_id)
    assert list(frame["Номер помещения"]) == ["2", "10", "12", "12а", "Н-1"]
    found = registry_frame(session_factory, meeting_id=meeting_id, search="алена")
    assert list(found["ФИО/Наименование собственника"]) == ["Алексеева Алёна"]
    assert list(registry_frame(session_factory, meeting_id=meeting_id, search="12а")["Номер помещения"]) == ["12а"]


def test_export_writes_formula_like_names_as_text(session_factory, meeting_id):
    data = csv_bytes('1;40;"=HYPERLINK(""http://x"",""y"")";1;;;', "2;40;@SUM(A1);1;;;", "3;40;+79111111111;1;;;")
    import_registry(session_factory, meeting_id=meeting_id, data=data, filename="r.csv", replace=True)
    wb = openpyxl.load_workbook(io.BytesIO(registry_xlsx(session_factory, meeting_id=meeting_id)))
    ws = wb.active
    names = [ws.cell(row=r, column=4) for r in range(2, 5)]
    assert [c.value for c in names] == ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+79111111111"]
    assert all(c.data_type == "s" for c in names)


def test_rejected_rows_download_holds_the_rows_and_reasons(session_factory):
    report = check_registry(None, data=csv_bytes("1;40;Андреев;1;;;", ";40;Без номера;1;;;", "3;-1;Отрицательный;1;;;"),
                            filename="r.csv")
    ws = openpyxl.load_workbook(io.BytesIO(rejected_rows_xlsx(report))).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Строка" and rows[0][-1] == "Причина"
    assert [r[0] for r in rows[1:]] == [3, 4]
    assert "не указан номер помещения" in rows[1][-1]
    assert "больше нуля" in rows[2][-1]
