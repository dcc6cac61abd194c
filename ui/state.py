"""Streamlit-specific shared parts: session-state keys, the cached runtime, page guards."""
from __future__ import annotations

import streamlit as st

from services.runtime import Runtime, build_runtime
from services.settings import load_settings

# Session-state keys, in one place.
USER = "user"
MEETING_ID = "meeting_id"
FLASH = "flash"  # a message to show once after a rerun: (kind, text)

MAIN_SCRIPT = "app.py"
PAGE_MEETINGS = "pages/meetings.py"
PAGE_STAGES = "pages/stages.py"
PAGE_REGISTRY = "pages/registry.py"
PAGE_NOTIFY = "pages/notify.py"
PAGE_DECISIONS = "pages/decisions.py"
PAGE_VOTE = "pages/vote.py"
PAGE_ACTIVITY = "pages/activity.py"
PAGE_USERS = "pages/users.py"
PAGE_AUDIT = "pages/audit.py"
PAGE_RESULTS = "pages/results.py"
STAFF_PAGES = (PAGE_MEETINGS, PAGE_STAGES, PAGE_REGISTRY, PAGE_NOTIFY, PAGE_DECISIONS, PAGE_ACTIVITY, PAGE_RESULTS,
               PAGE_USERS, PAGE_AUDIT)


@st.cache_resource(show_spinner=False)
def _runtime(database_url: str) -> Runtime:
    # Keyed by URL: the engine is shared by all sessions of this server process; sessions are not.
    return build_runtime(load_settings())


def runtime() -> Runtime:
    return _runtime(load_settings().database_url)


@st.cache_resource(show_spinner=False)
def _sender(database_url: str):
    """The background sender of this server process: started once, shared by every session."""
    from services.mailer import make_mailer
    from services.sender import BackgroundSender, SenderConfig

    rt = runtime()
    s = rt.settings
    config = SenderConfig(secret_key=rt.secret_key, public_url=s.public_url, mail_from=s.mail_from,
                          throttle_seconds=s.send_throttle_seconds, retry_seconds=s.send_retry_seconds,
                          max_attempts=s.send_max_attempts)
    return BackgroundSender(rt.session_factory, mailer_factory=lambda: make_mailer(s), config=config)


def ensure_sender() -> None:
    """Start the sender thread unless a separate `manage.py send-worker` does the sending."""
    settings = load_settings()
    if settings.embedded_sender:
        _sender(settings.database_url)


def session_factory():
    return runtime().session_factory


def init_state() -> None:
    st.session_state.setdefault(USER, None)
    st.session_state.setdefault(MEETING_ID, None)
    st.session_state.setdefault(FLASH, [])


def flash(kind: str, text: str) -> None:
    st.session_state.setdefault(FLASH, []).append((kind, text))


def show_flash() -> None:
    for kind, text in st.session_state.get(FLASH, []):
        {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(text)
    st.session_state[FLASH] = []


def require_staff() -> None:
    """Guard of every staff page: without a login, hand the run to the router (app.py).

    Streamlit runs a page file on its own, without app.py and its login gate, while this
    server process has not yet run app.py: with a `pages/` directory next to the main script
    it starts in the old pages-directory mode, and the first visit after a start to a URL
    such as /meetings would open the staff page to anyone. Switching to app.py runs the
    router, which also ends that mode for the process.
    """
    if st.session_state.get(USER) is None:
        st.switch_page(MAIN_SCRIPT)


def require_meeting() -> int:
    """Guard of every stage page: stop with a hint and a link when no meeting is chosen."""
    from services.errors import NotFound
    from services.meetings import get_meeting

    meeting_id = st.session_state.get(MEETING_ID)
    if meeting_id is not None:
        try:
            get_meeting(session_factory(), meeting_id)
            return meeting_id
        except NotFound:
            st.session_state[MEETING_ID] = None
    st.info("Сначала выберите собрание.")
    st.page_link(PAGE_MEETINGS, label="К списку собраний", icon=":material/list:")
    st.stop()


def back_to_stages() -> None:
    st.page_link(PAGE_STAGES, label="← К списку этапов ОСС")


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~$:"})


def md(text) -> str:
    """User-typed text for a Markdown context (titles, captions): shown as typed, never as markup."""
    return str(text).translate(_MD_SPECIAL).replace("\n", "  \n")


def current_user():
    return st.session_state.get(USER)


def require_permission(permission: str) -> None:
    """Stop a page the user's role does not open (the navigation hides it too)."""
    from services.auth import can

    require_staff()
    if not can(current_user(), permission):
        st.error("Эта страница недоступна для вашей роли. Обратитесь к администратору.")
        st.stop()


def audit(action: str, meeting_id: int | None = None, **details) -> None:
    """Record what the signed-in staff member did (counts only) in the append-only journal."""
    from services.audit import record

    user = current_user()
    record(session_factory(), actor=user.username if user else "—", action=action, meeting_id=meeting_id, **details)


def audited_export(what: str, meeting_id: int | None, make):
    """Wrap a download's data function: the export of personal data is journaled when it is made
    (Streamlit calls it on the click, outside the script run: the actor is taken now)."""
    from services.audit import record

    user = current_user()
    actor = user.username if user else "—"
    sf = session_factory()

    def data():
        payload = make()
        record(sf, actor=actor, action="export", meeting_id=meeting_id, what=what)
        return payload
    return data


def seal_check_button(meeting_id: int) -> None:
    """«Проверить печати решений»: re-check every decision's seal and report what changed."""
    from services.voting import verify_decisions

    if st.button("Проверить печати решений", icon=":material/verified:"):
        report = verify_decisions(session_factory(), secret_key=runtime().secret_key, meeting_id=meeting_id)
        if report.ok:
            st.success(f"Проверено решений: {report.decisions}. Все печати верны, ничего не изменено и не удалено.")
        else:
            st.error(f"Найдены изменения в базе данных ({len(report.problems)}):")
            for problem in report.problems:
                st.write("— " + problem)
