"""Shared by the benchmarks (not a benchmark itself): a fresh migrated database — a SQLite file
under bench/out/ or a throw-away PostgreSQL database on the given server, dropped at close() —
and the PASS/FAIL report of a benchmark's targets."""
from __future__ import annotations

import os
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


class BenchDatabase:
    def __init__(self, kind: str, server_url: str | None = None, *, prefix: str):
        from sqlalchemy.engine import make_url

        from services.db import make_engine, make_session_factory, upgrade_schema

        self.kind = kind
        self.admin_url = None
        if kind == "sqlite":
            OUT.mkdir(parents=True, exist_ok=True)
            self.path = OUT / f"{prefix}_{os.getpid()}.db"
            self._remove_sqlite()
            self.url = f"sqlite:///{self.path}"
        else:
            self.admin_url = make_url(server_url)
            self.name = f"kvorum_bench_{prefix}_{os.getpid()}"
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"', f'CREATE DATABASE "{self.name}"')
            self.url = self.admin_url.set(database=self.name).render_as_string(hide_password=False)
        self.engine = make_engine(self.url)
        upgrade_schema(self.engine)
        self.sf = make_session_factory(self.engine)

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"

    def _admin(self, *statements: str) -> None:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for sql in statements:
                    conn.execute(text(sql))
        finally:
            admin.dispose()

    def _remove_sqlite(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        self.engine.dispose()
        if self.kind == "sqlite":
            self._remove_sqlite()
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def report(checks: list[tuple[str, bool, str]], *, no_fail: bool) -> int:
    """Print each target as PASS or FAIL with its figure; the exit status: 1 when one is missed
    (unless no_fail)."""
    for label, ok, figure in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}: {figure}")
    return 1 if not no_fail and not all(ok for _label, ok, _figure in checks) else 0


def main_on_one_database(description: str, run) -> int:
    """The command line of a benchmark that runs on SQLite or, with --postgres, on PostgreSQL:
    `run(kind, server_url)` gives its checks."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (a throw-away database on that server) "
                    "instead of SQLite")
    ap.add_argument("--no-fail", action="store_true", help="print the figures, exit 0 even if a target is missed")
    args = ap.parse_args()
    return report(run("postgresql" if args.postgres else "sqlite", args.postgres), no_fail=args.no_fail)
