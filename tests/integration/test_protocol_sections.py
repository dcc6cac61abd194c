"""Issue 15, item 1: every question of the protocol in the three parts the requirements name
(Приказ Минстроя № 44/пр, kept by № 266/пр; DOMAIN.md rule 13): «СЛУШАЛИ» (who reported, when
someone did), «ПРЕДЛОЖЕНО» (the proposal's wording) and «РЕШИЛИ (ПОСТАНОВИЛИ)» — the proposal when
adopted, otherwise why not, with the majority needed and the «за» got. Worked on DOMAIN.md's
example A: question 1 (2/3 of all) adopted, 2 (simple) not with exactly 50 %, 3 (more than half
of all) adopted."""
from __future__ import annotations

import dataclasses
import io
from fractions import Fraction

import pytest
from docx import Document

from services.demo import create_demo_meeting
from services.law import AGENDA_TEMPLATES
from services.meetings import get_meeting, update_meeting
from services.results import GAP, protocol_docx, protocol_warnings, resolution
from services.tally import QuestionResult
from services.voting import ballots_docx
from tests.integration.test_tally import EXAMPLE, build, vote

PROPOSALS = ["Избрать председателем общего собрания Андреева А. А., секретарём — Борисову Б. Б.",
             "Утвердить перечень работ по текущему ремонту на 2027 год.",
             "Выбрать управляющей организацией ООО «УК Тверь» (ОГРН 1026900000000)."]
SPEAKERS = ["Андреев А. А., собственник кв. 1", "", "Борисова Б. Б."]


@pytest.fixture
def example_a(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    data = get_meeting(session_factory, m)
    data.questions = [dataclasses.replace(x, proposal=p, speaker=s)
                      for x, p, s in zip(data.questions, PROPOSALS, SPEAKERS)]
    update_meeting(session_factory, meeting_id=m, data=data)
    vote(session_factory, m, ids["Андреев"], q, ["for", "for", "for"])
    vote(session_factory, m, ids["Борисова"], q, ["for", "abstain", "for"])
    vote(session_factory, m, ids["Власов"], q, ["against", "for", "for"])
    vote(session_factory, m, ids["Власова"], q, ["against", "invalid", "against"])
    return m, ids


def paragraphs(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs if p.text.strip()]


def section(lines: list[str], number: int) -> list[str]:
    start = lines.index(next(x for x in lines if x.startswith(f"По вопросу № {number}:")))
    end = next(i for i in range(start + 1, len(lines))
               if lines[i].startswith("По вопросу №") or lines[i] == "Сводная таблица результатов")
    return lines[start:end]


def test_each_question_is_heard_proposed_and_decided_in_order(session_factory, example_a):
    m, _ids = example_a
    lines = paragraphs(protocol_docx(session_factory, meeting_id=m))
    one, two, three = (section(lines, n) for n in (1, 2, 3))
    assert [x.split(":")[0] for x in one] == ["По вопросу № 1", "СЛУШАЛИ", "ПРЕДЛОЖЕНО", "Проголосовали",
                                             "Необходимое большинство", "РЕШИЛИ (ПОСТАНОВИЛИ)"]
    assert one[1] == "СЛУШАЛИ: Андреев А. А., собственник кв. 1."
    assert one[2] == f"ПРЕДЛОЖЕНО: {PROPOSALS[0]}"
    assert one[-1] == f"РЕШИЛИ (ПОСТАНОВИЛИ): {PROPOSALS[0]}"
    # nobody reported on question 2: no «СЛУШАЛИ» line at all, not an empty one
    assert [x.split(":")[0] for x in two] == ["По вопросу № 2", "ПРЕДЛОЖЕНО", "Проголосовали",
                                             "Необходимое большинство", "РЕШИЛИ (ПОСТАНОВИЛИ)"]
    assert two[-1] == ("РЕШИЛИ (ПОСТАНОВИЛИ): Решение не принято: требуется «за» — более 50 % голосов "
                       "собственников, принявших участие в собрании (ЖК РФ ст. 46 ч. 1); голосов «за»: 60,00 "
                       "(50,00\u00a0% от числа голосов участников).")
    assert PROPOSALS[1] not in two[-1]
    assert three[1] == "СЛУШАЛИ: Борисова Б. Б." and three[-1] == f"РЕШИЛИ (ПОСТАНОВИЛИ): {PROPOSALS[2]}"
    assert not any("Предложено:" in x for x in lines)  # the old line that repeated the agenda item


def test_a_question_without_a_proposal_is_proposed_in_its_own_words_and_the_page_says_so(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    for name in ("Андреев", "Борисова", "Власов"):
        vote(session_factory, m, ids[name], q, ["for", "for", "for"])
    lines = paragraphs(protocol_docx(session_factory, meeting_id=m))
    assert section(lines, 2)[1] == "ПРЕДЛОЖЕНО: Вопрос 2"
    assert section(lines, 2)[-1] == "РЕШИЛИ (ПОСТАНОВИЛИ): Вопрос 2"
    warnings = protocol_warnings(session_factory, meeting_id=m)
    assert [w for w in warnings if "формулировка предложения" in w] == [
        f"Вопрос {n}: не указана формулировка предложения — в протоколе «ПРЕДЛОЖЕНО» повторит текст вопроса. "
        "Укажите её в карточке собрания." for n in (1, 2, 3)]


def test_blanks_left_in_a_templates_proposal_are_listed(session_factory):
    m, _ids, _q = build(session_factory, EXAMPLE)
    data = get_meeting(session_factory, m)
    tpl = next(t for t in AGENDA_TEMPLATES if t.title == "Совет дома и его председатель")
    data.questions = [dataclasses.replace(data.questions[0], proposal=tpl.proposal),
                      *[dataclasses.replace(x, proposal="Утвердить.") for x in data.questions[1:]]]
    update_meeting(session_factory, meeting_id=m, data=data)
    warnings = [w for w in protocol_warnings(session_factory, meeting_id=m) if "Вопрос" in w]
    assert warnings == [f"Вопрос 1: в формулировке предложения остались незаполненные места «{GAP}». "
                        "Заполните их в карточке собрания."]


def _result(majority, votes_for, participants, all_votes, adopted):
    return QuestionResult(id=1, number=1, text="Вопрос", majority=majority,
                          votes={"for": Fraction(votes_for), "against": Fraction(0), "abstain": Fraction(0),
                                 "invalid": Fraction(0)}, records={}, adopted=adopted,
                          participants=Fraction(participants), all_votes=Fraction(all_votes))


@pytest.mark.parametrize("majority, votes_for, participants, all_votes, quorum, expected", [
    ("more_than_half", 55, 70, 120, True, "Решение не принято: требуется «за» — более 50 % от общего числа "
     "голосов собственников помещений в доме (ЖК РФ ст. 46 ч. 1); голосов «за»: 55,00 (45,83\u00a0% от общего "
     "числа голосов)."),
    ("two_thirds", 79, 120, 120, True, "Решение не принято: требуется «за» — не менее двух третей от общего числа "
     "голосов собственников помещений в доме (ЖК РФ ст. 46 ч. 1); голосов «за»: 79,00 (65,83\u00a0% от общего "
     "числа голосов)."),
    ("simple", 50, 50, 120, False, "Решение не принято: кворум отсутствует (ЖК РФ ст. 45 ч. 3)."),
])
def test_why_a_decision_was_not_taken(majority, votes_for, participants, all_votes, quorum, expected):
    assert resolution(_result(majority, votes_for, participants, all_votes, False), proposal="Сделать.",
                      quorum=quorum) == expected
    assert resolution(_result(majority, votes_for, participants, all_votes, True), proposal="Сделать.",
                      quorum=True) == "Сделать."


def test_the_decision_form_gives_each_proposal_under_its_question(session_factory, example_a):
    m, ids = example_a
    doc = Document(io.BytesIO(ballots_docx(session_factory, meeting_id=m, owner_ids=[ids["Власов"]])))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    for n, proposal in enumerate(PROPOSALS, start=1):
        assert f"Вопрос {n}\nПредложено: {proposal}" in cells


def test_every_template_has_a_proposal_and_the_demo_fills_every_blank(session_factory):
    assert all(t.proposal.strip() for t in AGENDA_TEMPLATES)
    m = create_demo_meeting(session_factory)
    questions = get_meeting(session_factory, m).questions
    assert all(q.proposal and GAP not in q.proposal and q.speaker for q in questions)
    assert not [w for w in protocol_warnings(session_factory, meeting_id=m) if "предложения" in w]
