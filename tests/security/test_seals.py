"""Issue 14, item 1: the seals cover everything the count reads, the check never writes, and the
journal is chained. Each probe changes the database directly (as the attack did) and asserts that
the check names what changed — and leaves the running totals as they were."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from services.audit import record, verify_journal
from services.demo import create_demo_meeting
from services.models import AuditEvent, OwnerRecord, Premise, TallyAggregate
from services.tally import live_tally, rebuild_running_totals, recount, set_passport_area
from services.voting import register_paper_decision, verify_decisions, voter_page

SECRET = "seals-secret"


@pytest.fixture
def sf(engine):
    """The session factory as the app's runtime builds it: it carries the instance key."""
    from services.db import make_session_factory

    factory = make_session_factory(engine)
    factory.configure(info={"secret_key": SECRET})
    return factory


@pytest.fixture
def meeting(sf):
    """The demo meeting, voting open, with paper decisions «за» from the first 30 owner records:
    a quorum, like the probe's meeting."""
    m = create_demo_meeting(sf, today=dt.date.today() - dt.timedelta(days=15))
    for oid in owner_ids(sf, m)[:30]:
        questions = {q.id: "for" for q in voter_page(sf, owner_id=oid).questions}
        register_paper_decision(sf, secret_key=SECRET, meeting_id=m, owner_id=oid, received_on=dt.date.today(),
                                answers=questions)
    return m


def owner_ids(sf, m):
    with sf() as s:
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == m).order_by(OwnerRecord.id)))


def aggregates(sf, m):
    with sf() as s:
        return [tuple(r) for r in s.execute(
            select(TallyAggregate.question_id, TallyAggregate.answer, TallyAggregate.share_den, TallyAggregate.units,
                   TallyAggregate.records).where(TallyAggregate.meeting_id == m)
            .order_by(TallyAggregate.question_id, TallyAggregate.answer, TallyAggregate.share_den))]


def journal_size(sf):
    with sf() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def tamper(engine, sql, **params):
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def check_reports_only(sf, m):
    """verify_decisions twice: both report the same, neither writes the totals or the journal."""
    before, events = aggregates(sf, m), journal_size(sf)
    first = verify_decisions(sf, secret_key=SECRET, meeting_id=m)
    second = verify_decisions(sf, secret_key=SECRET, meeting_id=m)
    assert aggregates(sf, m) == before, "the check rewrote the running totals"
    assert journal_size(sf) == events
    assert not first.ok and first.problems == second.problems, "a second check must not say «all seals intact»"
    return first.problems


def test_the_probes_meeting_is_intact_before_tampering(sf, meeting):
    assert verify_decisions(sf, secret_key=SECRET, meeting_id=meeting).ok
    assert recount(sf, meeting_id=meeting).quorum
    assert verify_journal(sf, secret_key=SECRET).ok


def test_status_and_counted_slot_changed_in_the_database_are_named_and_the_totals_stay(sf, engine, meeting):
    tally_before = live_tally(sf, meeting_id=meeting)
    tamper(engine, "UPDATE decisions SET status = 'conflict', counted_slot = NULL WHERE meeting_id = :m AND seq IN (1, 2)",
           m=meeting)
    problems = check_reports_only(sf, meeting)
    for seq in (1, 2):
        line = next(p for p in problems if f"решение № {meeting}-{seq:05d}" in p)
        assert "статус («учитывается» → «у собственника уже есть учтённое решение" in line
        assert "место учтённого решения" in line and "→ не занято" in line
    assert any("текущие итоги" in p and "Итоги не изменены" in p for p in problems)
    assert live_tally(sf, meeting_id=meeting).participants == tally_before.participants


def test_a_receipt_date_changed_in_the_database_is_named(sf, engine, meeting):
    tamper(engine, "UPDATE decisions SET received_on = '2020-01-01' WHERE meeting_id = :m AND seq = 3", m=meeting)
    problems = check_reports_only(sf, meeting)
    assert any(f"{meeting}-00003" in p and "дата получения" in p and "→ 01.01.2020" in p for p in problems)


def test_an_answer_changed_in_the_database_is_named_with_its_question(sf, engine, meeting):
    tamper(engine, """UPDATE decision_answers SET answer = 'against' WHERE id = (
                        SELECT min(a.id) FROM decision_answers a JOIN decisions d ON a.decision_id = d.id
                        JOIN agenda_questions q ON a.question_id = q.id
                        WHERE d.meeting_id = :m AND d.seq = 4 AND q.number = 2)""", m=meeting)
    problems = check_reports_only(sf, meeting)
    assert any(f"{meeting}-00004" in p and "ответ на вопрос 2 (За → Против)" in p for p in problems)


def test_a_voters_premise_area_changed_in_the_database_is_named(sf, engine, meeting):
    voter = owner_ids(sf, meeting)[0]
    with sf() as s:
        number = s.scalar(select(Premise.number).join(OwnerRecord, OwnerRecord.premise_id == Premise.id)
                          .where(OwnerRecord.id == voter))
    tamper(engine, "UPDATE premises SET area = area * 20 WHERE id = (SELECT premise_id FROM owner_records WHERE id = :o)",
           o=voter)
    problems = check_reports_only(sf, meeting)
    assert any(f"помещение {number} — в базе данных изменено: площадь" in p for p in problems)


def test_a_share_changed_in_the_database_is_named(sf, engine, meeting):
    with sf() as s:
        owner = s.scalars(select(OwnerRecord).where(OwnerRecord.meeting_id == meeting, OwnerRecord.share_num == 1,
                                                    OwnerRecord.share_den == 1).order_by(OwnerRecord.id)).first()
        number = s.get(Premise, owner.premise_id).number
    tamper(engine, "UPDATE owner_records SET share_den = 3 WHERE id = :o", o=owner.id)
    problems = check_reports_only(sf, meeting)
    assert any(f"помещение {number}, собственник «{owner.name}» — в базе данных изменено: доля (сейчас 1/3)" in p
               for p in problems)


def test_the_passport_area_changed_in_the_database_is_reported(sf, engine, meeting):
    set_passport_area(sf, meeting_id=meeting, area=Decimal("5000"))
    assert verify_decisions(sf, secret_key=SECRET, meeting_id=meeting).ok, "a legitimate change re-seals"
    tamper(engine, "UPDATE buildings SET passport_area = 90000000")
    problems = check_reports_only(sf, meeting)
    assert any("площадь по техническому паспорту изменена" in p for p in problems)


def test_a_deleted_decision_is_reported(sf, engine, meeting):
    tamper(engine, "DELETE FROM decisions WHERE meeting_id = :m AND seq = 5", m=meeting)
    problems = check_reports_only(sf, meeting)
    assert any(f"перед решением № {meeting}-00006 удалено решений: 1" in p for p in problems)


def test_a_deleted_owner_record_is_reported(sf, engine, meeting):
    last = owner_ids(sf, meeting)[-1]  # no decision: the decisions' chain alone would not show it
    tamper(engine, "DELETE FROM owner_records WHERE id = :o", o=last)
    problems = check_reports_only(sf, meeting)
    assert any("записи удалены или добавлены в базе данных" in p for p in problems)


def test_registry_edits_through_the_app_keep_the_seal(sf, meeting):
    from services.registry import OwnerInput, apply_registry_changes

    with sf() as s:
        rec = s.scalars(select(OwnerRecord).where(OwnerRecord.meeting_id == meeting).order_by(OwnerRecord.id)).first()
        premise = s.get(Premise, rec.premise_id)
    apply_registry_changes(sf, meeting_id=meeting, edited={rec.id: OwnerInput(
        premise=premise.number, area="77,7", name=rec.name, share="1")}, added=[
        OwnerInput(premise="999", area="10", name="Новиков Н. Н.")])
    assert verify_decisions(sf, secret_key=SECRET, meeting_id=meeting).ok


def test_the_administrators_rebuild_is_separate_and_journaled(sf, engine, meeting):
    tamper(engine, "UPDATE tally_aggregates SET units = units * 2 WHERE meeting_id = :m", m=meeting)
    problems = check_reports_only(sf, meeting)
    assert problems == [p for p in problems if "текущие итоги" in p]
    assert rebuild_running_totals(sf, meeting_id=meeting, user="admin") is True
    assert verify_decisions(sf, secret_key=SECRET, meeting_id=meeting).ok
    with sf() as s:
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.actor, event.meeting_id, event.details) == ("totals_rebuilt", "admin", meeting,
                                                                           {"differed": True})
    assert verify_journal(sf, secret_key=SECRET).ok


# ---------- the journal ----------

def stand_down_triggers(conn):
    """The append-only triggers out of the way, as an attacker with the database would have them."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_database_time"))


@pytest.fixture
def journal(sf):
    for i in range(5):
        record(sf, actor=f"user{i}", action="login")
    assert verify_journal(sf, secret_key=SECRET).ok
    return sf


@pytest.mark.parametrize("attack, expected", [
    ("UPDATE audit_events SET actor = 'someone' WHERE seq = 2", "запись журнала № 2"),
    ("DELETE FROM audit_events WHERE seq = 3", "Перед записью журнала № 4 удалено записей: 1"),
    ("DELETE FROM audit_events WHERE seq = 5", "Последние записи журнала удалены"),
    ("INSERT INTO audit_events (at, actor, action, details, prev_seal) "
     "VALUES ('2026-01-01 10:00:00', 'ghost', 'login', '{}', '')", "без печати"),
])
def test_a_journal_rewritten_without_the_triggers_is_detected(journal, engine, attack, expected):
    with engine.begin() as conn:
        stand_down_triggers(conn)
        conn.execute(text(attack))
    report = verify_journal(journal, secret_key=SECRET)
    assert not report.ok and any(expected in p for p in report.problems), report.problems


def test_a_back_dated_journal_event_is_refused_by_the_database(journal, engine):
    with pytest.raises(DBAPIError, match="database time"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_events (at, actor, action, details, prev_seal) "
                              "VALUES (:at, 'ghost', 'login', '{}', '')"),
                         {"at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)})
    assert verify_journal(journal, secret_key=SECRET).ok


def test_the_journals_time_is_the_databases(journal):
    with journal() as s:
        at = s.scalars(select(AuditEvent.at).order_by(AuditEvent.id.desc())).first()
    assert abs(at - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(minutes=1)


# ---------- an upgraded database ----------

def test_an_upgraded_databases_data_is_sealed_on_the_first_start_and_verifies(sqlite_url):
    """Data written before migration 0007 (here: written, then the schema taken back to 0006) is
    sealed once on the first start with the key, and verifies as intact."""
    from alembic import command

    from services.db import alembic_config, make_engine, make_session_factory, upgrade_schema
    from services.seals import seal_upgraded_data

    engine = make_engine(sqlite_url)
    sf = make_session_factory(engine)
    sf.configure(info={"secret_key": SECRET})
    m = create_demo_meeting(sf, today=dt.date.today() - dt.timedelta(days=15))
    oid = owner_ids(sf, m)[0]
    register_paper_decision(sf, secret_key=SECRET, meeting_id=m, owner_id=oid, received_on=dt.date.today(),
                            answers={q.id: "for" for q in voter_page(sf, owner_id=oid).questions})
    record(sf, actor="admin", action="login")
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.begin() as conn:  # the old version's journal: its own time, no chain
        conn.execute(text("INSERT INTO audit_events (at, actor, action, meeting_id, details) "
                          "VALUES ('2026-01-01 10:00:00', 'old', 'logout', NULL, '{}')"))
    upgrade_schema(engine)
    before = verify_decisions(sf, secret_key=SECRET)
    assert not before.ok and any("не запечатан" in p for p in before.problems)
    assert not verify_journal(sf, secret_key=SECRET).ok
    done = seal_upgraded_data(sf, secret_key=SECRET)
    assert done is not None and done.decisions == 1 and done.meetings == 1 and done.events == 2
    assert seal_upgraded_data(sf, secret_key=SECRET) is None, "once only"
    assert verify_decisions(sf, secret_key=SECRET).ok
    record(sf, actor="admin", action="logout")
    assert verify_journal(sf, secret_key=SECRET).ok
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET actor = 'forged' WHERE actor = 'old'"))
    assert any("до обновления" in p for p in verify_journal(sf, secret_key=SECRET).problems)
    engine.dispose()


def test_manage_py_names_what_changed_and_rebuilds_only_when_asked(sqlite_url, tmp_path):
    """The administrator's commands: verify-decisions names the change and exits 1 (twice: the
    first check wrote nothing), verify-journal sees a rewritten journal, rebuild-totals asks first."""
    from tests.integration.test_cli import manage

    from services.codes import load_or_create_secret_key
    from services.db import make_engine, make_session_factory

    data = tmp_path / "data"
    key = load_or_create_secret_key(None, data)
    assert manage("migrate", url=sqlite_url, data_dir=data).returncode == 0
    engine = make_engine(sqlite_url)
    sf = make_session_factory(engine)
    sf.configure(info={"secret_key": key})
    m = create_demo_meeting(sf, today=dt.date.today() - dt.timedelta(days=15))
    for oid in owner_ids(sf, m)[:3]:
        register_paper_decision(sf, secret_key=key, meeting_id=m, owner_id=oid, received_on=dt.date.today(),
                                answers={q.id: "for" for q in voter_page(sf, owner_id=oid).questions})
    ok = manage("verify-decisions", url=sqlite_url, data_dir=data)
    assert ok.returncode == 0 and "Все печати верны" in ok.stdout
    tamper(engine, "UPDATE decisions SET status = 'late', counted_slot = NULL WHERE seq = 2")
    for _ in range(2):
        out = manage("verify-decisions", url=sqlite_url, data_dir=data)
        assert out.returncode == 1 and f"решение № {m}-00002: в базе данных изменено: статус" in out.stdout
    assert manage("verify-journal", url=sqlite_url, data_dir=data).returncode == 0
    refused = manage("rebuild-totals", "--meeting", str(m), url=sqlite_url, data_dir=data)
    assert refused.returncode == 1 and "--yes" in refused.stdout
    done = manage("rebuild-totals", "--meeting", str(m), "--yes", url=sqlite_url, data_dir=data)
    assert done.returncode == 0 and "расходились" in done.stdout
    with sf() as s:
        assert s.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() == "totals_rebuilt"
    with engine.begin() as conn:
        stand_down_triggers(conn)
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE action = 'totals_rebuilt'"))
    broken = manage("verify-journal", url=sqlite_url, data_dir=data)
    assert broken.returncode == 1 and "изменена в базе данных" in broken.stdout
    engine.dispose()
