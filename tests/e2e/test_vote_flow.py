"""An owner votes with the code from the notice e-mail, in Chromium on a phone-sized screen, and
the staff sees it: the app server sends through a real SMTP server (aiosmtpd in this process),
the notices go out with `manage.py send-notices --wait` against the server's own database, the
filled decision is downloaded as the machine-readable PDF (its QR code decoded: this owner, this
meeting) and as .docx, and the ballots are downloaded; the .docx files are opened with python-docx."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time

import docx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from browserkit import ROOT, UI_TIMEOUT, log_in, wait_idle
from tests import hang
from services.ballot_sheet import token_valid
from services.demo import create_demo_meeting
from services.models import AccessCode, Decision, OwnerRecord
from services.runtime import build_runtime
from services.settings import load_settings

pytestmark = pytest.mark.e2e

DEMO_OWNERS, DEMO_WITH_EMAIL, QUESTIONS = 48, 39, 5
CODE_RE = re.compile(r"Ваш персональный код доступа: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")
OWNER_RE = re.compile(r"Уважаемый собственник (.+)!\s+Помещение № (\S+),")
FINGERPRINT_RE = re.compile(r"Отпечаток печати ваших ответов: ([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})")
ANSWERS = ["За", "Против", "Воздержался", "За", "За"]
PHONE = {"width": 390, "height": 844}
SEND_TIMEOUT = hang.COMMAND  # s, a hang guard: 39 messages through manage.py send-notices --wait


def docx_text(data_path) -> str:
    """Every paragraph and table cell of a .docx, in order, one per line."""
    document = docx.Document(str(data_path))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.extend(c.text for c in row.cells)
    return "\n".join(lines)


def sheet_tokens(pdf: bytes) -> list:
    """The Kvorum code of each page: every page must carry one."""
    from tests.scangen import sheet_tokens as decoded

    tokens = decoded(pdf)
    assert None not in tokens
    return tokens


def grid_rows(grid) -> list[list[str]]:
    """The cells of the rows a Streamlit data grid has drawn (its accessible table mirrors the canvas)."""
    rows = grid.get_by_role("row", include_hidden=True)
    out = []
    for i in range(rows.count()):
        cells = rows.nth(i).get_by_role("gridcell", include_hidden=True)
        if cells.count():
            out.append([c.strip() for c in cells.all_inner_texts()])
    return out


def grid_headers(grid, *needed: str) -> list[str]:
    """The column titles, once the grid has drawn the `needed` ones (it draws after the script run)."""
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while True:
        headers = [h.strip() for h in grid.get_by_role("columnheader", include_hidden=True).all_inner_texts()]
        if set(needed) <= set(headers) or time.monotonic() > deadline:
            return headers
        time.sleep(0.2)


def markdown_with(page, text: str):
    return page.get_by_test_id("stMarkdownContainer").filter(has_text=text)


@pytest.fixture
def voting_server(start_app_server, smtp_server):
    """A server sending through `smtp_server`, with the demo meeting moved so that voting is open."""
    server = start_app_server(env=smtp_server.env(), staff=True)
    runtime = build_runtime(load_settings(server.env))
    try:
        meeting_id = create_demo_meeting(runtime.session_factory, today=dt.date.today() - dt.timedelta(days=15))
    finally:
        runtime.engine.dispose()
    return server, meeting_id


def server_db(server):
    return build_runtime(load_settings(server.env), migrate=False)


def send_notices(server, smtp_server, meeting_id) -> None:
    # Voting started three days ago, so the notice is past the 10-day term: --late says so knowingly.
    done = subprocess.run(
        [sys.executable, "manage.py", "send-notices", "--meeting", str(meeting_id), "--all", "--wait", "--late"],
        cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=SEND_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"без адреса эл. почты {DEMO_OWNERS - DEMO_WITH_EMAIL}" in done.stdout, done.stdout
    # the app's own background sender may take part of the queue; either way each owner gets one
    deadline = time.monotonic() + hang.COMMAND
    while len(smtp_server.messages) < DEMO_WITH_EMAIL and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1)
    assert len(smtp_server.messages) == DEMO_WITH_EMAIL


def test_an_owner_votes_with_the_emailed_code_on_a_phone_and_the_staff_sees_it(
        browser, voting_server, smtp_server, screenshot_dir, tmp_path):
    server, meeting_id = voting_server
    send_notices(server, smtp_server, meeting_id)

    # ---- the owner's e-mail: the code and the link to the voting page ----
    message = sorted(smtp_server.messages, key=lambda m: str(m["To"]))[0]
    body = message.get_body(preferencelist=("plain",)).get_content()
    [code] = CODE_RE.findall(body)
    [(name, premise)] = OWNER_RE.findall(body)
    assert f"{server.url}/vote" in body
    runtime = server_db(server)
    try:
        with runtime.session_factory() as s:
            owners = s.scalars(select(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id)).all()
            [owner_id] = [o.id for o in owners if o.name == name and o.premise.number == premise]
            assert s.scalar(select(AccessCode.first_used_at).where(AccessCode.owner_id == owner_id)) is None
    finally:
        runtime.engine.dispose()

    # ---- the owner, on a phone ----
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                locale="ru-RU")
    phone.set_default_timeout(UI_TIMEOUT)
    try:
        page = phone.new_page()
        page.goto(f"{server.url}/vote")
        expect(page.get_by_role("heading", name="Голосование собственников")).to_be_visible()
        field = page.get_by_placeholder("XXXX-XXXX-XXXX")
        expect(field).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "vote_phone_code.png"), full_page=True)
        # typed as an owner might: lower case, groups separated by spaces
        field.press_sequentially(code.lower().replace("-", " "), delay=20)
        page.get_by_role("button", name="Войти").click()

        expect(markdown_with(page, f"Собственник: {name}")).to_be_visible()
        expect(markdown_with(page, f"Помещение № {premise}")).to_be_visible()
        groups = page.get_by_role("radiogroup")
        expect(groups).to_have_count(QUESTIONS)
        for i, label in enumerate(ANSWERS):
            groups.nth(i).get_by_text(label, exact=True).click()
            wait_idle(page)
        for i, label in enumerate(ANSWERS):
            expect(groups.nth(i).get_by_role("radio", name=label)).to_be_checked()
        page.screenshot(path=str(screenshot_dir / "vote_phone_answers.png"), full_page=True)
        # no part of the page is wider than the phone's screen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width} px"

        page.get_by_role("button", name="Далее: проверить ответы").click()
        expect(page.get_by_role("heading", name="Проверьте ответы")).to_be_visible()
        for label in ANSWERS:
            expect(markdown_with(page, f"→ {label}").first).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "vote_phone_review.png"), full_page=True)
        page.get_by_role("button", name="Сохранить ответы и сформировать решение").click()

        expect(page.get_by_text("Ваши ответы сохранены.")).to_be_visible()
        wait_idle(page)
        captions = " ".join(page.get_by_test_id("stCaptionContainer").all_inner_texts())
        [fingerprint] = FINGERPRINT_RE.findall(captions)
        page.screenshot(path=str(screenshot_dir / "vote_phone_saved.png"), full_page=True)
        # the main download: the machine-readable sheet the office reads back from its scan
        with page.expect_download() as download:
            page.get_by_role("button", name="Скачать решение для подписи (PDF)").click()
        assert download.value.suggested_filename == f"решение_помещение_{premise}.pdf"
        sheet_path = tmp_path / "decision.pdf"
        download.value.save_as(sheet_path)
        wait_idle(page)
        # the .docx, second
        with page.expect_download() as download:
            page.get_by_role("button", name="Скачать решение в формате Word (.docx)").click()
        assert download.value.suggested_filename.endswith(".docx")
        decision_path = tmp_path / "decision.docx"
        download.value.save_as(decision_path)
    finally:
        phone.close()

    tokens = sheet_tokens(sheet_path.read_bytes())
    assert [(t.meeting_id, t.owner_id, t.page) for t in tokens] == [
        (meeting_id, owner_id, n) for n in range(1, len(tokens) + 1)]
    runtime = server_db(server)
    try:
        assert all(token_valid(runtime.secret_key, t) for t in tokens)
    finally:
        runtime.engine.dispose()

    text = docx_text(decision_path)
    assert text.count("РЕШЕНИЕ СОБСТВЕННИКА ПОМЕЩЕНИЯ") == 1
    assert name in text
    assert text.count("☒") == QUESTIONS and text.count("☐") == 2 * QUESTIONS
    assert fingerprint in text
    runtime = server_db(server)
    try:
        with runtime.session_factory() as s:
            [decision] = s.scalars(select(Decision).where(Decision.meeting_id == meeting_id)).all()
            assert (decision.owner_id, decision.kind, decision.status) == (owner_id, "online", "online")
            assert "-".join(decision.seal[i:i + 4].upper() for i in range(0, 16, 4)) == fingerprint
            assert s.scalar(select(AccessCode.first_used_at).where(AccessCode.owner_id == owner_id)) is not None
    finally:
        runtime.engine.dispose()

    # ---- the staff ----
    desk = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
    desk.set_default_timeout(UI_TIMEOUT)
    try:
        page = desk.new_page()
        log_in(page, server)
        page.get_by_role("button", name="Этапы ОСС").click()
        wait_idle(page)
        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_role("link", name="Уведомление собственников").click()
        expect(page.get_by_role("heading", name="Уведомление собственников")).to_be_visible()
        wait_idle(page)
        page.get_by_placeholder("Введите ФИО или номер помещения собственника").fill(name)
        page.keyboard.press("Enter")
        wait_idle(page)
        grid = page.locator('[class*="st-key-notify_editor_"]').get_by_test_id("stDataFrame")
        expect(grid).to_be_visible()
        headers = grid_headers(grid, "ФИО/Наименование", "Пошел в приложение с помощью кода")
        name_col, code_col = headers.index("ФИО/Наименование"), headers.index("Пошел в приложение с помощью кода")
        rows = grid_rows(grid)
        assert [r[code_col] for r in rows if r[name_col] == name] == ["Да"], rows
        page.screenshot(path=str(screenshot_dir / "vote_staff_notify.png"), full_page=True)

        nav.get_by_role("link", name="Решения собственников").click()
        expect(page.get_by_role("heading", name="Решения собственников")).to_be_visible()
        wait_idle(page)
        metrics = {m.get_by_test_id("stMetricLabel").inner_text().strip(): m.get_by_test_id("stMetricValue").inner_text().strip()
                   for m in page.get_by_test_id("stMetric").all()}
        assert metrics["Вошли по коду"] == "1" and metrics["Заполнено онлайн"] == "1", metrics
        assert metrics["Учтено решений"] == "0", metrics
        table = page.get_by_test_id("stDataFrame")
        expect(table).to_be_visible()
        headers = grid_headers(table, "ФИО/Наименование собственника", "Вид")
        rows = grid_rows(table)
        assert [(r[headers.index("ФИО/Наименование собственника")], r[headers.index("Вид")]) for r in rows] == [
            (name, "заполнено онлайн")], rows
        page.screenshot(path=str(screenshot_dir / "vote_staff_decisions.png"), full_page=True)

        with page.expect_download() as download:
            page.get_by_role("button", name=f"Скачать бюллетени ({DEMO_OWNERS - 1}) .docx").click()
        ballots_path = tmp_path / "ballots.docx"
        download.value.save_as(ballots_path)
    finally:
        desk.close()

    ballots = docx_text(ballots_path)
    assert ballots.count("РЕШЕНИЕ СОБСТВЕННИКА ПОМЕЩЕНИЯ") == DEMO_OWNERS - 1
    assert "☒" not in ballots and ballots.count("☐") == (DEMO_OWNERS - 1) * QUESTIONS * 3
    # the owner who answered gets no blank ballot
    owner_cells = [t.rows[0].cells[1].text for t in docx.Document(str(ballots_path)).tables
                   if t.rows[0].cells[0].text.startswith("Собственник")]
    assert len(owner_cells) == DEMO_OWNERS - 1 and name not in owner_cells


def test_the_first_visit_to_the_vote_page_on_a_fresh_server_lists_no_other_pages(page, start_app_server):
    server = start_app_server(staff=True)
    page.goto(f"{server.url}/vote")
    expect(page.get_by_role("heading", name="Голосование собственников")).to_be_visible()
    wait_idle(page)
    assert page.get_by_test_id("stSidebarNav").count() == 0, page.get_by_test_id("stSidebarNav").inner_text()
