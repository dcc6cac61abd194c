"""`manage.py check-registry FILE --json` as an administrator runs it: a real process that reads the
file and prints the report, and never touches a database."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.filemakers import FORMATS, filename_for, make_table

ROOT = Path(__file__).resolve().parents[2]
# A database that cannot be reached: a command that tried to open it would fail.
UNREACHABLE_DB = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=1"

REGISTRY = [
    ["Реестр собственников"],
    ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
     "Номер документа", "Дата документа", "Адрес эл. почты и номер телефона", "Примечание"],
    ["1", 50, "Иванов Иван Иванович, Иванова Ирина Ивановна", "1", "123456-789", dt.date(2020, 2, 4),
     "mail@mail.ru 79111111111", ""],
    ["2", 50, "Петров Петр Петрович", "1/2", "987654-321", "06.01.2020", "email@mail.ru, ivan@", ""],
    ["3", "33,3", "Сидоров Сидор", "1/3", "", "", "", ""],
    ["4", 0, "Нулев Ноль", "1", "", "", "", ""],
    ["", 40, "Безномерной", "1", "", "", "", ""],
    ["5", 40, "Пятов Пятак", "3/2", "", "", "", ""],
    ["Итого", 213.3, "", "", "", "", "", ""],
]

EXPECTED = {
    "owners": 3,
    "premises": 3,
    "total_area": 133.3,
    "votes": 86.1,  # 50 + 25 + 11.1
    "errors": [
        {"row": 6, "column": "Общая площадь", "message": "площадь должна быть больше нуля, указано 0"},
        {"row": 7, "column": "Номер помещения", "message": "не указан номер помещения"},
        {"row": 8, "column": "Доля собственника", "message": "доля не может быть больше 1, указано 3/2"},
    ],
    "warnings": [
        {"row": 4, "premise": "2",
         "message": "контакт «ivan@» не распознан как e-mail или телефон — сохранено без него"},
        {"row": None, "premise": "2", "message": "доли собственников помещения 2 в сумме 1/2, а не 1 — голоса недостающей части не учитываются"},
        {"row": None, "premise": "3", "message": "доли собственников помещения 3 в сумме 1/3, а не 1 — голоса недостающей части не учитываются"},
    ],
}


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def check_registry(path: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "KVORUM_"))}
    env.update(KVORUM_DATA_DIR=str(data_dir), DATABASE_URL=UNREACHABLE_DB,
               KVORUM_SECRETS_FILE=str(data_dir / "no-secrets.toml"))
    python = ROOT / ".venv" / "bin" / "python"
    return subprocess.run([str(python if python.exists() else sys.executable), "manage.py", "check-registry",
                           str(path), *extra], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("fmt", FORMATS)
def test_prints_exactly_the_report_as_json_and_exits_zero(fmt, tmp_path, data_dir):
    path = tmp_path / filename_for(fmt)
    path.write_bytes(make_table(REGISTRY, fmt))
    out = check_registry(path, data_dir, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == EXPECTED
    assert list(data_dir.iterdir()) == []  # no database file, no secret key, nothing


def test_json_report_has_exactly_the_documented_keys_and_types(tmp_path, data_dir):
    path = tmp_path / "реестр.csv"
    path.write_bytes(make_table(REGISTRY, "csv", encoding="cp1251"))
    report = json.loads(check_registry(path, data_dir, "--json").stdout)
    assert list(report) == ["owners", "premises", "total_area", "votes", "errors", "warnings"]
    assert all(list(e) == ["row", "column", "message"] for e in report["errors"])
    assert all(list(w) == ["row", "premise", "message"] for w in report["warnings"])
    assert isinstance(report["owners"], int) and isinstance(report["premises"], int)
    assert isinstance(report["total_area"], float) and isinstance(report["votes"], float)


def test_prints_a_readable_russian_report_without_json(tmp_path, data_dir):
    path = tmp_path / "реестр.xlsx"
    path.write_bytes(make_table(REGISTRY, "xlsx"))
    out = check_registry(path, data_dir)
    assert out.returncode == 0, out.stderr
    assert "Собственников (принято строк): 3" in out.stdout
    assert "Общая площадь: 133,30\u00a0м²" in out.stdout  # written as every page writes it
    assert "Голосов: 86,10\n" in out.stdout
    assert "строка 6, столбец «Общая площадь»: площадь должна быть больше нуля, указано 0" in out.stdout
    assert list(data_dir.iterdir()) == []


@pytest.mark.parametrize("name,content,fragment", [
    ("пустой.xlsx", b"", "пуст"),
    ("шум.xlsx", bytes(range(256)) * 64, "не является таблицей"),
    ("обрезанный.xlsx", make_table(REGISTRY, "xlsx")[:3000], "повреждён"),
    ("выгрузка.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>", "веб-страница"),
    ("заголовок.ods", make_table([["Реестр собственников"]], "ods"), "не найдена строка заголовков"),
    ("большой.csv", b"x" * (50 * 1024 * 1024), "слишком большой"),
])
def test_exits_2_with_a_russian_message_when_the_file_cannot_be_read(name, content, fragment, tmp_path, data_dir):
    path = tmp_path / name
    path.write_bytes(content)
    out = check_registry(path, data_dir, "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith("Ошибка: ")
    assert fragment in out.stderr and f"«{name}»" in out.stderr
    assert "Traceback" not in out.stderr
    assert list(data_dir.iterdir()) == []


def test_exits_2_when_the_file_does_not_exist(tmp_path, data_dir):
    out = check_registry(tmp_path / "нет-такого.xlsx", data_dir, "--json")
    assert out.returncode == 2
    assert "не найден" in out.stderr and "Traceback" not in out.stderr
