"""Decisions typed into a spreadsheet, issue 13: the receipt date is never guessed after the end
date, representatives sign with a power of attorney or by office (ЖК РФ ст. 48 ч. 2), a legal
entity is found whatever «в лице …» follows its name, and joint owners count once (ГК РФ ст. 253).

The building: premises 1–4 of 40 m² each, all votes 160. Flat 1 — Андреев; flat 2 — the Ивановы
jointly, in one registry cell; flat 3 — ООО «Ромашка»; flat 4 — the Власовы jointly, one record each
(the same `joint_group`, as ЕГРН lists them).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from services import owner_fields as f
from services.audit import audit_frame
from services.decision_import import import_decisions, parse_decisions, store_decisions
from services.errors import ValidationError
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import Decision, OwnerRecord, Premise
from services.representatives import Representative
from services.results import (
    POWERS_OF_ATTORNEY_FILE,
    participants_xlsx,
    powers_of_attorney,
    powers_of_attorney_xlsx,
    protocol_package_zip,
)
from services.tally import live_tally, recount, votes2
from services.voting import joint_conflicts, register_paper_decision, settle_joint_conflict, verify_decisions
from tests.filemakers import make_table

SECRET = "signers-secret"
TODAY = dt.date.today()
ROOT = Path(__file__).resolve().parents[2]
ANDREEV, IVANOV, IVANOVA = "Андреев Андрей Андреевич", "Иванов Иван Иванович", "Иванова Анна Петровна"
ROMASHKA, VLASOV, VLASOVA = "ООО «Ромашка»", "Власов Виктор Викторович", "Власова Вера Викторовна"
HEADER = ["Номер помещения", "ФИО/Наименование собственника", "Вопрос 1", "Вопрос 2"]


def building(session_factory, *, start: dt.date, end: dt.date) -> dict[str, int]:
    """The meeting and its registry, made directly: owner id by name, and "meeting"."""
    meeting = create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Совместная, д. 3", initiator="ООО «УК»", start_date=start, end_date=end,
        questions=[QuestionData("Выбор совета дома"), QuestionData("Ремонт крыши", "two_thirds")]))
    flats = [("1", [ANDREEV], None, False), ("2", [f"{IVANOV}, {IVANOVA}"], None, False),
             ("3", [ROMASHKA], None, True), ("4", [VLASOV, VLASOVA], 1, False)]
    with session_factory.begin() as s:
        for number, names, group, legal in flats:
            premise = Premise(meeting_id=meeting, number=number, number_key=f.text_key(number),
                              area=Decimal("40.0"))
            s.add(premise)
            s.flush()
            for name in names:
                s.add(OwnerRecord(meeting_id=meeting, premise_id=premise.id, name=name, name_key=f.name_key(name),
                                  is_legal_entity=legal, share_num=1, share_den=1, joint_group=group))
    with session_factory() as s:
        ids = dict(s.execute(select(OwnerRecord.name, OwnerRecord.id).where(OwnerRecord.meeting_id == meeting)).all())
    return {**ids, "meeting": meeting}


@pytest.fixture
def open_meeting(session_factory):
    """Decisions are still being received (the end date is ahead)."""
    return building(session_factory, start=TODAY - dt.timedelta(days=10), end=TODAY + dt.timedelta(days=10))


@pytest.fixture
def ended_meeting(session_factory):
    """Receiving ended 10 days ago: the decisions are typed in afterwards."""
    return building(session_factory, start=TODAY - dt.timedelta(days=40), end=TODAY - dt.timedelta(days=10))


def decisions(session_factory, meeting_id) -> list[Decision]:
    with session_factory() as s:
        return list(s.scalars(select(Decision).where(Decision.meeting_id == meeting_id).order_by(Decision.seq)))


def run_import(session_factory, meeting_id, rows, **kw):
    return import_decisions(session_factory, secret_key=SECRET, meeting_id=meeting_id,
                            data=make_table(rows, "xlsx"), filename="решения.xlsx", user="аналитик", **kw)


# ---------- A. receipt dates ----------

def test_the_receipt_date_comes_from_the_files_column(session_factory, ended_meeting):
    m = ended_meeting["meeting"]
    in_time, late = TODAY - dt.timedelta(days=12), TODAY - dt.timedelta(days=3)
    rows = [[*HEADER[:2], "Дата получения", *HEADER[2:]],
            ["1", ANDREEV, in_time, "За", "За"], ["3", ROMASHKA, late.strftime("%d.%m.%Y"), "За", "Против"]]
    report, result = run_import(session_factory, m, rows)
    assert (result.counted, result.late, report.notes, report.refusal) == (1, 1, [], "")
    assert [(d.received_on, d.status) for d in decisions(session_factory, m)] == [(in_time, "counted"),
                                                                                  (late, "late")]


def test_after_the_end_date_a_file_without_receipt_dates_is_refused_not_dated_today(session_factory, ended_meeting):
    m = ended_meeting["meeting"]
    rows = [HEADER, ["1", ANDREEV, "За", "За"], ["3", ROMASHKA, "За", "Против"]]
    with pytest.raises(ValidationError) as exc:
        run_import(session_factory, m, rows)
    message = exc.value.message
    assert "«решения.xlsx»" in message and "нет столбца «Дата получения»" in message
    assert f"окончен {(TODAY - dt.timedelta(days=10)):%d.%m.%Y}" in message
    assert decisions(session_factory, m) == []

    # one date for the whole file, given by the analyst: the decisions count as received then
    given = TODAY - dt.timedelta(days=11)
    report, result = run_import(session_factory, m, rows, received_on=given)
    assert (result.counted, result.late) == (2, 0)
    assert {d.received_on for d in decisions(session_factory, m)} == {given}
    assert report.notes == [f"В файле «решения.xlsx» нет столбца «Дата получения»: для строк без даты (2) принята "
                            f"указанная дата получения {given:%d.%m.%Y}."]


def test_empty_date_cells_take_the_given_date_and_without_it_are_refused_by_row(session_factory, ended_meeting):
    m = ended_meeting["meeting"]
    dated = TODAY - dt.timedelta(days=15)
    rows = [[*HEADER[:2], "Дата поступления решения", *HEADER[2:]],
            ["1", ANDREEV, dated, "За", "За"], ["3", ROMASHKA, "", "За", "Против"]]
    report = parse_decisions(session_factory, meeting_id=m, data=make_table(rows, "xlsx"), filename="решения.xlsx")
    assert report.needs_date and report.undated_rows == [3]
    assert "в столбце «Дата поступления решения» не заполнена дата (строки 3)" in report.refusal
    with pytest.raises(ValidationError, match="не загружены"):
        store_decisions(session_factory, secret_key=SECRET, meeting_id=m, report=report)

    given = TODAY - dt.timedelta(days=9)  # after the end: kept, not counted
    report, result = run_import(session_factory, m, rows, received_on=given)
    assert (result.counted, result.late) == (1, 1)
    assert [(d.received_on, d.status) for d in decisions(session_factory, m)] == [(dated, "counted"),
                                                                                  (given, "late")]


def test_before_the_end_date_today_is_the_default_and_the_report_says_so(session_factory, open_meeting):
    m = open_meeting["meeting"]
    report, result = run_import(session_factory, m, [HEADER, ["1", ANDREEV, "За", "За"]])
    assert result.counted == 1 and decisions(session_factory, m)[0].received_on == TODAY
    assert report.notes == [f"В файле «решения.xlsx» нет столбца «Дата получения»: для строк без даты (1) принята "
                            f"сегодняшняя дата {TODAY:%d.%m.%Y}. Если решения получены раньше, укажите дату их "
                            "получения."]


def test_a_date_given_for_the_file_cannot_be_in_the_future(session_factory, open_meeting):
    with pytest.raises(ValidationError, match="позже сегодняшней"):
        run_import(session_factory, open_meeting["meeting"], [HEADER, ["1", ANDREEV, "За", "За"]],
                   received_on=TODAY + dt.timedelta(days=1))


def test_the_command_line_takes_the_date_with_received_or_refuses(sqlite_url, tmp_path):
    from services.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    ids = building(make_session_factory(engine), start=TODAY - dt.timedelta(days=40),
                   end=TODAY - dt.timedelta(days=10))
    engine.dispose()
    path = tmp_path / "решения.xlsx"
    path.write_bytes(make_table([HEADER, ["1", ANDREEV, "За", "За"]], "xlsx"))

    def manage(*args):
        env = {**os.environ, "DATABASE_URL": sqlite_url, "KVORUM_DATA_DIR": str(tmp_path)}
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), "import-decisions", "--meeting",
                               str(ids["meeting"]), *args, str(path)], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=120)

    refused = manage()
    assert refused.returncode == 2 and "нет столбца «Дата получения»" in refused.stderr
    assert "«решения.xlsx»" in refused.stderr
    done = manage("--received", (TODAY - dt.timedelta(days=12)).isoformat())
    assert done.returncode == 0, done.stderr
    assert "Загружено решений: 1 (учитываются 1, поздних 0)" in done.stdout
    assert "принята указанная дата получения" in done.stdout


# ---------- B. representatives ----------

REP_HEADER = [*HEADER[:2], "Дата получения", "ФИО представителя", "Доверенность №", "Дата доверенности",
              "Кем удостоверена", "Должность", *HEADER[2:]]


def test_a_representative_by_power_of_attorney_is_stored_sealed_and_listed(session_factory, open_meeting):
    m = open_meeting["meeting"]
    poa_date = TODAY - dt.timedelta(days=100)
    rows = [REP_HEADER,
            ["1", ANDREEV, TODAY, "Петров Пётр Петрович", "77 АА 1234567", poa_date, "нотариус г. Твери Сидорова С.С.",
             "", "За", "Против"],
            ["3", ROMASHKA, TODAY, "Смирнов Семён Семёнович", "", "", "", "генеральный директор", "За", "За"]]
    report, result = run_import(session_factory, m, rows)
    assert not report.errors and result.counted == 2
    by_owner = {d.owner_id: d for d in decisions(session_factory, m)}
    andreev = by_owner[open_meeting[ANDREEV]]
    assert (andreev.representative_name, andreev.poa_number, andreev.poa_date, andreev.poa_certified_by) == (
        "Петров Пётр Петрович", "77 АА 1234567", poa_date, "нотариус г. Твери Сидорова С.С.")
    director = by_owner[open_meeting[ROMASHKA]]
    assert (director.representative_name, director.representative_office, director.poa_number) == (
        "Смирнов Семён Семёнович", "генеральный директор", "")
    assert verify_decisions(session_factory, secret_key=SECRET, meeting_id=m).ok

    # the participants list names who signed; the powers of attorney list only those by one
    sheet = load_workbook(io.BytesIO(participants_xlsx(session_factory, meeting_id=m))).active
    header = [c.value for c in sheet[1]]
    column = header.index("Представитель")
    signed = {row[2]: row[column] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert signed[ANDREEV] == (f"Петров Пётр Петрович, по доверенности № 77 АА 1234567 от {poa_date:%d.%m.%Y}, "
                               "удостоверена: нотариус г. Твери Сидорова С.С.")
    assert signed[ROMASHKA] == "Смирнов Семён Семёнович, генеральный директор"
    assert powers_of_attorney(session_factory, meeting_id=m) == [
        [1, "1", ANDREEV, "Петров Пётр Петрович", "77 АА 1234567", poa_date, "нотариус г. Твери Сидорова С.С.",
         andreev_number(m, andreev)]]
    poa_sheet = load_workbook(io.BytesIO(powers_of_attorney_xlsx(session_factory, meeting_id=m))).active
    assert [c.value for c in poa_sheet[1]] == ["№", "Номер помещения", "ФИО/Наименование собственника",
                                               "Представитель", "Номер доверенности", "Дата доверенности",
                                               "Кем удостоверена", "Решение"]
    with zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=m,
                                                         public_url="https://kvorum.example"))) as zf:
        assert f"Приложение 5. {POWERS_OF_ATTORNEY_FILE}" in zf.namelist()
    text = protocol_text(session_factory, m)
    # numbered among the attachments that exist: registry, notice, delivery, participants, then these
    assert ATTACHMENT_POA in text and "6. Письменные решения собственников (перечень; подлинники прилагаются)." in text


ATTACHMENT_POA = "5. Доверенности представителей собственников (перечень; копии прилагаются)."


def protocol_text(session_factory, meeting_id) -> list[str]:
    from docx import Document

    from services.results import protocol_docx

    return [p.text for p in Document(io.BytesIO(protocol_docx(session_factory, meeting_id=meeting_id))).paragraphs]


def andreev_number(meeting_id: int, d: Decision) -> str:
    from services.voting import decision_number

    return decision_number(meeting_id, d.seq)


def test_without_powers_of_attorney_the_package_has_no_such_attachment(session_factory, open_meeting):
    m = open_meeting["meeting"]
    run_import(session_factory, m, [HEADER, ["1", ANDREEV, "За", "За"]])
    assert powers_of_attorney(session_factory, meeting_id=m) == []
    with zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=m,
                                                         public_url="https://kvorum.example"))) as zf:
        assert not [n for n in zf.namelist() if n.endswith(POWERS_OF_ATTORNEY_FILE)]
    text = protocol_text(session_factory, m)
    assert not [line for line in text if "Доверенности" in line] and "5. Письменные решения собственников " \
        "(перечень; подлинники прилагаются)." in text and not [line for line in text if "{%" in line]


@pytest.mark.parametrize("rep, column, fragment", [
    (["Петров Пётр Петрович", "", "", "", ""], "Доверенность №", "указан без доверенности"),
    (["", "12", TODAY - dt.timedelta(days=5), "", ""], "ФИО представителя", "не указано ФИО представителя"),
    (["Петров Пётр Петрович", "12", "", "", ""], "Дата доверенности", "не указана дата доверенности"),
    (["Петров Пётр Петрович", "", TODAY - dt.timedelta(days=5), "", ""], "Доверенность №", "не указан номер"),
    (["Петров Пётр Петрович", "12", "31.02.2025", "", ""], "Дата доверенности", "не существует"),
    (["Петров Пётр Петрович", "12", TODAY + dt.timedelta(days=5), "", ""], "Дата доверенности", "позже сегодняшней"),
])
def test_an_incomplete_representative_refuses_the_row_naming_row_and_column(session_factory, open_meeting, rep,
                                                                            column, fragment):
    m = open_meeting["meeting"]
    rows = [REP_HEADER, ["3", ROMASHKA, TODAY, *rep, "За", "За"], ["1", ANDREEV, TODAY, "", "", "", "", "", "За", "За"]]
    report = parse_decisions(session_factory, meeting_id=m, data=make_table(rows, "xlsx"), filename="решения.xlsx")
    assert [(e.row, e.column) for e in report.errors if fragment in e.message] == [(2, column)], report.errors
    assert [r.row for r in report.rows] == [3] and report.rows[0].representative is None


def test_the_paper_form_service_stores_the_representative_and_refuses_an_incomplete_one(session_factory,
                                                                                      open_meeting):
    m = open_meeting["meeting"]
    with session_factory() as s:
        from services.voting import question_numbers

        questions = list(question_numbers(s, m))
    answers = {q: "for" for q in questions}
    with pytest.raises(ValidationError, match="доверенность"):
        register_paper_decision(session_factory, secret_key=SECRET, meeting_id=m, owner_id=open_meeting[ANDREEV],
                                received_on=TODAY, answers=answers, representative=Representative("Петров П.П."))
    stored = register_paper_decision(
        session_factory, secret_key=SECRET, meeting_id=m, owner_id=open_meeting[ANDREEV], received_on=TODAY,
        answers=answers, representative=Representative("Петров П.П.", poa_number="5", poa_date=TODAY))
    assert stored.status == "counted"
    assert [row[3:5] for row in powers_of_attorney(session_factory, meeting_id=m)] == [["Петров П.П.", "5"]]


@pytest.mark.parametrize("cell, representative", [
    (f"{ROMASHKA} в лице генерального директора Иванова И.И., действующего на основании Устава",
     ("Иванова И.И.", "генерального директора", "")),
    (f"{ROMASHKA}, в лице представителя Петрова Петра Петровича, действующего на основании доверенности № 7 от "
     f"{TODAY - dt.timedelta(days=30):%d.%m.%Y}", ("Петрова Петра Петровича", "", "7")),
    (f"ооо «ромашка» действующее на основании Устава", None),
])
def test_a_legal_entity_is_matched_by_its_name_whatever_follows_it(session_factory, open_meeting, cell,
                                                                   representative):
    m = open_meeting["meeting"]
    report, result = run_import(session_factory, m, [HEADER, ["3", cell, "За", "За"]])
    assert not report.errors and result.counted == 1
    [d] = decisions(session_factory, m)
    assert d.owner_id == open_meeting[ROMASHKA]
    stored = (d.representative_name, d.representative_office, d.poa_number) if d.representative_name else None
    assert stored == representative


def test_explicit_representative_columns_win_over_the_in_person_tail(session_factory, open_meeting):
    m = open_meeting["meeting"]
    rows = [REP_HEADER, ["3", f"{ROMASHKA} в лице генерального директора Иванова И.И.", TODAY,
                         "Смирнов С.С.", "", "", "", "исполнительный директор", "За", "За"]]
    run_import(session_factory, m, rows)
    [d] = decisions(session_factory, m)
    assert (d.representative_name, d.representative_office) == ("Смирнов С.С.", "исполнительный директор")


# ---------- C. joint owners ----------

@pytest.mark.parametrize("signer", [IVANOVA, IVANOV, f"{IVANOVA}, {IVANOV}", f"  {IVANOV.lower()},  {IVANOVA} "])
def test_one_joint_owner_of_a_one_cell_record_is_matched_to_it(session_factory, open_meeting, signer):
    m = open_meeting["meeting"]
    report, result = run_import(session_factory, m, [HEADER, ["2", signer, "За", "Против"]])
    assert not report.errors and result.counted == 1
    [d] = decisions(session_factory, m)
    assert d.owner_id == open_meeting[f"{IVANOV}, {IVANOVA}"]


def test_a_person_the_one_cell_record_does_not_list_is_not_matched(session_factory, open_meeting):
    report = parse_decisions(session_factory, meeting_id=open_meeting["meeting"], filename="решения.xlsx",
                             data=make_table([HEADER, ["2", "Иванова Мария Ивановна", "За", "За"],
                                              ["2", f"{IVANOVA}, Иванова Мария Ивановна", "За", "За"]], "xlsx"))
    assert [(e.row, "в реестре нет собственника" in e.message) for e in report.errors] == [(2, True), (3, True)]


def test_two_joint_co_owners_who_agree_count_once(session_factory, open_meeting):
    m = open_meeting["meeting"]
    rows = [HEADER, ["4", VLASOV, "За", "Против"], ["4", VLASOVA, "За", "Против"], ["1", ANDREEV, "За", "За"]]
    report, result = run_import(session_factory, m, rows)
    assert (result.counted, result.joint_same, result.joint_conflicts) == (2, 1, 0)
    statuses = {d.owner_id: (d.status, d.counted_slot) for d in decisions(session_factory, m)}
    slot = min(open_meeting[VLASOV], open_meeting[VLASOVA])
    assert statuses[open_meeting[VLASOV]] == ("counted", slot)
    assert statuses[open_meeting[VLASOVA]] == ("joint_same", None)
    for t in (recount(session_factory, meeting_id=m), live_tally(session_factory, meeting_id=m)):
        assert (t.all_votes, t.participants) == (160, 80)
        assert [(q.votes["for"], q.votes["against"]) for q in t.questions] == [(80, 0), (40, 40)]
    assert verify_decisions(session_factory, secret_key=SECRET, meeting_id=m).ok
    assert joint_conflicts(session_factory, meeting_id=m) == []


def test_joint_co_owners_who_differ_leave_the_question_invalid_until_the_analyst_picks(session_factory,
                                                                                        open_meeting):
    m = open_meeting["meeting"]
    # the husband's decision came by hand first; the wife's differing one comes in the file
    with session_factory() as s:
        from services.voting import question_numbers

        by_number = {n: q for q, n in question_numbers(s, m).items()}
    first = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=m, owner_id=open_meeting[VLASOV],
                                    received_on=TODAY, answers={by_number[1]: "for", by_number[2]: "for"})
    rows = [HEADER, ["4", VLASOVA, "За", "Против"], ["1", ANDREEV, "За", "За"]]
    report, result = run_import(session_factory, m, rows)
    assert (result.counted, result.joint_conflicts) == (1, 1)
    [wife] = [d for d in decisions(session_factory, m) if d.owner_id == open_meeting[VLASOVA]]
    assert (wife.status, wife.counted_slot) == ("joint_conflict", None)

    for t in (recount(session_factory, meeting_id=m), live_tally(session_factory, meeting_id=m)):
        assert t.participants == 80  # the holding took part, once
        q1, q2 = t.questions
        assert (q1.votes["for"], q1.votes["invalid"]) == (80, 0)
        assert (q2.votes["for"], q2.votes["against"], q2.votes["invalid"]) == (40, 0, 40)
    [conflict] = joint_conflicts(session_factory, meeting_id=m)
    assert conflict.premise == "4" and conflict.differing == [2]
    assert [(d.owner, d.status, d.answers) for d in conflict.decisions] == [
        (VLASOV, "counted", {1: "for", 2: "for"}), (VLASOVA, "joint_conflict", {1: "for", 2: "against"})]

    settle_joint_conflict(session_factory, meeting_id=m, decision_id=wife.id, user="аналитик", secret_key=SECRET)
    for t in (recount(session_factory, meeting_id=m), live_tally(session_factory, meeting_id=m)):
        q2 = t.questions[1]
        assert (votes2(q2.votes["for"]), votes2(q2.votes["against"]), q2.votes["invalid"]) == (40, 40, 0)
    statuses = {d.id: d.status for d in decisions(session_factory, m)}
    assert (statuses[first.id], statuses[wife.id]) == ("superseded", "counted")
    assert joint_conflicts(session_factory, meeting_id=m) == []
    journal = audit_frame(session_factory, meeting_id=m)
    assert "Выбрано решение совместного собственника" in set(journal["Действие"])
    assert verify_decisions(session_factory, secret_key=SECRET, meeting_id=m).ok


def test_a_co_owner_whose_holding_already_counts_is_not_refused_but_the_same_owner_is(session_factory,
                                                                                      open_meeting):
    m = open_meeting["meeting"]
    run_import(session_factory, m, [HEADER, ["4", VLASOV, "За", "За"]])
    again = parse_decisions(session_factory, meeting_id=m, filename="решения.xlsx",
                            data=make_table([HEADER, ["4", VLASOV, "За", "За"], ["4", VLASOVA, "За", "За"]], "xlsx"))
    assert [(e.row, "уже есть учтённое решение" in e.message) for e in again.errors] == [(2, True)]
    assert [r.row for r in again.rows] == [3]


def test_a_bulk_file_with_joint_co_owners_keeps_the_running_count_exact(session_factory, open_meeting, monkeypatch):
    import services.decision_import as di

    monkeypatch.setattr(di, "BULK_TALLY_ROWS", 1)  # the bulk path: the count rebuilt once at the end
    m = open_meeting["meeting"]
    rows = [HEADER, ["4", VLASOV, "За", "За"], ["4", VLASOVA, "Против", "За"], ["1", ANDREEV, "За", "За"]]
    _report, result = run_import(session_factory, m, rows)
    assert (result.counted, result.joint_conflicts) == (2, 1)
    assert verify_decisions(session_factory, secret_key=SECRET, meeting_id=m).ok
    live, full = live_tally(session_factory, meeting_id=m), recount(session_factory, meeting_id=m)
    assert [q.votes for q in live.questions] == [q.votes for q in full.questions]
    assert full.questions[0].votes["invalid"] == 40
