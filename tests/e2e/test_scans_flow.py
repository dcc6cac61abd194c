"""Issue 17 «done when», in Chromium: a stack of 200 decision sheets printed by Kvorum (downloaded
from «Сканы решений»), marked, signed and scanned (tests/scangen.py: pens, 150 dpi, rotation, upside
down, JPEG), uploaded as four PDF files, read on the server with a progress bar, one doubtful page
checked in the review queue, the batch registered, and the decisions counted on «Решения
собственников».

The meeting: the demonstration agenda (five questions: two pages a sheet) in its voting period, on
a registry of 200 owner records imported from a generated CSV (190 flats, ten shared half and half)."""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from browserkit import E2E_LOGIN, E2E_PASSWORD, log_in, wait_idle
from services.ballot_sheet import sheet_pages
from services.demo import create_demo_meeting
from services.models import Decision, DecisionAnswer, ScanPage
from services.registry import import_registry
from services.runtime import build_runtime
from services.settings import load_settings
from services.voting import _ballots, owner_ids_of, question_numbers
from tests import hang
from tests.scangen import make_stack, write_pdf

pytestmark = pytest.mark.e2e

OWNERS = 200
FILES = 4  # the stack scanned in four portions: each file well under the server's upload limit
DPI = 150
SURNAMES = ("Андреев", "Борисов", "Васильев", "Григорьев", "Дмитриев", "Егоров", "Жуков", "Зайцев", "Ильин",
            "Кузнецов", "Лебедев", "Морозов", "Новиков", "Орлов", "Павлов", "Романов", "Соколов", "Тихонов")
NAMES = ("Андрей", "Борис", "Виктор", "Григорий", "Дмитрий", "Евгений", "Иван", "Константин", "Леонид", "Михаил")
PATRONYMICS = ("Андреевич", "Борисович", "Викторович", "Иванович", "Петрович", "Сергеевич")


def registry_csv() -> bytes:
    rows = ["Номер помещения;Общая площадь;ФИО/Наименование собственника;Доля собственника;Номер документа;"
            "Дата документа"]
    record = 0
    for flat in range(1, OWNERS - 10 + 1):
        shares = ["1/2", "1/2"] if flat <= 10 else ["1"]
        for share in shares:
            record += 1
            name = (f"{SURNAMES[record % len(SURNAMES)]} {NAMES[record % len(NAMES)]} "
                    f"{PATRONYMICS[record % len(PATRONYMICS)]}")
            rows.append(f"{flat};{38 + flat % 35}.{flat % 10};{name};{share};69:40:0100{record:03d};"
                        f"{dt.date(2015 + record % 10, 1 + record % 12, 1 + record % 28):%d.%m.%Y}")
    return "\n".join(rows).encode("utf-8")


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=hang.UI_MS * 2)
    wait_idle(page)


def metric(page, label: str) -> str:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").inner_text()


def figure(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def other_analyst_login(page, server) -> float:
    """Seconds another browser takes from the login form to «Собрания собственников»."""
    context = page.context.browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
    try:
        other = context.new_page()
        other.set_default_timeout(hang.UI_MS)
        other.goto(server.url)
        expect(other.get_by_text("Вход для сотрудников")).to_be_visible()
        started = time.monotonic()
        other.get_by_label("Имя пользователя").fill(E2E_LOGIN)
        other.get_by_label("Пароль", exact=True).fill(E2E_PASSWORD)
        other.get_by_role("button", name="Войти").click()
        expect(other.get_by_role("heading", name="Собрания собственников")).to_be_visible()
        return time.monotonic() - started
    finally:
        context.close()


def test_a_scanned_stack_of_200_sheets_is_read_checked_registered_and_counted(page, start_app_server, tmp_path,
                                                                             screenshot_dir):
    server = start_app_server(staff=True)
    rt = build_runtime(load_settings(server.env))
    sf = rt.session_factory
    try:
        today = dt.date.today()
        meeting = create_demo_meeting(sf, today=today - dt.timedelta(days=17))  # voting since 5 days
        import_registry(sf, meeting_id=meeting, data=registry_csv(), filename="реестр.csv", replace=True)
        owners = owner_ids_of(sf, meeting_id=meeting)
        assert len(owners) == OWNERS

        log_in(page, server)
        page.goto(f"{server.url}/scans?meeting={meeting}")
        expect(page.get_by_role("heading", name="Сканы решений")).to_be_visible(timeout=hang.UI_MS * 2)
        wait_idle(page)
        expect(page.get_by_text(f"Для тех, кто ещё не ответил: {OWNERS} собственников.")).to_be_visible()

        # the sheets as Kvorum prints them, from the page's own button
        with page.expect_download(timeout=hang.UI_MS) as download:
            page.get_by_role("button", name="Скачать бланки решений (PDF, читаются со сканов)").click()
        printed = tmp_path / "бланки.pdf"
        download.value.save_as(printed)
        with sf() as s:  # the PDF's pages: each owner's sheet in the order the ballots are printed
            pages_meta = [(o, p) for o, _ballot in _ballots(s, meeting, owners) for p in sheet_pages(s, meeting, o)]
        started = time.monotonic()
        stack = make_stack(printed.read_bytes(), pages_meta, dpi=DPI, kind="scanner", seed=17, sloppy_rate=0.02)
        per_file = -(-len(stack) // FILES)
        paths = [write_pdf([img for img, _t in stack[i:i + per_file]], tmp_path / f"скан_{n + 1}.pdf", dpi=DPI,
                           quality=70) for n, i in enumerate(range(0, len(stack), per_file))]
        generated = time.monotonic() - started
        size_mb = sum(p.stat().st_size for p in paths) / 2 ** 20
        total = len(stack)

        idle_login = other_analyst_login(page, server)  # the baseline: another analyst's login, nothing read

        # upload, read, with the progress bar while it reads
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in paths])
        read_button = page.get_by_role("button", name="Распознать")
        expect(read_button).to_be_enabled(timeout=hang.UI_MS * 2)
        wait_idle(page)
        read_button.click()
        started = time.monotonic()
        progress = page.get_by_text(re.compile(rf"Прочитано страниц: [\d\s\u00a0\u202f]+ из {total}$"))
        expect(progress).to_be_visible(timeout=hang.UI_MS)
        seen, shot = set(), False
        summary = page.get_by_text(re.compile(rf"^Прочитано страниц: {total} \({FILES} файла, \d+ с\)"))
        while not summary.is_visible():
            try:
                text = progress.inner_text(timeout=1000)
            except Exception:  # noqa: BLE001 - the bar is gone: the summary is on its way
                page.wait_for_timeout(200)
                continue
            done = figure(text.split(" из ")[0])
            seen.add(done)
            if 0 < done < total and not shot:
                page.screenshot(path=str(screenshot_dir / "scans_reading.png"))
                shot = True
                # meanwhile another analyst signs in and gets «Собрания»: the reading is the server's, not theirs
                busy_login = other_analyst_login(page, server)
                busy_during = not summary.is_visible()
            page.wait_for_timeout(500)
            assert time.monotonic() - started < hang.COMMAND, hang.message("reading the stack", hang.COMMAND)
        read_seconds = time.monotonic() - started
        assert any(0 < d < total for d in seen), f"no progress between 0 and {total} was shown: {sorted(seen)}"
        assert shot
        wait_idle(page)
        line = summary.inner_text()
        accepted = figure(re.search(r"Принято автоматически: ([\d\s\u00a0\u202f]+)", line).group(1))
        review = figure(re.search(r"на проверку: ([\d\s\u00a0\u202f]+)\.", line).group(1))
        assert accepted + review == total and review > 0
        page.screenshot(path=str(screenshot_dir / "scans_read.png"))
        assert figure(metric(page, "Ждут проверки")) == review

        # one doubtful page checked by the analyst: confirmed as read, it leaves the queue
        form = page.get_by_test_id("stForm").filter(has_text="проверьте отметку").first
        form.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / "scans_review_card.png"))
        # a doubtful question starts unchosen: the analyst looks and chooses (here: «Нет отметки»)
        groups = form.get_by_role("radiogroup")
        for i in range(groups.count()):
            if groups.nth(i).locator("input:checked").count() == 0:
                groups.nth(i).get_by_text("Нет отметки", exact=True).click()
        form.get_by_role("button", name="Подтвердить").click()
        expect(page.get_by_text("Лист проверен: он будет внесён вместе с пакетом.")).to_be_visible()
        wait_idle(page)
        assert figure(metric(page, "Ждут проверки")) == review - 1
        assert figure(metric(page, "Проверено")) == 1

        # registering: every owner whose sheet is read or checked and signed, in one click
        register = page.get_by_role("button", name="Внести решения с проверенных листов")
        register.scroll_into_view_if_needed()
        started = time.monotonic()
        register.click()
        result = page.get_by_text(re.compile(r"^Внесено решений: "))
        expect(result).to_be_visible(timeout=hang.UI_MS * 2)
        register_seconds = time.monotonic() - started
        wait_idle(page)
        text = result.inner_text()
        registered = figure(re.search(r"Внесено решений: ([\d\s\u00a0\u202f]+)", text).group(1))
        counted = figure(re.search(r"учитываются: ([\d\s\u00a0\u202f]+)", text).group(1))
        assert registered == counted > 0
        result.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / "scans_registered.png"))
        with sf() as s:
            stored = s.scalars(select(Decision).where(Decision.meeting_id == meeting)).all()
            assert len(stored) == registered and {d.status for d in stored} == {"counted"}
            assert all(d.kind == "paper" and d.source.startswith("скан: ") for d in stored)
            numbers = question_numbers(s, meeting)
            marks = {(d.owner_id, numbers[a.question_id]): a.answer for d in stored
                     for a in s.scalars(select(DecisionAnswer).where(DecisionAnswer.decision_id == d.id))}
        # every sheet taken without a person reads what the owner marked (no mark or several: invalid)
        with sf() as s:  # the sheet the analyst checked holds the analyst's choices, not the reader's
            checked = set(s.scalars(select(ScanPage.owner_id).where(ScanPage.meeting_id == meeting,
                                                                     ScanPage.reviewed_by != "")))
        truth = {(t.owner_id, n): ("invalid" if a == "blank" else a) for _img, t in stack for n, a in t.answers.items()}
        wrong = [k for k, a in marks.items() if truth[k] != a and k[0] not in checked]
        assert not wrong, f"answers registered otherwise than marked: {wrong}"

        # the count: «Решения собственников» and «Активность» show the registered decisions
        go_to(page, "Решения собственников")
        assert figure(metric(page, "Учтено решений")) == counted
        page.screenshot(path=str(screenshot_dir / "scans_decisions_page.png"))
        go_to(page, "Сканы решений")
        # the batch and its queue are where they were left
        expect(page.get_by_role("combobox", name="Пакет сканов")).to_have_value(
            re.compile(rf"^Пакет № \d+ от .* · {total} страниц · ждут проверки: {review - 1}$"))
        print(f"\nscans flow: {total} pages ({OWNERS} sheets, {FILES} files, {size_mb:.0f} MB) generated in "
              f"{generated:.0f} s; read in the browser in {read_seconds:.1f} s ({total / read_seconds:.1f} pages/s); "
              f"accepted {accepted}, to review {review}; registered {registered} in {register_seconds:.1f} s; "
              f"another analyst's login {idle_login:.1f} s idle, {busy_login:.1f} s while reading"
              + ("" if busy_during else " (the reading ended first)"))
    finally:
        rt.engine.dispose()
