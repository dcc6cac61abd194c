"""Issue 16 trap 2 on the notify page: after a reasoned change of the meeting's terms, the owners
notified only on the old terms are named and selected for a new notice in one click."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from pagekit import assert_ran_cleanly, button, meeting_data, registry_xlsx, texts
from services.meetings import create_meeting, update_meeting
from services.models import OwnerRecord
from services.notify import record_paper_delivery
from services.registry import import_registry
from ui.state import PAGE_NOTIFY


@pytest.fixture(autouse=True)
def public_url(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://kvorum.example.ru")


def test_owners_on_old_terms_are_named_and_selected_again(open_page, session_factory):
    data = meeting_data()
    mid = create_meeting(session_factory, data=data)
    import_registry(session_factory, meeting_id=mid, data=registry_xlsx(), filename="р.xlsx", replace=True)
    with session_factory() as s:
        ids = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == mid)))
    record_paper_delivery(session_factory, meeting_id=mid, owner_ids=ids[:2], channel="hand",
                          on_date=dt.date.today(), user="t")
    at = open_page(PAGE_NOTIFY, mid)
    assert not [w for w in texts(at.warning) if w.startswith("Условия собрания изменены")]
    update_meeting(session_factory, meeting_id=mid, user="анна", data=dataclasses.replace(
        data, end_date=data.end_date + dt.timedelta(days=5), change_reason="Продление приёма решений"))
    at = open_page(PAGE_NOTIFY, mid)
    assert_ran_cleanly(at)
    [warning] = [w for w in texts(at.warning) if w.startswith("Условия собрания изменены")]
    assert "(причина: Продление приёма решений). 2 собственника уведомлены только на прежних условиях" in warning
    at = button(at, "Выбрать их для повторного уведомления (2)").click().run()
    assert_ran_cleanly(at)
    assert at.session_state["notify_selected"] == set(ids[:2])
    assert [b for b in at.button if b.label.startswith("Отправить уведомления (2)")]
