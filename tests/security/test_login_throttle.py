"""Guessing staff passwords (issue 14, items 4 and 11): parallel tries, bursts at each unlock, one
address across many names, a username oracle, a password typed into the name field.

The probes ran real threads against one account; so do these, on SQLite and PostgreSQL. Whether a
password was checked is read from the answer: «Неверное имя пользователя или пароль.» comes only
after a hash check, the lock message only without one."""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from services.auth import ADDRESS_FREE_FAILURES, FREE_FAILURES, _user_key, authenticate, create_user
from services.errors import AuthError
from services.models import AuditEvent, Throttle, User

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)
WRONG = "Неверное имя пользователя или пароль."
LOCKED = "Слишком много неудачных попыток входа. Повторите через"
PASSWORD = "pravlenie-2026"


@pytest.fixture
def anna(session_factory):
    return create_user(session_factory, username="anna", password=PASSWORD, role="operator")


def answer(session_factory, **kwargs) -> str:
    try:
        authenticate(session_factory, **kwargs)
    except AuthError as exc:
        return exc.message
    return "вход"


def parallel(session_factory, n: int, **kwargs) -> list[str]:
    """`n` logins released at once by a barrier, each on its own thread."""
    barrier = threading.Barrier(n)

    def one(i: int) -> str:
        barrier.wait()
        return answer(session_factory, password=f"wrong-password-{i}", **kwargs)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def failures_in_journal(session_factory) -> list[AuditEvent]:
    with session_factory() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed").order_by(AuditEvent.id)))


def account_count(session_factory, user_id: int) -> int:
    """The account's counter: every attempt, checked or refused, counted before any check."""
    with session_factory() as s:
        row = s.execute(select(Throttle.failures, Throttle.refused).where(Throttle.key == _user_key(user_id))).first()
    return sum(row) if row else 0


def test_thirty_parallel_wrong_passwords_are_all_counted_and_only_the_free_ones_checked(session_factory, anna):
    answers = parallel(session_factory, 30, username="anna", now=T0)
    checked = answers.count(WRONG)
    refused = [a for a in answers if a.startswith(LOCKED)]
    print(f"\n30 parallel wrong passwords: {checked} checked, {len(refused)} refused without a check")
    assert checked == FREE_FAILURES, answers
    assert len(refused) == 30 - FREE_FAILURES
    assert account_count(session_factory, anna.id) == 30


def test_bursts_at_each_unlock_get_one_check_each(session_factory, anna):
    """The probe: thirty parallel tries the moment each lock ended gave 98 checks in 242 s."""
    moment, checked, bursts = T0, 0, 0
    while moment < T0 + dt.timedelta(seconds=242):
        answers = parallel(session_factory, 30, username="anna", now=moment)
        checked += answers.count(WRONG)
        bursts += 1
        waits = [int(a.split("через ")[1].split(" ")[0]) for a in answers if a.startswith(LOCKED)]
        moment += dt.timedelta(seconds=max(waits))  # the moment the lock ends
    print(f"\n{bursts} bursts of 30 at each unlock in 242 s: {checked} passwords checked")
    assert checked <= FREE_FAILURES + bursts - 1, checked
    assert checked <= 9
    assert account_count(session_factory, anna.id) == 30 * bursts
    # once a wait is over, the right password gets in and clears the account's count
    assert answer(session_factory, username="anna", password=PASSWORD, now=moment) == "вход"
    assert account_count(session_factory, anna.id) == 0


def test_unknown_and_known_names_answer_alike_and_lock_alike(session_factory, anna):
    seen = {}
    for name in ("anna", "nobody"):
        seen[name] = [answer(session_factory, username=name, password="wrong-password", now=T0)
                      for _ in range(FREE_FAILURES + 2)]
    assert seen["anna"] == seen["nobody"]
    assert seen["anna"][:FREE_FAILURES] == [WRONG] * FREE_FAILURES
    assert seen["anna"][FREE_FAILURES].startswith(LOCKED)
    # the right password waits too while the account is locked; no account was made for «nobody»
    assert answer(session_factory, username="anna", password=PASSWORD, now=T0).startswith(LOCKED)
    with session_factory() as s:
        assert list(s.scalars(select(User.username))) == ["anna"]
    assert answer(session_factory, username="anna", password=PASSWORD, now=T0 + dt.timedelta(hours=1)) == "вход"


def test_a_disabled_account_answers_like_a_missing_name(session_factory, anna):
    with session_factory.begin() as s:
        s.get(User, anna.id).is_active = False
    assert answer(session_factory, username="anna", password=PASSWORD, now=T0) == WRONG
    assert answer(session_factory, username="nobody", password=PASSWORD, now=T0) == WRONG


def test_a_password_typed_as_the_name_is_never_stored(session_factory, anna):
    typed = "Pravlenie-2026-Secret"
    assert answer(session_factory, username=typed, password="", now=T0) == WRONG
    assert answer(session_factory, username="anna", password="wrong-password", now=T0) == WRONG
    events = failures_in_journal(session_factory)
    assert [e.actor for e in events] == ["—", "anna"]  # an existing account is named, a typed text is not
    with session_factory() as s:
        stored = repr(s.execute(select(AuditEvent.actor, AuditEvent.details)).all())
        stored += repr(s.execute(select(Throttle.key)).all())
    assert typed.lower() not in stored.lower(), stored


def test_one_address_guessing_many_names_is_slowed_but_another_address_is_not(session_factory, anna):
    attacker, colleague = "203.0.113.7", "198.51.100.20"
    answers = [answer(session_factory, username=f"user{i}", password="wrong-password", client_address=attacker,
                      now=T0) for i in range(ADDRESS_FREE_FAILURES + 3)]
    assert answers[:ADDRESS_FREE_FAILURES] == [WRONG] * ADDRESS_FREE_FAILURES  # one try per name
    assert all(a.startswith(LOCKED) for a in answers[ADDRESS_FREE_FAILURES:])
    # the locked address cannot log in even with a right password; another address can
    assert answer(session_factory, username="anna", password=PASSWORD, client_address=attacker,
                  now=T0).startswith(LOCKED)
    assert answer(session_factory, username="anna", password=PASSWORD, client_address=colleague, now=T0) == "вход"


def test_a_right_password_does_not_clear_the_failures_of_its_address(session_factory, anna):
    address = "203.0.113.8"
    for i in range(ADDRESS_FREE_FAILURES - 1):
        assert answer(session_factory, username=f"user{i}", password="x", client_address=address, now=T0) == WRONG
    # the guesser's own account, between the guesses: the address keeps its count
    assert answer(session_factory, username="anna", password=PASSWORD, client_address=address, now=T0) == "вход"
    assert answer(session_factory, username="other", password="x", client_address=address, now=T0) == WRONG
    assert answer(session_factory, username="other2", password="x", client_address=address, now=T0).startswith(LOCKED)


def test_parallel_tries_from_one_address_on_many_names_are_counted(session_factory, anna):
    barrier = threading.Barrier(40)

    def one(i: int) -> str:
        barrier.wait()
        return answer(session_factory, username=f"name{i}", password="wrong-password", client_address="192.0.2.44",
                      now=T0)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(one, range(40)))
    assert answers.count(WRONG) == ADDRESS_FREE_FAILURES, answers
