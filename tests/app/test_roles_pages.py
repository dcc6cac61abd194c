"""Roles in the pages: an observer sees meetings, charts and results, never owners' personal data;
only an administrator manages staff and reads the journal; staff actions land in the journal."""
from __future__ import annotations

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
