"""`manage.py tally --meeting ID --json` as an administrator runs it, on a database file holding
DOMAIN.md's worked example: it prints exactly the figures of example A."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.db import make_engine, make_session_factory
from tests.integration.test_tally import EXAMPLE, build, vote

ROOT = Path(__file__).resolve().parents[2]

#: DOMAIN.md, example A, figure for figure
EXAMPLE_A_JSON = {
    "all_votes": 120.0, "participants_votes": 120.0, "quorum": True,
    "questions": [
        {"number": 1, "majority": "two_thirds", "for": 80.0, "against": 40.0, "abstain": 0.0, "invalid": 0.0,
         "adopted": True},
        {"number": 2, "majority": "simple", "for": 60.0, "against": 0.0, "abstain": 40.0, "invalid": 20.0,
         "adopted": False},
        {"number": 3, "majority": "more_than_half", "for": 100.0, "against": 20.0, "abstain": 0.0, "invalid": 0.0,
         "adopted": True},
    ],
}


def manage(*args: str, url: str, data_dir: Path):
    env = {**os.environ, "DATABASE_URL": url, "KVORUM_DATA_DIR": str(data_dir),
           "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml")}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.fixture
def example_a_db(sqlite_url):
    """A database file with the worked example, every owner's decision registered (example A)."""
    engine = make_engine(sqlite_url)
    sf = make_session_factory(engine)
    m, ids, q = build(sf, EXAMPLE)
    vote(sf, m, ids["Андреев"], q, ["for", "for", "for"])
    vote(sf, m, ids["Борисова"], q, ["for", "abstain", "for"])
    vote(sf, m, ids["Власов"], q, ["against", "for", "for"])
    vote(sf, m, ids["Власова"], q, ["against", "invalid", "against"])
    engine.dispose()
    return sqlite_url, m


def test_tally_json_prints_exactly_the_figures_of_example_a(example_a_db, tmp_path):
    url, meeting = example_a_db
    out = manage("tally", "--meeting", str(meeting), "--json", url=url, data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == EXAMPLE_A_JSON
    # one JSON document and nothing else on stdout: a script can pipe it
    assert out.stdout.strip().count("\n") == 0


def test_tally_prints_the_same_figures_for_people(example_a_db, tmp_path):
    url, meeting = example_a_db
    out = manage("tally", "--meeting", str(meeting), url=url, data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Всего голосов: 120,00; приняли участие: 120,00 (100,00\u00a0%) — кворум есть.",
        "  1. за 80,00, против 40,00, воздержались 0,00, недействительно 0,00 — решение принято",
        "  2. за 60,00, против 0,00, воздержались 40,00, недействительно 20,00 — решение не принято",
        "  3. за 100,00, против 20,00, воздержались 0,00, недействительно 0,00 — решение принято",
    ]


def test_tally_of_an_unknown_meeting_fails_with_a_russian_message(example_a_db, tmp_path):
    url, meeting = example_a_db
    out = manage("tally", "--meeting", str(meeting + 100), "--json", url=url, data_dir=tmp_path)
    assert out.returncode != 0
    assert out.stdout == ""
    assert f"Собрание № {meeting + 100} не найдено." in out.stderr
    assert "Traceback" not in out.stderr
