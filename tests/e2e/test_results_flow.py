"""The count in a real browser, on DOMAIN.md's worked example: «Активность» grows by itself while
voting is open, and «Итоги и протокол» hands out a protocol whose figures are the page's to the
hundredth, checked in the PDF LibreOffice makes of it."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from browserkit import log_in, wait_idle
from tests import hang
from services.runtime import build_runtime
from services.settings import load_settings
from services.voting import register_paper_decision
from tests.integration.test_tally import EXAMPLE, build

pytestmark = pytest.mark.e2e

TODAY = dt.date.today()
#: DOMAIN.md's worked example A, received on different days; Власова's decision arrives while «Активность» is open
FIRST = {"Андреев": (["for", "for", "for"], 4), "Борисова": (["for", "abstain", "for"], 2),
         "Власов": (["against", "for", "for"], 1)}  # answers, received so many days ago
LAST = ("Власова", ["against", "invalid", "against"])
REFRESH_TIMEOUT = hang.UI_MS  # ms, a hang guard: the page refreshes every 10 s while voting is open
FIRST_RUN_TIMEOUT = hang.UI_MS * 2  # ms, a hang guard: a fresh server's first run imports pandas and Altair
ZIP_NAMES = {
    "Протокол.docx", "Итоги голосования.xlsx", "Приложение 1. Реестр собственников.xlsx",
    "Приложение 2. Сообщение о проведении собрания.docx", "Приложение 3. Реестр вручения сообщений.xlsx",
    "Приложение 4. Список участников.xlsx", "Приложение 5. Решения собственников (перечень).xlsx",
}  # the decisions were paper ones: no attachment of code-signed decisions is listed or packed
EXAMPLE_NAMES = [*FIRST, LAST[0]]
CHAIR, SECRETARY, COUNTERS = "Андреев Андрей Андреевич", "Борисова Бэлла Борисовна", ["Власов Виктор Викторович"]


class Seeder:
    """The server's own database and instance key: decisions registered here are sealed as the app seals."""

    def __init__(self, server):
        self.rt = build_runtime(load_settings(server.env))

    def example(self) -> tuple[int, dict[str, int], list[int]]:
        return build(self.rt.session_factory, EXAMPLE)

    def decision(self, meeting: int, owner: int, questions: list[int], answers: list[str], days_ago: int = 0) -> None:
        register_paper_decision(self.rt.session_factory, secret_key=self.rt.secret_key, meeting_id=meeting,
                                owner_id=owner, received_on=TODAY - dt.timedelta(days=days_ago),
                                answers=dict(zip(questions, answers)))

    def close(self) -> None:
        self.rt.engine.dispose()


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=FIRST_RUN_TIMEOUT)
    wait_idle(page)


def grid_rows(grid) -> list[dict[str, str]]:
    """Every row of a st.dataframe as {column title: cell text}. The grid draws on a canvas and its
    accessible table mirrors only the columns in view, so it is scrolled sideways and read in parts."""
    expect(grid.get_by_role("columnheader", include_hidden=True).first).to_be_attached()
    scroller = grid.locator(".dvn-scroller")
    titles: dict[str, str] = {}
    cells: dict[tuple[str, str], str] = {}
    left = 0
    while True:
        scroller.evaluate("(e, x) => { e.scrollLeft = x; }", left)
        grid.page.wait_for_timeout(300)
        for h in grid.get_by_role("columnheader", include_hidden=True).all():
            titles[h.get_attribute("aria-colindex")] = h.inner_text().strip()
        for row in grid.get_by_role("row", include_hidden=True).all():
            for c in row.get_by_role("gridcell", include_hidden=True).all():
                cells[(row.get_attribute("aria-rowindex"), c.get_attribute("aria-colindex"))] = c.inner_text().strip()
        width, client, now = scroller.evaluate("e => [e.scrollWidth, e.clientWidth, e.scrollLeft]")
        if now + client >= width:
            break
        left = now + client // 2
    rows = sorted({r for r, _c in cells}, key=int)
    return [{titles[c]: text for (r2, c), text in cells.items() if r2 == r} for r in rows]


def shoot(page, path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the window grows to fit it first."""
    wait_idle(page)
    page.mouse.move(5, 5)  # hover nothing: no toolbars over the charts and tables
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 40)})
    page.wait_for_timeout(1500)  # the charts redraw for the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_activity_grows_by_itself_and_the_protocol_pdf_carries_the_page_figures(page, start_app_server, tmp_path,
                                                                                 screenshot_dir):
    server = start_app_server(staff=True)
    seeder = Seeder(server)
    try:
        meeting, ids, questions = seeder.example()
        for name, (answers, days_ago) in FIRST.items():
            seeder.decision(meeting, ids[name], questions, answers, days_ago)

        page.goto(server.url)  # the first run of a fresh server is slow on a busy machine: wait for it here
        expect(page.get_by_text("Вход для сотрудников")).to_be_visible(timeout=FIRST_RUN_TIMEOUT)
        log_in(page, server)
        page.get_by_role("button", name="Этапы ОСС").click()
        expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()

        # «Активность»: three decisions of four are in — 100,00 of 120,00 votes
        go_to(page, "Активность")
        participants = metric(page, "Приняли участие (учтённые решения)")
        expect(participants.get_by_test_id("stMetricValue")).to_have_text("100,00 голосов")
        expect(participants.get_by_test_id("stMetricDelta")).to_have_text("83,33\u00a0% от 120,00")
        expect(metric(page, "Кворум").get_by_test_id("stMetricValue")).to_have_text("есть")
        expect(page.get_by_text("Обновляется автоматически каждые 10 с, пока идёт голосование.")).to_be_visible()
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(4)  # statuses ×2, by day, per question
        page.evaluate("window.__kvorumMark = 'no reload'")  # gone if the page were loaded again
        shoot(page, screenshot_dir / "activity_before.png")

        # Власова's written decision is registered elsewhere; the open page picks it up by itself
        seeder.decision(meeting, ids[LAST[0]], questions, LAST[1])
        expect(participants.get_by_test_id("stMetricValue")).to_have_text("120,00 голосов", timeout=REFRESH_TIMEOUT)
        expect(participants.get_by_test_id("stMetricDelta")).to_have_text("100,00\u00a0% от 120,00")
        assert page.evaluate("window.__kvorumMark") == "no reload"
        shoot(page, screenshot_dir / "activity.png")

        # «Итоги и протокол»: the figures of example A
        go_to(page, "Итоги и протокол")
        expect(metric(page, "Всего голосов").get_by_test_id("stMetricValue")).to_have_text("120,00")
        expect(metric(page, "Приняли участие").get_by_test_id("stMetricValue")).to_have_text("120,00")
        expect(metric(page, "Приняли участие").get_by_test_id("stMetricDelta")).to_have_text("100,00\u00a0%")
        expect(metric(page, "Кворум").get_by_test_id("stMetricValue")).to_have_text("есть")
        # the lead table: each verdict next to the percentage its majority is measured against
        lead = grid_rows(page.get_by_test_id("stDataFrame").first)
        assert [(r["Решение"], r["«За», % по правилу"]) for r in lead] == [
            ("принято", "66,67\u00a0% всех голосов"), ("не принято", "50,00\u00a0% участников"),
            ("принято", "83,33\u00a0% всех голосов")], lead
        page.get_by_text("Все показатели: голоса и проценты от участников и от всех голосов").click()
        wait_idle(page)
        shown = grid_rows(page.get_by_test_id("stExpander").filter(has_text="Все показатели")
                          .get_by_test_id("stDataFrame"))
        assert [r["№"] for r in shown] == ["1", "2", "3"], shown
        assert len(shown[0]) == 14, shown[0]  # every column was read
        assert (shown[1]["За, голосов"], shown[1]["Решение"]) == ("60,00", "не принято"), shown[1]

        # the protocol form
        page.get_by_label("Председатель общего собрания (ФИО)").fill(CHAIR)
        page.get_by_label("Секретарь общего собрания (ФИО)").fill(SECRETARY)
        page.get_by_label("Лица, проводившие подсчёт голосов (по одному в строке)").fill("\n".join(COUNTERS))
        page.get_by_role("button", name="Сохранить данные протокола").click()
        expect(page.get_by_text("Данные протокола сохранены.")).to_be_visible()
        wait_idle(page)
        drawn = page.get_by_role("spinbutton", name="day, Дата составления протокола").inner_text()
        drawn += "." + page.get_by_role("spinbutton", name="month, Дата составления протокола").inner_text()
        drawn += "." + page.get_by_role("spinbutton", name="year, Дата составления протокола").inner_text()
        shoot(page, screenshot_dir / "results.png")

        with page.expect_download() as download:
            page.get_by_role("button", name="Скачать протокол с приложениями (.zip)").click()
        package = tmp_path / "package.zip"
        download.value.save_as(package)
        assert download.value.suggested_filename == f"протокол_ОСС_{meeting}.zip"
    finally:
        seeder.close()

    with zipfile.ZipFile(package) as zf:
        assert set(zf.namelist()) == ZIP_NAMES
        assert zf.testzip() is None
        (tmp_path / "Протокол.docx").write_bytes(zf.read("Протокол.docx"))
        participants_sheet = load_workbook(io.BytesIO(zf.read("Приложение 4. Список участников.xlsx"))).active
        names = [row[2] for row in participants_sheet.iter_rows(min_row=2, values_only=True) if row[2]]
        assert sorted(names) == sorted(EXAMPLE_NAMES), names
    assert "Traceback" not in server.log()

    # the protocol as printed: LibreOffice makes the PDF, pdftotext reads it back
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed: the PDF of the protocol cannot be made here")
    out = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless",
                          "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / "Протокол.docx")],
                         capture_output=True, text=True, timeout=180)
    pdf = tmp_path / "Протокол.pdf"
    assert pdf.is_file(), out.stdout + out.stderr
    text = flat(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(screenshot_dir / "protocol_pdf")],
                   check=True)

    assert "Общее количество голосов собственников помещений в многоквартирном доме: 120,00" in text
    assert ("Количество голосов собственников, принявших участие в голосовании: 120,00 (100,00 % от общего "
            "количества голосов; собственников: 4). Кворум имеется") in text
    assert f"Председатель общего собрания: {CHAIR}" in text and f"Секретарь общего собрания: {SECRETARY}" in text
    assert drawn in text, drawn
    for p in shown:
        assert (f"По вопросу № {p['№']}: Вопрос {p['№']} ПРЕДЛОЖЕНО: Вопрос {p['№']} Проголосовали: «за» — "
                f"{p['За, голосов']} голосов ({p['За, % от участников']} % от числа проголосовавших, "
                f"{p['За, % от всех']} % от общего числа голосов); «против» — {p['Против, голосов']} "
                f"({p['Против, % от участников']} %, {p['Против, % от всех']} %); «воздержались» — "
                f"{p['Воздержались, голосов']} ({p['Воздержались, % от участников']} %, "
                f"{p['Воздержались, % от всех']} %); недействительные — {p['Недействительно, голосов']}.") in text, p
    # and those page figures are DOMAIN.md's example A
    assert [(q["За, голосов"], q["Против, голосов"], q["Воздержались, голосов"], q["Недействительно, голосов"],
             q["Решение"]) for q in shown] == [
        ("80,00", "40,00", "0,00", "0,00", "принято"), ("60,00", "0,00", "40,00", "20,00", "не принято"),
        ("100,00", "20,00", "0,00", "0,00", "принято")]
    assert [m.group(1) for m in re.finditer(r"Решение (принято|не принято)\.", text)] == [
        "принято", "не принято", "принято"]
