"""Written decisions typed into a spreadsheet: matched to the registry, row-level reasons, one transaction."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services.decision_import import import_decisions, parse_answer, parse_decisions
from services.demo import create_demo_meeting
from services.errors import ValidationError
from services.models import Decision, DecisionAnswer
from services.spreadsheet import TableFileError
from services.voting import verify_decisions
from tests.filemakers import FORMATS, make_table

SECRET = "import-secret"
HEADER = ["Номер помещения", "ФИО/Наименование собственника", "Дата получения",
          "Вопрос 1", "Вопрос 2", "Вопрос 3", "Вопрос 4", "Вопрос 5"]


@pytest.fixture
def meeting(session_factory):
    return create_demo_meeting(session_factory, today=dt.date.today() - dt.timedelta(days=15))


@pytest.mark.parametrize("cell, expected", [
    ("За", "for"), ("за", "for"), (" ПРОТИВ ", "against"), ("Воздержался", "abstain"), ("воздержалась", "abstain"),
    ("", "invalid"), ("За, Против", "invalid"), ("за; за", "invalid"), ("Да", None), ("1", None),
])
def test_answer_cells_are_read_as_the_law_says(cell, expected):
    assert parse_answer(cell) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_are_matched_by_premise_and_name_ignoring_case_spaces_and_yo(session_factory, meeting, fmt):
    today = dt.date.today().strftime("%d.%m.%Y")
    rows = [HEADER,
            ["1", "  иванов иван иванович,  иванова ирина ивановна ", today, "за", "Против", "", "За, Против", "Воздержался"],
            ["2", "Петров Пётр Петрович", "", "За", "За", "За", "За", "За"]]
    report, result = import_decisions(session_factory, secret_key=SECRET, meeting_id=meeting,
                                      data=make_table(rows, fmt), filename=f"решения.{fmt}")
    assert result.total == 2 and result.counted == 2 and not report.errors
    assert report.invalid_answers == 2
    with session_factory() as s:
        answers = sorted(s.scalars(select(DecisionAnswer.answer)))
    assert answers.count("invalid") == 2 and answers.count("for") == 6 and answers.count("against") == 1
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_bad_rows_get_reasons_and_the_rest_is_imported_in_one_go(session_factory, meeting):
    rows = [HEADER,
            ["1", "Иванов Иван Иванович, Иванова Ирина Ивановна", "", "За", "За", "За", "За", "За"],
            ["999", "Никто Никтоевич", "", "За", "За", "За", "За", "За"],
            ["1", "Иванов Иван Иванович, Иванова Ирина Ивановна", "", "За", "За", "За", "За", "За"],
            ["2", "Петров Петр Петрович", "", "Да", "За", "За", "За", "За"],
            ["3", "Васильева Ольга Николаевна", "31.12.2099", "За", "За", "За", "За", "За"]]
    report = parse_decisions(session_factory, meeting_id=meeting, data=make_table(rows, "xlsx"), filename="r.xlsx")
    reasons = {(e.row, e.column): e.message for e in report.errors}
    assert "в реестре нет собственника" in reasons[(3, "ФИО/Наименование собственника")]
    assert "повторяет строку 2" in reasons[(4, "ФИО/Наименование собственника")]
    assert "не распознан" in reasons[(5, "Вопрос 1")]
    assert "позже сегодняшней" in reasons[(6, "Дата получения")]
    assert [r.row for r in report.rows] == [2]
    import_decisions(session_factory, secret_key=SECRET, meeting_id=meeting, data=make_table(rows[:2], "xlsx"),
                     filename="r.xlsx")
    again = parse_decisions(session_factory, meeting_id=meeting, data=make_table(rows[:2], "xlsx"), filename="r.xlsx")
    assert "уже есть учтённое решение" in again.errors[0].message and not again.rows
    with pytest.raises(ValidationError):
        import_decisions(session_factory, secret_key=SECRET, meeting_id=meeting, data=make_table(rows[:2], "xlsx"),
                         filename="r.xlsx")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1


def test_a_decision_received_after_the_end_is_stored_but_not_counted(session_factory, meeting):
    from services.meetings import get_meeting

    end = get_meeting(session_factory, meeting).end_date
    rows = [HEADER, ["2", "Петров Петр Петрович", end + dt.timedelta(days=1), "За", "За", "За", "За", "За"]]
    report = parse_decisions(session_factory, meeting_id=meeting, data=make_table(rows, "xlsx"), filename="r.xlsx",
                             today=end + dt.timedelta(days=3))
    from services.decision_import import store_decisions

    result = store_decisions(session_factory, secret_key=SECRET, meeting_id=meeting, report=report)
    assert result.late == 1 and result.counted == 0


def test_a_file_without_question_columns_is_refused_clearly(session_factory, meeting):
    with pytest.raises(TableFileError, match="не найдена строка заголовков"):
        parse_decisions(session_factory, meeting_id=meeting,
                        data=make_table([["Номер помещения", "ФИО"], ["1", "x"]], "csv"), filename="r.csv")
    with pytest.raises(TableFileError, match="вопросов 5"):
        parse_decisions(session_factory, meeting_id=meeting,
                        data=make_table([["Номер помещения", "ФИО", "Вопрос 9"], ["1", "x", "За"]], "csv"),
                        filename="r.csv")
