"""Staff accounts: argon2-hashed passwords, login with a growing lockout after failures."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.errors import AuthError, ValidationError
from services.models import User, utcnow

ROLES = {"admin": "Администратор", "operator": "Оператор", "observer": "Наблюдатель"}
MIN_PASSWORD = 8
FREE_FAILURES = 5  # failures before the lockout starts
MAX_LOCK = dt.timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so the timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("kvorum-dummy-password")


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    full_name: str
    role: str


def _dto(user: User) -> StaffUser:
    return StaffUser(user.id, user.username, user.full_name, user.role)


def check_password_rules(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"Пароль должен быть не короче {MIN_PASSWORD} символов.")
    if password.isdigit():
        raise ValidationError("Пароль не должен состоять только из цифр.")
    if username and password.lower() == username.lower():
        raise ValidationError("Пароль не должен совпадать с именем пользователя.")


def has_users(session_factory: sessionmaker[Session]) -> bool:
    with session_factory() as s:
        return bool(s.scalar(select(func.count()).select_from(User)))


def create_user(
    session_factory: sessionmaker[Session], *, username: str, password: str, role: str = "admin", full_name: str = ""
) -> StaffUser:
    # Stored folded: SQLite's lower() does not fold Cyrillic, so lookups compare folded values.
    username = username.strip().lower()
    if not username:
        raise ValidationError("Укажите имя пользователя.")
    if len(username) > 100 or any(c.isspace() for c in username):
        raise ValidationError("Имя пользователя — без пробелов, не длиннее 100 символов.")
    if role not in ROLES:
        raise ValidationError(f"Неизвестная роль «{role}». Возможные: {', '.join(ROLES)}.")
    check_password_rules(password, username)
    with session_factory.begin() as s:
        if s.scalar(select(User.id).where(User.username == username)):
            raise ValidationError(f"Пользователь «{username}» уже существует.")
        user = User(username=username, full_name=full_name.strip(), password_hash=_hasher.hash(password), role=role)
        s.add(user)
        s.flush()
        return _dto(user)


def create_first_admin(session_factory, *, username: str, password: str, full_name: str = "") -> StaffUser:
    """Only while there is no account at all: the set-up screen of a fresh installation."""
    if has_users(session_factory):
        raise AuthError("Администратор уже создан. Войдите со своим именем и паролем.")
    return create_user(session_factory, username=username, password=password, role="admin", full_name=full_name)


def lock_delay(failures: int) -> dt.timedelta:
    if failures < FREE_FAILURES:
        return dt.timedelta(0)
    exponent = min(failures - FREE_FAILURES, 10)  # capped: the delay stops growing at MAX_LOCK anyway
    return min(dt.timedelta(seconds=30 * 2**exponent), MAX_LOCK)


def authenticate(session_factory, *, username: str, password: str, now: dt.datetime | None = None) -> StaffUser:
    now = now or utcnow()
    wrong = AuthError("Неверное имя пользователя или пароль.")
    with session_factory.begin() as s:
        user = s.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None or not user.is_active:
            try:
                _hasher.verify(_DUMMY_HASH, password + "x")
            except VerificationError:
                pass
            raise wrong
        if user.locked_until and user.locked_until > now:
            seconds = int((user.locked_until - now).total_seconds()) + 1
            raise AuthError(f"Слишком много неудачных попыток входа. Повторите через {seconds} с.")
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            user.failed_logins += 1
            delay = lock_delay(user.failed_logins)
            user.locked_until = now + delay if delay else None
            s.flush()
            failure = wrong
        else:
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            return _dto(user)
    raise failure


def get_user(session_factory, user_id: int) -> StaffUser | None:
    with session_factory() as s:
        user = s.get(User, user_id)
        return _dto(user) if user and user.is_active else None
