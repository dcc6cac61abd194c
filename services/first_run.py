"""The first administrator of a fresh installation: from the command line, or with a one-time code
that only the person who started the server can read (the server log, or the data folder).

Before, the set-up form was offered to any visitor on any interface while the database had no
account: whoever reached a freshly started server first became its administrator.
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.auth import StaffUser, create_first_admin, has_users
from services.errors import AuthError

TOKEN_FILE = "first-admin-code.txt"
log = logging.getLogger("kvorum.first_run")
_announced: set[Path] = set()


def _path(data_dir: Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def setup_code(data_dir: Path) -> str:
    """The installation's one-time code, made on first need; readable by the server's user only."""
    path = _path(data_dir)
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: theirs is the code
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(code + "\n")
    return code


def announce_setup_code(session_factory: sessionmaker[Session], data_dir: Path) -> bool:
    """While there is no account: print the code in the server log (once per process). True then."""
    if has_users(session_factory):
        return False
    code = setup_code(data_dir)
    if Path(data_dir) not in _announced:
        _announced.add(Path(data_dir))
        log.warning("Kvorum: учётных записей нет. Код первого запуска для создания администратора: %s "
                    "(он же в файле %s). Или: python manage.py create-user --role admin", code, _path(data_dir))
    return True


def create_first_admin_with_code(session_factory: sessionmaker[Session], data_dir: Path, *, code: str,
                                 username: str, password: str, full_name: str = "") -> StaffUser:
    """The set-up form's action: the code from the server log proves the visitor runs the server."""
    path = _path(data_dir)
    try:
        expected = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        expected = ""
    typed = "".join(code.split()).upper()
    if not expected or not hmac.compare_digest(typed.encode(), expected.encode()):
        raise AuthError("Неверный код первого запуска. Он напечатан в журнале сервера при запуске "
                        f"и записан в файл {TOKEN_FILE} в папке данных.")
    user = create_first_admin(session_factory, username=username, password=password, full_name=full_name)
    path.unlink(missing_ok=True)
    return user
