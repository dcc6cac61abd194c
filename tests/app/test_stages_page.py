"""«Этапы ОСС»: the stages of the chosen meeting with the state of each, and the way back to them."""
from __future__ import annotations

import datetime as dt

import pytest

from pagekit import SEED_OWNERS, SEED_PREMISES, assert_ran_cleanly, registry_xlsx, texts
from services.meetings import get_meeting
from services.registry import import_registry
from ui.state import PAGE_MEETINGS, PAGE_REGISTRY, PAGE_STAGES

# a page link carries the target's URL path; «Собрания» is the default page, at the root
URL = {PAGE_MEETINGS: "", PAGE_STAGES: "stages", PAGE_REGISTRY: "registry"}
STAGE_TITLES = ["Реестр собственников", "Уведомление собственников", "Голосование", "Итоги и протокол"]


def stage_lines(at) -> list[str]:
    return [m for m in texts(at.markdown) if m.startswith(":material/")]


@pytest.mark.parametrize("page", [PAGE_STAGES, PAGE_REGISTRY])
def test_without_a_chosen_meeting_points_to_the_meeting_list(open_page, page):
    at = open_page(page, None)
    assert_ran_cleanly(at)
    assert texts(at.info) == ["Сначала выберите собрание."]
    assert [(link.value, link.proto.page) for link in at.page_link] == [("К списку собраний", URL[PAGE_MEETINGS])]
    assert not at.title


def test_a_removed_meeting_counts_as_not_chosen(open_page):
    at = open_page(PAGE_STAGES, 999)
    assert texts(at.info) == ["Сначала выберите собрание."]
    assert at.session_state["meeting_id"] is None


def test_lists_the_four_stages_with_their_states(open_page, session_factory, meeting_id):
    meeting = get_meeting(session_factory, meeting_id)
    at = open_page(PAGE_STAGES, meeting_id)
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Этапы ОСС"]
    lines = stage_lines(at)
    assert [line.split("**")[1] for line in lines] == [f"{i}. {t}" for i, t in enumerate(STAGE_TITLES, start=1)]
    # nothing is done yet: every mark is an empty circle
    assert all(line.startswith(":material/radio_button_unchecked:") for line in lines)
    states = texts(at.markdown)
    last_notice_day = meeting.start_date - dt.timedelta(days=10)
    assert "Реестр не загружен" in states
    assert f"Уведомить не позднее {last_notice_day:%d.%m.%Y} (за 10 дней до начала голосования)" in states
    assert f"Голосование начнётся {meeting.start_date:%d.%m.%Y}" in states
    assert "Протокол — проект: подсчёт не закрыт" in states
    # the meeting has no GIS ЖКХ mark yet
    assert any("ГИС ЖКХ" in w for w in texts(at.warning))


def test_every_stage_opens_its_own_page_starting_with_the_registry(open_page, meeting_id):
    at = open_page(PAGE_STAGES, meeting_id)
    targets = [link.proto.page for link in at.page_link if link.value == "Открыть"]
    assert len(targets) == len(STAGE_TITLES) == len(set(targets))
    assert targets[0] == URL[PAGE_REGISTRY]


def test_the_registry_stage_shows_the_summary_once_loaded(open_page, session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(), filename="реестр.xlsx", replace=True)
    at = open_page(PAGE_STAGES, meeting_id)
    assert f"Сведения о {SEED_OWNERS} собственниках / {SEED_PREMISES} помещениях" in texts(at.markdown)
    assert stage_lines(at)[0].startswith(":material/check_circle:")


def test_the_agenda_is_listed_with_majorities(open_page, meeting_id):
    at = open_page(PAGE_STAGES, meeting_id)
    [agenda] = [e for e in at.expander if e.label == "Повестка дня"]
    assert texts(agenda.markdown) == ["**1.** Выбор совета дома", "**2.** Капитальный ремонт крыши"]
    assert len(agenda.caption) == 2 and all(c.value.startswith("Большинство: ") for c in agenda.caption)


def test_the_registry_page_links_back_to_the_stages(open_page, meeting_id):
    at = open_page(PAGE_REGISTRY, meeting_id)
    assert_ran_cleanly(at)
    back = [link for link in at.page_link if link.value == "← К списку этапов ОСС"]
    assert [link.proto.page for link in back] == [URL[PAGE_STAGES]]


def test_following_the_link_back_shows_the_same_meeting(open_page, meeting_id):
    at = open_page(PAGE_REGISTRY, meeting_id)
    at = at.switch_page(PAGE_STAGES).run()
    assert texts(at.title) == ["Этапы ОСС"]
    assert any(c.startswith(f"Собрание № {meeting_id} ·") for c in texts(at.caption))
