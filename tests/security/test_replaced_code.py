"""A replaced code ends the sessions it opened (issue 14, item 14).

Before: the voting page kept only the owner's id once a code was accepted, so a session opened with
a code that was later replaced (a new notice, a code reissued after a leak) went on working — the
answers could still be submitted with it. Now the page is bound to the code it was opened with:
every run checks it, and the decision is refused by the service itself when the code changed."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from filemakers import make_table
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import Decision
from services.notify import issue_codes
from services.registry import import_registry, registry_frame
from services.voting import REPLACED_CODE, CodeRefused, check_access, enter_code, submit_online_decision, voter_page

SECRET = "replaced-code-secret"


@pytest.fixture
def owner(session_factory) -> tuple[int, int, str]:
    today = dt.date.today()
    meeting_id = create_meeting(session_factory, data=MeetingData(
        address="г. Москва, ул. Садовая, д. 10", initiator="ООО «УК»", start_date=today, end_date=today + dt.timedelta(30),
        questions=[QuestionData("Выбор председателя")]))
    import_registry(session_factory, meeting_id=meeting_id, filename="r.csv", replace=True, data=make_table(
        [["Номер помещения", "Общая площадь", "ФИО собственника"], ["1", 40, "Иванов Иван"], ["2", 50, "Петров Пётр"]],
        "csv"))
    owner_id = registry_frame(session_factory, meeting_id=meeting_id).index.tolist()[0]
    code = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=SECRET)[owner_id]
    return meeting_id, owner_id, code


def _decisions(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Decision))


def test_a_session_opened_with_a_replaced_code_is_ended(session_factory, owner):
    meeting_id, owner_id, code = owner
    access = enter_code(session_factory, secret_key=SECRET, code=code, client_keys=["session:a"])
    check_access(session_factory, owner_id=owner_id, code_hash=access.code_hash)  # in force: no exception

    new = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=SECRET)[owner_id]
    with pytest.raises(CodeRefused, match=REPLACED_CODE):
        check_access(session_factory, owner_id=owner_id, code_hash=access.code_hash)
    [question] = voter_page(session_factory, owner_id=owner_id).questions
    with pytest.raises(CodeRefused, match=REPLACED_CODE):
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner_id, answers={question.id: "for"},
                               code_hash=access.code_hash)
    assert _decisions(session_factory) == 0

    # the old code opens nothing; the new one opens the same owner, and its session votes
    with pytest.raises(CodeRefused):
        enter_code(session_factory, secret_key=SECRET, code=code, client_keys=["session:b"])
    fresh = enter_code(session_factory, secret_key=SECRET, code=new, client_keys=["session:b"])
    assert fresh.owner_id == owner_id
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner_id, answers={question.id: "for"},
                           code_hash=fresh.code_hash)
    assert _decisions(session_factory) == 1


def test_a_code_hash_of_another_owner_opens_nothing(session_factory, owner):
    """The check is of the pair: a session cannot keep one owner's page with another owner's code."""
    meeting_id, owner_id, code = owner
    other = registry_frame(session_factory, meeting_id=meeting_id).index.tolist()[1]
    other_code = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[other], secret_key=SECRET)[other]
    theirs = enter_code(session_factory, secret_key=SECRET, code=other_code, client_keys=["session:c"])
    with pytest.raises(CodeRefused):
        check_access(session_factory, owner_id=owner_id, code_hash=theirs.code_hash)
    with pytest.raises(CodeRefused):
        check_access(session_factory, owner_id=owner_id, code_hash=None)
