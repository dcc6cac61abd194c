"""Benchmark: the exact count of 100 000 decisions × 10 answers, the live count and «Активность».

Run from the repository root: `.venv/bin/python bench/tally.py [--postgres URL] [--no-fail]`
(or `make bench`).

A meeting with 100 000 owner records (about 81 000 premises of 18–140 m², every 7th premise held
half and half, every 20th by three owners with 1/3 each), 10 agenda questions and 100 000 counted
paper decisions with 10 answers each (1 000 000 answers) is written with Core executemany
straight into premises, owner_records, decisions and decision_answers (seals are irrelevant to
the count), plus a sent notice for 90 % of the owners and a used access code for 60 % (what
«Активность» counts by status). Then `rebuild_aggregate` builds the running count. This runs on
SQLite (a file under bench/out/) and, with --postgres, on PostgreSQL (a throw-away database
`kvorum_bench_tally_<pid>` created on that server and dropped afterwards).

Measured in the same run, on the same database:
(1) `recount()` — the full exact recount (SQL GROUP BY, sums combined as Fractions);
(2) baselines: (a) a pure-Python count — the joined rows fetched once (one row per counted
    decision: den, area units, share numerator, day; one row per answer: question, answer, den,
    area units, share numerator) and summed in Python as exact Fractions; the timed figure is
    the fetch plus the summation (both are printed); (b) for reference, the naive float GROUP BY
    (SUM(area * share_num * 1.0 / share_den)) that a float count would use;
(3) `live_tally()` (from the running aggregate) and `activity_figures()`;
(4) the «Активность» page (pages/activity.py through app.py) with streamlit.testing.v1.AppTest:
    one warm-up run, then the second run is reported;
(5) live_tally == recount (participants, records, every question's votes and records, by day)
    and the Python baseline == recount; the float baseline is shown with its deviation.

Targets (issue 6): recount ≤ 1 s, live_tally ≤ 50 ms, activity_figures ≤ 50 ms, the page ≤ 2 s,
on each backend. Exits 1 when a target is missed or a count differs (unless --no-fail).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import BenchDatabase, report  # noqa: E402

OUT = ROOT / "bench" / "out"
OWNERS = 100_000
QUESTIONS = 10
DAYS = 14
CHUNK = 100_000

TARGET_RECOUNT = 1.0
TARGET_LIVE = 0.050
TARGET_ACTIVITY = 0.050
TARGET_PAGE = 2.0

ANSWERS = ("for", "against", "abstain", "invalid")
ANSWER_WEIGHTS = (62, 23, 12, 3)
ADMIN_LOGIN, ADMIN_PASSWORD = "bench-admin", "bench-password-2026"


# ---------- the database ----------

def Database(kind: str, server_url: str | None = None) -> BenchDatabase:
    return BenchDatabase(kind, server_url, prefix="tally")


# ---------- building the meeting ----------

def premise_layout(owners: int) -> list[int]:
    """Owners per premise: every 20th premise has three owners (1/3), every 7th two (1/2)."""
    layout, total, i = [], 0, 0
    while total < owners:
        i += 1
        n = 3 if i % 20 == 0 else 2 if i % 7 == 0 else 1
        n = min(n, owners - total)
        layout.append(n)
        total += n
    return layout


def build_meeting(db: Database, owners: int, seed: int = 6) -> dict:
    from sqlalchemy import insert, select

    from services import owner_fields as f
    from services.meetings import MeetingData, QuestionData, create_meeting
    from services.models import AccessCode, AgendaQuestion, Decision, DecisionAnswer, Delivery, OwnerRecord, Premise
    from services.tally import rebuild_aggregate

    rnd = random.Random(seed)
    today = dt.date.today()
    start = today - dt.timedelta(days=DAYS)
    meeting_id = create_meeting(db.sf, data=MeetingData(
        address="г. Москва, ул. Бенчмарк, д. 6", initiator="ООО «Управляющая компания»",
        start_date=start, end_date=today + dt.timedelta(days=7),
        decisions_place="г. Москва, ул. Бенчмарк, д. 1, помещение УК",
        questions=[QuestionData(f"Вопрос повестки дня № {i}: утверждение условий договора управления",
                                ("simple", "more_than_half", "two_thirds")[i % 3])
                   for i in range(1, QUESTIONS + 1)],
    ))
    layout = premise_layout(owners)
    timings = {}
    t0 = time.perf_counter()
    with db.sf.begin() as s:
        conn = s.connection()
        conn.execute(insert(Premise), [
            {"meeting_id": meeting_id, "number": str(i), "number_key": str(i),
             "kind": "non_residential" if i % 97 == 0 else "residential",
             # mostly tenths of a metre, some with hundredths, as registries have them
             "area": f"{rnd.randint(1800, 14000) / 100:.2f}" if i % 5 == 0 else f"{rnd.randint(180, 1400) / 10:.1f}"}
            for i in range(1, len(layout) + 1)])
        premise_ids = list(conn.scalars(select(Premise.id).where(Premise.meeting_id == meeting_id)
                                        .order_by(Premise.id)))
        rows, n = [], 0
        for pid, count in zip(premise_ids, layout):
            den = 1 if count == 1 else (2 if count == 2 else 3)
            for _k in range(count):
                n += 1
                name = f"Собственник {n} Бенчмарков"
                rows.append({"meeting_id": meeting_id, "premise_id": pid, "name": name, "name_key": f.name_key(name),
                             "is_legal_entity": False, "share_num": 1, "share_den": den, "doc_number": f"77-{n}",
                             "doc_date": None, "snils": "", "emails": [], "phones": [], "source_row": n})
        conn.execute(insert(OwnerRecord), rows)
        owner_ids = list(conn.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)
                                      .order_by(OwnerRecord.id)))
        question_ids = list(conn.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == meeting_id)
                                         .order_by(AgendaQuestion.number)))
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        conn.execute(insert(Delivery), [
            {"meeting_id": meeting_id, "owner_id": oid, "channel": "email", "lawful": True, "address": f"o{oid}@ex.ru",
             "status": "sent", "created_at": now, "next_attempt_at": now, "sent_at": now}
            for i, oid in enumerate(owner_ids) if i % 10])
        conn.execute(insert(AccessCode), [
            {"meeting_id": meeting_id, "owner_id": oid, "code_hash": f"{oid:064x}", "issued_at": now,
             "first_used_at": now if i % 5 < 3 else None} for i, oid in enumerate(owner_ids)])
    timings["t_registry"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with db.sf.begin() as s:
        conn = s.connection()
        for lo in range(0, len(owner_ids), CHUNK):
            conn.execute(insert(Decision), [
                {"meeting_id": meeting_id, "owner_id": oid, "kind": "paper", "status": "counted",
                 "online_slot": None, "counted_slot": oid, "submitted_at": now,
                 "received_on": start + dt.timedelta(days=(seq * 7) % DAYS), "seq": seq, "canonical": "{}",
                 "prev_seal": "", "seal": "x", "created_by": "bench", "source": ""}
                for seq, oid in enumerate(owner_ids[lo:lo + CHUNK], start=lo + 1)])
        decision_ids = list(conn.scalars(select(Decision.id).where(Decision.meeting_id == meeting_id)
                                         .order_by(Decision.id)))
        answer_rows = []
        for did in decision_ids:
            for qid, answer in zip(question_ids, rnd.choices(ANSWERS, ANSWER_WEIGHTS, k=QUESTIONS)):
                answer_rows.append({"decision_id": did, "question_id": qid, "answer": answer})
                if len(answer_rows) == CHUNK:
                    conn.execute(insert(DecisionAnswer), answer_rows)
                    answer_rows = []
        if answer_rows:
            conn.execute(insert(DecisionAnswer), answer_rows)
    timings["t_decisions"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with db.sf.begin() as s:
        rebuild_aggregate(s, meeting_id)
    timings["t_aggregate"] = time.perf_counter() - t0
    if db.kind == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            from sqlalchemy import text
            c.execute(text("VACUUM ANALYZE"))
    elif db.kind == "sqlite":
        with db.engine.begin() as c:
            from sqlalchemy import text
            c.execute(text("ANALYZE"))
    return {"meeting_id": meeting_id, "premises": len(layout), "owners": len(owner_ids),
            "decisions": len(decision_ids), "answers": len(decision_ids) * len(question_ids), **timings}


# ---------- the baselines ----------

def python_count(db: Database, meeting_id: int) -> dict:
    """Fetch the joined rows once, then sum exact Fractions in Python row by row."""
    from sqlalchemy import text

    counted = "d.meeting_id = :m AND d.counted_slot IS NOT NULL"
    joins = ("FROM decisions d JOIN owner_records o ON d.owner_id = o.id "
             "JOIN premises p ON o.premise_id = p.id")
    t0 = time.perf_counter()
    with db.engine.connect() as c:
        decisions = c.execute(text(f"SELECT d.received_on, p.area, o.share_num, o.share_den {joins} WHERE {counted}"),
                              {"m": meeting_id}).all()
        answers = c.execute(text(f"SELECT a.question_id, a.answer, p.area, o.share_num, o.share_den "
                                 f"FROM decision_answers a JOIN decisions d ON a.decision_id = d.id "
                                 f"JOIN owner_records o ON d.owner_id = o.id JOIN premises p ON o.premise_id = p.id "
                                 f"WHERE {counted}"), {"m": meeting_id}).all()
    fetch = time.perf_counter() - t0
    t0 = time.perf_counter()
    participants, records = Fraction(0), 0
    by_day: dict = defaultdict(Fraction)
    for day, area, num, den in decisions:
        v = Fraction(area * num, den * 10_000)
        participants += v
        records += 1
        by_day[day] += v
    votes: dict = defaultdict(Fraction)
    counts: dict = defaultdict(int)
    for qid, answer, area, num, den in answers:
        votes[(qid, answer)] += Fraction(area * num, den * 10_000)
        counts[(qid, answer)] += 1
    summing = time.perf_counter() - t0
    return {"fetch": fetch, "sum": summing, "rows": len(decisions) + len(answers), "participants": participants,
            "records": records, "votes": dict(votes), "counts": dict(counts), "by_day": dict(by_day)}


def float_count(db: Database, meeting_id: int) -> dict:
    """For reference: what a float count would do — one GROUP BY with SUM(area * share * 1.0 / den)."""
    from sqlalchemy import text

    counted = "d.meeting_id = :m AND d.counted_slot IS NOT NULL"
    t0 = time.perf_counter()
    with db.engine.connect() as c:
        participants = c.execute(text(
            "SELECT SUM(p.area * o.share_num * 1.0 / o.share_den) / 10000.0 FROM decisions d "
            "JOIN owner_records o ON d.owner_id = o.id JOIN premises p ON o.premise_id = p.id "
            f"WHERE {counted}"), {"m": meeting_id}).scalar()
        votes = {(q, a): v for q, a, v in c.execute(text(
            "SELECT a.question_id, a.answer, SUM(p.area * o.share_num * 1.0 / o.share_den) / 10000.0 "
            "FROM decision_answers a JOIN decisions d ON a.decision_id = d.id "
            "JOIN owner_records o ON d.owner_id = o.id JOIN premises p ON o.premise_id = p.id "
            f"WHERE {counted} GROUP BY a.question_id, a.answer"), {"m": meeting_id})}
    return {"time": time.perf_counter() - t0, "participants": float(participants),
            "votes": {k: float(v) for k, v in votes.items()}}


# ---------- timing helpers ----------

def timed(fn, repeat: int, cpu: list | None = None):
    """(best, median, last result) of `repeat` calls; `cpu` gets this process's median CPU time
    (for SQLite, which runs in-process, the work itself, whatever else the machine is doing)."""
    times, cpus, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if cpu is not None:
        cpu.append(statistics.median(cpus))
    return min(times), statistics.median(times), result


def tally_view(t) -> dict:
    return {"participants": t.participants, "participant_records": t.participant_records,
            "online": (t.online_votes, t.online_records), "all_votes": t.all_votes, "by_day": t.by_day,
            "questions": [(q.number, q.votes, q.records, q.adopted) for q in t.questions]}


# ---------- the page ----------

def render_page(db: Database, meeting_id: int) -> dict:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from services.auth import create_user, get_user

    staff = create_user(db.sf, username=f"{ADMIN_LOGIN}-{db.kind}", password=ADMIN_PASSWORD, full_name="Бенчмарк")
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "KVORUM_DATA_DIR", "KVORUM_EMBEDDED_SENDER",
                                            "KVORUM_SECRETS_FILE")}
    data_dir = OUT / f"tally_data_{os.getpid()}"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update({"DATABASE_URL": db.url, "KVORUM_DATA_DIR": str(data_dir), "KVORUM_EMBEDDED_SENDER": "0",
                       "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml")})
    # As on a server where app.py has run once (see tests/app/conftest.py: warm_server).
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["user"] = get_user(db.sf, staff.id)
        at.run()
        at.session_state["meeting_id"] = meeting_id
        t0 = time.perf_counter()
        at.switch_page("pages/activity.py").run()
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        at.run()
        second = time.perf_counter() - t0
        errors = [e.value for e in at.exception] + [e.value for e in at.error]
        metric = at.metric[0].value if len(at.metric) else ""
        title = at.title[0].value if len(at.title) else ""
    finally:
        PagesManager.__init__ = original
        from services import process

        process.close()  # the process runtime (engine) of this database
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for p in sorted(data_dir.glob("*")):
            p.unlink()
        data_dir.rmdir()
    return {"warm": warm, "second": second, "errors": errors, "metric": metric, "title": title}


# ---------- one backend ----------

def bench_backend(db: Database, owners: int, checks: list) -> None:
    from services.results import activity_figures
    from services.tally import live_tally, recount, votes2

    label = db.label
    print(f"\n=== {label} === (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs)")
    b = build_meeting(db, owners)
    mid = b["meeting_id"]
    print(f"built: {b['premises']} premises, {b['owners']} owner records, {b['decisions']} counted decisions, "
          f"{b['answers']} answers — registry {b['t_registry']:.1f} s, decisions+answers {b['t_decisions']:.1f} s, "
          f"rebuild_aggregate {b['t_aggregate']:.2f} s")

    recount(db.sf, meeting_id=mid)  # one warm-up: the page cache, as on a running server
    cpu: list = []
    rc_best, rc_med, rc = timed(lambda: recount(db.sf, meeting_id=mid), 3, cpu)
    own = "this process's CPU (SQLite runs in it)" if db.kind == "sqlite" else "client CPU"
    py = python_count(db, mid)
    fl_best, fl_med, fl = timed(lambda: float_count(db, mid), 3)
    py_total = py["fetch"] + py["sum"]
    rc_cpu = cpu[0]
    print(f"(1) recount(): best {rc_best * 1000:.0f} ms, median {rc_med * 1000:.0f} ms (3 runs); "
          f"{own} {rc_cpu * 1000:.0f} ms")
    print(f"(2) baseline, pure Python exact count: fetch {py['rows']} joined rows {py['fetch']:.2f} s + Fraction sums "
          f"{py['sum']:.2f} s = {py_total:.2f} s  → recount is {py_total / rc_med:.1f}× faster")
    print(f"    reference, naive float GROUP BY: best {fl_best * 1000:.0f} ms, median {fl_med * 1000:.0f} ms  "
          f"→ recount / float = {rc_med / fl_med:.2f}")
    lv_best, lv_med, lv = timed(lambda: live_tally(db.sf, meeting_id=mid), 20, cpu)
    ac_best, ac_med, ac = timed(lambda: activity_figures(db.sf, meeting_id=mid), 20, cpu)
    rc_cpu, lv_cpu, ac_cpu = cpu
    print(f"(3) live_tally(): best {lv_best * 1000:.1f} ms, median {lv_med * 1000:.1f} ms (20 runs); "
          f"recount / live_tally = {rc_med / lv_med:.0f}×; {own} {lv_cpu * 1000:.1f} ms")
    print(f"    activity_figures(): best {ac_best * 1000:.1f} ms, median {ac_med * 1000:.1f} ms (20 runs); "
          f"{own} {ac_cpu * 1000:.1f} ms")
    for x in ac:
        print(f"      {x.status:<18} {x.owners:>7} собств. {votes2(x.votes):>14} голосов")
    from services.results import live_activity_figures

    live_activity_figures(db.sf, meeting_id=mid)  # the page's first view computes and keeps them
    la_cpu: list = []
    la_best, la_med, la = timed(lambda: live_activity_figures(db.sf, meeting_id=mid), 20, la_cpu)
    print(f"    live_activity_figures() (what the page refreshes; recomputed only after a change): best "
          f"{la_best * 1000:.1f} ms, median {la_med * 1000:.1f} ms (20 runs); {own} {la_cpu[0] * 1000:.1f} ms; "
          f"equal to activity_figures(): {la == ac}")

    page = render_page(db, mid)
    print(f"(4) «Активность» page (AppTest): first run {page['warm']:.2f} s, second run {page['second']:.2f} s"
          f"{'; errors: ' + '; '.join(map(str, page['errors'])) if page['errors'] else ''}")

    same = tally_view(lv) == tally_view(rc)
    py_same = (py["participants"] == rc.participants and py["records"] == rc.participant_records
               and all(q.votes[k] == py["votes"].get((q.id, k), 0) and q.records[k] == py["counts"].get((q.id, k), 0)
                       for q in rc.questions for k in ANSWERS))
    dev = max([abs(fl["participants"] - float(rc.participants))]
              + [abs(fl["votes"].get((q.id, k), 0.0) - float(q.votes[k])) for q in rc.questions for k in ANSWERS])
    print(f"(5) live_tally == recount: {same}; Python baseline == recount: {py_same}; float GROUP BY max deviation "
          f"{dev:.3g} m²")
    print(f"    all votes {votes2(rc.all_votes)}, participants {votes2(rc.participants)} "
          f"({rc.participant_records} records, {float(rc.participation) * 100:.2f} %), quorum: {rc.quorum}")
    for q in rc.questions:
        print(f"    Q{q.number:<2} " + "  ".join(f"{k} {votes2(q.votes[k]):>13} ({q.records[k]:>5})" for k in ANSWERS)
              + f"  {'принято' if q.adopted else 'не принято'}")
    page_ok = not page["errors"] and page["title"] == "Активность" and str(votes2(rc.participants)) in page["metric"]

    checks += [
        (f"{label}: recount ≤ {TARGET_RECOUNT:g} s", rc_med <= TARGET_RECOUNT, f"{rc_med * 1000:.0f} ms"),
        (f"{label}: live_tally ≤ {TARGET_LIVE * 1000:g} ms", lv_med <= TARGET_LIVE, f"{lv_med * 1000:.1f} ms"),
        (f"{label}: the page's live activity figures ≤ {TARGET_ACTIVITY * 1000:g} ms",
         la_med <= TARGET_ACTIVITY and la == ac, f"{la_med * 1000:.1f} ms"),
        (f"{label}: «Активность» page ≤ {TARGET_PAGE:g} s and shows the count", page["second"] <= TARGET_PAGE and page_ok,
         f"{page['second']:.2f} s"),
        (f"{label}: live_tally == recount == Python count", same and py_same, "equal" if same and py_same else "DIFFER"),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (a throw-away database on that server)")
    ap.add_argument("--no-fail", action="store_true", help="print the figures, exit 0 even if a target is missed")
    ap.add_argument("--owners", type=int, default=OWNERS)
    ap.add_argument("--skip-sqlite", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    checks: list = []
    if not args.skip_sqlite:
        db = Database("sqlite")
        try:
            bench_backend(db, args.owners, checks)
        finally:
            db.close()
    if args.postgres:
        pg = Database("postgresql", args.postgres)
        try:
            bench_backend(pg, args.owners, checks)
        finally:
            pg.close()

    print()
    return report(checks, no_fail=args.no_fail)


if __name__ == "__main__":
    sys.exit(main())
