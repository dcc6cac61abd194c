"""Streamlit-specific shared parts: session-state keys, the process runtime, page guards."""
from __future__ import annotations

import functools
import json

import streamlit as st

from services import process
from services.runtime import Runtime

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
PAGE_SCANS = "pages/scans.py"
PAGE_VOTE = "pages/vote.py"
PAGE_ACTIVITY = "pages/activity.py"
PAGE_USERS = "pages/users.py"
PAGE_AUDIT = "pages/audit.py"
PAGE_RESULTS = "pages/results.py"
STAFF_PAGES = (PAGE_MEETINGS, PAGE_STAGES, PAGE_REGISTRY, PAGE_NOTIFY, PAGE_DECISIONS, PAGE_SCANS, PAGE_ACTIVITY,
               PAGE_RESULTS, PAGE_USERS, PAGE_AUDIT)
#: The permission (services.auth.can) a staff page needs beyond a login; the others open for all staff.
#: The navigation (app.py) and every page link read it, so a link never points outside the navigation.
PAGE_PERMISSION = {PAGE_REGISTRY: "view_personal", PAGE_NOTIFY: "view_personal", PAGE_DECISIONS: "view_personal",
                   PAGE_SCANS: "view_personal", PAGE_USERS: "manage_users", PAGE_AUDIT: "view_audit"}


def runtime() -> Runtime:
    """This server process's runtime (engine, session factory, key): built once per process in
    services.process, never in st.cache_resource, which any browser can clear for the process."""
    return process.runtime()


def ensure_sender() -> None:
    """Start the sender thread unless a separate `manage.py send-worker` does the sending.

    serve.py starts it with the server; this covers a plain `streamlit run app.py`, once."""
    process.ensure_sender()


def session_factory():
    return runtime().session_factory


def init_state() -> None:
    st.session_state.setdefault(USER, None)
    st.session_state.setdefault(MEETING_ID, None)
    st.session_state.setdefault(FLASH, [])


def russian_widgets() -> None:
    """Streamlit's own English texts, in Russian (app.py, once a run; static styles, no user text).

    Streamlit 1.67 has no setting for them: the uploader's «Drag and drop a file here», «Upload»
    and «60MB per file» (server.maxUploadSize), the date field's «dd», «mm», «yyyy» (its segments are
    formatted for en-US whatever the format) are fixed strings of its frontend. Each is drawn at no
    size, found by its data-testid (or react-aria's data-type), and the Russian text is put in its
    place with ::after; the limit said is the one services.spreadsheet enforces, with a Russian
    message. A chart's toolbar («Download as PNG», «Show data», «Fullscreen») is hidden: the page
    offers the figures as .xlsx. tests/e2e/test_local_and_russian.py fails when an upgrade moves them."""
    from services.spreadsheet import MAX_FILE_BYTES

    st.html(RUSSIAN_WIDGETS_CSS.replace("{limit}", f"Файл до {MAX_FILE_BYTES // 1024 // 1024}\u00a0МБ"))
    # A table's column menu (sort, pin, hide, format, statistics) has no testid per item: its words
    # are replaced where they are drawn, inside the grid's own menus only (never a user's text).
    st.html(GRID_MENU_JS, unsafe_allow_javascript=True)


#: Streamlit's words in a table's column menu and its submenus (DataFrame.*.js in Streamlit 1.67).
GRID_MENU_WORDS = {
    "Sort ascending": "По возрастанию", "Sort descending": "По убыванию", "Pin column": "Закрепить столбец",
    "Unpin column": "Открепить столбец", "Hide column": "Скрыть столбец", "Autosize": "Ширина по содержимому",
    "Format": "Формат", "Statistics": "Статистика", "Copy column name": "Скопировать название столбца",
    "Automatic": "Автоматически", "Localized": "По языку браузера", "Plain": "Без форматирования",
    "Percent": "Проценты", "Dollar": "Доллары", "Euro": "Евро", "Yen": "Иены", "Accounting": "Бухгалтерский",
    "Scientific": "Экспоненциальный", "Compact": "Сокращённо", "Calendar": "Календарный", "Distance": "Относительно",
    "Duration": "Длительность", "Average": "Среднее", "Median": "Медиана", "Minimum": "Минимум",
    "Maximum": "Максимум", "Sum": "Сумма", "Range": "Диапазон", "Count": "Количество", "Distinct": "Различных",
    "Empty": "Пустых", "Values": "Значения", "Standard deviation": "Стандартное отклонение",
    "Average length": "Средняя длина", "Minimum length": "Минимальная длина", "Maximum length": "Максимальная длина",
    "Select all": "Выбрать все",
}
_GRID_MENUS = ", ".join(f'[data-testid="{m}"]' for m in (
    "stDataFrameColumnMenu", "stDataFrameColumnFormattingMenu", "stDataFrameStatisticsMenu",
    "stDataFrameColumnVisibilityMenu"))
GRID_MENU_JS = """<script>
(() => {
  if (window.__kvorumGridMenu) return;  // once per page load: st.html runs again on every rerun
  window.__kvorumGridMenu = true;
  const words = __WORDS__;
  const menus = '__MENUS__';
  const translate = root => {
    root.querySelectorAll(menus).forEach(menu => {
      const walker = document.createTreeWalker(menu, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const ru = words[n.nodeValue.trim()];
        if (ru) n.nodeValue = ru;
      }
      menu.querySelectorAll('[title], [aria-label]').forEach(e => {
        for (const a of ['title', 'aria-label']) { const ru = words[e.getAttribute(a)]; if (ru) e.setAttribute(a, ru); }
      });
    });
  };
  // only what was just added is looked at (a menu opens as a new popover): a page's own rendering
  // adds thousands of nodes, and a search of the whole document for each batch would slow it down
  new MutationObserver(records => {
    for (const r of records) for (const node of r.addedNodes) {
      if (node.nodeType !== 1) continue;
      if (node.matches(menus) || node.querySelector(menus) || node.closest(menus)) { translate(document); return; }
    }
  }).observe(document.body, {childList: true, subtree: true});
})();
</script>""".replace("__WORDS__", json.dumps(GRID_MENU_WORDS, ensure_ascii=False)).replace("__MENUS__", _GRID_MENUS)


# A table's toolbar: Streamlit's English tip of the hovered button, by the button's aria-label, in Russian.
# Only one tip is open at a time, the hovered button's: the page (body) is matched while that button is hovered.
_TOOLBAR_LABELS = {
    "Search": "Поиск по таблице", "Fullscreen": "Во весь экран", "Close fullscreen": "Выйти из полноэкранного режима",
    "Show/hide columns": "Показать или скрыть столбцы", "Add row": "Добавить строку", "Delete row(s)": "Удалить строки",
    "Clear selection": "Снять выделение", "Edit": "Изменить", "Save (": "Сохранить", "Cancel (": "Отменить",
}
_TIP_TEXT = '[data-testid="stTooltipContent"] [data-testid="stMarkdownContainer"] p'
_TOOLBAR_TIPS = "\n".join(
    f'body:has([data-testid="stElementToolbarButton"] button[aria-label^="{english}"]:hover) {_TIP_TEXT}'
    f' {{ font-size: 0; }}\n'
    f'body:has([data-testid="stElementToolbarButton"] button[aria-label^="{english}"]:hover) {_TIP_TEXT}::after'
    f' {{ content: "{russian}"; font-size: 0.875rem; }}'
    for english, russian in _TOOLBAR_LABELS.items())
_DROPZONE = '[data-testid="stFileUploaderDropzone"]'
_SEGMENT = '[data-testid="stDateInputField"] [role="spinbutton"][data-placeholder="true"]'
RUSSIAN_WIDGETS_CSS = f"""<style>
{_DROPZONE} button[data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"] p,
[data-testid="stFileUploaderDropzoneInstructions"] > div > span,
{_DROPZONE} > div:not([data-testid]):not(:has([data-testid])) > span,
{_SEGMENT} {{ font-size: 0; }}
{_DROPZONE} button[data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"] p::after
  {{ content: "Выбрать файл"; font-size: 0.875rem; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div > span::after {{ content: "{{limit}}"; font-size: 0.875rem; }}
{_DROPZONE} > div:not([data-testid]):not(:has([data-testid])) > span::after
  {{ content: "Перетащите файл сюда"; font-size: 1rem; }}
{_SEGMENT}[data-type="day"]::after {{ content: "ДД"; font-size: 1rem; }}
{_SEGMENT}[data-type="month"]::after {{ content: "ММ"; font-size: 1rem; }}
{_SEGMENT}[data-type="year"]::after {{ content: "ГГГГ"; font-size: 1rem; }}
[data-testid="stFullScreenFrame"]:has([data-testid="stVegaLiteChart"]) [data-testid="stElementToolbar"]
  {{ display: none; }}
[data-testid="stElementToolbarButton"]:has(button[aria-label^="Download as CSV"]) {{ display: none; }}
[data-testid="stFileChipName"] ~ * {{ display: none; }}
{_TOOLBAR_TIPS}
</style>"""


#: The frontend modules of the elements the staff pages draw (Streamlit loads each on the first page that
#: shows one): fetched and compiled while the analyst is still on «Собрания», not on the first click.
PRELOADED_ELEMENTS = ("DataFrame", "DateInput", "DateField", "Radio", "Selectbox", "TextInput", "TextField", "Input",
                      "FileUploader", "ArrowVegaLiteChart", "loadVegaEmbed", "embed", "Checkbox", "DownloadButton",
                      "Metric", "IFrame", "Multiselect", "Toast", "ButtonGroup", "FormClearHelper",
                      "InputInstructions", "WidgetLabel", "WidgetLabelHelpIcon", "WidgetLabelHelpIconInline",
                      "Tooltip", "Text", "BaseButton", "Button", "PageLink", "UploadFileInfo", "IFrameUtil",
                      "checkboxIndicatorStyles", "inputUtils", "Autocomplete")


@functools.cache
def preloaded_files() -> tuple[str, ...]:
    """The hashed file names of PRELOADED_ELEMENTS in this Streamlit's static folder (read once)."""
    from pathlib import Path

    static = Path(st.__file__).parent / "static" / "static" / "js"
    return tuple(sorted(p.name for p in static.glob("*.js") if p.name.split(".")[0] in PRELOADED_ELEMENTS))


def preload_elements() -> None:
    """<link rel="modulepreload"> for PRELOADED_ELEMENTS' hashed files in Streamlit's static folder
    (app.py, once a signed-in run; static names only)."""
    names = preloaded_files()
    base = "/" + (st.get_option("server.baseUrlPath") or "").strip("/")
    links = "".join(f"const l{i} = document.createElement('link'); l{i}.rel = 'modulepreload'; "
                    f"l{i}.href = {json.dumps(base.rstrip('/') + '/static/js/' + n)}; document.head.appendChild(l{i});"
                    for i, n in enumerate(names))
    st.html(f"<script>if (!window.__kvorumPreload) {{ window.__kvorumPreload = true; {links} }}</script>",
            unsafe_allow_javascript=True)


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
            choose_meeting(None)
    st.info("Сначала выберите собрание.")
    page_link(PAGE_MEETINGS, label="К списку собраний", icon=":material/list:")
    st.stop()


def choose_meeting(meeting_id: int | None) -> None:
    """The meeting the stage pages show, in the session and in the address (?meeting=N): a reload,
    a bookmark or a link sent to a colleague opens the same meeting."""
    st.session_state[MEETING_ID] = meeting_id
    if meeting_id is None:
        st.query_params.pop(ADDRESS_MEETING, None)
    else:
        st.query_params[ADDRESS_MEETING] = str(meeting_id)


ADDRESS_MEETING = "meeting"


def meeting_in_address() -> None:
    """app.py, on every signed-in run: a fresh session (a reload, a new tab, a bookmark) takes the
    meeting from the address; otherwise the address follows the session's choice (a page switch
    in the sidebar drops the query)."""
    from services.errors import NotFound
    from services.meetings import get_meeting

    chosen = st.session_state.get(MEETING_ID)
    given = str(st.query_params.get(ADDRESS_MEETING) or "")
    if chosen is None and given.isdigit() and len(given) < 12:
        try:
            get_meeting(session_factory(), int(given))
        except NotFound:
            st.query_params.pop(ADDRESS_MEETING, None)
        else:
            st.session_state[MEETING_ID] = int(given)
    elif chosen is not None and given != str(chosen):
        st.query_params[ADDRESS_MEETING] = str(chosen)


def back_to_stages() -> None:
    page_link(PAGE_STAGES, label="← К списку этапов ОСС")


def may_open(path: str, user=None) -> bool:
    """Whether the page is in this user's navigation (the signed-in one by default): the owners'
    page for anyone, staff pages after a login and with the page's permission."""
    from services.auth import can

    if path == PAGE_VOTE:
        return True
    user = user if user is not None else current_user()
    if user is None:
        return False
    needed = PAGE_PERMISSION.get(path)
    return needed is None or can(user, needed)


def page_link(path: str, *, label: str, icon: str | None = None, unavailable: str | None = None) -> None:
    """st.page_link, only to a page the user may open: Streamlit fails the whole page with an English
    error screen on a link to a page outside the navigation. Otherwise the `unavailable` caption, if any."""
    if may_open(path):
        st.page_link(path, label=label, icon=icon)
    elif unavailable:
        st.caption(unavailable)


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
        show_check(verify_decisions(session_factory(), secret_key=runtime().secret_key, meeting_id=meeting_id))


def show_check(report) -> None:
    """A seal check's verdict (VerifyReport, JournalReport) and what changed, as plain text."""
    (st.success if report.ok else st.error)(report.verdict)
    for problem in report.problems:
        st.text("— " + problem)


LAST_SEEN = "last_seen"  # monotonic time of the last full run of a staff session: the idle timeout


def session_lapsed() -> bool:
    """The signed-in account was disabled or removed, or the session sat idle past the timeout.

    app.py checks it on every full run; a self-refreshing fragment (Активность) runs without
    app.py and must check it itself, else a disabled account's open tab keeps receiving figures."""
    import time

    from services.auth import IDLE_TIMEOUT, get_user

    user = current_user()
    if user is None or get_user(session_factory(), user.id) is None:
        return True
    last = st.session_state.get(LAST_SEEN)
    return last is not None and time.monotonic() - last > IDLE_TIMEOUT.total_seconds()


def guard_fragment() -> None:
    """First line of a fragment that reruns by itself: a lapsed session reruns the whole app,
    whose router signs it out, instead of refreshing the fragment."""
    if session_lapsed():
        st.rerun(scope="app")
