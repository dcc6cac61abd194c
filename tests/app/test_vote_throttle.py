"""The voting page's own client keys (issue 14, item 5): on a server bound to 127.0.0.1 Streamlit
shows no client address, and opening a new session used to give a fresh set of guesses (132 a
minute). Every session from one address now shares the address's count."""
from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from pagekit import APP, TIMEOUT
from test_vote_page import SECRET, WRONG_CODE, open_vote, type_code, voter_of  # noqa: F401
from services.demo import create_demo_meeting
from services.voting import ADDRESS_FREE_FAILURES, CodeRefused, enter_code


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


def test_new_sessions_from_one_address_share_its_count(app_env, warm_server, session_factory):
    meeting = create_demo_meeting(session_factory, today=dt.date.today() - dt.timedelta(days=15))
    voter = voter_of(session_factory, meeting, 0)
    for _ in range(ADDRESS_FREE_FAILURES):  # each guess from a brand-new session
        at = type_code(open_vote(AppTest.from_file(APP, default_timeout=TIMEOUT)), "AAAA-BBBB-CCCC")
        assert [e.value for e in at.error] == [WRONG_CODE]
    # more failures of the loopback address, as if over the next minutes, leave a wait far longer
    # than the rest of the test (short waits are waited out by the page itself)
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for _ in range(8):
        later += dt.timedelta(minutes=6)
        with pytest.raises(CodeRefused):
            enter_code(session_factory, secret_key=SECRET, code="AAAA-BBBB-CCCC", client_keys=["ip:127.0.0.1"],
                       now=later)
    # a brand-new session from the same (loopback) address: the address's lock holds, even for a right code
    at = type_code(open_vote(AppTest.from_file(APP, default_timeout=TIMEOUT)), voter.code)
    [message] = [e.value for e in at.error]
    assert message.startswith("Слишком много неверных попыток. Повторите через ")
    assert "voter_owner_id" not in at.session_state
