"""Pages write counts, numbers and times the Russian way (issue 16, item 10): a count agrees with its
noun by CLDR's plural rules («1 собственник», «48 собственников»), numbers have a decimal comma and
no-break spaces («2 236,50»), stored UTC times show in the company's time zone, the journal says its
details in words, and charts carry the ru-RU number locale. The company's zone is pinned to
Europe/Moscow (UTC+3 all year), so each expected time is the stored one plus three hours."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from pagekit import assert_ran_cleanly, registry_xlsx, texts, SEED_ROWS
from services.audit import audit_frame
from services.auth import authenticate, create_user, update_user
from services.codes import load_or_create_secret_key
from services.demo import create_demo_meeting, create_live_demo
from services.models import AuditEvent, User
from services.registry import import_registry
from ui.state import PAGE_ACTIVITY, PAGE_AUDIT, PAGE_NOTIFY, PAGE_REGISTRY, PAGE_USERS

NBSP = "\u00a0"
MOSCOW = dt.timedelta(hours=3)


@pytest.fixture(autouse=True)
def moscow(monkeypatch):
    monkeypatch.setenv("KVORUM_TIME_ZONE", "Europe/Moscow")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_one_owner_of_one_premise_is_said_in_the_singular(open_page, session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(SEED_ROWS[:1]), filename="r.xlsx",
                    replace=True)
    at = open_page(PAGE_REGISTRY, meeting_id)
    assert_ran_cleanly(at)
    assert texts(at.subheader) == ["Сведения о 1 собственнике / 1 помещении"]


def test_the_demo_registry_says_48_owners_42_premises_and_2_236_50_votes(open_page, session_factory):
    meeting = create_demo_meeting(session_factory)
    at = open_page(PAGE_REGISTRY, meeting)
    assert_ran_cleanly(at)
    assert texts(at.subheader) == ["Сведения о 48 собственниках / 42 помещениях"]
    shown = metrics(at)
    assert shown["Голосов у собственников в реестре"] == f"2{NBSP}236,50"
    assert shown["Общая площадь помещений"] == f"2{NBSP}236,50{NBSP}м²"
    at = open_page(PAGE_NOTIFY, meeting)
    assert_ran_cleanly(at)
    assert texts(at.subheader)[0] == "Сведения о 48 собственниках / 42 помещениях"


@pytest.mark.parametrize("chosen, label", [
    (1, "Отметить вручение для 1 собственника"),
    (2, "Отметить вручение для 2 собственников"),
    (21, "Отметить вручение для 21 собственника"),
])
def test_the_paper_delivery_button_counts_owners_in_the_genitive(open_page, staff_app, session_factory, chosen,
                                                                  label):
    from services.notify import owner_status_index

    meeting = create_demo_meeting(session_factory)
    ids = sorted(int(i) for i in owner_status_index(session_factory, meeting_id=meeting)["id"])[:chosen]
    staff_app.session_state["notify_selected"] = set(ids)
    at = open_page(PAGE_NOTIFY, meeting)
    assert_ran_cleanly(at)
    assert label in [b.label for b in at.get("form_submit_button")]


def test_activity_counts_owners_who_filled_in_online_and_charts_carry_the_russian_locale(open_page, session_factory,
                                                                                         tmp_path):
    demo = create_live_demo(session_factory, secret_key=load_or_create_secret_key(None, tmp_path))
    at = open_page(PAGE_ACTIVITY, demo.meeting_id)
    assert_ran_cleanly(at)
    assert metrics(at)["Заполнено онлайн, решение не сдано"] == "2 собственника"
    charts = at.get("vega_lite_chart")
    assert len(charts) == 4
    for chart in charts:
        locale = json.loads(chart.proto.spec)["config"]["locale"]
        assert (locale["number"]["decimal"], locale["number"]["thousands"]) == (",", NBSP)  # «2 236,5», «1 400»
        assert locale["time"]["months"][0] == "январь" and locale["time"]["shortDays"][1] == "пн"


def test_the_journal_shows_local_times_and_its_details_in_words(app, session_factory, admin):
    olga = create_user(session_factory, username="olga", password="observer-1", role="observer", actor="admin")
    update_user(session_factory, admin=admin, user_id=olga.id, role="observer", is_active=False)
    app.session_state["user"] = admin
    at = app.run()
    at.switch_page(PAGE_AUDIT).run()
    assert_ran_cleanly(at)
    [table] = at.dataframe
    frame = table.value
    assert "Время (UTC)" not in frame.columns
    with session_factory() as s:
        changed = s.scalars(select(AuditEvent).where(AuditEvent.action == "user_changed")).one()
    [row] = frame[frame["Действие"] == "Изменён сотрудник"].to_dict("records")
    assert row["Время"] == f"{changed.at + MOSCOW:%d.%m.%Y %H:%M:%S}"
    assert row["Подробности"] == "сотрудник: olga, роль: наблюдатель, учётная запись активна: нет"
    created = frame[frame["Действие"] == "Создан сотрудник"]["Подробности"].tolist()
    assert "сотрудник: olga, роль: наблюдатель" in created
    # an event without a meeting has none (shown «—»), never NaN or a float id
    assert frame["Собрание"].isna().all() and str(frame["Собрание"].dtype) == "Int64"
    assert not any(w in " ".join(frame["Подробности"]) for w in ("None", "True", "False", "target_user", "role:"))


def test_the_journal_filter_reads_days_of_the_companys_calendar(session_factory, monkeypatch):
    create_user(session_factory, username="olga", password="observer-1", role="observer", actor="admin")
    with session_factory() as s:
        at = s.scalars(select(AuditEvent)).one().at  # UTC, naive: the database's clock, not ours to set
    # a zone whose calendar day differs from UTC's at that moment: a filter by UTC days misses the event
    zone, offset = ("Pacific/Kiritimati", 14) if at.hour >= 10 else ("Pacific/Pago_Pago", -11)
    monkeypatch.setenv("KVORUM_TIME_ZONE", zone)
    local_day = (at + dt.timedelta(hours=offset)).date()
    assert local_day != at.date()
    assert len(audit_frame(session_factory, since=local_day, until=local_day)) == 1
    assert len(audit_frame(session_factory, since=local_day + dt.timedelta(days=1))) == 0
    assert len(audit_frame(session_factory, until=local_day - dt.timedelta(days=1))) == 0


def test_staff_see_their_last_login_in_the_companys_time(app, session_factory, admin):
    from pagekit import ADMIN_LOGIN, ADMIN_PASSWORD

    authenticate(session_factory, username=ADMIN_LOGIN, password=ADMIN_PASSWORD)
    with session_factory() as s:
        last = s.scalars(select(User.last_login_at).where(User.username == ADMIN_LOGIN)).one()
    app.session_state["user"] = admin
    at = app.run()
    at.switch_page(PAGE_USERS).run()
    assert_ran_cleanly(at)
    [table] = at.dataframe
    row = table.value.set_index("Логин").loc[ADMIN_LOGIN]
    assert row["Последний вход"] == f"{last + MOSCOW:%d.%m.%Y %H:%M}"
    assert row["Заблокирован до"] is None  # shown «—» (placeholder), not «None»
