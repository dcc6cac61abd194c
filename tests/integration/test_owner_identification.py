"""An owner's identification on the registry and the written decision (issue 15, item 6; ЖК РФ
ст. 48 ч. 5.1, DOMAIN.md rules 9 and 13): a legal entity's ОГРН is imported from the registry file,
stored and exported; the decision form prints the ОГРН of a legal entity, the СНИЛС of a person
(or a line to fill in), and the representative who signed by a power of attorney; the registry
counts the persons whose СНИЛС is missing or wrong. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from docx import Document
from sqlalchemy import select, update

from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import OwnerRecord
from services.registry import import_registry, registry_xlsx, snils_missing
from services.representatives import Representative
from services.voting import (
    ballots_docx,
    owner_decision_docx,
    question_numbers,
    register_paper_decision,
    submit_online_decision,
)
from tests.filemakers import filename_for, make_table

SECRET = "identification-secret"
TODAY = dt.date.today()
SBER, IP = "1027700132195", "304500116000157"
GOOD_SNILS, OTHER_SNILS = "112-233-445 95", "123-456-789 64"
ROMASHKA, LUTIK = "ООО «Ромашка»", "АО «Лютик»"
IVANOV, PETROV, SIDOROVA, KUZNETSOV = ("Иванов Иван Иванович", "Петров Пётр Петрович", "Сидорова Анна Сергеевна",
                                       "Кузнецов Олег Олегович")
HEADER = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника", "СНИЛС",
          "ОГРН/ОГРНИП"]
ROWS = [
    ["1", 50, ROMASHKA, "1", "", SBER],
    ["2", 40, LUTIK, "1", "", "1027700132196"],  # a wrong check digit: stored without it
    ["3", 45, IVANOV, "1", "11223344595", ""],
    ["4", 30, PETROV, "1", "", ""],
    ["5", 35, SIDOROVA, "1", "112-233-445 96", ""],  # a wrong СНИЛС: stored without it
    ["6", 60, KUZNETSOV, "1", "12345678964", IP],
]
BLANK = "______________________"


@pytest.fixture
def meeting_id(session_factory) -> int:
    return create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК»", start_date=TODAY - dt.timedelta(days=5),
        end_date=TODAY + dt.timedelta(days=20), questions=[QuestionData("Выбор совета дома")]))


def load(session_factory, meeting_id, rows=ROWS, fmt="xlsx", header=HEADER):
    return import_registry(session_factory, meeting_id=meeting_id, data=make_table([header, *rows], fmt),
                           filename=filename_for(fmt), replace=True)


def owner_ids(session_factory, meeting_id) -> dict[str, int]:
    with session_factory() as s:
        return dict(s.execute(select(OwnerRecord.name, OwnerRecord.id)
                              .where(OwnerRecord.meeting_id == meeting_id)).all())


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def ballot(session_factory, meeting_id, name) -> str:
    ids = owner_ids(session_factory, meeting_id)
    return docx_text(ballots_docx(session_factory, meeting_id=meeting_id, owner_ids=[ids[name]]))


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# ---------- ОГРН: import, storage, export ----------

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_ogrn_is_stored_from_the_file_and_a_wrong_one_is_left_out_with_a_warning(session_factory, meeting_id,
                                                                                      fmt):
    report, result = load(session_factory, meeting_id, fmt=fmt)
    assert result.owners == len(ROWS)
    with session_factory() as s:
        stored = dict(s.execute(select(OwnerRecord.name, OwnerRecord.ogrn)
                                .where(OwnerRecord.meeting_id == meeting_id)).all())
    assert stored == {ROMASHKA: SBER, LUTIK: "", IVANOV: "", PETROV: "", SIDOROVA: "", KUZNETSOV: IP}
    assert [(w.row, w.message) for w in report.warnings if "ОГРН" in w.message] == [
        (3, "ОГРН 1027700132196: неверное контрольное число — сохранено без ОГРН")]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_registry_without_an_ogrn_column_stores_none(session_factory, meeting_id, fmt):
    load(session_factory, meeting_id, rows=[r[:5] for r in ROWS], fmt=fmt, header=HEADER[:5])
    with session_factory() as s:
        assert set(s.scalars(select(OwnerRecord.ogrn).where(OwnerRecord.meeting_id == meeting_id))) == {""}


def test_the_registry_export_has_the_ogrn_next_to_the_snils(session_factory, meeting_id):
    load(session_factory, meeting_id)
    ws = openpyxl.load_workbook(io.BytesIO(registry_xlsx(session_factory, meeting_id=meeting_id))).active
    header = [c.value for c in ws[1]]
    assert header.index("ОГРН") == header.index("СНИЛС") + 1
    by_name = {row[header.index("ФИО/Наименование собственника")]: (row[header.index("СНИЛС")] or "",
                                                                   row[header.index("ОГРН")] or "")
               for row in ws.iter_rows(min_row=2, values_only=True)}
    assert by_name == {ROMASHKA: ("", SBER), LUTIK: ("", ""), IVANOV: (GOOD_SNILS, ""), PETROV: ("", ""),
                       SIDOROVA: ("", ""), KUZNETSOV: (OTHER_SNILS, IP)}


# ---------- persons without a valid СНИЛС ----------

def test_snils_missing_counts_persons_with_an_empty_or_wrong_snils_only(session_factory, meeting_id):
    load(session_factory, meeting_id)
    # Петров (empty) and Сидорова (wrong in the file, stored empty); not the two legal entities,
    # not Иванов or Кузнецов with a valid СНИЛС
    assert snils_missing(session_factory, meeting_id=meeting_id) == 2
    with session_factory.begin() as s:  # a wrong СНИЛС stored behind the import (an older version, a hand edit)
        s.execute(update(OwnerRecord).where(OwnerRecord.name == IVANOV).values(snils="112-233-445 96"))
        s.execute(update(OwnerRecord).where(OwnerRecord.name == ROMASHKA).values(snils="112-233-445 96"))
    assert snils_missing(session_factory, meeting_id=meeting_id) == 3


def test_snils_missing_counts_only_the_meetings_own_registry(session_factory, meeting_id):
    load(session_factory, meeting_id)
    other = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 7", initiator="ООО «УК»", start_date=TODAY,
        end_date=TODAY + dt.timedelta(days=20), questions=[QuestionData("Вопрос")]))
    assert snils_missing(session_factory, meeting_id=other) == 0
    load(session_factory, other, rows=[["1", 50, PETROV, "1", "", ""], ["2", 50, IVANOV, "1", "11223344595", ""]])
    assert snils_missing(session_factory, meeting_id=other) == 1
    assert snils_missing(session_factory, meeting_id=meeting_id) == 2


# ---------- the written decision ----------

def test_a_legal_entitys_decision_shows_its_ogrn_and_no_snils(session_factory, meeting_id):
    load(session_factory, meeting_id)
    text = ballot(session_factory, meeting_id, ROMASHKA)
    assert lines_starting(text, "ОГРН:") == [f"ОГРН: {SBER}"]
    assert lines_starting(text, "в лице (должность, ФИО):") == [f"в лице (должность, ФИО): {BLANK * 2}"]
    assert lines_starting(text, "СНИЛС") == []


def test_a_legal_entity_without_a_valid_ogrn_gets_a_line_to_fill_in(session_factory, meeting_id):
    load(session_factory, meeting_id)
    assert lines_starting(ballot(session_factory, meeting_id, LUTIK), "ОГРН:") == [f"ОГРН: {BLANK}"]
    with session_factory.begin() as s:  # a wrong ОГРН stored behind the import is not printed either
        s.execute(update(OwnerRecord).where(OwnerRecord.name == ROMASHKA).values(ogrn="1027700132196"))
    assert lines_starting(ballot(session_factory, meeting_id, ROMASHKA), "ОГРН:") == [f"ОГРН: {BLANK}"]


@pytest.mark.parametrize("name,snils", [(IVANOV, GOOD_SNILS), (KUZNETSOV, OTHER_SNILS), (PETROV, BLANK),
                                        (SIDOROVA, BLANK)])
def test_a_persons_decision_shows_the_snils_or_a_line_to_fill_in(session_factory, meeting_id, name, snils):
    load(session_factory, meeting_id)
    text = ballot(session_factory, meeting_id, name)
    assert lines_starting(text, "СНИЛС:") == [f"СНИЛС: {snils}"]
    assert lines_starting(text, "ОГРН") == [] and lines_starting(text, "в лице") == []


def test_a_snils_failing_its_check_digits_is_not_printed(session_factory, meeting_id):
    load(session_factory, meeting_id)
    with session_factory.begin() as s:
        s.execute(update(OwnerRecord).where(OwnerRecord.name == IVANOV).values(snils="112-233-445 96"))
    assert lines_starting(ballot(session_factory, meeting_id, IVANOV), "СНИЛС:") == [f"СНИЛС: {BLANK}"]


def test_without_a_representative_the_power_of_attorney_is_a_line_to_fill_in(session_factory, meeting_id):
    load(session_factory, meeting_id)
    text = ballot(session_factory, meeting_id, IVANOV)
    assert lines_starting(text, "Представитель") == [
        f"Представитель (при голосовании по доверенности): ФИО {BLANK}, доверенность № __________ от "
        f"____________, удостоверена {BLANK}"]


def test_the_representative_of_a_decision_is_prefilled_on_the_owners_form(session_factory, meeting_id):
    load(session_factory, meeting_id)
    ids = owner_ids(session_factory, meeting_id)
    with session_factory() as s:
        answers = {q: "for" for q in question_numbers(s, meeting_id)}
    poa_date = TODAY - dt.timedelta(days=30)
    register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting_id, owner_id=ids[PETROV],
                            received_on=TODAY, answers=answers,
                            representative=Representative("Смирнова Ольга Петровна", poa_number="69 АА 1234567",
                                                          poa_date=poa_date,
                                                          poa_certified_by="нотариус г. Твери Орлова Е.В."))
    text = ballot(session_factory, meeting_id, PETROV)
    assert lines_starting(text, "Представитель") == [
        f"Представитель (при голосовании по доверенности): ФИО Смирнова Ольга Петровна, доверенность № 69 АА 1234567 "
        f"от {poa_date:%d.%m.%Y}, удостоверена нотариус г. Твери Орлова Е.В."]
    assert lines_starting(text, "СНИЛС:") == [f"СНИЛС: {BLANK}"]
    # another owner's form is not touched by it
    assert f"ФИО {BLANK}," in lines_starting(ballot(session_factory, meeting_id, IVANOV), "Представитель")[0]


def test_a_legal_entitys_head_is_prefilled_in_its_name_without_a_power_of_attorney(session_factory, meeting_id):
    load(session_factory, meeting_id)
    ids = owner_ids(session_factory, meeting_id)
    with session_factory() as s:
        answers = {q: "against" for q in question_numbers(s, meeting_id)}
    register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting_id, owner_id=ids[ROMASHKA],
                            received_on=TODAY, answers=answers,
                            representative=Representative("Васильев Василий Васильевич", office="генеральный директор"))
    text = ballot(session_factory, meeting_id, ROMASHKA)
    assert lines_starting(text, "в лице (должность, ФИО):") == [
        "в лице (должность, ФИО): генеральный директор, Васильев Василий Васильевич"]
    assert lines_starting(text, "ОГРН:") == [f"ОГРН: {SBER}"]
    assert f"ФИО {BLANK}, доверенность № __________" in lines_starting(text, "Представитель")[0]


@pytest.mark.parametrize("name,line", [(ROMASHKA, f"ОГРН: {SBER}"), (KUZNETSOV, f"СНИЛС: {OTHER_SNILS}")])
def test_the_decision_filled_from_online_answers_carries_the_identification(session_factory, meeting_id, name,
                                                                             line):
    load(session_factory, meeting_id)
    ids = owner_ids(session_factory, meeting_id)
    with session_factory() as s:
        answers = {q: "for" for q in question_numbers(s, meeting_id)}
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=ids[name], answers=answers, today=TODAY)
    text = docx_text(owner_decision_docx(session_factory, owner_id=ids[name]))
    assert name in text and "☒" in text
    assert lines_starting(text, line.split(":")[0] + ":") == [line]
