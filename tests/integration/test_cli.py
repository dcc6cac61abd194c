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


# ---------- issue 17: machine-readable ballots and their scans ----------

@pytest.fixture
def scan_meeting(sqlite_url, tmp_path):
    """The meeting (sf, id, owners: owner ids by surname, env: manage.py's environment, start, end)
    on the file database manage.py is run on: the closing tests' building (flats 1 Андреев,
    2 Борисова, 3 Власов and Власова 1/2 each; two questions), its voting ended two days ago, the
    instance key known."""
    import datetime as dt
    from types import SimpleNamespace

    from services.db import make_engine, make_session_factory
    from tests.integration.test_closing import KEY, meeting_with_registry, owners

    today = dt.date.today()
    start, end = today - dt.timedelta(days=30), today - dt.timedelta(days=2)
    engine = make_engine(sqlite_url)
    sf = make_session_factory(engine)
    mid = meeting_with_registry(sf, start_date=start, end_date=end,
                                in_person_at=dt.datetime.combine(start, dt.time(19, 0)))
    env = {"SECRET_KEY": KEY, "KVORUM_DATA_DIR": str(tmp_path / "data"),
           "KVORUM_SECRETS_FILE": str(tmp_path / "no-secrets.toml")}
    yield SimpleNamespace(sf=sf, mid=mid, owners=owners(sf, mid), env=env, start=start, end=end)
    engine.dispose()


def pdf_tokens(path: Path) -> list:
    """The Kvorum code of every page of a PDF: each page drawn at 150 dpi, its QR code decoded."""
    from tests.scangen import sheet_tokens

    return sheet_tokens(path.read_bytes())


def scanned_stack(sf, mid, choices, tmp_path, name="сканы.pdf"):
    """Every owner's blank sheet, marked with `choices` (owner id -> {question: [options]}), signed,
    scanned into one PDF; the owners without choices left out of the stack."""
    from tests.integration.test_scan_reading import marked, sheets, write

    pdf, meta = sheets(sf, mid)
    images = [img for img, truth in marked(pdf, meta, choices) if truth.owner_id in choices]
    [(path, _name)] = write(tmp_path, images, name)
    return path, len(images)


def test_ballots_writes_one_readable_sheet_per_owner_in_the_registry_order(scan_meeting, sqlite_url, tmp_path):
    import dataclasses
    import datetime as dt

    from services.ballot_sheet import token_valid
    from services.meetings import QuestionData, update_meeting
    from services.scan_reader import owner_sheets
    from services.voting import register_paper_decision, voter_page
    from tests.integration.test_closing import KEY, details

    m = scan_meeting
    sf, mid, o, env = m.sf, m.mid, m.owners, m.env
    # an agenda long enough for a sheet of two pages
    data = details(start_date=m.start, end_date=m.end, in_person_at=dt.datetime.combine(m.start, dt.time(19, 0)))
    update_meeting(sf, meeting_id=mid, data=dataclasses.replace(data, questions=[
        QuestionData(f"Вопрос о благоустройстве № {n}: " + "ремонт подъезда, двора и кровли " * 6, "simple")
        for n in range(1, 13)]))
    out = tmp_path / "бланки.pdf"
    done = manage("ballots", "--meeting", str(mid), "--out", str(out), url=sqlite_url, env_extra=env)
    assert done.returncode == 0, done.stderr
    assert f"Бланков решений: 4; записано в {out}." in done.stderr
    layouts = owner_sheets(sf, meeting_id=mid)
    order = [o["Андреев"], o["Борисова"], o["Власов"], o["Власова"]]  # the registry's order
    tokens = pdf_tokens(out)
    assert len(tokens) == sum(len(layouts[oid].pages) for oid in order)
    assert all(len(layouts[oid].pages) > 1 for oid in order)
    assert (tokens[0].meeting_id, tokens[0].owner_id, tokens[0].page) == (mid, o["Андреев"], 1)
    assert [(t.owner_id, t.page, t.pages) for t in tokens] == [
        (oid, p.page, p.pages) for oid in order for p in layouts[oid].pages]
    assert all(token_valid(KEY, t) for t in tokens)

    # --not-voted: only the owners without a decision
    register_paper_decision(sf, secret_key=KEY, meeting_id=mid, owner_id=o["Андреев"], received_on=m.end,
                            answers={q.id: "for" for q in voter_page(sf, owner_id=o["Андреев"]).questions}, user="t")
    rest = tmp_path / "остальные.pdf"
    done = manage("ballots", "--meeting", str(mid), "--out", str(rest), "--not-voted", url=sqlite_url,
                  env_extra=env)
    assert done.returncode == 0, done.stderr
    assert [t.owner_id for t in pdf_tokens(rest) if t.page == 1] == order[1:]


def test_read_scans_dry_run_prints_every_page_as_json_and_stores_nothing(scan_meeting, sqlite_url, tmp_path):
    from sqlalchemy import func, select

    from services.models import ScanBatch, ScanPage

    sf, mid, o, env = scan_meeting.sf, scan_meeting.mid, scan_meeting.owners, scan_meeting.env
    choices = {o["Андреев"]: {1: ["for"], 2: ["against"]}, o["Борисова"]: {1: ["abstain"], 2: []},
               o["Власов"]: {1: ["for", "against"], 2: ["for"]}}
    path, pages = scanned_stack(sf, mid, choices, tmp_path)
    notes = tmp_path / "заметки.txt"
    notes.write_text("это не скан\n", encoding="utf-8")
    done = manage("read-scans", "--meeting", str(mid), path, str(notes), "--json", "--dry-run", "--workers", "0",
                  url=sqlite_url, env_extra=env)
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    [error] = [i for i in items if "error" in i]
    assert error["file"] == "заметки.txt" and error["review"] is True
    assert "заметки.txt: не изображение и не PDF" in error["error"]
    read = [i for i in items if "error" not in i]
    assert len(read) == pages == 3  # the other file read whole despite the bad one
    for item in read:
        assert {"file", "page", "owner_id", "premise", "answers", "signed", "review", "reasons"} <= set(item)
        assert item["file"] == "сканы.pdf" and item["signed"] is True
    by_owner = {i["owner_id"]: i for i in read}
    assert {oid: (i["premise"], i["answers"]) for oid, i in by_owner.items()} == {
        o["Андреев"]: ("1", {"1": "for", "2": "against"}),
        o["Борисова"]: ("2", {"1": "abstain", "2": "blank"}),
        o["Власов"]: ("3", {"1": "invalid", "2": "for"})}
    assert sorted(i["page"] for i in read) == [1, 2, 3]
    assert all(i["review"] is False and i["reasons"] == [] for i in read), read
    assert "ничего не сохранено (--dry-run)" in done.stderr
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(ScanBatch)) == 0
        assert s.scalar(select(func.count()).select_from(ScanPage)) == 0


def test_read_scans_register_enters_the_accepted_sheets_as_counted_decisions(scan_meeting, sqlite_url, tmp_path):
    from sqlalchemy import select

    from services.models import Decision, ScanBatch, ScanPage
    from services.voting import verify_decisions
    from tests.integration.test_closing import KEY

    m = scan_meeting
    sf, mid, o, env, end = m.sf, m.mid, m.owners, m.env, m.end
    choices = {oid: {1: ["for"], 2: ["against"]} for oid in o.values()}
    path, pages = scanned_stack(sf, mid, choices, tmp_path)
    # --register needs the date the decisions were received
    done = manage("read-scans", "--meeting", str(mid), path, "--register", url=sqlite_url, env_extra=env)
    assert done.returncode == 2 and "--received" in done.stderr
    done = manage("read-scans", "--meeting", str(mid), path, "--register", "--received", end.isoformat(),
                  "--workers", "1", url=sqlite_url, env_extra=env)
    assert done.returncode == 0, done.stderr
    assert "Внесено решений: 4 (учитываются 4, поздних 0, повторных 0); ждут проверки или листов: 0." in done.stderr
    with sf() as s:
        [batch] = s.scalars(select(ScanBatch)).all()
        decisions = s.scalars(select(Decision).where(Decision.meeting_id == mid)).all()
        assert sorted(d.owner_id for d in decisions) == sorted(o.values())
        assert {(d.kind, d.status, d.received_on) for d in decisions} == {("paper", "counted", end)}
        for d in decisions:
            stored = s.scalars(select(ScanPage).where(ScanPage.decision_id == d.id)).all()
            assert stored and {p.batch_id for p in stored} == {batch.id}
            assert json.loads(d.canonical)["scans"] == [{"sheet": p.sheet, "sha256": p.image_sha256} for p in stored]
        assert s.scalar(select(ScanPage.id).where(ScanPage.status != "registered")) is None
        assert len(s.scalars(select(ScanPage)).all()) == pages
    assert verify_decisions(sf, secret_key=KEY, meeting_id=mid).problems == []
