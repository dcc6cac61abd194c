"""manage.py as an administrator runs it: a real process, a real database file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"


def manage(*args: str, url: str, env_extra: dict | None = None, data_dir: Path | None = None):
    env = {**os.environ, "DATABASE_URL": url, **(env_extra or {})}
    if data_dir:
        env["KVORUM_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("sample", ["registry_demo.xlsx", "registry_demo.xls", "registry_demo.ods", "registry_demo.csv"])
def test_check_registry_prints_the_same_report_for_every_format(sample, sqlite_url):
    out = manage("check-registry", str(SAMPLES / sample), "--json", url=sqlite_url)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report == {"owners": 48, "premises": 42, "total_area": 2236.5, "votes": 2236.5, "errors": [], "warnings": []}


def test_check_registry_reports_row_errors_and_exits_zero(tmp_path, sqlite_url):
    f = tmp_path / "r.csv"
    f.write_text("Реестр\nКвартира;Площадь;ФИО;Доля\n1;40;Андреев;1/2\n2;0;Борисова;1\n", encoding="cp1251")
    out = manage("check-registry", str(f), "--json", url=sqlite_url)
    assert out.returncode == 0
    report = json.loads(out.stdout)
    assert report["owners"] == 1 and report["votes"] == 20.0
    assert report["errors"] == [{"row": 4, "column": "Площадь", "message": "площадь должна быть больше нуля, указано 0"}]
    assert report["warnings"] == [{"row": None, "premise": "1", "message": "доли собственников помещения 1 в сумме 1/2, а не 1 — голоса недостающей части не учитываются"}]


@pytest.mark.parametrize("content,name,fragment", [
    (b"", "empty.xlsx", "пуст"),
    (b"PK\x03\x04broken zip", "broken.xlsx", "повреждён"),
    (bytes(range(256)) * 10, "random.xls", "не является таблицей"),
    ("Просто текст без таблицы\n".encode(), "notes.csv", "не найдена строка заголовков"),
])
def test_check_registry_exits_2_with_a_russian_message_when_unreadable(tmp_path, sqlite_url, content, name, fragment):
    f = tmp_path / name
    f.write_bytes(content)
    out = manage("check-registry", str(f), "--json", url=sqlite_url)
    assert out.returncode == 2
    assert out.stdout == ""
    assert fragment in out.stderr


def test_create_meeting_and_import_registry(tmp_path, sqlite_url):
    spec = tmp_path / "meeting.json"
    spec.write_text(json.dumps({
        "address": "г. Тверь, ул. Ленина, д. 5", "initiator": "ООО «УК»", "form": "заочное",
        "start": "2026-12-10", "end": "2026-12-30",
        "questions": [{"text": "Совет дома", "majority": "simple"}, {"text": "Капремонт", "majority": "two_thirds"}],
    }, ensure_ascii=False), encoding="utf-8")
    out = manage("create-meeting", "--from", str(spec), "--json", url=sqlite_url)
    assert out.returncode == 0, out.stderr
    meeting_id = json.loads(out.stdout)["id"]
    out = manage("import-registry", "--meeting", str(meeting_id), str(SAMPLES / "registry_demo.ods"), "--replace",
                 "--json", url=sqlite_url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["owners"] == 48
    # adding the same file again: every row is already there, nothing is stored twice
    out = manage("import-registry", "--meeting", str(meeting_id), str(SAMPLES / "registry_demo.csv"), url=sqlite_url)
    assert out.returncode == 2 and "нечего" in out.stderr
    out = manage("import-registry", "--meeting", "999", str(SAMPLES / "registry_demo.csv"), url=sqlite_url)
    assert out.returncode == 2 and "не найдено" in out.stderr


def test_create_user_and_demo(tmp_path, sqlite_url):
    out = manage("create-user", "--username", "anna", "--role", "operator", url=sqlite_url,
                 env_extra={"KVORUM_PASSWORD": "secret123"})
    assert out.returncode == 0 and "anna" in out.stdout
    assert "secret123" not in out.stdout + out.stderr
    out = manage("create-user", "--username", "bob", url=sqlite_url, env_extra={"KVORUM_PASSWORD": "123"})
    assert out.returncode == 2 and "не короче 8" in out.stderr
    out = manage("demo", url=sqlite_url)
    assert out.returncode == 0 and "демонстрационное собрание № 1" in out.stdout
