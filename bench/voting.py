"""Benchmark: sealed decisions (submit, verify), a decisions-spreadsheet import, and paper ballots.

Run from the repository root: `.venv/bin/python bench/voting.py [--postgres URL] [--no-fail]`
(or `make bench`).

(a) 10 000 decisions through `submit_online_decision` (10 questions, voting open), sequentially
    and from N threads at once, on SQLite and — with --postgres — on PostgreSQL (in a throw-away
    database `kvorum_bench_<pid>` created on that server and dropped afterwards). The baseline,
    measured in the same run on the same database, stores the same rows (a decision and its 10
    answers) without any sealing or checks: (1) like for like, one transaction per decision with
    Core single-row INSERTs and a commit each; (2) for reference, one Core executemany of all rows
    in one transaction. Then `verify_decisions` re-checks all 10 000 seals and must report ok.
(b) a 10 000-row decisions .xlsx (written with xlsxwriter) through `parse_decisions` and
    `store_decisions` — the two halves of `import_decisions` — timed separately.
(c) 2 000 blank paper ballots in one .docx with `ballots_docx`, and for reference `ballots_zip`
    for 200 owners.

Targets (issue 5): ≥ 200 decisions/s sequentially on SQLite; decisions import ≤ 20 s; 2 000
ballots ≤ 30 s; verification reports ok. Exits 1 when a target is missed (unless --no-fail).
Generated files go to bench/out/ (git-ignored).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import BenchDatabase, report  # noqa: E402

OUT = ROOT / "bench" / "out"
SECRET = "bench-secret-key"
QUESTIONS = 10
DECISIONS = 10_000
IMPORT_ROWS = 10_000
BALLOTS = 2_000
ZIP_BALLOTS = 200
THREADS = 8

TARGET_RATE = 200.0  # decisions per second, sequential, SQLite
TARGET_IMPORT_SECONDS = 20.0
TARGET_BALLOTS_SECONDS = 30.0

ANSWER_KEYS = ("for", "against", "abstain")
ANSWER_WORDS = {"for": "За", "against": "Против", "abstain": "Воздержался"}
_SURNAMES = ["Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов",
             "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов"]
_FIRST = ["Иван", "Пётр", "Алексей", "Сергей", "Андрей", "Дмитрий", "Николай", "Михаил", "Олег", "Юрий"]
_PATRON = ["Иванович", "Петрович", "Алексеевич", "Сергеевич", "Андреевич", "Дмитриевич", "Николаевич"]


class Timer:
    """Wall-clock and CPU time (this process, all threads) of a block. On a loaded machine the
    wall clock also counts waiting for a core; the CPU time shows what the code itself costs."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


# ---------- the database ----------

def Database(kind: str, server_url: str | None = None) -> BenchDatabase:
    return BenchDatabase(kind, server_url, prefix="voting")


def person(rnd: random.Random) -> str:
    return f"{rnd.choice(_SURNAMES)} {rnd.choice(_FIRST)} {rnd.choice(_PATRON)}"


def make_meeting(db: Database, owners: int, label: str, seed: int) -> tuple[int, list[int], list[int]]:
    """A meeting open today with QUESTIONS questions and `owners` owners (one per premise, inserted
    with Core: the registry import has its own benchmark). Returns (id, owner ids, question ids)."""
    from sqlalchemy import insert, select

    from services import owner_fields as f
    from services.meetings import MeetingData, QuestionData, create_meeting
    from services.models import AgendaQuestion, OwnerRecord, Premise

    today = dt.date.today()
    meeting_id = create_meeting(db.sf, data=MeetingData(
        address=f"г. Москва, ул. Бенчмарк, д. {label}", initiator="ООО «Управляющая компания»",
        start_date=today - dt.timedelta(days=10), end_date=today + dt.timedelta(days=10),
        decisions_place="г. Москва, ул. Бенчмарк, д. 1, помещение УК",
        questions=[QuestionData(f"Вопрос повестки дня № {i}: утверждение условий договора управления "
                                f"многоквартирным домом и размера платы за содержание жилого помещения")
                   for i in range(1, QUESTIONS + 1)],
    ))
    rnd = random.Random(seed)
    with db.sf.begin() as s:
        conn = s.connection()
        conn.execute(insert(Premise), [
            {"meeting_id": meeting_id, "number": str(i), "number_key": str(i), "kind": "residential",
             "area": Decimal(rnd.randint(180, 1400)) / 10} for i in range(1, owners + 1)])
        premises = dict(conn.execute(select(Premise.number, Premise.id).where(Premise.meeting_id == meeting_id)).all())
        rows = []
        for i in range(1, owners + 1):
            name = person(rnd)
            doc_date = dt.date(2005, 1, 1) + dt.timedelta(days=rnd.randint(0, 6500))
            rows.append({"meeting_id": meeting_id, "premise_id": premises[str(i)], "name": name,
                         "name_key": f.name_key(name), "is_legal_entity": False, "share_num": 1, "share_den": 1,
                         "doc_number": f"50:12:{i // 1000:07d}:{i % 1000}-50/001/{doc_date.year}-1",
                         "doc_date": doc_date, "snils": "", "emails": [], "phones": [], "source_row": i})
        conn.execute(insert(OwnerRecord), rows)
        owner_ids = list(conn.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)
                                      .order_by(OwnerRecord.id)))
        question_ids = list(conn.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == meeting_id)
                                         .order_by(AgendaQuestion.number)))
    return meeting_id, owner_ids, question_ids


def answers_of(owner_id: int, question_ids: list[int]) -> dict[int, str]:
    return {q: ANSWER_KEYS[(owner_id * 7 + i) % 3] for i, q in enumerate(question_ids)}


# ---------- (a) submitting decisions ----------

def submit_sequential(db: Database, owner_ids: list[int], question_ids: list[int]) -> Timer:
    from services.voting import submit_online_decision

    with Timer() as t:
        for oid in owner_ids:
            submit_online_decision(db.sf, secret_key=SECRET, owner_id=oid, answers=answers_of(oid, question_ids))
    return t


def submit_concurrent(db: Database, owner_ids: list[int], question_ids: list[int], threads: int) -> Timer:
    from services.voting import submit_online_decision

    chunks = [owner_ids[i::threads] for i in range(threads)]
    start = threading.Barrier(threads + 1)

    def work(chunk: list[int]) -> None:
        start.wait()
        for oid in chunk:
            submit_online_decision(db.sf, secret_key=SECRET, owner_id=oid, answers=answers_of(oid, question_ids))

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(work, c) for c in chunks]
        with Timer() as t:
            start.wait()
            for fut in futures:
                fut.result()
        return t


def _plain_row(meeting_id: int, seq: int, oid: int, now: dt.datetime, today: dt.date) -> dict:
    return {"meeting_id": meeting_id, "owner_id": oid, "kind": "online", "status": "online", "online_slot": oid,
            "counted_slot": None, "submitted_at": now, "received_on": today, "seq": seq, "canonical": "",
            "prev_seal": "", "seal": "", "created_by": "owner", "source": ""}


def baseline_per_row(db: Database, meeting_id: int, owner_ids: list[int], question_ids: list[int]) -> Timer:
    """Like for like: per decision one transaction, a single-row INSERT … RETURNING id of the decision,
    an executemany of its answers, commit. No reads, no checks, no seal."""
    from sqlalchemy import insert

    from services.models import Decision, DecisionAnswer

    decisions, answers = Decision.__table__, DecisionAnswer.__table__
    today = dt.date.today()
    with Timer() as t:
        for seq, oid in enumerate(owner_ids, start=1):
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
            with db.engine.begin() as conn:
                did = conn.execute(insert(decisions).returning(decisions.c.id),
                                   _plain_row(meeting_id, seq, oid, now, today)).scalar_one()
                conn.execute(insert(answers), [{"decision_id": did, "question_id": q, "answer": a}
                                               for q, a in answers_of(oid, question_ids).items()])
    return t


def baseline_bulk(db: Database, meeting_id: int, owner_ids: list[int], question_ids: list[int]) -> Timer:
    """Reference: all decisions in one Core executemany, then all answers in another; one transaction."""
    from sqlalchemy import insert, select

    from services.models import Decision, DecisionAnswer

    decisions, answers = Decision.__table__, DecisionAnswer.__table__
    today = dt.date.today()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    with Timer() as t, db.engine.begin() as conn:
        conn.execute(insert(decisions), [_plain_row(meeting_id, seq, oid, now, today)
                                         for seq, oid in enumerate(owner_ids, start=1)])
        ids = dict(conn.execute(select(decisions.c.owner_id, decisions.c.id)
                                .where(decisions.c.meeting_id == meeting_id)).all())
        conn.execute(insert(answers), [{"decision_id": ids[oid], "question_id": q, "answer": a}
                                       for oid in owner_ids for q, a in answers_of(oid, question_ids).items()])
    return t


def count_decisions(db: Database, meeting_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from services.models import Decision, DecisionAnswer

    with db.sf() as s:
        d = s.scalar(select(func.count()).select_from(Decision).where(Decision.meeting_id == meeting_id))
        a = s.scalar(select(func.count()).select_from(DecisionAnswer).join(Decision)
                     .where(Decision.meeting_id == meeting_id))
    return d, a


def bench_submit(db: Database, n: int, threads: int) -> dict:
    from services.voting import verify_decisions

    res: dict = {}
    m_seq, owners_seq, q_seq = make_meeting(db, n, "1", seed=1)
    m_par, owners_par, q_par = make_meeting(db, n, "2", seed=2)
    m_row, owners_row, q_row = make_meeting(db, n, "3", seed=3)
    m_bulk, owners_bulk, q_bulk = make_meeting(db, n, "4", seed=4)

    res["seq"] = submit_sequential(db, owners_seq, q_seq)
    res["par"] = submit_concurrent(db, owners_par, q_par, threads)
    res["row"] = baseline_per_row(db, m_row, owners_row, q_row)
    res["bulk"] = baseline_bulk(db, m_bulk, owners_bulk, q_bulk)
    for key, m in (("seq", m_seq), ("par", m_par), ("row", m_row), ("bulk", m_bulk)):
        d, a = count_decisions(db, m)
        assert (d, a) == (n, n * QUESTIONS), (key, d, a)

    with Timer() as t:
        report = verify_decisions(db.sf, secret_key=SECRET, meeting_id=m_seq)
    res["verify"] = t
    res["verify_ok"], res["verify_count"], res["verify_problems"] = report.ok, report.decisions, report.problems[:3]
    par = verify_decisions(db.sf, secret_key=SECRET, meeting_id=m_par)
    res["par_ok"], res["par_count"] = par.ok, par.decisions
    return res


def _rate(n: int, t: Timer) -> str:
    return (f"{t.wall:7.2f} s  {n / t.wall:6.0f}/s   (CPU of this process {t.cpu:6.2f} s, "
            f"{n / max(t.cpu, 1e-9):5.0f}/s)")


def print_submit(kind: str, n: int, threads: int, r: dict) -> None:
    print(f"(a) {kind}: {n} decisions, {QUESTIONS} questions each; wall clock, decisions per second")
    print(f"    submit_online_decision, sequential:                {_rate(n, r['seq'])}")
    print(f"    submit_online_decision, {threads} threads:                 {_rate(n, r['par'])}"
          f"   chain {'ok' if r['par_ok'] else 'BROKEN'}, {r['par_count']} decisions")
    print(f"    baseline: single-row INSERTs + commit per decision:  {_rate(n, r['row'])}")
    print(f"    reference: one Core executemany, one transaction:   {_rate(n, r['bulk'])}")
    print(f"    → sealed sequential takes {r['seq'].wall / r['row'].wall:.1f}× the like-for-like baseline's wall time "
          f"({r['seq'].cpu / max(r['row'].cpu, 1e-9):.1f}× its CPU)")
    verdict = "ok" if r["verify_ok"] else f"PROBLEMS {r['verify_problems']}"
    print(f"    verify_decisions over {r['verify_count']}: {r['verify'].wall:.2f} s (CPU {r['verify'].cpu:.2f} s), "
          f"reports {verdict}")


# ---------- (b) importing a decisions spreadsheet ----------

def write_decisions_xlsx(path: Path, db: Database, meeting_id: int, owner_ids: list[int]) -> None:
    import xlsxwriter
    from sqlalchemy import select

    from services.models import OwnerRecord, Premise

    with db.sf() as s:
        rows = {oid: (number, name) for oid, number, name in s.execute(
            select(OwnerRecord.id, Premise.number, OwnerRecord.name).join(Premise)
            .where(OwnerRecord.meeting_id == meeting_id))}
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Решения")
    date_fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    ws.write_row(0, 0, ["Номер помещения", "ФИО/Наименование собственника", "Дата получения",
                        *[f"Вопрос {i}" for i in range(1, QUESTIONS + 1)]])
    today = dt.date.today()
    for r, oid in enumerate(owner_ids, start=1):
        number, name = rows[oid]
        ws.write_number(r, 0, int(number))
        ws.write_string(r, 1, name)
        received = today - dt.timedelta(days=oid % 7)
        ws.write_datetime(r, 2, dt.datetime(received.year, received.month, received.day), date_fmt)
        for c in range(QUESTIONS):
            if (oid + c) % 97 == 0:
                continue  # now and then a question left blank: an invalid answer for it
            word = ANSWER_WORDS[ANSWER_KEYS[(oid * 7 + c) % 3]]
            ws.write_string(r, 3 + c, word if (oid + c) % 5 else word.upper())
    wb.close()


def bench_import(db: Database, n: int) -> dict:
    from services.decision_import import parse_decisions, store_decisions
    from services.voting import verify_decisions

    meeting_id, owner_ids, _q = make_meeting(db, n, "5", seed=5)
    path = OUT / f"decisions_{n}.xlsx"
    write_decisions_xlsx(path, db, meeting_id, owner_ids)
    data = path.read_bytes()
    with Timer() as parse:
        report = parse_decisions(db.sf, meeting_id=meeting_id, data=data, filename=path.name)
    with Timer() as store:
        stored = store_decisions(db.sf, secret_key=SECRET, meeting_id=meeting_id, report=report, user="bench")
    assert not report.errors and stored.total == n, (report.errors[:3], stored)
    # also compares the running count with the full recount: a drift is reported as a problem
    check = verify_decisions(db.sf, secret_key=SECRET, meeting_id=meeting_id)
    return {"parse": parse, "store": store, "rows": len(report.rows), "invalid": report.invalid_answers,
            "counted": stored.counted, "size": path.stat().st_size, "file": path, "ok": check.ok,
            "meeting_id": meeting_id, "owner_ids": owner_ids}


# ---------- (c) paper ballots ----------

def bench_ballots(db: Database, meeting_id: int, owner_ids: list[int], n: int, n_zip: int) -> dict:
    import zipfile
    import io

    from services.voting import ballots_docx, ballots_zip

    with Timer() as render:
        docx = ballots_docx(db.sf, meeting_id=meeting_id, owner_ids=owner_ids[:n])
    out = OUT / f"ballots_{n}.docx"
    out.write_bytes(docx)
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        body = zf.read("word/document.xml").decode("utf-8")
    pages = body.count('w:type="page"') + 1
    with Timer() as zipped:
        archive = ballots_zip(db.sf, meeting_id=meeting_id, owner_ids=owner_ids[:n_zip])
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        files = len(zf.namelist())
    return {"docx": render, "pages": pages, "size": len(docx), "file": out, "zip": zipped, "zip_files": files,
            "zip_size": len(archive)}


# ---------- main ----------

def _mb(n: int) -> str:
    return f"{n / 1024**2:.1f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", metavar="URL",
                    help="also run (a) on PostgreSQL (in a throw-away database on that server)")
    ap.add_argument("--no-fail", action="store_true", help="print the figures, exit 0 even if a target is missed")
    ap.add_argument("--decisions", type=int, default=DECISIONS)
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--import-rows", type=int, default=IMPORT_ROWS)
    ap.add_argument("--ballots", type=int, default=BALLOTS)
    ap.add_argument("--only", choices=("a", "b", "c"), action="append", help="run only these parts (repeatable)")
    args = ap.parse_args()
    parts = set(args.only or ("a", "b", "c"))
    checks = []
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")

    db = Database("sqlite")
    try:
        if "a" in parts:
            r = bench_submit(db, args.decisions, args.threads)
            print_submit("SQLite", args.decisions, args.threads, r)
            rate = args.decisions / r["seq"].wall
            checks.append((f"SQLite: ≥ {TARGET_RATE:g} decisions/s sequential (wall clock)", rate >= TARGET_RATE,
                           f"{rate:.0f}/s"))
            checks.append(("SQLite: verify_decisions reports ok", r["verify_ok"] and r["par_ok"],
                           f"{r['verify_count']} decisions in {r['verify'].wall:.2f} s"))
        if "b" in parts or "c" in parts:
            imp = bench_import(db, args.import_rows)
            if "b" in parts:
                p, st = imp["parse"], imp["store"]
                print(f"(b) import_decisions of {imp['rows']} rows ({imp['file'].relative_to(ROOT)}, "
                      f"{_mb(imp['size'])},"
                      f" {imp['invalid']} blank answers): parse {p.wall:.2f} s + store {st.wall:.2f} s"
                      f" = {p.wall + st.wall:.2f} s   (CPU {p.cpu:.2f} + {st.cpu:.2f} s; {imp['counted']} counted; "
                      f"seals and running count {'ok' if imp['ok'] else 'NOT OK'})")
                total = p.wall + st.wall
                checks.append((f"import of {imp['rows']} decisions ≤ {TARGET_IMPORT_SECONDS:g} s",
                               total <= TARGET_IMPORT_SECONDS and imp["ok"], f"{total:.2f} s"))
            if "c" in parts:
                c = bench_ballots(db, imp["meeting_id"], imp["owner_ids"], args.ballots, ZIP_BALLOTS)
                print(f"(c) ballots_docx, {args.ballots} owners: {c['docx'].wall:.2f} s (CPU {c['docx'].cpu:.2f} s; "
                      f"{c['pages']} pages, {_mb(c['size'])}, {c['file'].relative_to(ROOT)})")
                print(f"    ballots_zip, {ZIP_BALLOTS} owners (reference): {c['zip'].wall:.2f} s "
                      f"(CPU {c['zip'].cpu:.2f} s; "
                      f"{c['zip_files']} files, {_mb(c['zip_size'])})")
                checks.append((f"{args.ballots} ballots in one .docx ≤ {TARGET_BALLOTS_SECONDS:g} s",
                               c["docx"].wall <= TARGET_BALLOTS_SECONDS and c["pages"] == args.ballots,
                               f"{c['docx'].wall:.2f} s"))
    finally:
        db.close()

    if args.postgres and "a" in parts:
        pg = Database("postgres", args.postgres)
        try:
            r = bench_submit(pg, args.decisions, args.threads)
            print_submit("PostgreSQL", args.decisions, args.threads, r)
            checks.append(("PostgreSQL: verify_decisions reports ok", r["verify_ok"] and r["par_ok"],
                           f"{r['verify_count']} decisions in {r['verify'].wall:.2f} s"))
        finally:
            pg.close()

    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (more than the CPU count: wall times include "
          "waiting for a core)")
    return report(checks, no_fail=args.no_fail)


if __name__ == "__main__":
    sys.exit(main())
