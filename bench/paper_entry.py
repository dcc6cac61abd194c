"""Benchmark: registering paper decisions by hand on the demo meeting, a save as the page does it.

Run from the repository root: `.venv/bin/python bench/paper_entry.py [--postgres URL] [--no-fail]`.

The database is fresh (a SQLite file under bench/out/ or, with --postgres, a throw-away database on
that server) and holds the demo meeting as `manage.py demo` makes it (services.demo.create_live_demo:
48 owners, a third of the decisions in, voting open).

What is measured (issue 16, item 6; the issue saw 2.5–3.5 s per save in the browser):
(a) the service: `register_paper_decision` for every owner without a decision (one sealed decision
    each, 5 questions, one of them «нет отметки»), then `correct_paper_decision` and `annul_decision`
    of some of them; median and worst.
(b) baseline, in the same run on the same database: a decision row and its 5 answers stored in one
    transaction with Core INSERTs, without sealing, checks or the running count — the cost of the
    storage itself. Every figure is printed with its ratio to it.
(c) the page: «Решения собственников» in Streamlit's AppTest (the real app.py, router and login
    gate, on this database): the owner chosen, the marks typed, «Сохранить решение» — the whole script
    run that saves and draws the next blank form, per save; and, for reference, the page's reads
    that used to run on each run before (the notification index for the owner list, voter_page for
    the agenda) against the ones it runs now.

Targets: a save — the service's worst, a correction's worst and the page's worst run — ≤ 0.5 s.
Exits 1 when one is missed (unless --no-fail).
"""
from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import BenchDatabase, main_on_one_database  # noqa: E402

SECRET = "bench-paper-entry-secret"
TARGET_SECONDS = 0.5
PAGE_SAVES = 8


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def figure(times: list[float], baseline: float) -> str:
    med, worst = statistics.median(times), max(times)
    return (f"median {med * 1000:.1f} ms, worst {worst * 1000:.1f} ms over {len(times)} "
            f"(×{med / baseline:.1f} / ×{worst / baseline:.1f} the baseline)")


def baseline_store(db: BenchDatabase, meeting_id: int, owner_id: int, question_ids: list[int], seq: int) -> float:
    from sqlalchemy import insert

    from services.models import Decision, DecisionAnswer

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    start = time.perf_counter()
    with db.sf.begin() as s:
        conn = s.connection()
        did = conn.execute(insert(Decision.__table__).returning(Decision.__table__.c.id), dict(
            meeting_id=meeting_id, owner_id=owner_id, kind="paper", status="late", online_slot=None,
            counted_slot=None, submitted_at=now, received_on=dt.date.today(), seq=seq, canonical="{}",
            prev_seal="", seal="0" * 64, created_by="bench", source="")).scalar_one()
        conn.execute(insert(DecisionAnswer.__table__),
                     [{"decision_id": did, "question_id": q, "answer": "for"} for q in question_ids])
    return time.perf_counter() - start


def page_saves(db: BenchDatabase, meeting_id: int, owner_ids: list[int], questions: int) -> list[float]:
    """Each save as the page runs it (AppTest: app.py, the login gate, the page), per save."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from services.auth import create_user

    data_dir = tempfile.mkdtemp(prefix="kvorum_bench_paper_")
    os.environ.update({"DATABASE_URL": db.url, "KVORUM_DATA_DIR": data_dir, "SECRET_KEY": SECRET,
                       "KVORUM_SECRETS_FILE": str(Path(data_dir) / "no-secrets.toml"),
                       "KVORUM_EMBEDDED_SENDER": "0"})
    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # as on a server where app.py has run once (tests/app/conftest.py)
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    admin = create_user(db.sf, username="bench", password="bench-paper-1", full_name="Бенч Бенчев")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = admin
    at.run()
    at.session_state["meeting_id"] = meeting_id
    at = at.switch_page("pages/decisions.py").run()
    at.run()  # warm: the page's first run imports its modules
    assert not at.exception, [e.value for e in at.exception]
    owner_label = "Собственник (начните вводить номер помещения или ФИО)"
    times = []
    for owner_id in owner_ids:
        [owner] = [s for s in at.selectbox if s.label == owner_label]
        owner.set_value(owner_id)
        [typed] = [t for t in at.text_input if t.label == "Отметки с клавиатуры"]
        typed.set_value(("1230" + "1" * questions)[:questions])
        [save] = [b for b in at.button if b.label == "Сохранить решение"]
        save.click()
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        assert any(w.value.startswith("Решение №") for w in [*at.success, *at.warning])
    return times


def run(kind: str, server_url: str | None) -> list[tuple[str, bool, str]]:
    from services import voting
    from services.demo import create_live_demo
    from services.notify import owner_status_index

    db = BenchDatabase(kind, server_url, prefix="paper_entry")
    try:
        demo = create_live_demo(db.sf, secret_key=SECRET)
        m = demo.meeting_id
        questions = voting.agenda_questions(db.sf, meeting_id=m)
        qids = [q.id for q in questions]
        rest = voting.not_answered_owner_ids(db.sf, meeting_id=m)
        page_owners, service_owners = rest[:PAGE_SAVES], rest[PAGE_SAVES:]
        print(f"{db.label}: the demo meeting, {len(questions)} questions, {len(rest)} owners without a decision")

        # (b) the baseline: storage alone, on a throw-away meeting's worth of rows rolled into this one
        from sqlalchemy import select

        from services.models import Meeting
        with db.sf() as s:
            seq0 = s.scalar(select(Meeting.seal_count).where(Meeting.id == m)) + 10_000
        base = [baseline_store(db, m, rest[0], qids, seq0 + i) for i in range(20)]
        from sqlalchemy import delete

        from services.models import Decision
        with db.sf.begin() as s:
            s.execute(delete(Decision).where(Decision.meeting_id == m, Decision.seq >= seq0))
        baseline = statistics.median(base)
        print(f"baseline (a decision and its answers, plain INSERTs, one transaction): {baseline * 1000:.1f} ms")

        # (a) the service
        marks = {q: ("none" if i == 1 else "for") for i, q in enumerate(qids)}
        saves, stored = [], []
        for oid in service_owners:
            t, d = timed(lambda: voting.register_paper_decision(
                db.sf, secret_key=SECRET, meeting_id=m, owner_id=oid, received_on=dt.date.today(),
                answers=marks, user="bench"))
            saves.append(t)
            stored.append(d)
        half = len(stored) // 2
        corrections, annulments = [], []
        for d in stored[:half]:
            t, _r = timed(lambda: voting.correct_paper_decision(
                db.sf, secret_key=SECRET, meeting_id=m, decision_id=d.id, marks=dict.fromkeys(qids, "against"),
                reason="при вводе перепутаны ответы", user="bench"))
            corrections.append(t)
        for d in stored[half:]:
            t, _r = timed(lambda: voting.annul_decision(db.sf, secret_key=SECRET, meeting_id=m, decision_id=d.id,
                                                       reason="бланк другого собственника", user="bench"))
            annulments.append(t)
        print(f"register_paper_decision: {figure(saves, baseline)}")
        print(f"correct_paper_decision:  {figure(corrections, baseline)}")
        print(f"annul_decision:          {figure(annulments, baseline)}")

        # (c) the page
        old_reads = [timed(lambda: (owner_status_index(db.sf, meeting_id=m),
                                    voting.voter_page(db.sf, owner_id=rest[0])))[0] for _ in range(5)]
        new_reads = [timed(lambda: (voting.owner_choices(db.sf, meeting_id=m),
                                    voting.agenda_questions(db.sf, meeting_id=m)))[0] for _ in range(5)]
        print(f"owner list and agenda, per page run: before {statistics.median(old_reads) * 1000:.1f} ms "
              f"(notification index + voter_page), now {statistics.median(new_reads) * 1000:.1f} ms")
        page = page_saves(db, m, page_owners, len(qids))
        print(f"page save (AppTest: one script run that saves and draws the next form): {figure(page, baseline)}")
        report = voting.verify_decisions(db.sf, secret_key=SECRET, meeting_id=m)
        print(report.verdict)
        for problem in report.problems[:10]:
            print("  — " + problem)
        return [
            ("a paper decision saved (service, worst) ≤ 0.5 s", max(saves) <= TARGET_SECONDS,
             f"{max(saves) * 1000:.1f} ms"),
            ("a correction or an annulment (service, worst) ≤ 0.5 s",
             max(corrections + annulments) <= TARGET_SECONDS, f"{max(corrections + annulments) * 1000:.1f} ms"),
            ("a save on the page (AppTest script run, worst) ≤ 0.5 s", max(page) <= TARGET_SECONDS,
             f"{max(page) * 1000:.1f} ms"),
            ("the seal check passes after the corrections", report.ok, report.verdict),
        ]
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main_on_one_database(__doc__.splitlines()[0], run))
