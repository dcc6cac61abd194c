"""The seal pages (issue 14): «Проверить журнал» on the journal page reports an event written
without the instance key, and only an administrator is offered the rebuild of the running totals."""
from __future__ import annotations

from pagekit import assert_ran_cleanly, button, texts

from services.auth import create_user
from services.demo import create_demo_meeting


def run_as(app, user, page, meeting_id=None):
    app.session_state["user"] = user
    app.session_state["meeting_id"] = meeting_id
    at = app.run()
    return at.switch_page(page).run()


def test_the_journal_check_reports_an_event_written_without_the_key(app, admin):
    # the fixture created the administrator through a bare session factory: no key, no seal
    at = run_as(app, admin, "pages/audit.py")
    assert_ran_cleanly(at)
    at = button(at, "Проверить журнал").click().run()
    assert_ran_cleanly(at)
    assert not at.success and texts(at.error)[0].startswith("Журнал изменён в базе данных")
    assert any("без печати" in line for line in texts(at.text))  # as plain text: no markdown of stored data


def test_only_an_administrator_is_offered_the_rebuild_of_the_running_totals(app, session_factory, admin):
    meeting = create_demo_meeting(session_factory)
    operator = create_user(session_factory, username="oleg", password="operator-1", role="operator", actor="anna")
    at = run_as(app, operator, "pages/decisions.py", meeting)
    assert_ran_cleanly(at)
    assert "Пересчитать текущие итоги" not in [b.label for b in at.button]
    at = run_as(app, admin, "pages/decisions.py", meeting)
    assert_ran_cleanly(at)
    assert button(at, "Пересчитать текущие итоги").disabled, "only after the confirmation"
    at.checkbox(key="rebuild_totals_sure").check().run()
    at = button(at, "Пересчитать текущие итоги").click().run()
    assert_ran_cleanly(at)
    assert texts(at.success) == ["Текущие итоги пересчитаны заново; они совпадали с полным пересчётом."]
