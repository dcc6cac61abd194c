"""Kvorum: the only router. Staff pages exist in the navigation only after a login."""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from services.audit import record
from services.auth import IDLE_TIMEOUT, ROLES, authenticate, get_user
from services.first_run import announce_setup_code, create_first_admin_with_code
from services import web_sessions
from services.errors import DomainError
from ui import browser, client, state

# A local icon, served by this server: a material icon or an emoji as page_icon is fetched by the
# browser from Google's or jsDelivr's servers, and no request leaves the machine.
st.set_page_config(page_title="Kvorum — ОСС в МКД", page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
                   layout="wide")
state.init_state()
state.russian_widgets()
LAST_SEEN = state.LAST_SEEN
# Queued notices are sent, and an interrupted job resumes, as soon as the server process runs.
state.ensure_sender()


def login_page() -> None:
    sf = state.session_factory()
    st.title("Kvorum")
    st.caption("Общее собрание собственников помещений в МКД в форме заочного голосования")
    data_dir = state.runtime().settings.data_dir
    if announce_setup_code(sf, data_dir):
        st.subheader("Первый запуск: создайте администратора")
        st.write("Учётная запись администратора нужна, чтобы работать с реестром, уведомлениями и итогами. "
                 "Страница голосования собственников открыта без входа.")
        st.info("Создать администратора может только тот, кто запустил сервер: введите код первого запуска "
                "из журнала сервера (он же — в файле first-admin-code.txt в папке данных). Или создайте "
                "администратора командой `python manage.py create-user --role admin`.")
        with st.form("first_admin", enter_to_submit=False):
            setup_code = st.text_input("Код первого запуска", max_chars=40, autocomplete="off")
            username = st.text_input("Имя пользователя (логин)")
            full_name = st.text_input("ФИО сотрудника")
            password = st.text_input("Пароль (не короче 8 символов)", type="password")
            password2 = st.text_input("Пароль ещё раз", type="password")
            if st.form_submit_button("Создать администратора", type="primary"):
                if password != password2:
                    st.error("Пароли не совпадают.")
                else:
                    try:
                        user = create_first_admin_with_code(sf, data_dir, code=setup_code, username=username,
                                                            password=password, full_name=full_name)
                    except DomainError as exc:
                        st.error(exc.message)
                        for line in exc.details:
                            st.write(f"— {line}")
                    else:
                        st.session_state[state.USER] = user
                        browser.sign_in("staff", user_id=user.id)
                        st.rerun()
        return
    st.subheader("Вход для сотрудников")
    with st.form("login", enter_to_submit=False):
        username = st.text_input("Имя пользователя")
        password = st.text_input("Пароль", type="password")
        if st.form_submit_button("Войти", type="primary"):
            try:
                user = authenticate(sf, username=username, password=password, client_address=client.client_address(),
                                    secret_key=state.runtime().secret_key)
            except DomainError as exc:
                st.error(exc.message)
            else:
                st.session_state[state.USER] = user
                browser.sign_in("staff", user_id=user.id)
                st.rerun()


def logout(action: str = "logout") -> None:
    user = st.session_state.get(state.USER)
    if user is not None:
        record(state.session_factory(), actor=user.username, action=action)
    browser.sign_out("staff")  # the server-side session ends: a reload shows the login
    browser.sign_out("owner")  # and a ballot a colleague opened with an owner's code on this browser
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if action == "session_expired":
        st.session_state[state.FLASH] = [("info", "Сеанс завершён после 30 минут без действий. Войдите снова.")]


user = st.session_state.get(state.USER)
if user is None:
    # a reload, or a second tab: the signed session cookie of a login still live (services/web_sessions.py)
    restored = browser.restore("staff")
    user = get_user(state.session_factory(), restored.user_id) if restored is not None else None
    if user is not None:
        st.session_state[state.USER] = user
        st.session_state[LAST_SEEN] = time.monotonic()
        browser.keep()
    elif restored is not None:
        browser.sign_out("staff")
if user is not None and browser.moved():
    # This session's id was presented by another browser (a second websocket): not the one that
    # signed in, so it is signed out rather than handed over.
    logout("session_moved")
    user = None
if user is not None and get_user(state.session_factory(), user.id) is None:
    # the account was removed or disabled since the login
    logout()
    user = None
now = time.monotonic()
if user is not None:
    # the idle timeout: the server-side session's, shared by the browser's tabs (a tab left alone is
    # not signed out while another is in use); this tab's own clock only without one
    where = browser.session_state("staff")
    if where == web_sessions.IDLE or (where is None and
                                      now - st.session_state.get(LAST_SEEN, now) > IDLE_TIMEOUT.total_seconds()):
        logout("session_expired")
        user = None
    elif where == web_sessions.ENDED:
        # ended elsewhere: a logout in another tab, a disabled account, a password reset
        logout("session_ended")
        user = None
st.session_state[LAST_SEEN] = now
if user is not None:
    browser.keep()

if user is None:
    pages = [st.Page(login_page, title="Вход", icon=":material/login:", url_path="login", default=True),
             st.Page(state.PAGE_VOTE, title="Голосование", icon=":material/how_to_vote:", url_path="vote")]
    # A bookmarked staff address shows the login (not «Page not found»), and after the login the
    # same address opens its page.
    pages += [st.Page(login_page, title="Вход", icon=":material/login:", url_path=Path(path).stem)
              for path in state.STAFF_PAGES]
    st.navigation(pages, position="hidden").run()
else:
    with st.sidebar:
        st.caption(f"Вы вошли как **{state.md(user.full_name or user.username)}** ({ROLES[user.role].lower()})")
        st.button("Выйти", on_click=logout, icon=":material/logout:")
        browser.hand_over("staff")
        state.preload_elements()
    state.meeting_in_address()
    def nav(*pages: tuple[str, str, str]) -> list:
        """Only the pages this role may open (state.may_open): page links read the same rule."""
        return [st.Page(path, title=title, icon=icon, default=path == state.PAGE_MEETINGS,
                        url_path="vote" if path == state.PAGE_VOTE else None)
                for path, title, icon in pages if state.may_open(path, user)]

    sections = {
        "Собрания": nav((state.PAGE_MEETINGS, "Собрания", ":material/list:"),
                        (state.PAGE_STAGES, "Этапы ОСС", ":material/checklist:")),
        "Этапы": nav((state.PAGE_REGISTRY, "Реестр собственников", ":material/groups:"),
                     (state.PAGE_NOTIFY, "Уведомление собственников", ":material/mail:"),
                     (state.PAGE_DECISIONS, "Решения собственников", ":material/ballot:"),
                     (state.PAGE_SCANS, "Сканы решений", ":material/document_scanner:"),
                     (state.PAGE_ACTIVITY, "Активность", ":material/monitoring:"),
                     (state.PAGE_RESULTS, "Итоги и протокол", ":material/description:")),
        "Для собственников": nav((state.PAGE_VOTE, "Страница голосования", ":material/how_to_vote:")),
        "Администрирование": nav((state.PAGE_USERS, "Сотрудники", ":material/manage_accounts:"),
                                 (state.PAGE_AUDIT, "Журнал действий", ":material/history:")),
    }
    sections = {name: pages for name, pages in sections.items() if pages}
    st.navigation(sections).run()
