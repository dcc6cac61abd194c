"""Words and times as people read them (issue 16, item 10): the journal's details in words, stored
UTC times in the company's time zone, counts with their nouns, and Vega's ru-RU locale — all from
Babel's CLDR data, never a hand-made rule."""
from __future__ import annotations

import datetime as dt

import pytest

from services.audit import ALLOWED_DETAILS, DETAIL_LABELS, describe_details
from services.figures import chart_locale, format_local, local_day_start
from services.registry import registry_line

NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def moscow(monkeypatch):
    monkeypatch.setenv("KVORUM_TIME_ZONE", "Europe/Moscow")


@pytest.mark.parametrize("action, details, words", [
    ("user_changed", {"target_user": "anna", "role": "observer", "enabled": True},
     "сотрудник: anna, роль: наблюдатель, учётная запись активна: да"),
    ("user_created", {"role": "admin", "target_user": "oleg"}, "сотрудник: oleg, роль: администратор"),
    ("login_failed", {"reason": "wrong password", "count": 3}, "причина: неверный пароль, количество: 3"),
    ("login_failed", {"reason": "unknown name", "count": 1}, "причина: нет такого сотрудника, количество: 1"),
    ("registry_imported", {"mode": "замена", "owners": 1234, "premises": 42, "rejected": 0},
     f"способ: замена, собственников: 1{NBSP}234, помещений: 42, отклонено строк: 0"),
    ("electronic_setting", {"enabled": False}, "учитываются: нет"),
    ("decision_registered", {"status": "late"}, "статус: получено после окончания приёма — не учитывается"),
    ("notices_queued", {"queued": 39, "skipped": 9, "late": False},
     "в очереди отправки: 39, без эл. почты: 9, после срока: нет"),
    ("totals_rebuilt", {"differed": True}, "расходились с полным пересчётом: да"),
    ("meeting_repeated", {"new_meeting": 7}, "новое собрание №: 7"),
    ("export", {"what": "реестр собственников", "count": None}, "что: реестр собственников, количество: —"),
    ("login", {}, ""),
    ("login", None, ""),
])
def test_journal_details_read_as_words(action, details, words):
    assert describe_details(action, details) == words


def test_every_detail_the_journal_may_hold_has_a_russian_label():
    # a new key allowed into the journal without a label would show as «target_user: …» again
    assert set(DETAIL_LABELS) == ALLOWED_DETAILS


@pytest.mark.parametrize("stored, kwargs, shown", [
    (dt.datetime(2026, 12, 1, 6, 44, 5), {}, "01.12.2026 09:44"),
    (dt.datetime(2026, 11, 30, 22, 30), {}, "01.12.2026 01:30"),  # the next day in Moscow
    (dt.datetime(2026, 12, 1, 6, 44, 5), {"seconds": True}, "01.12.2026 09:44:05"),
    (dt.datetime(2026, 12, 1, 6, 44, 5), {"zone": True}, "01.12.2026 09:44 (Москва, стандартное время)"),
    (dt.datetime(2026, 12, 1, 6, 44, tzinfo=dt.timezone.utc), {}, "01.12.2026 09:44"),
    (None, {}, ""),
])
def test_a_stored_utc_time_shows_in_the_companys_time_zone(stored, kwargs, shown):
    assert format_local(stored, **kwargs) == shown


def test_the_company_time_zone_is_a_setting(monkeypatch):
    monkeypatch.setenv("KVORUM_TIME_ZONE", "Asia/Yekaterinburg")
    assert format_local(dt.datetime(2026, 12, 1, 6, 44)) == "01.12.2026 11:44"


@pytest.mark.parametrize("zone, day, starts", [
    ("Europe/Moscow", dt.date(2026, 12, 1), dt.datetime(2026, 11, 30, 21, 0)),
    ("Asia/Vladivostok", dt.date(2026, 12, 1), dt.datetime(2026, 11, 30, 14, 0)),
    ("UTC", dt.date(2026, 12, 1), dt.datetime(2026, 12, 1, 0, 0)),
])
def test_a_day_of_the_company_calendar_starts_at_its_local_midnight(monkeypatch, zone, day, starts):
    monkeypatch.setenv("KVORUM_TIME_ZONE", zone)
    assert local_day_start(day) == starts


@pytest.mark.parametrize("owners, premises, line", [
    (1, 1, "Сведения о 1 собственнике / 1 помещении"),
    (2, 1, "Сведения о 2 собственниках / 1 помещении"),
    (21, 11, "Сведения о 21 собственнике / 11 помещениях"),
    (48, 42, "Сведения о 48 собственниках / 42 помещениях"),
    (1234, 1001, f"Сведения о 1{NBSP}234 собственниках / 1{NBSP}001 помещении"),
    (0, 0, "Сведения о 0 собственниках / 0 помещениях"),
])
def test_the_registry_line_agrees_with_its_counts(owners, premises, line):
    assert registry_line(owners, premises) == line


def test_charts_get_the_russian_number_and_time_locale():
    locale = chart_locale()
    assert locale["number"]["decimal"] == "," and locale["number"]["thousands"] == NBSP
    assert locale["number"]["grouping"] == [3]
    assert locale["time"]["months"][:3] == ["январь", "февраль", "март"]
    assert locale["time"]["days"][:2] == ["воскресенье", "понедельник"]  # d3 starts the week on Sunday
    assert len(locale["time"]["shortMonths"]) == 12 and len(locale["time"]["shortDays"]) == 7
