"""Roles in the pages: an observer sees meetings, charts and results, never owners' personal data;
only an administrator manages staff and reads the journal; staff actions land in the journal."""
from __future__ import annotations

from pathlib import Path

import pytest
from pagekit import TIMEOUT, assert_ran_cleanly, texts

from services.audit import audit_frame
from services.auth import create_user
from services.demo import create_demo_meeting



def run_as(app, user, meeting_id=None, page=None):
    app.session_state["user"] = user
    if meeting_id is not None:
        app.session_state["meeting_id"] = meeting_id
    at = app.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def test_an_observer_gets_results_without_personal_data_and_no_registry(app, session_factory, admin):
    meeting = create_demo_meeting(session_factory)
    observer = create_user(session_factory, username="olga", password="observer-1", role="observer", actor="anna")
    at = run_as(app, observer, meeting, "pages/results.py")
    assert_ran_cleanly(at)
    labels = [b.label for b in at.get("download_button")]
    assert "Протокол (.docx)" in labels and "Итоги (.xlsx)" in labels
    assert not any(x in labels for x in ("Реестр собственников", "Список участников", "Реестр вручения",
                                         "Скачать протокол с приложениями (.zip)"))
    assert any("доступны операторам и администраторам" in c for c in texts(at.caption))
    for personal in ("pages/registry.py", "pages/notify.py", "pages/decisions.py", "pages/users.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(personal)  # not in an observer's navigation at all


def test_only_an_administrator_opens_staff_and_journal_pages(app, session_factory, admin):
    operator = create_user(session_factory, username="oleg", password="operator-1", role="operator", actor="anna")
    at = run_as(app, operator)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit.py")
    at = run_as(app, admin, page="pages/audit.py")
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Журнал действий"]
    assert "Создан сотрудник" in set(audit_frame(session_factory)["Действие"])


def test_an_observer_cannot_create_or_change_meetings(app, session_factory, admin):
    create_demo_meeting(session_factory)
    observer = create_user(session_factory, username="olga", password="observer-1", role="observer", actor="anna")
    at = run_as(app, observer)
    assert_ran_cleanly(at)
    create = [b for b in at.button if b.label == "Создать собрание"]
    assert create and create[0].disabled
    assert not [b for b in at.button if b.label == "Изменить"]


def test_a_personal_data_page_refuses_an_observer_even_when_reached_directly(app_env, session_factory, admin):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    meeting = create_demo_meeting(session_factory)
    observer = create_user(session_factory, username="olga", password="observer-1", role="observer", actor="anna")
    for page in ("pages/registry.py", "pages/notify.py", "pages/decisions.py", "pages/users.py", "pages/audit.py"):
        at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
        at.session_state["user"] = observer
        at.session_state["meeting_id"] = meeting
        at.run()
        assert any("недоступна для вашей роли" in e for e in texts(at.error)), page
        assert not at.get("arrow_data_frame") and not at.get("arrow_data_editor"), page


# ---------- every page × every role ----------

#: Each page and the title it shows when it opens.
TITLES = {
    "pages/meetings.py": "Собрания собственников",
    "pages/stages.py": "Этапы ОСС",
    "pages/registry.py": "Реестр собственников",
    "pages/notify.py": "Уведомление собственников",
    "pages/decisions.py": "Решения собственников",
    "pages/scans.py": "Сканы решений",
    "pages/activity.py": "Активность",
    "pages/results.py": "Итоги и протокол",
    "pages/users.py": "Сотрудники",
    "pages/audit.py": "Журнал действий",
    "pages/vote.py": "Голосование собственников",
}
_OBSERVED = {"pages/meetings.py", "pages/stages.py", "pages/activity.py", "pages/results.py", "pages/vote.py"}
_OPERATED = _OBSERVED | {"pages/registry.py", "pages/notify.py", "pages/decisions.py", "pages/scans.py"}
#: What each role may open; `None` is an owner or anyone without a staff login.
MAY_OPEN = {
    "admin": set(TITLES),
    "operator": _OPERATED,
    "observer": _OBSERVED,
    None: {"pages/vote.py"},
}
REFUSAL = "недоступна для вашей роли"


def _url_paths(pages: set[str]) -> set[str]:
    # a link carries the target's address: the default page («Собрания») may be linked as ""
    paths = {Path(p).stem for p in pages}
    return paths | {""} if "pages/meetings.py" in pages else paths


def _signed_in(session_factory, admin, role):
    if role in (None, "admin"):
        return None if role is None else admin
    return create_user(session_factory, username=f"{role}1", password=f"{role}-pass-1", role=role, actor="anna")


def test_the_role_table_covers_every_page():
    from ui.state import PAGE_VOTE, STAFF_PAGES

    assert set(TITLES) == {*STAFF_PAGES, PAGE_VOTE}


@pytest.mark.parametrize("page", list(TITLES))
@pytest.mark.parametrize("role", list(MAY_OPEN), ids=lambda r: r or "no-login")
def test_every_page_opens_for_the_roles_that_may_see_it_and_no_other(app_env, app, session_factory, admin, role,
                                                                      page):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    meeting = create_demo_meeting(session_factory)  # with a registry: every stage page renders in full
    user = _signed_in(session_factory, admin, role)
    allowed = MAY_OPEN[role]
    if user is not None:
        app.session_state["user"] = user
    app.session_state["meeting_id"] = meeting
    at = app.run()
    assert_ran_cleanly(at)
    if page in allowed:
        at = at.switch_page(page).run()
        assert_ran_cleanly(at)
        assert TITLES[page] in texts(at.title), texts(at.title)
        assert not any(REFUSAL in e for e in texts(at.error))
        outside = [(link.value, link.proto.page) for link in at.page_link
                   if link.proto.page not in _url_paths(allowed)]
        assert not outside, f"links to pages outside the role's navigation: {outside}"
        return
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)  # not in the role's navigation at all
    if user is None:
        assert "Вход для сотрудников" in texts(at.subheader)
        return
    # reached by its address all the same, the page refuses and shows nothing of its own
    direct = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    direct.session_state["user"] = user
    direct.session_state["meeting_id"] = meeting
    direct.run()
    assert_ran_cleanly(direct)
    assert any(REFUSAL in e for e in texts(direct.error)), texts(direct.error)
    assert TITLES[page] not in texts(direct.title)
    assert not direct.get("arrow_data_frame") and not direct.get("arrow_data_editor")


def test_pages_link_to_other_pages_only_through_the_role_aware_helper():
    from tests.conftest import ROOT

    # a direct st.page_link to a page outside the user's navigation fails the whole page
    direct = [p.name for p in (ROOT / "pages").glob("*.py") if "st.page_link(" in p.read_text(encoding="utf-8")]
    assert not direct, f"use state.page_link: {direct}"


def test_an_observer_sees_every_stage_without_a_link_to_personal_data(app, session_factory, admin):
    meeting = create_demo_meeting(session_factory)
    observer = create_user(session_factory, username="olga", password="observer-1", role="observer", actor="anna")
    at = run_as(app, observer, meeting, "pages/stages.py")
    assert_ran_cleanly(at)
    assert {link.proto.page for link in at.page_link} == {"activity", "results"}
    assert texts(at.caption).count("Доступно оператору и администратору") == 3  # registry, notify, decisions
