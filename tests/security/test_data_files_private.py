"""Data files are the server account's only: 0600 files in 0700 folders (issue 14, item 10).

The probe found data/kvorum.db, its -wal/-shm, the secret key and the outbox's .eml files (the
owners' codes inside) readable by every local account. Here the real command line and the real
server write them under the usual umask 022, and a server started on a data folder an older
version left readable closes it.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY") and not k.startswith("SMTP_")}
    env.update({"KVORUM_DATA_DIR": str(data_dir), "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
                "PYTHONUNBUFFERED": "1", **extra})
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, preexec_fn=lambda: os.umask(0o022))  # an ordinary shell's umask
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return done


def open_to_others(data_dir: Path) -> list[str]:
    """Every file or folder under data_dir (and itself) that another account could read or enter."""
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(data_dir.parent)} {oct(mode)}")
    return found


def test_the_command_line_writes_the_database_key_outbox_and_backups_private(tmp_path):
    data_dir = tmp_path / "data"
    env = env_for(data_dir)
    manage("migrate", env=env)
    meeting = re.search(r"№ (\d+)", manage("demo", env=env).stdout).group(1)
    # no SMTP: into the outbox; the demo's voting already runs (its owners were handed the notice), so
    # a notice sent now is a late, additional one
    manage("send-notices", "--meeting", meeting, "--all", "--wait", "--late", env=env)
    manage("backup", env=env)

    names = {p.relative_to(data_dir).parts[0] for p in data_dir.rglob("*")}
    assert {"kvorum.db", "secret.key", "outbox", "backups"} <= names, names
    assert list((data_dir / "outbox").rglob("*.eml")), "the notices went to the outbox"
    assert list((data_dir / "backups").glob("*.db")) and list((data_dir / "backups").glob("*.key"))
    assert open_to_others(data_dir) == []


@pytest.mark.e2e  # the real server
def test_a_server_start_closes_the_files_an_older_version_left_readable(sqlite_template, tmp_path):
    from browserkit import AppServer, free_port, wait_until_up  # noqa: E402 (tests/e2e on sys.path)

    data_dir = tmp_path / "data"
    (data_dir / "outbox" / "1").mkdir(parents=True)
    (data_dir / "backups").mkdir()
    shutil.copy(sqlite_template, data_dir / "kvorum.db")
    (data_dir / "secret.key").write_text("an-older-versions-key-" + "x" * 40 + "\n")
    (data_dir / "outbox" / "1" / "20260101-120000_old.eml").write_bytes(b"Subject: code\r\n\r\n1234-ABCD-5678\r\n")
    shutil.copy(sqlite_template, data_dir / "backups" / "kvorum-20260101-120000.db")
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert open_to_others(data_dir)

    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true"],
            cwd=ROOT, env=env_for(data_dir), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: os.umask(0o022))
    server = AppServer(f"http://127.0.0.1:{port}", data_dir, process, log_path)
    try:
        wait_until_up(server)
        time.sleep(1.5)  # the sender has polled the database: its -wal and -shm exist now
        assert (data_dir / "kvorum.db-wal").exists() and (data_dir / "kvorum.db-shm").exists()
        left_open = open_to_others(data_dir)
    finally:
        server.stop()
    assert left_open == [], left_open
