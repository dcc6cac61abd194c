"""Issue 16, item 9: the notice e-mail's link (/vote?code=…) opens the voting page with the code
filled in, and the code leaves the address at once; the owner still presses «Войти»."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from pagekit import assert_ran_cleanly, button, meeting_data, registry_xlsx, texts
from services.meetings import create_meeting
from services.models import AccessCode, OwnerRecord
from services.notify import issue_codes
from services.registry import import_registry
from ui.state import PAGE_VOTE

SECRET = "vote-link-test-secret"
TODAY = dt.date.today()
CODE_LABEL = "Персональный код"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    """The app's secret key, set before any fixture runs the app (which caches it)."""
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def owner(session_factory) -> tuple[int, str]:
    """(owner id, code) of an owner of a meeting whose voting is open today."""
    meeting_id = create_meeting(session_factory, data=meeting_data(
        start_date=TODAY - dt.timedelta(days=3), end_date=TODAY + dt.timedelta(days=20)))
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(), filename="реестр.xlsx", replace=True)
    with session_factory() as s:
        owner_id = s.scalar(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id,
                                                         OwnerRecord.name == "Петров Пётр Петрович"))
    code = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=SECRET)[owner_id]
    return owner_id, code


def open_vote(app, query: dict[str, str]):
    at = app.run()
    at.query_params.update(query)
    at.switch_page(PAGE_VOTE).run()
    assert_ran_cleanly(at)
    return at


def code_field(at):
    [field] = [w for w in at.text_input if w.label == CODE_LABEL]
    return field


def test_the_link_fills_the_code_and_takes_it_out_of_the_address(app, owner, session_factory):
    owner_id, code = owner
    at = open_vote(app, {"code": code, "utm": "mail"})
    assert code_field(at).value == code
    assert "code" not in at.query_params and at.query_params.get("utm") == "mail"  # only the code leaves
    assert not at.radio  # not signed in by the link alone: the owner presses «Войти»
    with session_factory() as s:
        assert s.scalar(select(AccessCode.first_used_at).where(AccessCode.owner_id == owner_id)) is None

    at.run()  # a rerun (any click) keeps the code in the field though the address no longer has it
    assert code_field(at).value == code
    button(at, "Войти").click().run()
    assert_ran_cleanly(at)
    assert "Собственник: **Петров Пётр Петрович**" in texts(at.markdown)
    assert at.radio


def test_without_a_code_in_the_link_the_field_is_empty(app, owner):
    at = open_vote(app, {})
    assert code_field(at).value == ""
    assert "code" not in at.query_params


def test_a_signed_in_owner_opening_a_link_stays_signed_in_and_the_code_leaves(app, owner):
    _owner_id, code = owner
    at = open_vote(app, {"code": code})
    button(at, "Войти").click().run()
    assert at.radio
    at.query_params["code"] = "AAAA-BBBB-CCCC"
    at.run()
    assert_ran_cleanly(at)
    assert "code" not in at.query_params
    assert at.radio and not [w for w in at.text_input if w.label == CODE_LABEL]
