"""Notifying the owners of the demo meeting in a real browser: «Выбрать всех», «Отправить
уведомления», the confirmation, the background sender, the dates in the table — to a real SMTP
server (aiosmtpd in this process) and, without SMTP, to the outbox folder."""
from __future__ import annotations

import datetime as dt
import re
from email import policy
from email.parser import BytesParser

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, func, select

from browserkit import log_in, seed_demo_registry, wait_idle
from tests import hang
from services.models import Delivery, SendJob

pytestmark = pytest.mark.e2e

DEMO_OWNERS, DEMO_WITH_EMAIL = 48, 39
CODE_RE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
SUBJECT = "Сообщение о проведении общего собрания собственников помещений: г. Москва, ул. Садовая, д. 10"
SEND_TIMEOUT = hang.COMMAND * 1000  # ms, a hang guard: 39 messages through the background sender
TODAY = f"{dt.date.today():%d.%m.%Y}"
TICK_WIDTH, ROW_HEIGHT = 95, 35  # px: the «Выбрать» column's configured width; the grid's row height


def counts(server) -> tuple[int, dict[str, int]]:
    """(send jobs, e-mail deliveries by status) in the server's database."""
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            jobs = conn.scalar(select(func.count()).select_from(SendJob))
            by_status = dict(conn.execute(select(Delivery.status, func.count()).where(Delivery.channel == "email")
                                          .group_by(Delivery.status)).all())
    finally:
        engine.dispose()
    return jobs, by_status


def open_demo_notify_page(page, server) -> None:
    seed_demo_registry(server)  # the demonstration registry, before any notice
    log_in(page, server)
    page.get_by_role("button", name="Этапы ОСС").first.click()
    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Уведомление собственников").click()
    expect(page.get_by_role("heading", name="Уведомление собственников")).to_be_visible()
    expect(page.get_by_role("heading", name="Сведения о")).to_contain_text(f"Сведения о {DEMO_OWNERS} собственниках")
    wait_idle(page)
    expect(grid(page).get_by_role("columnheader", include_hidden=True).first).to_be_attached()
    # the server's PUBLIC_URL is 127.0.0.1 (the browser is on this machine): sending is blocked
    # until the analyst confirms that link
    expect(page.get_by_text("ведёт на этот компьютер")).to_be_visible()
    expect(page.get_by_role("button", name="Выбрать всех")).to_be_visible()
    page.get_by_text(re.compile(r"/vote верна: собственники откроют её")).click()
    wait_idle(page)


def grid(page):
    return page.locator('[class*="st-key-notify_editor_"]').get_by_test_id("stDataFrame")


def grid_rows(page) -> list[list[str]]:
    """The cells of the rows the grid has drawn (its accessible table mirrors the canvas)."""
    rows = grid(page).get_by_role("row", include_hidden=True)
    out = []
    for i in range(rows.count()):
        cells = rows.nth(i).get_by_role("gridcell", include_hidden=True)
        if cells.count():
            out.append([c.strip() for c in cells.all_inner_texts()])
    return out


def column(page, title: str) -> int:
    expect(grid(page).get_by_role("columnheader", name=title, include_hidden=True)).to_be_attached()
    headers = grid(page).get_by_role("columnheader", include_hidden=True).all_inner_texts()
    return [h.strip() for h in headers].index(title)


def send_selected(page, count: int, with_email: int, *, double_click: bool = False) -> None:
    page.get_by_role("button", name=f"Отправить уведомления ({count})").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Собственников с адресом эл. почты: {with_email}")
    confirm = dialog.get_by_role("button", name="Отправить", exact=True)
    if double_click:
        confirm.dblclick()
    else:
        confirm.click()
    expect(dialog).to_have_count(0)


def test_demo_owners_get_one_notice_each_by_smtp(page, start_app_server, smtp_server, screenshot_dir):
    server = start_app_server(env=smtp_server.env(), staff=True)
    open_demo_notify_page(page, server)
    expect(page.get_by_text(f"Доставка: SMTP-сервер 127.0.0.1:{smtp_server.port} (none).")).to_be_visible()
    # the filter's two options fit their column (a narrower one scrolls the group and cuts the first)
    group = page.get_by_role("radiogroup", name="Кого показать")
    assert group.evaluate("e => e.scrollWidth <= e.clientWidth"), group.evaluate("e => [e.scrollWidth, e.clientWidth]")
    page.screenshot(path=str(screenshot_dir / "notify_before.png"), full_page=True)

    page.get_by_role("button", name="Выбрать всех").click()
    wait_idle(page)
    expect(page.get_by_text(f"Выбрано: {DEMO_OWNERS}")).to_be_visible()
    page.get_by_role("button", name=f"Отправить уведомления ({DEMO_OWNERS})").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Собственников с адресом эл. почты: {DEMO_WITH_EMAIL}")
    expect(dialog).to_contain_text(f"Без адреса эл. почты: {DEMO_OWNERS - DEMO_WITH_EMAIL}")
    page.screenshot(path=str(screenshot_dir / "notify_confirm.png"))
    # a double click on the confirmation queues one job
    dialog.get_by_role("button", name="Отправить", exact=True).dblclick()

    done = page.get_by_text(f"Уведомления успешно отправлены: {DEMO_WITH_EMAIL}.")
    expect(done).to_be_visible(timeout=SEND_TIMEOUT)
    expect(page.get_by_text(f"Без эл. почты: {DEMO_OWNERS - DEMO_WITH_EMAIL}")).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(screenshot_dir / "notify_sent.png"), full_page=True)

    # the table: newest notice first, so the top rows carry today's date and «Нет» for the code
    date_col, code_col = column(page, "Дата последней отправки уведомления"), column(page, "Пошел в приложение с помощью кода")
    rows = grid_rows(page)
    assert len(rows) >= 5, rows
    assert all(r[date_col] == TODAY and r[code_col] == "Нет" for r in rows[:5]), rows[:5]
    expect(page.get_by_role("button", name="Отправить уведомления (0)")).to_be_disabled()

    # the SMTP server: 39 messages, 39 recipients, 39 different codes, the Russian subject decoded
    messages = smtp_server.messages
    assert len(messages) == DEMO_WITH_EMAIL
    assert {str(m["Subject"]) for m in messages} == {SUBJECT}
    assert len({str(m["To"]) for m in messages}) == DEMO_WITH_EMAIL
    codes = set()
    for m in messages:
        found = set(CODE_RE.findall(m.get_body(preferencelist=("plain",)).get_content()))
        assert len(found) == 1, found
        codes |= found
    assert len(codes) == DEMO_WITH_EMAIL
    assert counts(server) == (1, {"sent": DEMO_WITH_EMAIL, "skipped": DEMO_OWNERS - DEMO_WITH_EMAIL})

    # A second round: those left unnotified have no e-mail, so nothing can go to them by mail.
    page.get_by_role("radio", name="Показать неуведомлённых").click()
    wait_idle(page)
    page.get_by_role("button", name="Выбрать всех").click()
    wait_idle(page)
    left = DEMO_OWNERS - DEMO_WITH_EMAIL
    page.get_by_role("button", name=f"Отправить уведомления ({left})").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Ни у кого из выбранных нет адреса эл. почты")
    expect(dialog.get_by_role("button", name="Отправить", exact=True)).to_be_disabled()
    page.screenshot(path=str(screenshot_dir / "notify_second_round.png"))
    dialog.get_by_role("button", name="Отмена").click()
    expect(dialog).to_have_count(0)

    # a reload (a new Streamlit session: the login and the meeting come back from the session cookie
    # and the address, issue 16 item 4) and a while later: still one job, nothing sent twice
    page.reload()
    expect(page.get_by_role("heading", name="Уведомление собственников")).to_be_visible()
    expect(page.get_by_text("Вход для сотрудников")).to_have_count(0)
    wait_idle(page)
    page.screenshot(path=str(screenshot_dir / "notify_reloaded.png"))
    expect(page.get_by_text("Отправка уведомлений:")).to_have_count(0)
    expect(page.get_by_role("button", name="Отправить уведомления (0)")).to_be_visible()
    page.wait_for_timeout(3000)
    assert len(smtp_server.messages) == DEMO_WITH_EMAIL
    assert counts(server) == (1, {"sent": DEMO_WITH_EMAIL, "skipped": DEMO_OWNERS - DEMO_WITH_EMAIL})


def tick_first_row(page) -> None:
    """Click the checkbox of the first row on the grid's canvas (scrolled into view first: the
    warnings above it may push it below the fold, where a click at its coordinates hits nothing)."""
    grid(page).scroll_into_view_if_needed()
    box = grid(page).bounding_box()
    page.mouse.click(box["x"] + TICK_WIDTH / 2, box["y"] + ROW_HEIGHT + ROW_HEIGHT / 2)
    wait_idle(page)


def test_without_smtp_a_ticked_owner_and_then_the_rest_go_to_the_outbox(page, start_app_server, screenshot_dir):
    server = start_app_server(staff=True)
    open_demo_notify_page(page, server)
    expect(page.get_by_text("Доставка: SMTP не настроен")).to_be_visible()

    # one owner ticked by hand in a search, kept through clearing the search and another sort
    page.get_by_placeholder("Введите ФИО или номер помещения собственника").fill("волков")
    page.keyboard.press("Enter")
    wait_idle(page)
    name_col = column(page, "ФИО/Наименование")
    assert [r[name_col] for r in grid_rows(page)] == ["Волков Дмитрий Андреевич", "Волкова Татьяна Михайловна"]
    tick_first_row(page)
    expect(page.get_by_text("Выбрано: 1")).to_be_visible()
    page.get_by_placeholder("Введите ФИО или номер помещения собственника").fill("")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.screenshot(path=str(screenshot_dir / "notify_one_ticked.png"))
    expect(page.get_by_text("Выбрано: 1")).to_be_visible()
    send_selected(page, 1, 1)
    # without SMTP nothing reaches the owners: the page says where the notices went
    expect(page.get_by_text("Уведомления записаны в папку outbox: 1. Почтовый сервер не настроен — собственникам "
                            "они не отправлены.")).to_be_visible(timeout=SEND_TIMEOUT)
    expect(page.get_by_text("успешно отправлены")).to_have_count(0)
    outbox = server.data_dir / "outbox"
    files = sorted(outbox.rglob("*.eml"))
    assert len(files) == 1
    first = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert str(first["To"]) == "owner9@example.ru"

    # the rest: the filter shows those not notified yet, «Выбрать всех» takes exactly them
    page.get_by_role("radio", name="Показать неуведомлённых").click()
    wait_idle(page)
    page.get_by_role("button", name="Выбрать всех").click()
    wait_idle(page)
    send_selected(page, DEMO_OWNERS - 1, DEMO_WITH_EMAIL - 1, double_click=True)
    expect(page.get_by_text(f"Уведомления записаны в папку outbox: {DEMO_WITH_EMAIL - 1}.")).to_be_visible(
        timeout=SEND_TIMEOUT)
    wait_idle(page)

    files = sorted(outbox.rglob("*.eml"))
    assert len(files) == DEMO_WITH_EMAIL
    messages = [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in files]
    assert len({str(m["To"]) for m in messages}) == DEMO_WITH_EMAIL
    assert {str(m["Subject"]) for m in messages} == {SUBJECT}
    codes = {c for m in messages for c in CODE_RE.findall(m.get_body(preferencelist=("plain",)).get_content())}
    assert len(codes) == DEMO_WITH_EMAIL
    assert counts(server) == (2, {"sent": DEMO_WITH_EMAIL, "skipped": DEMO_OWNERS - DEMO_WITH_EMAIL})

    outbox_box = page.get_by_text(f"Папка исходящих (SMTP не настроен): писем {DEMO_WITH_EMAIL}")
    expect(outbox_box).to_be_visible()
    outbox_box.click()
    # each letter is listed by its time and recipient
    expect(page.get_by_role("button", name=f"— {messages[-1]['To']}")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "notify_outbox.png"), full_page=True)
