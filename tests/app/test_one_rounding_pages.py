"""One owner, one figure on the pages (DOMAIN.md rule 8): Власов's 10.01 m² × 1/2 = 5.005 votes read
«5,01» on his vote page and, once his decision is in, as the participants' votes on «Итоги и
протокол» and «Активность» — the figure of his ballot and of the protocol
(tests/integration/test_one_rounding.py), never 5.00."""
from __future__ import annotations

import datetime as dt

import pytest

from pagekit import assert_ran_cleanly, button, texts
from services.notify import issue_codes
from services.voting import register_paper_decision
from tests.integration.test_one_rounding import FIGURE, OWNER, WRONG, meeting, numbers  # noqa: F401 (fixture)
from ui.state import PAGE_ACTIVITY, PAGE_RESULTS, PAGE_VOTE, md

SECRET = "one-rounding-pages-secret"
TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    """The app's secret key, set before the app runs: the code issued here must open the page."""
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


def test_the_vote_page_shows_the_owners_5_005_votes_as_5_01(app, session_factory, meeting):
    meeting_id, owner_id, _questions = meeting
    code = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=SECRET)[owner_id]
    at = app.run()
    at.switch_page(PAGE_VOTE).run()
    [field] = at.text_input
    field.set_value(code)
    button(at, "Войти").click().run()
    assert_ran_cleanly(at)
    assert f"Собственник: **{md(OWNER)}**" in texts(at.markdown)
    assert f"Помещение № **3** · площадь 10,01 м² · доля 1/2 · голосов **{FIGURE}**" in texts(at.markdown)
    shown = [n for t in texts(at.markdown) for n in numbers(t)]
    assert FIGURE in shown and not WRONG & set(shown), shown


def test_the_staff_pages_show_the_same_figure_as_the_participants_votes(open_page, session_factory, meeting):
    meeting_id, owner_id, questions = meeting
    register_paper_decision(session_factory, secret_key=SECRET, meeting_id=meeting_id, owner_id=owner_id,
                            received_on=TODAY, answers=dict.fromkeys(questions, "for"), today=TODAY)
    at = open_page(PAGE_RESULTS, meeting_id)
    assert_ran_cleanly(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Приняли участие"] == FIGURE
    [table] = [d for d in at.dataframe if "За, % от участников" in d.value.columns]
    assert list(table.value["За, голосов"]) == [FIGURE, FIGURE]
    assert list(table.value["За, % от участников"]) == ["100,00", "100,00"]
    [lead] = [d for d in at.dataframe if "«За», % по правилу" in d.value.columns]
    assert list(lead.value["За, голосов"]) == [FIGURE, FIGURE]

    at = open_page(PAGE_ACTIVITY, meeting_id)
    assert_ran_cleanly(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Приняли участие (учтённые решения)"] == f"{FIGURE} голосов"
    [table] = at.dataframe
    assert list(table.value["За, голосов"]) == [FIGURE] * 2
