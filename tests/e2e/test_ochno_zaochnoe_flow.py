"""An очно-заочное meeting end to end in a real browser (issue 15, item 9), as an analyst runs it:
the meeting form with the in-person discussion's date, time and place; the attendance list printed
for signatures and the owners present marked on «Решения собственников»; the count closed on
«Итоги и протокол» and the protocol, checked in the PDF LibreOffice makes of it, naming the
in-person discussion and listing those present as its attachment 5.

The house is DOMAIN.md's worked example (premises 1, 2 and 3 of 40 m² each, flat 3 held by the
Власовы half and half); Андреев and Борисова hand in written decisions: 80 of 120 votes, a quorum.
The registry and the decisions are stored through the services into the server's own database.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile

import pytest
from docx import Document
from playwright.sync_api import expect
from sqlalchemy import select

from browserkit import log_in, wait_idle
from tests import hang
from tests.filemakers import make_table
from services.meetings import get_meeting
from services.models import OwnerRecord
from services.registry import import_registry
from services.runtime import build_runtime
from services.settings import load_settings
from services.voting import register_paper_decision, voter_page

pytestmark = pytest.mark.e2e

TODAY = dt.date.today()
START, END = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=2)  # voting ended two days ago
IN_PERSON = f"{START:%d.%m.%Y} в 19:00, двор дома"  # the discussion on the first day, at the default time
FIRST_RUN_TIMEOUT = hang.UI_MS * 2  # ms, a hang guard: a fresh server's first run imports pandas and Altair

ADDRESS = "г. Тверь, ул. Очная, д. 9"
INITIATOR = "ООО «УК Очная»"
OGRN = "1027700000008"
INITIATOR_ADDRESS = "г. Тверь, ул. Советская, д. 1, офис 5"
QUESTION = "Избрание совета многоквартирного дома"
PROPOSAL = "Избрать совет многоквартирного дома в составе: Андреев А. А., Борисова Б. Б."
ANDREEV, BORISOVA = "Андреев Андрей Андреевич", "Борисова Бэлла Борисовна"
VLASOV, VLASOVA = "Власов Виктор Викторович", "Власова Вера Викторовна"
#: DOMAIN.md's worked example: 120 votes in all
REGISTRY = [["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника"],
            ["1", 40.0, ANDREEV, "1"], ["2", 40.0, BORISOVA, "1"], ["3", 40.0, VLASOV, "1/2"], ["3", 40.0, VLASOVA, "1/2"]]
VOTERS = (ANDREEV, BORISOVA)  # written decisions, «за»: 80 of 120 votes
PRESENT = {ANDREEV: "пом. 1", VLASOVA: "пом. 3"}  # at the in-person discussion (Власова did not send a decision)
CHAIR, SECRETARY = "Андреев Андрей Андреевич", "Власова Вера Викторовна"
ZIP_NAMES = {
    "Протокол.docx", "Итоги голосования.xlsx", "Приложение 1. Реестр собственников.xlsx",
    "Приложение 2. Сообщение о проведении собрания.docx", "Приложение 3. Реестр вручения сообщений.xlsx",
    "Приложение 4. Список участников.xlsx", "Приложение 5. Список присутствовавших.docx",
    "Приложение 6. Решения собственников (перечень).xlsx",
}


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=FIRST_RUN_TIMEOUT)
    wait_idle(page)


def set_date(page, label: str, value: dt.date) -> None:
    """Type a date into st.date_input: a field of day, month and year segments (ДД.ММ.ГГГГ)."""
    page.get_by_role("spinbutton", name=f"day, {label}").click()
    page.keyboard.type(value.strftime("%d%m%Y"))  # each segment moves on to the next when full
    page.keyboard.press("Tab")
    wait_idle(page)
    expect_date(page, label, value)


def expect_date(page, label: str, value: dt.date) -> None:
    expect(page.get_by_role("spinbutton", name=f"day, {label}")).to_have_text(f"{value:%d}")
    expect(page.get_by_role("spinbutton", name=f"month, {label}")).to_have_text(f"{value:%m}")
    expect(page.get_by_role("spinbutton", name=f"year, {label}")).to_have_text(f"{value:%Y}")


def choose(page, label: str, option: str) -> None:
    """Pick an option of st.selectbox: open its list, click the option, wait for the rerun."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)
    expect(box).to_have_value(option)


def shoot(page, path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the window grows to fit it first."""
    wait_idle(page)
    page.mouse.move(5, 5)  # hover nothing: no toolbars over the tables
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 40)})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def download(page, button: str, path):
    with page.expect_download() as got:
        page.get_by_role("button", name=button).click()
    got.value.save_as(path)
    wait_idle(page)
    return got.value


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    return flat(" ".join([p.text for p in doc.paragraphs]
                         + [c.text for t in doc.tables for r in t.rows for c in r.cells]))


def table_rows(data: bytes) -> list[list[str]]:
    [table] = Document(io.BytesIO(data)).tables
    return [[c.text.strip() for c in r.cells] for r in table.rows]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_an_ochno_zaochnoe_meeting_from_its_form_to_the_protocol_with_those_present(page, start_app_server, tmp_path,
                                                                                   screenshot_dir):
    server = start_app_server(staff=True)
    rt = build_runtime(load_settings(server.env))
    sf = rt.session_factory
    try:
        page.goto(server.url)  # the first run of a fresh server is slow on a busy machine: wait for it here
        expect(page.get_by_text("Вход для сотрудников")).to_be_visible(timeout=FIRST_RUN_TIMEOUT)
        log_in(page, server)

        # ---- «Собрания»: a new очно-заочное meeting, its in-person discussion in the form ----
        page.get_by_role("button", name="Создать собрание").click()
        expect(page.get_by_role("heading", name="Новое собрание")).to_be_visible()
        page.get_by_label("Адрес дома").fill(ADDRESS)
        page.get_by_role("textbox", name="Инициатор собрания", exact=True).fill(INITIATOR)
        page.get_by_role("textbox", name="ОГРН", exact=True).fill(OGRN)
        page.get_by_label("Адрес организации").fill(INITIATOR_ADDRESS)
        # заочное asks for its ground and has no in-person part; очно-заочное asks for the discussion
        choose(page, "Форма собрания", "заочное")
        expect(page.get_by_label("Место очного обсуждения")).to_have_count(0)
        expect(page.get_by_text("Основание заочного голосования: собрание без кворума")).to_be_visible()
        choose(page, "Форма собрания", "очно-заочное")
        expect(page.get_by_text("Основание заочного голосования: собрание без кворума")).to_have_count(0)
        set_date(page, "Начало голосования", START)
        set_date(page, "Окончание приёма решений (последний день)", END)
        expect_date(page, "Очное обсуждение: дата", START)  # the discussion follows the start until changed
        time_box = page.get_by_test_id("stTimeInput").filter(has=page.get_by_text("Время", exact=True))
        expect(time_box.locator("input[type=hidden]")).to_have_value("19:00:00")  # the widget's value, by default
        page.get_by_label("Место очного обсуждения").fill("двор дома")
        page.get_by_role("textbox", name="Место (адрес) хранения протокола и решений собственников").fill("офис УК")
        page.get_by_label("Вопрос 1").fill(QUESTION)
        page.get_by_role("textbox", name="Предлагаемое решение (ПРЕДЛОЖЕНО)").fill(PROPOSAL)
        page.get_by_role("textbox", name="Предлагаемое решение (ПРЕДЛОЖЕНО)").blur()
        wait_idle(page)
        shoot(page, screenshot_dir / "ochno_meeting_form.png")
        page.get_by_role("button", name="Сохранить", exact=True).click()

        expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
        created = page.get_by_text(re.compile(r"Собрание № \d+ создано\. Следующий шаг — реестр собственников\."))
        expect(created).to_be_visible()
        meeting = int(re.search(r"№ (\d+)", created.inner_text()).group(1))
        expect(page.get_by_text(f"Собрание № {meeting} · внеочередное · очно-заочное голосование "
                                f"{START:%d.%m.%Y} — {END:%d.%m.%Y}")).to_be_visible()
        saved = get_meeting(sf, meeting)
        assert (saved.form, saved.kind, saved.in_person_at, saved.in_person_place) == (
            "очно-заочное", "внеочередное", dt.datetime.combine(START, dt.time(19, 0)), "двор дома"), saved
        assert (saved.initiator_ogrn, saved.initiator_address, saved.archive_place) == (
            OGRN, INITIATOR_ADDRESS, "офис УК"), saved
        assert [(q.text, q.majority, q.proposal) for q in saved.questions] == [(QUESTION, "simple", PROPOSAL)]

        # ---- the registry and the written decisions come in (through the services, the server's database) ----
        report, stored = import_registry(sf, meeting_id=meeting, data=make_table(REGISTRY, "xlsx"), filename="реестр.xlsx",
                                    replace=True, secret_key=rt.secret_key)
        assert (stored.owners, stored.premises, stored.votes, stored.rejected) == (4, 3, 120, 0), (stored, report.errors)
        with sf() as s:
            ids = {name: oid for name, oid in s.execute(select(OwnerRecord.name, OwnerRecord.id)
                                                        .where(OwnerRecord.meeting_id == meeting))}
        assert sorted(ids) == sorted([ANDREEV, BORISOVA, VLASOV, VLASOVA]), ids
        [question] = [q.id for q in voter_page(sf, owner_id=ids[ANDREEV]).questions]
        for name in VOTERS:
            register_paper_decision(sf, secret_key=rt.secret_key, meeting_id=meeting, owner_id=ids[name],
                                    received_on=END - dt.timedelta(days=1), answers={question: "for"})

        go_to(page, "Этапы ОСС")
        expect(page.get_by_text("Сведения о 4 собственниках / 3 помещениях")).to_be_visible()

        # ---- «Решения собственников»: the attendance list printed, then those present marked ----
        go_to(page, "Решения собственников")
        counted = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Учтено решений", exact=True))
        expect(counted.get_by_test_id("stMetricValue")).to_have_text("2")
        page.get_by_text("Очное обсуждение: лист регистрации (присутствовали: 0)").click()
        expect(page.get_by_text(f"Очное обсуждение: {IN_PERSON}. Распечатайте лист регистрации")).to_be_visible()
        sheet = download(page, "Лист регистрации для печати (.docx)", tmp_path / "лист.docx")
        assert sheet.suggested_filename == f"лист_регистрации_{meeting}.docx"
        sheet_bytes = (tmp_path / "лист.docx").read_bytes()
        assert f"Очное обсуждение вопросов повестки дня: {IN_PERSON}." in docx_text(sheet_bytes)
        assert table_rows(sheet_bytes) == [
            ["№", "Помещение", "ФИО/Наименование собственника", "Представитель, доверенность", "Подпись"],
            ["1", "1", ANDREEV, "", ""], ["2", "2", BORISOVA, "", ""], ["3", "3", VLASOV, "", ""],
            ["4", "3", VLASOVA, "", ""]]

        chooser = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text("Присутствовали", exact=False))
        for name, premise in PRESENT.items():
            chooser.get_by_role("combobox").click()
            page.keyboard.type(name.split()[0])
            page.get_by_role("option", name=f"{premise} — {name}", exact=True).click()
            page.keyboard.press("Escape")
            expect(chooser).to_contain_text(f"{premise} — {name}")
        page.get_by_role("button", name="Отметить присутствующих").click()
        expect(page.get_by_text("Отмечено присутствующих: 2.")).to_be_visible()
        wait_idle(page)
        page.get_by_text("Очное обсуждение: лист регистрации (присутствовали: 2)").click()
        present_grid = page.get_by_test_id("stExpander").filter(has_text="лист регистрации").get_by_test_id("stDataFrame")
        expect(present_grid).to_be_visible()
        for name in PRESENT:
            expect(present_grid.get_by_role("gridcell", name=name, exact=True, include_hidden=True)).to_be_attached()
        expect(present_grid.get_by_role("gridcell", name=BORISOVA, exact=True, include_hidden=True)).to_have_count(0)
        shoot(page, screenshot_dir / "ochno_decisions.png")

        # ---- «Итоги и протокол»: a draft until the count is closed ----
        go_to(page, "Итоги и протокол")
        expect(page.get_by_text("Протокол — ПРОЕКТ: документы помечены «ПРОЕКТ»")).to_be_visible()
        blocked = page.get_by_test_id("stAlert").filter(has_text="Закрыть подсчёт пока нельзя:")
        expect(blocked).to_contain_text("Председатель общего собрания.")
        expect(blocked).to_contain_text("Секретарь общего собрания.")
        expect(page.get_by_role("button", name="Закрыть подсчёт")).to_be_disabled()
        download(page, "Протокол (.docx)", tmp_path / "проект.docx")
        draft = docx_text((tmp_path / "проект.docx").read_bytes())
        assert "ПРОЕКТ" in draft and "ПРОТОКОЛ № ____" in draft, draft[:300]

        page.get_by_label("Председатель общего собрания (ФИО)").fill(CHAIR)
        page.get_by_label("Секретарь общего собрания (ФИО)").fill(SECRETARY)
        expect(page.get_by_label("Лица, проводившие подсчёт голосов (по одному в строке)")).to_have_value("")
        page.get_by_role("button", name="Сохранить данные протокола").click()
        expect(page.get_by_text("Данные протокола сохранены.")).to_be_visible()
        wait_idle(page)
        expect(blocked).to_have_count(0)
        page.get_by_role("button", name="Закрыть подсчёт").click()
        number = f"1/{TODAY.year}"
        expect(page.get_by_text(f"Подсчёт закрыт: протокол № {number} от {TODAY:%d.%m.%Y}.")).to_be_visible()
        wait_idle(page)
        expect(page.get_by_text("Протокол — ПРОЕКТ")).to_have_count(0)
        # the closing time in the company's time zone (format_local), not a UTC date
        expect(page.get_by_text(re.compile(
            rf"Подсчёт закрыт \d\d\.\d\d\.\d{{4}} \d\d:\d\d: протокол № {re.escape(number)} от {TODAY:%d\.%m\.%Y}\. "
            "Решения, реестр и данные протокола заблокированы."))).to_be_visible()
        shoot(page, screenshot_dir / "ochno_results_closed.png")

        protocol = download(page, "Протокол (.docx)", tmp_path / "Протокол.docx")
        assert protocol.suggested_filename == f"протокол_{meeting}.docx"
        package = download(page, "Скачать протокол с приложениями (.zip)", tmp_path / "package.zip")
        assert package.suggested_filename == f"протокол_ОСС_{meeting}.zip"
    finally:
        rt.engine.dispose()

    with zipfile.ZipFile(tmp_path / "package.zip") as zf:
        assert set(zf.namelist()) == ZIP_NAMES
        assert zf.testzip() is None
        assert zf.read("Протокол.docx") == (tmp_path / "Протокол.docx").read_bytes()  # the one the count fixed
        attendance = zf.read("Приложение 5. Список присутствовавших.docx")
    assert "Список собственников помещений, присутствовавших на очном обсуждении" in docx_text(attendance)
    assert f"Очное обсуждение вопросов повестки дня: {IN_PERSON}." in docx_text(attendance)
    present_rows = table_rows(attendance)
    assert [r[1:3] for r in present_rows[1:]] == [["1", ANDREEV], ["3", VLASOVA]], present_rows
    assert BORISOVA not in docx_text(attendance)
    assert "Traceback" not in server.log()

    # the protocol as printed: LibreOffice makes the PDF, pdftotext reads it back
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed: the PDF of the protocol cannot be made here")
    out = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless",
                          "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / "Протокол.docx")],
                         capture_output=True, text=True, timeout=hang.COMMAND)
    pdf = tmp_path / "Протокол.pdf"
    assert pdf.is_file(), out.stdout + out.stderr
    text = flat(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                               timeout=hang.COMMAND).stdout)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf),
                    str(screenshot_dir / "ochno_protocol_pdf")], check=True, timeout=hang.COMMAND)

    assert f"ПРОТОКОЛ № {number} внеочередного общего собрания" in text, text[:400]
    assert "проведённого в форме очно-заочного голосования" in text
    assert "Форма проведения: очно-заочное голосование." in text
    assert f"Дата, время и место очного обсуждения вопросов повестки дня: {IN_PERSON}." in text
    assert ("Количество голосов собственников, принявших участие в голосовании: 80,00 (66,67 % от общего "
            "количества голосов; собственников: 2). Кворум имеется") in text
    assert f"Председатель общего собрания: {CHAIR}." in text and f"Секретарь общего собрания: {SECRETARY}." in text
    assert "Счётная комиссия не избиралась; подсчёт голосов проведён инициатором общего собрания." in text
    assert "5. Список собственников, присутствовавших на очном обсуждении" in text
    assert f"Инициатор общего собрания (подсчёт голосов): ______________ / {INITIATOR}" in text
    assert "Место (адрес) хранения протокола и решений собственников: офис УК." in text
    assert "ПРОЕКТ" not in text
