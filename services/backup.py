"""Резервные копии: `manage.py backup` and `restore`.

SQLite: the online backup API copies a consistent snapshot while the app keeps running, into
data/backups/kvorum-YYYYMMDD-HHMMSS.db; restoring copies a backup back the same way, in one step.
PostgreSQL: `pg_dump --format=custom` when the tool is installed (and `pg_restore --clean` back);
otherwise the message says how to do it with the server's own tools.

The instance secret key (data/secret.key) is copied beside the backup with owner-only permissions:
without it the codes and the decisions' seals of a restored database cannot be checked.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from services.errors import ValidationError


@dataclass
class BackupResult:
    path: Path
    size: int
    key_copied: bool


def _stamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")


def _copy_key(data_dir: Path, target: Path) -> bool:
    key = data_dir / "secret.key"
    if not key.is_file():
        return False
    dest = target.with_suffix(target.suffix + ".key")
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT, 0o600))  # never readable by others, even for a moment
    os.chmod(dest, 0o600)
    shutil.copyfile(key, dest)
    return True


def backup(*, database_url: str, data_dir: Path, now: dt.datetime | None = None) -> BackupResult:
    folder = Path(data_dir) / "backups"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)  # copies of the registry and the key: this account's only
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database)
        if not source.is_file():
            raise ValidationError(f"Файл базы данных {source} не найден.")
        target = folder / f"kvorum-{_stamp(now)}.db"
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))  # 0600 before a byte is copied
        os.chmod(target, 0o600)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            with dst:
                src.backup(dst)  # a consistent snapshot even while the app writes
        finally:
            src.close()
            dst.close()
        os.chmod(target, 0o600)
        return BackupResult(target, target.stat().st_size, _copy_key(Path(data_dir), target))
    if shutil.which("pg_dump") is None:
        raise ValidationError(
            "Для PostgreSQL резервная копия делается утилитой pg_dump, а она не установлена "
            "(Debian: apt-get install postgresql-client). Можно также сделать копию средствами сервера: "
            "pg_dump --format=custom --file=kvorum.dump <база>."
        )
    target = folder / f"kvorum-{_stamp(now)}.dump"
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    args = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", "--host", url.host or "localhost",
            "--port", str(url.port or 5432), "--username", url.username or "postgres", url.database]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise ValidationError(f"pg_dump завершился с ошибкой: {done.stderr.strip()[:500]}")
    os.chmod(target, 0o600)
    return BackupResult(target, target.stat().st_size, _copy_key(Path(data_dir), target))


def restore(*, database_url: str, data_dir: Path, backup_path: Path) -> None:
    """Replace the database's content with the backup's. Stop the app first on PostgreSQL."""
    backup_path = Path(backup_path)
    if not backup_path.is_file():
        raise ValidationError(f"Резервная копия {backup_path} не найдена.")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if backup_path.suffix != ".db":
            raise ValidationError("Для SQLite нужна копия с расширением .db (её делает manage.py backup).")
        src = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
        try:
            try:
                intact = src.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                intact = intact and src.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0] == 1
            except sqlite3.DatabaseError:
                intact = False
            if not intact:
                raise ValidationError(f"Файл {backup_path.name} — не резервная копия Kvorum или повреждён.")
            dst = sqlite3.connect(url.database, timeout=60)
            try:
                with dst:
                    src.backup(dst)  # all pages replaced in one step; readers see old or new
            finally:
                dst.close()
        finally:
            src.close()
    else:
        if shutil.which("pg_restore") is None:
            raise ValidationError("Для PostgreSQL нужна утилита pg_restore (apt-get install postgresql-client).")
        env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
        args = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--host",
                url.host or "localhost", "--port", str(url.port or 5432), "--username", url.username or "postgres",
                "--dbname", url.database, str(backup_path)]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise ValidationError(f"pg_restore завершился с ошибкой: {done.stderr.strip()[:500]}")
    key = backup_path.with_suffix(backup_path.suffix + ".key")
    current = Path(data_dir) / "secret.key"
    if key.is_file() and not current.is_file():
        os.close(os.open(current, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(current, 0o600)
        shutil.copyfile(key, current)


def list_backups(data_dir: Path) -> list[Path]:
    folder = Path(data_dir) / "backups"
    return sorted([p for p in folder.glob("kvorum-*") if p.suffix in (".db", ".dump")], reverse=True) \
        if folder.is_dir() else []
