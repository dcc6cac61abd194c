"""§6 Scale, shown: 20 owners vote at once in 20 Chromium contexts against the real app server on
PostgreSQL, while two staff members keep «Уведомление собственников» and «Активность» open.

Every owner enters their code at /vote, answers «За» to every question, reviews and saves; then
exactly 20 decisions of 20 different owners are stored, their seals verify, and «Активность»
shows all 20. The test asserts these outcomes only: how fast it goes is bench/voting_load.py's
figure, against a baseline of the same run. Its time limits are hang guards (tests/hang.py).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import statistics

import pytest
from sqlalchemy import select

from bench.browserflows import run_in_own_thread, vote
from browserkit import E2E_LOGIN, E2E_PASSWORD
from services.demo import create_demo_meeting
from services.models import Decision, OwnerRecord
from services.notify import issue_codes
from services.runtime import build_runtime
from services.settings import load_settings
from services.voting import verify_decisions
from tests import hang
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not POSTGRES_URL, reason="the load test runs the app on PostgreSQL: set "
                       "KVORUM_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"),
]

OWNERS = 20
SECRET = "load-test-secret-key"
#: s for the whole browser run: a hang guard (a quiet 2-core machine needs ≈ 60 s, ten times that and more)
HANG_GUARD = 900


def test_twenty_owners_vote_at_once_while_the_staff_watches(postgres_engine, start_app_server):
    """On PostgreSQL, the multi-user deployment (the fixture skips without KVORUM_TEST_POSTGRES_URL)."""
    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_engine)
    db_url = postgres_engine.url.render_as_string(hide_password=False)
    server = start_app_server(env={"DATABASE_URL": db_url, "SECRET_KEY": SECRET}, staff=True)
    try:
        runtime = build_runtime(load_settings(server.env), migrate=False)
        try:
            sf = runtime.session_factory
            meeting_id = create_demo_meeting(sf, today=dt.date.today() - dt.timedelta(days=15))  # voting is open
            with sf() as s:
                owner_ids = sorted(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))
            assert len(owner_ids) >= OWNERS
            codes = issue_codes(sf, meeting_id=meeting_id, owner_ids=owner_ids[:OWNERS], secret_key=SECRET)

            async def guarded():
                try:
                    return await asyncio.wait_for(
                        vote(server.url, list(codes.values()), at_once=True, login=E2E_LOGIN, password=E2E_PASSWORD,
                             element_timeout_ms=hang.UI_MS * 2), HANG_GUARD)
                except TimeoutError:
                    raise AssertionError(hang.message(f"{OWNERS} owners voting at once", HANG_GUARD)) from None

            run = run_in_own_thread(lambda: asyncio.run(guarded()))

            with sf() as s:
                stored = s.execute(select(Decision.owner_id, Decision.kind).where(
                    Decision.meeting_id == meeting_id)).all()
            assert len(stored) == OWNERS, "every owner's decision is stored exactly once"
            assert {oid for oid, _kind in stored} == set(codes)
            assert {kind for _oid, kind in stored} == {"online"}
            report = verify_decisions(sf, secret_key=SECRET, meeting_id=meeting_id)
            assert report.ok and report.decisions == OWNERS, report.problems
        finally:
            runtime.engine.dispose()
    finally:
        server.stop()
    print(f"\n{OWNERS} owners at once (+2 staff pages open), PostgreSQL: total {run.total:.1f} s; per owner flow "
          f"median {statistics.median(run.flows):.1f} s, max {max(run.flows):.1f} s (figures only: "
          f"bench/voting_load.py sets them against a baseline)")
