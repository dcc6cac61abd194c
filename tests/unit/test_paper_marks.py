"""The keyboard line of a paper decision (issue 16, item 6): one key per question, in any keyboard
layout by digits, and never a silent default."""
from __future__ import annotations

import re

import pytest

from services.errors import ValidationError
from services.voting import combine_marks

AGENDA = [(11, 1), (12, 2), (13, 3), (14, 4), (15, 5)]
NOTHING = dict.fromkeys((11, 12, 13, 14, 15))


@pytest.mark.parametrize("typed, marks", [
    ("12309", ["for", "against", "abstain", "none", "several"]),
    ("зпвнм", ["for", "against", "abstain", "none", "several"]),
    ("ЗП В-*", ["for", "against", "abstain", "none", "several"]),
    ("1 1 1 1 1", ["for"] * 5),
])
def test_a_line_gives_every_question_its_mark(typed, marks):
    assert combine_marks(AGENDA, typed, NOTHING) == dict(zip([q for q, _n in AGENDA], marks))


def test_without_a_line_the_buttons_count_and_an_unchosen_question_stays_unchosen():
    assert combine_marks(AGENDA, "  ", {**NOTHING, 12: "none"}) == {**NOTHING, 12: "none"}


@pytest.mark.parametrize("typed, message", [
    ("1230", "Строка отметок: 4 знака, а вопросов повестки — 5"),
    ("123091", "Строка отметок: 6 знаков, а вопросов повестки — 5"),
    ("12x09", "не распознано «x» (знак 3)"),
])
def test_a_line_that_does_not_fit_the_agenda_is_refused(typed, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        combine_marks(AGENDA, typed, NOTHING)


def test_a_line_and_a_button_that_disagree_are_refused_naming_the_question():
    with pytest.raises(ValidationError, match="расходятся по вопросу 2"):
        combine_marks(AGENDA, "11111", {**NOTHING, 11: "for", 12: "against"})


def test_in_a_correction_the_line_replaces_the_old_marks():
    old = {11: "for", 12: "for", 13: "for", 14: "for", 15: "for"}
    assert combine_marks(AGENDA, "22222", old, typed_wins=True) == dict.fromkeys(old, "against")
