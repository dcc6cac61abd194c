"""Staff accounts: hashing, login, the growing lockout."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from services.auth import authenticate, create_first_admin, create_user, has_users, lock_delay
from services.errors import AuthError, ValidationError
from services.models import User


def test_password_is_stored_only_as_an_argon2_hash(session_factory):
    create_user(session_factory, username="anna", password="correct horse")
    with session_factory() as s:
        stored = s.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_first_admin_only_on_an_empty_database(session_factory):
    assert not has_users(session_factory)
    create_first_admin(session_factory, username="admin", password="secret123")
    assert has_users(session_factory)
    with pytest.raises(AuthError, match="уже создан"):
        create_first_admin(session_factory, username="intruder", password="secret123")


@pytest.mark.parametrize("password,reason", [
    ("short1", "не короче 8"), ("12345678", "только из цифр"), ("AnnaAnna", "не должен совпадать"),
])
def test_rejects_weak_passwords(session_factory, password, reason):
    with pytest.raises(ValidationError, match=reason):
        create_user(session_factory, username="annaanna", password=password)


def test_rejects_duplicate_username_case_insensitively(session_factory):
    create_user(session_factory, username="Anna", password="secret123")
    with pytest.raises(ValidationError, match="уже существует"):
        create_user(session_factory, username="anna", password="secret456")


def test_login_succeeds_with_the_right_password_only(session_factory):
    create_user(session_factory, username="anna", password="secret123", role="operator")
    user = authenticate(session_factory, username="ANNA", password="secret123")
    assert (user.username, user.role) == ("anna", "operator")
    with pytest.raises(AuthError, match="Неверное имя пользователя или пароль"):
        authenticate(session_factory, username="anna", password="secret124")
    with pytest.raises(AuthError, match="Неверное имя пользователя или пароль"):
        authenticate(session_factory, username="nobody", password="secret123")


def test_repeated_failures_lock_the_account_with_a_growing_delay(session_factory):
    create_user(session_factory, username="anna", password="secret123")
    now = dt.datetime(2026, 11, 24, 12, 0)
    for _ in range(5):
        with pytest.raises(AuthError):
            authenticate(session_factory, username="anna", password="wrong-pass", now=now)
    # locked now: even the right password is refused until the delay passes
    with pytest.raises(AuthError, match="Повторите через"):
        authenticate(session_factory, username="anna", password="secret123", now=now + dt.timedelta(seconds=10))
    assert authenticate(session_factory, username="anna", password="secret123", now=now + dt.timedelta(seconds=31))
    assert lock_delay(4) == dt.timedelta(0) < lock_delay(5) < lock_delay(6) < lock_delay(7)
    assert lock_delay(50) == dt.timedelta(minutes=15)
