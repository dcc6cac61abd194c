"""The login gate in app.py: first administrator, login, logout, staff pages hidden from visitors."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from pagekit import ADMIN_LOGIN, ADMIN_NAME, ADMIN_PASSWORD, ROOT, assert_ran_cleanly, button, text_input, texts
from services.auth import get_user
from services.first_run import TOKEN_FILE, setup_code
from services.models import User
from ui.state import PAGE_VOTE

#: every page file but the owners' voting page, the one page a visitor may open
STAFF_PAGES = sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if f"pages/{p.name}" != PAGE_VOTE)


def fill_first_admin(at, *, username="boss", full_name="Ольга Викторовна Смирнова",
                     password="kvartira-42", password2=None, code=None):
    # the one-time code the server printed in its log (and keeps in the data folder)
    text_input(at, "Код первого запуска").input(setup_code(Path(os.environ["KVORUM_DATA_DIR"])) if code is None else code)
    text_input(at, "Имя пользователя (логин)").input(username)
    text_input(at, "ФИО сотрудника").input(full_name)
    text_input(at, "Пароль (не короче 8 символов)").input(password)
    text_input(at, "Пароль ещё раз").input(password if password2 is None else password2)
    return button(at, "Создать администратора").click().run()


def log_in(at, username, password):
    text_input(at, "Имя пользователя").input(username)
    text_input(at, "Пароль").input(password)
    return button(at, "Войти").click().run()


def usernames(session_factory) -> list[str]:
    with session_factory() as s:
        return list(s.scalars(select(User.username)))


def test_empty_database_asks_for_the_first_administrator(app):
    at = app.run()
    assert_ran_cleanly(at)
    assert texts(at.subheader) == ["Первый запуск: создайте администратора"]
    assert button(at, "Создать администратора")
    assert not [b for b in at.button if b.label == "Войти"]


def test_creating_the_first_administrator_logs_in_and_opens_the_meetings(app, session_factory):
    at = fill_first_admin(app.run())
    assert_ran_cleanly(at)
    assert usernames(session_factory) == ["boss"]
    assert texts(at.title) == ["Собрания собственников"]
    assert "Вы вошли как **Ольга Викторовна Смирнова** (администратор)" in texts(at.sidebar.caption)
    assert at.session_state["user"].username == "boss"


def test_the_first_administrator_needs_the_code_from_the_server_log(app, session_factory, tmp_path):
    """Any visitor of a fresh server used to become its administrator."""
    at = fill_first_admin(app.run(), code="ABCDEF-123456-7890AB")
    assert texts(at.error)[0].startswith("Неверный код первого запуска.")
    assert usernames(session_factory) == []
    at = fill_first_admin(at, code="")
    assert texts(at.error)[0].startswith("Неверный код первого запуска.")
    assert usernames(session_factory) == []
    code = (tmp_path / TOKEN_FILE).read_text().strip()
    assert (tmp_path / TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    at = fill_first_admin(at, code=code.lower())  # typed in lower case: still the code
    assert usernames(session_factory) == ["boss"]
    assert not (tmp_path / TOKEN_FILE).exists()  # one-time


@pytest.mark.parametrize("over,message", [
    ({"password2": "kvartira-43"}, "Пароли не совпадают."),
    ({"password": "short", "password2": "short"}, "Пароль должен быть не короче 8 символов."),
    ({"password": "12345678901", "password2": "12345678901"}, "Пароль не должен состоять только из цифр."),
    ({"username": ""}, "Укажите имя пользователя."),
])
def test_rejected_first_administrator_is_not_created(app, session_factory, over, message):
    at = fill_first_admin(app.run(), **over)
    assert texts(at.error) == [message]
    assert usernames(session_factory) == []
    assert at.session_state["user"] is None
    assert texts(at.subheader) == ["Первый запуск: создайте администратора"]


def test_with_an_account_the_gate_shows_the_login_form(app, admin):
    at = app.run()
    assert texts(at.subheader) == ["Вход для сотрудников"]
    assert not [b for b in at.button if b.label == "Создать администратора"]


def test_wrong_password_shows_a_message_and_keeps_the_visitor_out(app, admin):
    at = log_in(app.run(), ADMIN_LOGIN, "not-the-password")
    assert texts(at.error) == ["Неверное имя пользователя или пароль."]
    assert at.session_state["user"] is None
    assert texts(at.title) == ["Kvorum"]
    assert not at.sidebar.button


def test_unknown_user_gets_the_same_message_as_a_wrong_password(app, admin):
    at = log_in(app.run(), "nobody", ADMIN_PASSWORD)
    assert texts(at.error) == ["Неверное имя пользователя или пароль."]


def test_right_password_logs_in(app, admin):
    at = log_in(app.run(), ADMIN_LOGIN.upper(), ADMIN_PASSWORD)
    assert_ran_cleanly(at)
    assert not at.error
    assert texts(at.title) == ["Собрания собственников"]
    assert f"Вы вошли как **{ADMIN_NAME}** (администратор)" in texts(at.sidebar.caption)


def test_the_staff_pages_include_the_first_release_pages():
    assert {"pages/meetings.py", "pages/stages.py", "pages/registry.py"} <= set(STAFF_PAGES)


@pytest.mark.parametrize("page", STAFF_PAGES)
def test_staff_pages_are_not_reachable_without_login(app, admin, page):
    at = app.run()
    # the anonymous navigation holds the login page only, so no staff page can be opened
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)
    assert texts(at.title) == ["Kvorum"]


def test_logout_returns_to_the_login_form(staff_app):
    assert texts(staff_app.title) == ["Собрания собственников"]
    at = staff_app.sidebar.button[0].click().run()
    assert at.session_state["user"] is None
    assert texts(at.subheader) == ["Вход для сотрудников"]
    with pytest.raises(ValueError):
        at.switch_page("pages/meetings.py")


def test_a_removed_account_is_logged_out_on_the_next_run(staff_app, session_factory, admin):
    with session_factory.begin() as s:
        s.get(User, admin.id).is_active = False
    assert get_user(session_factory, admin.id) is None
    at = staff_app.run()
    assert at.session_state.get("user") is None
    assert texts(at.subheader) == ["Вход для сотрудников"]


@pytest.mark.parametrize("page", STAFF_PAGES)
def test_first_visit_to_a_staff_url_on_a_fresh_server_gets_the_login_form(cold_app, admin, page, meeting_id):
    # Before app.py has run in a process, Streamlit runs a requested page file on its own.
    cold_app.session_state["meeting_id"] = meeting_id
    at = cold_app.switch_page(page).run()
    assert_ran_cleanly(at)
    assert texts(at.subheader) == ["Вход для сотрудников"]
    assert not [t for t in texts(at.title) if t != "Kvorum"]
    assert not [b for b in at.button if b.label == "Создать собрание"]
