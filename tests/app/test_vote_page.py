"""The owners' voting page (/vote) and the staff page «Решения собственников» in AppTest.

The voting page is the one page an anonymous visitor gets, so every test reaches it through
app.py's router, as a visitor would. What AppTest cannot do — download the file behind a
download button, type into the field in a real browser, a phone-sized screen — is in
tests/e2e/test_vote_flow.py.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytest
import streamlit as st
from sqlalchemy import select

from pagekit import assert_ran_cleanly, button, meeting_data, registry_xlsx, texts
from services.ballot_sheet import token_valid
from services.demo import create_demo_meeting
from services.meetings import QuestionData, create_meeting
from services.models import AccessCode, Decision, Meeting, OwnerRecord
from services.notify import issue_codes
from services.registry import import_registry
from services.scan_reader import owner_sheets, read_files
from services.voting import (
    ELECTRONIC_WARNING,
    KINDS,
    STATUSES,
    WRONG_CODE,
    CodeRefused,
    enter_code,
    register_paper_decision,
    set_electronic_decisions,
    submit_online_decision,
    voter_page,
)
from ui.state import PAGE_DECISIONS, PAGE_VOTE, md

SECRET = "vote-page-test-secret"
TODAY = dt.date.today()
CODE_LABEL = "Персональный код"
NEXT = "Далее: проверить ответы"
SAVE = "Сохранить ответы и сформировать решение"
SIGN = "Подписать и отправить"
DOWNLOAD_PDF = "Скачать решение для подписи (PDF)"  # the sheet the office reads back from its scan
DOWNLOAD_DOCX = "Скачать решение в формате Word (.docx)"
DOWNLOADS = [DOWNLOAD_PDF, DOWNLOAD_DOCX]
DEMO_OWNERS = 48


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    """The app's secret key: the codes issued and decisions sealed here use it, as the app does.

    Autouse, so it is set before any fixture runs the app (which caches the runtime and its key)."""
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def data_functions(monkeypatch) -> dict:
    """The data each download button is given, by label: what Streamlit calls when the button is
    clicked in a browser (AppTest has no server to call it)."""
    given: dict = {}
    original = st.download_button

    def recording(label, data=None, *args, **kwargs):
        given[label] = (data, kwargs)
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    return given


def sheet_tokens(pdf: bytes) -> list:
    from tests.scangen import sheet_tokens as decoded

    return decoded(pdf)


@dataclass
class Voter:
    meeting_id: int
    owner_id: int
    code: str
    name: str
    premise: str


def owner_rows(session_factory, meeting_id) -> list[tuple[int, str, str]]:
    """(id, name, premise number) of every owner of the meeting, in id order."""
    with session_factory() as s:
        rows = s.scalars(select(OwnerRecord).where(OwnerRecord.meeting_id == meeting_id).order_by(OwnerRecord.id)).all()
        return [(o.id, o.name, o.premise.number) for o in rows]


def voter_of(session_factory, meeting_id, index: int = 0) -> Voter:
    owner_id, name, premise = owner_rows(session_factory, meeting_id)[index]
    code = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=SECRET)[owner_id]
    return Voter(meeting_id, owner_id, code, name, premise)


@pytest.fixture
def open_meeting(session_factory) -> int:
    """The demo meeting (48 owners, 5 questions), moved so that voting is open today."""
    return create_demo_meeting(session_factory, today=TODAY - dt.timedelta(days=15))


@pytest.fixture
def voter(session_factory, secret_env, open_meeting) -> Voter:
    # the fourth owner: not the first row, so a page that showed «the first owner» would fail
    return voter_of(session_factory, open_meeting, 3)


def open_vote(app):
    at = app.run()
    at.switch_page(PAGE_VOTE).run()
    assert_ran_cleanly(at)
    return at


def type_code(at, code: str):
    """What the browser sends when the owner types `code` and presses «Войти» (set_value: AppTest's
    input() silently drops a value longer than max_chars, while a forged request would not)."""
    [field] = [w for w in at.text_input if w.label == CODE_LABEL]
    field.set_value(code)
    button(at, "Войти").click().run()
    assert_ran_cleanly(at)
    return at


def markdown(at) -> list[str]:
    return texts(at.markdown)


def all_text(at) -> str:
    """Everything the page writes, as one string to search for names that must not be there."""
    parts = [*texts(at.title), *texts(at.markdown), *texts(at.caption), *texts(at.success), *texts(at.info),
             *texts(at.error), *texts(at.warning), *texts(at.subheader)]
    return "\n".join(str(p) for p in parts)


def answer_all(at, labels: list[str]):
    assert len(at.radio) == len(labels), [r.label for r in at.radio]
    for radio, label in zip(at.radio, labels):
        radio.set_value(label)
    return at.run()


def stored_decisions(session_factory, meeting_id) -> list[Decision]:
    with session_factory() as s:
        rows = s.scalars(select(Decision).where(Decision.meeting_id == meeting_id).order_by(Decision.seq)).all()
        for d in rows:
            _ = d.answers  # loaded before the session closes
        return rows


def first_used(session_factory, owner_id):
    with session_factory() as s:
        return s.scalar(select(AccessCode.first_used_at).where(AccessCode.owner_id == owner_id))


# ---------- entering with the code ----------

def test_the_vote_page_opens_without_a_login_and_asks_for_the_code(app, voter):
    at = open_vote(app)
    assert texts(at.title) == ["Голосование собственников"]
    [field] = at.text_input
    assert (field.label, field.placeholder) == (CODE_LABEL, "XXXX-XXXX-XXXX")
    assert button(at, "Войти")
    assert not at.radio


@pytest.mark.parametrize("typed", [
    "AAAA-BBBB-CCCC",  # well-formed, not issued
    "",
    "   ",
    "garbage !!! ☺",
    "x" * 5000,
    "<script>alert(1)</script>",
    "<b>{code}</b>",  # the right code wrapped in markup is not the right code
    "'; DROP TABLE owner_records; --",
    "{code}{code}",  # the right code twice
])
def test_a_wrong_code_gets_the_one_neutral_message_and_opens_nothing(app, session_factory, voter, typed):
    at = type_code(open_vote(app), typed.replace("{code}", voter.code))
    assert texts(at.error) == [WRONG_CODE]
    assert "voter_owner_id" not in at.session_state
    assert not at.radio
    assert voter.name not in all_text(at)
    assert [w.label for w in at.text_input] == [CODE_LABEL]
    assert first_used(session_factory, voter.owner_id) is None
    # the typed text is never echoed back (no markup of the visitor's rendered on the page)
    assert "<script>" not in all_text(at) and "DROP TABLE" not in all_text(at)


def test_after_five_wrong_codes_the_visitor_waits(app, session_factory, voter):
    at = open_vote(app)
    for _ in range(5):
        type_code(at, "AAAA-BBBB-CCCC")
        assert texts(at.error) == [WRONG_CODE]
    # The wait after the fifth failure is 1 s and doubles with each further one; a slow test
    # machine can outlast the first seconds, so more failures of this browser session are added
    # as if over the next minutes, leaving a wait far longer than the rest of the test.
    client = f"session:{at.session_state['voter_session_key']}"
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for _ in range(8):
        later += dt.timedelta(minutes=6)
        with pytest.raises(CodeRefused):
            enter_code(session_factory, secret_key=SECRET, code="AAAA-BBBB-CCCC", client_keys=[client], now=later)
    type_code(at, "AAAA-BBBB-CCCC")
    [message] = texts(at.error)
    assert message.startswith("Слишком много неверных попыток. Повторите через ")
    # even the right code waits now: the delay is per client, not per guessed code
    type_code(at, voter.code)
    assert texts(at.error)[0].startswith("Слишком много неверных попыток")
    assert not at.radio and first_used(session_factory, voter.owner_id) is None


def test_the_right_code_typed_in_lower_case_with_spaces_opens_that_owners_page_only(app, session_factory, voter):
    others = [name for oid, name, _p in owner_rows(session_factory, voter.meeting_id) if oid != voter.owner_id]
    at = type_code(open_vote(app), voter.code.lower().replace("-", " "))
    assert not at.error
    assert at.session_state["voter_owner_id"] == voter.owner_id
    page = voter_page(session_factory, owner_id=voter.owner_id)
    assert f"Собственник: **{md(voter.name)}**" in markdown(at)
    assert (f"Помещение № **{md(voter.premise)}** · площадь {page.area} м² · доля {page.share} · "
            f"голосов **{page.votes}**") in markdown(at)
    assert "**г\\. Москва, ул\\. Садовая, д\\. 10**" in markdown(at)
    # one radio per question, none answered yet; no other owner's name anywhere
    assert [r.label for r in at.radio] == [f"Ответ на вопрос {q.number}" for q in page.questions]
    assert all(r.value is None for r in at.radio)
    assert all(r.options == ["За", "Против", "Воздержался"] for r in at.radio)
    shown = all_text(at)
    assert not [n for n in others if n in shown]
    assert not [w for w in at.text_input if w.label == CODE_LABEL]
    assert first_used(session_factory, voter.owner_id) is not None


def test_leaving_returns_to_the_code_form(app, voter):
    at = type_code(open_vote(app), voter.code)
    [leave] = [b for b in at.button if b.label == "Выйти"]
    at = leave.click().run()
    assert "voter_owner_id" not in at.session_state
    assert [w.label for w in at.text_input] == [CODE_LABEL]
    assert voter.name not in all_text(at)


def test_a_replaced_code_ends_the_page_it_opened(app, session_factory, voter):
    """Issue 14, item 14: the code reissued while the owner's page is open signs that page out on its
    next run — the answers already chosen go nowhere — and the old code opens nothing."""
    at = type_code(open_vote(app), voter.code)
    at.radio[0].set_value("За").run()
    issue_codes(session_factory, meeting_id=voter.meeting_id, owner_ids=[voter.owner_id], secret_key=SECRET)
    at.run()
    assert_ran_cleanly(at)
    assert "voter_owner_id" not in at.session_state
    assert [w.message if hasattr(w, "message") else w.value for w in at.warning] == [
        "Ваш код доступа заменён новым. Войдите с новым кодом из последнего уведомления."]
    assert [w.label for w in at.text_input] == [CODE_LABEL] and voter.name not in all_text(at)
    type_code(at, voter.code)
    assert texts(at.error) == [WRONG_CODE]
    with session_factory() as s:
        assert s.scalar(select(Decision).where(Decision.owner_id == voter.owner_id)) is None


# ---------- answering ----------

def test_each_question_shows_the_proposal_the_owner_votes_on(app, session_factory, voter):
    """Issue 15, item 1: the owner sees the wording put to the vote («ПРЕДЛОЖЕНО»), not only the item."""
    from services.meetings import get_meeting

    at = type_code(open_vote(app), voter.code)
    questions = get_meeting(session_factory, voter.meeting_id).questions
    assert all(q.proposal for q in questions)
    shown = markdown(at)
    for q in questions:
        assert f"Предлагается: {md(q.proposal)}" in shown, q.number



def test_the_review_step_refuses_unanswered_questions_by_number(app, voter):
    at = type_code(open_vote(app), voter.code)
    at.radio[0].set_value("За")
    at.radio[2].set_value("Против")
    at = button(at.run(), NEXT).click().run()
    assert texts(at.error) == ["Ответьте на вопросы: 2, 4, 5."]
    assert not [b for b in at.button if b.label == SAVE]
    # what was chosen is kept
    assert [r.value for r in at.radio] == ["За", None, "Против", None, None]


def test_answering_reviewing_and_saving_stores_one_online_decision_and_offers_the_readable_pdf(
        app, session_factory, voter, data_functions, tmp_path):
    labels = ["За", "Против", "Воздержался", "За", "Против"]
    at = answer_all(type_code(open_vote(app), voter.code), labels)
    at = button(at, NEXT).click().run()
    assert_ran_cleanly(at)
    assert texts(at.subheader) == ["Проверьте ответы"]
    page = voter_page(session_factory, owner_id=voter.owner_id)
    for q, label in zip(page.questions, labels):
        assert f"**{q.number}.** {md(q.text)}  \n→ **{label}**" in markdown(at)
    assert not at.radio
    assert not stored_decisions(session_factory, voter.meeting_id)  # nothing is stored before the click

    # «Изменить ответы» goes back with the answers kept
    at = button(at, "← Изменить ответы").click().run()
    assert [r.value for r in at.radio] == labels
    at.radio[4].set_value("Воздержался")
    labels[4] = "Воздержался"
    at = button(button(at.run(), NEXT).click().run(), SAVE).click().run()
    assert_ran_cleanly(at)

    [decision] = stored_decisions(session_factory, voter.meeting_id)
    assert (decision.owner_id, decision.kind, decision.status) == (voter.owner_id, "online", "online")
    assert decision.counted_slot is None  # an online answer is not a counted decision by default
    keys = {"За": "for", "Против": "against", "Воздержался": "abstain"}
    assert {a.question_id: a.answer for a in decision.answers} == {
        q.id: keys[label] for q, label in zip(page.questions, labels)}

    number = f"{voter.meeting_id}-{decision.seq:05d}"
    assert texts(at.success) == [
        f"Решение № {number} сохранено.",
        f"Ваши ответы сохранены. Распечатайте решение, подпишите его и передайте до {page.end_date:%d.%m.%Y} — "
        "учитывается подписанное письменное решение."]
    assert [b.label for b in at.get("download_button")] == DOWNLOADS
    fingerprint = "-".join(decision.seal[i:i + 4].upper() for i in range(0, 16, 4))
    assert f"Отпечаток печати ваших ответов: {fingerprint}. Он напечатан в решении для подписи." in texts(at.caption)
    assert not at.radio and not [b for b in at.button if b.label in (NEXT, SAVE)]

    # the main download is the machine-readable sheet: a PDF whose every page carries this owner's
    # code for this meeting, with the instance's keyed check, and the answers given printed in
    make_pdf, given = data_functions[DOWNLOAD_PDF]
    assert (given["type"], given["mime"]) == ("primary", "application/pdf")
    assert given["file_name"] == f"решение_помещение_{voter.premise}.pdf"
    pdf = make_pdf()
    tokens = sheet_tokens(pdf)
    document = pdfium.PdfDocument(pdf)
    try:
        text = " ".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()
    assert f"отпечаток печати решения: {fingerprint}" in " ".join(text.split())  # the signed sheet names its answers
    assert tokens and None not in tokens
    assert [(t.meeting_id, t.owner_id, t.page, t.pages) for t in tokens] == [
        (voter.meeting_id, voter.owner_id, n, len(tokens)) for n in range(1, len(tokens) + 1)]
    assert all(token_valid(SECRET, t) for t in tokens)
    # read back as the office reads a scan of it: this owner's sheet, the answers given online marked
    pdf_path = tmp_path / "решение.pdf"
    pdf_path.write_bytes(make_pdf())
    reads = list(read_files([(str(pdf_path), pdf_path.name)], secret_key=SECRET, meeting_id=voter.meeting_id,
                            owners=owner_sheets(session_factory, meeting_id=voter.meeting_id), keep_image=False))
    assert {r.owner_id for r in reads} == {voter.owner_id}
    read = {n: a for r in reads for n, a in r.answers.items()}
    assert read == {q.number: keys[label] for q, label in zip(page.questions, labels)}
    # the .docx stays, second
    make_docx, given = data_functions[DOWNLOAD_DOCX]
    assert given["type"] == "secondary" and given["file_name"].endswith(".docx")
    assert make_docx()[:2] == b"PK"

    # coming back later with the code shows the saved answers, not a new ballot
    at = [b for b in at.button if b.label == "Выйти"][0].click().run()
    at = type_code(at, voter.code)
    assert not at.radio
    assert [b.label for b in at.get("download_button")] == DOWNLOADS
    assert len(stored_decisions(session_factory, voter.meeting_id)) == 1


def test_a_second_browser_saving_the_same_owner_stores_nothing_new(app, session_factory, voter):
    at = answer_all(type_code(open_vote(app), voter.code), ["За"] * 5)
    at = button(at, NEXT).click().run()
    # meanwhile the same owner saved from a phone
    page = voter_page(session_factory, owner_id=voter.owner_id)
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=voter.owner_id,
                           answers={q.id: "against" for q in page.questions})
    at = button(at, SAVE).click().run()
    assert_ran_cleanly(at)
    # the click is answered, and the page shows what was stored, not what this browser chose
    assert texts(at.info) == ["Ваше решение уже было принято раньше."]
    [decision] = stored_decisions(session_factory, voter.meeting_id)
    assert {a.answer for a in decision.answers} == {"against"}
    assert all(t.endswith("→ **Против**") for t in markdown(at) if "→" in t)
    assert len([t for t in markdown(at) if "→" in t]) == 5


def test_saving_after_the_voting_closed_meanwhile_says_why_nothing_was_stored(app, session_factory, voter):
    at = button(answer_all(type_code(open_vote(app), voter.code), ["За"] * 5), NEXT).click().run()
    yesterday = TODAY - dt.timedelta(days=1)
    with session_factory.begin() as s:
        s.get(Meeting, voter.meeting_id).end_date = yesterday
    at = button(at, SAVE).click().run()
    assert_ran_cleanly(at)
    message = f"Голосование окончено {yesterday:%d.%m.%Y}: ответы больше не принимаются."
    assert texts(at.error) == [message]
    assert texts(at.warning) == [message]
    assert not stored_decisions(session_factory, voter.meeting_id)


def test_a_meeting_not_yet_open_shows_when_voting_starts(app, session_factory, secret_env):
    meeting_id = create_demo_meeting(session_factory, today=TODAY)  # starts in 12 days
    voter = voter_of(session_factory, meeting_id)
    at = type_code(open_vote(app), voter.code)
    start = TODAY + dt.timedelta(days=12)
    assert texts(at.info) == [f"Голосование ещё не началось: ответы принимаются с {start:%d.%m.%Y}."]
    assert f"Собственник: **{md(voter.name)}**" in markdown(at)
    assert not at.radio and not [b for b in at.button if b.label == NEXT]


def test_a_finished_meeting_takes_no_more_answers(app, session_factory, secret_env):
    meeting_id = create_demo_meeting(session_factory, today=TODAY - dt.timedelta(days=60))
    voter = voter_of(session_factory, meeting_id)
    at = type_code(open_vote(app), voter.code)
    end = TODAY - dt.timedelta(days=18)
    assert texts(at.warning) == [f"Голосование окончено {end:%d.%m.%Y}: ответы больше не принимаются."]
    assert not at.radio


def test_with_code_signed_decisions_counted_the_owner_signs_and_gets_a_receipt(app, session_factory, voter,
                                                                                monkeypatch):
    monkeypatch.setenv("KVORUM_TIME_ZONE", "Europe/Moscow")
    set_electronic_decisions(session_factory, meeting_id=voter.meeting_id, enabled=True, user="admin")
    at = answer_all(type_code(open_vote(app), voter.code), ["За", "За", "Против", "Воздержался", "За"])
    at = button(at, NEXT).click().run()
    assert not [b for b in at.button if b.label == SAVE]
    assert any("простой электронной подписью" in t for t in markdown(at))
    at = button(at, SIGN).click().run()
    assert_ran_cleanly(at)

    [decision] = stored_decisions(session_factory, voter.meeting_id)
    assert (decision.kind, decision.status, decision.counted_slot) == ("electronic", "counted", voter.owner_id)
    fingerprint = "-".join(decision.seal[i:i + 4].upper() for i in range(0, 16, 4))
    number = f"{voter.meeting_id}-{decision.seq:05d}"
    receipt = [t for t in texts(at.success) if t.startswith("Ваше решение подписано кодом и принято.")]
    # the stored UTC time in the company's time zone (Europe/Moscow, UTC+3 all year), named
    local = decision.submitted_at + dt.timedelta(hours=3)
    assert receipt == [f"Ваше решение подписано кодом и принято. Номер решения {number}, время "
                       f"{local:%d.%m.%Y %H:%M} (Москва, стандартное время), отпечаток печати {fingerprint}."]
    # a code-signed decision is the decision itself: no form to print and sign
    assert not at.get("download_button")
    assert not at.radio


def test_a_code_signed_decision_after_a_counted_paper_one_is_not_called_accepted(app, session_factory, voter):
    set_electronic_decisions(session_factory, meeting_id=voter.meeting_id, enabled=True, user="admin")
    questions = voter_page(session_factory, owner_id=voter.owner_id).questions
    register_paper_decision(session_factory, secret_key=SECRET, meeting_id=voter.meeting_id, owner_id=voter.owner_id,
                            received_on=TODAY, answers={q.id: "for" for q in questions}, user="admin")
    at = answer_all(type_code(open_vote(app), voter.code), ["Против"] * 5)
    at = button(button(at, NEXT).click().run(), SIGN).click().run()
    assert_ran_cleanly(at)
    electronic = [d for d in stored_decisions(session_factory, voter.meeting_id) if d.kind == "electronic"]
    assert [(d.status, d.counted_slot) for d in electronic] == [("conflict", None)]
    assert not [t for t in texts(at.success) if "принято" in t]
    [info] = texts(at.info)
    assert info.endswith("но не учитывается: у вас уже есть учтённое письменное решение.")


# ---------- user text is shown as text ----------

HOSTILE_NAME = "<img src=x onerror=alert(1)> Злоумышленников <b>Иван</b>"
HOSTILE_QUESTION = "<script>alert('q')</script> Ремонт **крыши** [ссылка](javascript:alert(2))"
HOSTILE_INITIATOR = "ООО <i>«Ромашка»</i>"


def unescaped_markup(value: str) -> list[str]:
    """Markup characters a Markdown renderer would act on: «<», «[», «*» not escaped by a backslash,
    outside the page's own bold markers around the user text."""
    return re.findall(r"(?<!\\)<[a-zA-Z/]", value)


@pytest.fixture
def hostile_voter(session_factory, secret_env) -> Voter:
    meeting_id = create_meeting(session_factory, data=meeting_data(
        initiator=HOSTILE_INITIATOR, start_date=TODAY - dt.timedelta(days=1), end_date=TODAY + dt.timedelta(days=20),
        questions=[QuestionData(HOSTILE_QUESTION), QuestionData("Обычный вопрос")]))
    rows = [["1", 50.0, HOSTILE_NAME, "1", "77-01/001", dt.date(2020, 2, 4), "x@example.ru"]]
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(rows), filename="r.xlsx", replace=True)
    voter = voter_of(session_factory, meeting_id)
    assert voter.name == HOSTILE_NAME  # the registry keeps the name as typed
    return voter


def test_markup_in_an_owner_name_question_or_initiator_is_shown_as_typed(app, hostile_voter):
    at = type_code(open_vote(app), hostile_voter.code)
    assert_ran_cleanly(at)
    values = markdown(at)
    owner_line = f"Собственник: **{md(HOSTILE_NAME)}**"
    assert owner_line in values
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in owner_line
    question_line = f"**1. {md(HOSTILE_QUESTION)}**"
    assert question_line in values
    assert "\\<script\\>alert\\('q'\\)\\</script\\>" in question_line
    assert "\\*\\*крыши\\*\\*" in question_line and "\\[ссылка\\]\\(javascript\\:alert\\(2\\)\\)" in question_line
    assert any("Инициатор собрания: ООО \\<i\\>«Ромашка»\\</i\\>." in v for v in values)
    assert not [v for v in values if unescaped_markup(v)], [v for v in values if unescaped_markup(v)]
    # no element renders HTML with what a user typed; the only script is Kvorum's own static one
    # (the Russian words of a table's column menu, ui/state.GRID_MENU_JS), never with user text in it
    from ui.state import GRID_MENU_JS

    bodies = [h.proto.body for h in at.get("html")]
    assert not [b for b in bodies if any(x in b for x in ("alert(", "onerror", "Злоумышленников", "Ромашка"))]
    assert [b for b in bodies if "script" in b.lower()] == [GRID_MENU_JS]

    # the review step shows the question through the same escaping
    at = button(answer_all(at, ["За", "Против"]), NEXT).click().run()
    assert f"**1.** {md(HOSTILE_QUESTION)}  \n→ **За**" in markdown(at)
    assert not [v for v in markdown(at) if unescaped_markup(v)]


# ---------- «Решения собственников» (staff) ----------

def owner_index(session_factory, meeting_id) -> dict[str, int]:
    """Owner id by premise number for single-owner premises of the demo registry."""
    rows = owner_rows(session_factory, meeting_id)
    count: dict[str, int] = {}
    for _i, _n, p in rows:
        count[p] = count.get(p, 0) + 1
    return {p: i for i, _n, p in rows if count[p] == 1}


def flashes(at, kind: str) -> list[str]:
    """The page's messages about the last action (the legal warning inside the expander is always there)."""
    return [t for t in texts(getattr(at, kind)) if t != ELECTRONIC_WARNING]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def decisions_table(at):
    [frame] = at.dataframe
    return frame.value


def fill_paper_form(at, *, owner_id: int, marks: list[str | None], received: dt.date):
    """The form «Внести письменное решение»: None leaves a question without any choice."""
    [owner] = [s for s in at.selectbox if s.label.startswith("Собственник")]
    owner.set_value(owner_id)
    [date] = [d for d in at.date_input if d.label == "Дата получения"]
    date.set_value(received)
    radios = [r for r in at.radio if r.key and r.key.startswith("mark_")]
    assert len(radios) == len(marks)
    for radio, mark in zip(radios, marks):
        if mark is not None:
            radio.set_value(mark)
    return button(at, "Сохранить решение").click().run()


@pytest.fixture
def busy_meeting(session_factory, secret_env, open_meeting):
    """Owners by role: A entered and answered online, B entered only, C and D did nothing yet."""
    singles = list(owner_index(session_factory, open_meeting).values())
    a, b, c, d = singles[:4]
    codes = issue_codes(session_factory, meeting_id=open_meeting, owner_ids=[a, b, c, d], secret_key=SECRET)
    for oid in (a, b):
        enter_code(session_factory, secret_key=SECRET, code=codes[oid], client_keys=[f"k{oid}"])
    questions = voter_page(session_factory, owner_id=a).questions
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=a,
                           answers={q.id: "for" for q in questions})
    return {"meeting_id": open_meeting, "a": a, "b": b, "c": c, "d": d, "questions": questions}


def test_decisions_page_counts_code_entries_online_answers_and_counted_decisions(open_page, busy_meeting):
    at = open_page(PAGE_DECISIONS, busy_meeting["meeting_id"])
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Решения собственников"]
    assert metrics(at) == {"Собственников": "48", "Вошли по коду": "2", "Заполнено онлайн": "1",
                           "Учтено решений": "0", "Поздние / повторные": "0 / 0"}
    table = decisions_table(at)
    assert list(table["Вид"]) == [KINDS["online"]] and list(table["Статус"]) == [STATUSES["online"]]
    # ballots for everyone with no decision of any kind: 48 − A
    labels = [b.label for b in at.get("download_button")]
    # the demo meeting is очно-заочное: its attendance sheet comes first, then the ballots
    assert labels == ["Лист регистрации для печати (.docx)", f"Скачать бюллетени ({DEMO_OWNERS - 1}) .docx",
                      "Бюллетени по одному (.zip)"]


def test_a_paper_decision_with_an_unmarked_question_counts_except_for_that_question(
        open_page, session_factory, busy_meeting):
    meeting_id, qs = busy_meeting["meeting_id"], busy_meeting["questions"]
    at = open_page(PAGE_DECISIONS, meeting_id)
    # a question left without a choice is refused, never saved as a silent «нет отметки» (issue 16, item 6)
    at = fill_paper_form(at, owner_id=busy_meeting["c"], marks=["За", "Нет отметки", "Против", None,
                                                                 "Несколько отметок"], received=TODAY)
    assert_ran_cleanly(at)
    assert any("Не выбрана отметка" in e.value and "4" in e.value for e in at.error), [e.value for e in at.error]
    assert not [d for d in stored_decisions(session_factory, meeting_id) if d.kind == "paper"]

    at = open_page(PAGE_DECISIONS, meeting_id)
    marks = ["За", "Нет отметки", "Против", "Нет отметки", "Несколько отметок"]
    at = fill_paper_form(at, owner_id=busy_meeting["c"], marks=marks, received=TODAY)
    assert_ran_cleanly(at)
    assert not at.error
    # invalid questions make it a warning, not a plain success
    assert not flashes(at, "success")
    [flash] = flashes(at, "warning")
    flash = flash.replace("\\", "")  # the owner's name is Markdown-escaped (state.md); shown as typed
    assert flash.startswith(f"Решение № {meeting_id}-00002 (пом. ") and "сохранено: учитывается." in flash
    # the save message names each invalid question and why
    assert "вопрос 2: нет отметки" in flash and "вопрос 4: нет отметки" in flash, flash
    assert "вопрос 5: несколько отметок" in flash, flash

    [paper] = [d for d in stored_decisions(session_factory, meeting_id) if d.kind == "paper"]
    assert (paper.owner_id, paper.status, paper.counted_slot) == (busy_meeting["c"], "counted", busy_meeting["c"])
    assert {a.question_id: a.answer for a in paper.answers} == {
        qs[0].id: "for", qs[1].id: "invalid", qs[2].id: "against", qs[3].id: "invalid", qs[4].id: "invalid"}

    assert metrics(at)["Учтено решений"] == "1"
    table = decisions_table(at)
    row = table[table["Вид"] == KINDS["paper"]].iloc[0]
    assert row["Статус"] == STATUSES["counted"]
    assert [row[f"Вопрос {n}"] for n in range(1, 6)] == ["За", "Нет отметки", "Против", "Нет отметки",
                                                         "Несколько отметок"]
    # the form is blank for the next decision: a mark left over from this one would be saved
    # into the next owner's decision whenever the operator skips that question
    assert [r.value for r in at.radio if r.key and r.key.startswith("mark_")] == [None] * 5
    assert [s.value for s in at.selectbox if s.label.startswith("Собственник")] == [None]


def test_the_table_shows_online_code_signed_and_paper_decisions_with_their_statuses(
        open_page, session_factory, busy_meeting):
    meeting_id, qs = busy_meeting["meeting_id"], busy_meeting["questions"]
    # D signs with the code once the meeting counts code-signed decisions; A hands in paper too
    set_electronic_decisions(session_factory, meeting_id=meeting_id, enabled=True, user="admin")
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=busy_meeting["d"],
                           answers={q.id: "abstain" for q in qs})
    at = open_page(PAGE_DECISIONS, meeting_id)
    at = fill_paper_form(at, owner_id=busy_meeting["a"], marks=["За", "Против", "За", "За", "За"], received=TODAY)
    assert_ran_cleanly(at)
    [flash] = flashes(at, "warning")
    assert "Ответы на вопросы 2 отличаются от заполненных онлайн; учитывается письменное решение." in flash

    names = {oid: name for oid, name, _p in owner_rows(session_factory, meeting_id)}
    table = decisions_table(at)
    seen = {(r["ФИО/Наименование собственника"], r["Вид"], r["Статус"], r["Расходится с онлайн-ответами"])
            for _i, r in table.iterrows()}
    assert seen == {
        (names[busy_meeting["a"]], KINDS["online"], STATUSES["online"], ""),
        (names[busy_meeting["a"]], KINDS["paper"], STATUSES["counted"], "2"),
        (names[busy_meeting["d"]], KINDS["electronic"], STATUSES["counted"], ""),
    }
    assert metrics(at)["Учтено решений"] == "2"
    assert metrics(at)["Заполнено онлайн"] == "0"  # A's online answers are now covered by the paper decision

    at = button(at, "Проверить печати решений").click().run()
    assert any(t.startswith("Проверено решений: 3 (собраний: 1). Все печати верны") for t in texts(at.success))


def test_a_paper_decision_received_after_the_end_is_kept_but_not_counted(open_page, session_factory, secret_env):
    meeting_id = create_demo_meeting(session_factory, today=TODAY - dt.timedelta(days=60))  # ended 18 days ago
    owner = next(iter(owner_index(session_factory, meeting_id).values()))
    at = open_page(PAGE_DECISIONS, meeting_id)
    at = fill_paper_form(at, owner_id=owner, marks=["За"] * 5, received=TODAY - dt.timedelta(days=1))
    assert_ran_cleanly(at)
    [flash] = flashes(at, "warning")
    assert "получено после окончания приёма — хранится, но не учитывается" in flash
    [paper] = stored_decisions(session_factory, meeting_id)
    assert (paper.status, paper.counted_slot) == ("late", None)
    assert metrics(at)["Учтено решений"] == "0" and metrics(at)["Поздние / повторные"] == "1 / 0"
    assert list(decisions_table(at)["Статус"]) == [STATUSES["late"]]


def test_a_paper_decision_needs_an_owner(open_page, session_factory, busy_meeting):
    at = open_page(PAGE_DECISIONS, busy_meeting["meeting_id"])
    at = button(at, "Сохранить решение").click().run()
    assert texts(at.error) == ["Выберите собственника."]
    assert len(stored_decisions(session_factory, busy_meeting["meeting_id"])) == 1


def test_switching_on_code_signed_decisions_needs_the_confirmation_and_is_recorded(
        open_page, session_factory, busy_meeting):
    meeting_id = busy_meeting["meeting_id"]
    at = open_page(PAGE_DECISIONS, meeting_id)
    assert button(at, "Учитывать решения, подписанные кодом").disabled
    at.checkbox[0].check()
    at = button(at.run(), "Учитывать решения, подписанные кодом").click().run()
    assert_ran_cleanly(at)
    assert "Решения, подписанные кодом, учитываются. Изменение записано." in texts(at.success)
    with session_factory() as s:
        m = s.get(Meeting, meeting_id)
        assert (m.electronic_decisions_count, m.electronic_switched_by) == (True, "admin")
    assert button(at, "Не учитывать решения, подписанные кодом")
