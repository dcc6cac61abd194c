"""Brute force on the owners' voting codes: a thousand wrong codes from one client, one a second by a
fake clock, are throttled to a handful; the right code entered while locked out is refused too."""
from __future__ import annotations

import datetime as dt

import pytest

from filemakers import make_table
from services.meetings import MeetingData, QuestionData, create_meeting
from services.notify import issue_codes
from services.registry import import_registry, registry_frame
from services.voting import FREE_FAILURES, CodeRefused, enter_code

SECRET = "brute-force-secret"
WRONG = "ZZZZ-ZZZZ-ZZZZ"
LOCKED = "Слишком много неверных попыток"
T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def right_code(session_factory) -> str:
    today = dt.date.today()
    meeting_id = create_meeting(session_factory, data=MeetingData(
        address="г. Москва, ул. Садовая, д. 10", initiator="ООО «УК»", start_date=today, end_date=today + dt.timedelta(30),
        questions=[QuestionData("Выбор председателя")]))
    import_registry(session_factory, meeting_id=meeting_id, filename="r.csv", replace=True, data=make_table(
        [["Номер помещения", "Общая площадь", "ФИО собственника"], ["1", 40, "Иванов Иван"]], "csv"))
    [owner_id] = registry_frame(session_factory, meeting_id=meeting_id).index.tolist()
    return issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=SECRET)[owner_id]


def hammer(session_factory, *, client: str, attempts: int, step: dt.timedelta) -> list[dt.datetime]:
    """Send `attempts` wrong codes `step` apart; return the moments a code was actually checked."""
    checked = []
    for i in range(attempts):
        now = T0 + i * step
        try:
            enter_code(session_factory, secret_key=SECRET, code=WRONG, client_keys=[client], now=now)
        except CodeRefused as exc:
            if LOCKED in exc.message:
                continue
            checked.append(now)
        else:
            raise AssertionError("a wrong code was accepted")
    return checked


def test_a_thousand_wrong_codes_a_second_apart_are_throttled(session_factory, right_code):
    step = dt.timedelta(seconds=1)
    checked = hammer(session_factory, client="ip:203.0.113.7", attempts=1000, step=step)
    end = T0 + 1000 * step
    last_10_min = [t for t in checked if t >= end - dt.timedelta(minutes=10)]
    per_minute = len(last_10_min) / 10
    print(f"\nwrong codes checked: {len(checked)} of 1000 in {1000 * step.total_seconds() / 60:.1f} min "
          f"({FREE_FAILURES} free); steady state: {per_minute:.2f} attempts per minute")
    assert len(checked) <= 25, checked
    assert per_minute <= 12, per_minute
    assert per_minute <= 0.5  # one attempt per 5 minutes once the delay has grown

    # the right code, entered now, while the lock holds: refused with the same lock message
    with pytest.raises(CodeRefused, match=LOCKED):
        enter_code(session_factory, secret_key=SECRET, code=right_code, client_keys=["ip:203.0.113.7"],
                   now=checked[-1] + dt.timedelta(seconds=1))
    # a lock of one client is not a lock of the owner: the right code from elsewhere works
    assert enter_code(session_factory, secret_key=SECRET, code=right_code, client_keys=["ip:198.51.100.1"],
                      now=checked[-1] + dt.timedelta(seconds=1)).owner_id


def test_over_an_hour_a_client_gets_a_handful_of_guesses(session_factory):
    step = dt.timedelta(seconds=3.6)  # 1000 attempts spread over one hour
    checked = hammer(session_factory, client="session:abc", attempts=1000, step=step)
    per_hour = len(checked)
    print(f"\nwrong codes checked in one hour: {per_hour} (of which {FREE_FAILURES} free); "
          f"a code has 2^60 values, so the chance of a hit is {per_hour / 2**60:.1e} per hour")
    assert per_hour <= 30, per_hour


def test_every_client_key_is_throttled_so_a_new_session_from_the_same_address_is_locked_too(session_factory,
                                                                                           right_code):
    for i in range(FREE_FAILURES):
        with pytest.raises(CodeRefused):
            enter_code(session_factory, secret_key=SECRET, code=WRONG, client_keys=[f"session:{i}", "ip:192.0.2.5"],
                       now=T0)
    with pytest.raises(CodeRefused, match=LOCKED):
        enter_code(session_factory, secret_key=SECRET, code=right_code, client_keys=["session:new", "ip:192.0.2.5"],
                   now=T0)
