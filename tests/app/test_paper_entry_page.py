"""«Решения собственников», issue 16 item 6: paper entry with no default mark, a save message that
names the invalid questions, a keyboard line of marks, and a decision corrected or annulled with a
reason, its history in the table. The building of test_decisions_page: flats 1 (Андреев) and 2
(the Власовы jointly), 40 m² each; two questions."""
from __future__ import annotations

import datetime as dt

import pytest

from pagekit import assert_ran_cleanly, button, texts
from services.audit import audit_frame
from services.tally import recount
from services.voting import STATUSES, register_paper_decision
from test_decisions_page import ANDREEV, SECRET, TODAY, building, stored
from ui.state import PAGE_DECISIONS

OWNER = "Собственник (начните вводить номер помещения или ФИО)"
FIX = "Решение (начните вводить номер, помещение или ФИО)"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def house(session_factory):
    return building(session_factory, end=TODAY + dt.timedelta(days=10))


def one(elements, label):
    found = [e for e in elements if e.label == label]
    assert len(found) == 1, [e.label for e in elements]
    return found[0]


def saved(elements) -> list[str]:
    """The save messages, as read (Markdown escapes taken out: «пом\\. 1» reads «пом. 1»)."""
    return [t.replace("\\", "") for t in texts(elements) if t.startswith("Решение №")]


def marks(at, prefix="mark_"):
    return [r for r in at.radio if r.key and r.key.startswith(prefix)]


def test_the_form_starts_unmarked_and_a_question_left_unchosen_is_refused(open_page, session_factory, house):
    m = house["meeting"]
    at = open_page(PAGE_DECISIONS, m)
    assert_ran_cleanly(at)
    radios = marks(at)
    assert len(radios) == 2 and [r.value for r in radios] == [None, None]
    assert radios[0].options == ["За", "Против", "Воздержался", "Нет отметки", "Несколько отметок"]
    one(at.selectbox, OWNER).set_value(house[ANDREEV])
    radios[0].set_value("За")
    at = button(at, "Сохранить решение").click().run()
    assert_ran_cleanly(at)
    assert any(e.startswith("Не выбрана отметка по вопросу 2.") for e in texts(at.error))
    assert stored(session_factory, m) == []
    # the analyst's choices stay in the form to finish
    assert [r.value for r in marks(at)] == ["За", None] and one(at.selectbox, OWNER).value == house[ANDREEV]
    marks(at)[1].set_value("Нет отметки")
    at = button(at, "Сохранить решение").click().run()
    assert_ran_cleanly(at)
    [d] = stored(session_factory, m)
    assert d.status == "counted"
    [message] = saved(at.warning)
    assert message.startswith(f"Решение № {m}-00001 (пом. 1 — Андреев Андрей Андреевич) сохранено: учитывается.")
    assert "вопрос 2: нет отметки — недействителен (ЖК РФ ст. 48 ч. 6)" in message
    # a blank form for the next ballot
    assert one(at.selectbox, OWNER).value is None and [r.value for r in marks(at)] == [None, None]


def test_a_line_of_keys_fills_every_question(open_page, session_factory, house):
    m = house["meeting"]
    at = open_page(PAGE_DECISIONS, m)
    one(at.selectbox, OWNER).set_value(house[ANDREEV])
    one(at.text_input, "Отметки с клавиатуры").set_value("з9")
    at = button(at, "Сохранить решение").click().run()
    assert_ran_cleanly(at)
    [d] = stored(session_factory, m)
    assert "вопрос 2: несколько отметок — недействителен" in saved(at.warning)[0]
    q2 = recount(session_factory, meeting_id=m).questions[1]
    assert (q2.votes["for"], q2.votes["invalid"]) == (0, 40)
    table = at.dataframe[0].value
    assert (list(table["Вопрос 1"]), list(table["Вопрос 2"])) == (["За"], ["Несколько отметок"])
    # a line that does not fit the agenda is refused, nothing saved
    one(at.selectbox, OWNER).set_value(house[ANDREEV])
    one(at.text_input, "Отметки с клавиатуры").set_value("123")
    at = button(at, "Сохранить решение").click().run()
    assert any("Строка отметок: 3 знака, а вопросов повестки — 2" in e for e in texts(at.error))
    assert len(stored(session_factory, m)) == 1


@pytest.fixture
def registered(session_factory, house):
    q1, q2 = house["questions"]
    first = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=house["meeting"],
                                    owner_id=house[ANDREEV], received_on=TODAY, answers={q1: "for", q2: "for"})
    return {**house, "first": first}


def test_a_decision_is_corrected_with_a_reason_and_the_table_keeps_its_history(open_page, session_factory,
                                                                             registered):
    m, first = registered["meeting"], registered["first"]
    at = open_page(PAGE_DECISIONS, m)
    at = one(at.selectbox, FIX).set_value(first.id).run()
    assert_ran_cleanly(at)
    assert [r.value for r in marks(at, "fixmark_")] == ["За", "За"]  # starts from the decision as keyed
    marks(at, "fixmark_")[1].set_value("Против")
    one(at.text_input, "Причина исправления или аннулирования").set_value("ошибка")
    at = button(at, "Сохранить исправление").click().run()
    assert_ran_cleanly(at)
    assert any("не короче 10 символов" in e for e in texts(at.error))
    assert len(stored(session_factory, m)) == 1
    one(at.text_input, "Причина исправления или аннулирования").set_value("в бланке «против» по вопросу 2")
    at = button(at, "Сохранить исправление").click().run()
    assert_ran_cleanly(at)
    old, new = stored(session_factory, m)
    assert (old.status, new.status, old.superseded_by_id) == ("corrected", "counted", new.id)
    assert any(s.startswith(f"Решение № {first.number} исправлено") for s in saved(at.success))
    q2 = recount(session_factory, meeting_id=m).questions[1]
    assert (q2.votes["for"], q2.votes["against"]) == (0, 40)
    table = at.dataframe[0].value.set_index("Решение")
    assert table.loc[first.number, "Статус"] == STATUSES["corrected"]
    assert table.loc[first.number, "История"].endswith("admin: «в бланке «против» по вопросу 2»")
    assert table.loc[f"{m}-00002", "История"] == \
        f"исправляет решение № {first.number}"
    at.run()  # a rerun corrects nothing again
    assert len(stored(session_factory, m)) == 2
    events = audit_frame(session_factory, meeting_id=m)
    assert list(events["Действие"]).count("Исправлено письменное решение") == 1


def test_an_annulment_needs_the_confirmation_and_a_reason(open_page, session_factory, registered):
    m, first = registered["meeting"], registered["first"]
    at = open_page(PAGE_DECISIONS, m)
    at = one(at.selectbox, FIX).set_value(first.id).run()
    one(at.text_input, "Причина исправления или аннулирования").set_value("бланк другого собственника")
    at = button(at, "Аннулировать решение").click().run()
    assert any("отметьте «Аннулировать решение целиком»" in e for e in texts(at.error))
    assert [d.status for d in stored(session_factory, m)] == ["counted"]
    one(at.checkbox, "Аннулировать решение целиком: оно перестанет учитываться").check()
    at = button(at, "Аннулировать решение").click().run()
    assert_ran_cleanly(at)
    assert [d.status for d in stored(session_factory, m)] == ["annulled", "annulment"]
    assert any(f"Решение № {first.number} аннулировано" in s for s in texts(at.success))
    assert recount(session_factory, meeting_id=m).participants == 0
    # nothing left to correct for that owner, and the choice is cleared
    assert one(at.selectbox, FIX).value is None and one(at.selectbox, FIX).options == []
