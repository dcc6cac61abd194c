"""The shared server and the staff login fixtures that later browser tests build on."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browserkit import E2E_LOGIN, E2E_NAME

pytestmark = pytest.mark.e2e


def test_staff_page_is_logged_in_on_the_meetings_page(staff_page):
    expect(staff_page.get_by_role("heading", name="Собрания собственников")).to_be_visible()
    expect(staff_page.get_by_text("Вы вошли как")).to_contain_text(E2E_NAME)


def test_wrong_password_keeps_the_visitor_at_the_login_form(page, app_server):
    page.goto(app_server.url)
    page.get_by_label("Имя пользователя").fill(E2E_LOGIN)
    page.get_by_label("Пароль", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text("Неверное имя пользователя или пароль.")).to_be_visible()
    expect(page.get_by_role("heading", name="Собрания собственников")).to_have_count(0)


def test_a_staff_url_without_login_shows_the_login_form(page, app_server):
    page.goto(f"{app_server.url}/registry")
    expect(page.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
    expect(page.get_by_role("heading", name="Реестр собственников")).to_have_count(0)
