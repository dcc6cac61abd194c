"""Owners' decisions: entering with the code, the voting window, both settings of «Решения,
подписанные кодом», finality, the seal chain, and registering paper decisions."""
from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from sqlalchemy import func, select, text, update

from services.demo import create_demo_meeting
from services.errors import ValidationError
from services.models import AccessCode, Decision, DecisionAnswer, OwnerRecord
from services.notify import issue_codes
from services.voting import (
    AlreadyDecided,
    CodeRefused,
    WRONG_CODE,
    ballots_docx,
    ballots_zip,
    enter_code,
    not_answered_owner_ids,
    owner_decision_docx,
    register_paper_decision,
    set_electronic_decisions,
    submit_online_decision,
    verify_decisions,
    voter_page,
)

SECRET = "voting-secret"


@pytest.fixture
def open_meeting(session_factory):
    """The demo meeting, moved so that voting is open today."""
    return create_demo_meeting(session_factory, today=dt.date.today() - dt.timedelta(days=15))


def owners(session_factory, meeting_id):
    with session_factory() as s:
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)
                              .order_by(OwnerRecord.id)))


def answers_for(session_factory, owner_id, answer="for"):
    page = voter_page(session_factory, owner_id=owner_id)
    return {q.id: answer for q in page.questions}


def test_a_code_opens_its_owner_and_records_the_first_use(session_factory, open_meeting):
    owner = owners(session_factory, open_meeting)[0]
    code = issue_codes(session_factory, meeting_id=open_meeting, owner_ids=[owner], secret_key=SECRET)[owner]
    access = enter_code(session_factory, secret_key=SECRET, code=code.lower().replace("-", " "), client_keys=["ip1"])
    assert access.owner_id == owner and access.meeting_id == open_meeting
    with session_factory() as s:
        used = s.scalar(select(AccessCode.first_used_at).where(AccessCode.owner_id == owner))
    assert used is not None


@pytest.mark.parametrize("typed", ["AAAA-BBBB-CCCC", "", "<b>x</b>", "x" * 5000, "'; DROP TABLE owner_records; --"])
def test_a_wrong_code_gets_one_neutral_message(session_factory, open_meeting, typed):
    with pytest.raises(CodeRefused) as exc:
        enter_code(session_factory, secret_key=SECRET, code=typed, client_keys=["ip-wrong"])
    assert exc.value.message == WRONG_CODE


def test_a_replaced_code_no_longer_opens_anything(session_factory, open_meeting):
    owner = owners(session_factory, open_meeting)[0]
    old = issue_codes(session_factory, meeting_id=open_meeting, owner_ids=[owner], secret_key=SECRET)[owner]
    new = issue_codes(session_factory, meeting_id=open_meeting, owner_ids=[owner], secret_key=SECRET)[owner]
    with pytest.raises(CodeRefused):
        enter_code(session_factory, secret_key=SECRET, code=old, client_keys=["a"])
    assert enter_code(session_factory, secret_key=SECRET, code=new, client_keys=["a"]).owner_id == owner


def test_a_code_opens_only_its_own_meeting(session_factory, open_meeting):
    other = create_demo_meeting(session_factory)
    a, b = owners(session_factory, open_meeting)[0], owners(session_factory, other)[0]
    codes = issue_codes(session_factory, meeting_id=open_meeting, owner_ids=[a], secret_key=SECRET)
    codes |= issue_codes(session_factory, meeting_id=other, owner_ids=[b], secret_key=SECRET)
    assert enter_code(session_factory, secret_key=SECRET, code=codes[b], client_keys=["c"]).meeting_id == other
    assert enter_code(session_factory, secret_key=SECRET, code=codes[a], client_keys=["c"]).owner_id == a


def test_repeated_wrong_codes_are_throttled_with_a_growing_delay(session_factory, open_meeting):
    now = dt.datetime(2026, 12, 1, 12, 0)
    for _ in range(5):
        with pytest.raises(CodeRefused, match="Код не подошёл"):
            enter_code(session_factory, secret_key=SECRET, code="AAAA-BBBB-CCCC", client_keys=["ip9"], now=now)
    with pytest.raises(CodeRefused, match="Слишком много неверных попыток"):
        enter_code(session_factory, secret_key=SECRET, code="AAAA-BBBB-CCCC", client_keys=["ip9"], now=now)
    # even a right code waits while the client is locked
    owner = owners(session_factory, open_meeting)[0]
    code = issue_codes(session_factory, meeting_id=open_meeting, owner_ids=[owner], secret_key=SECRET)[owner]
    with pytest.raises(CodeRefused, match="Повторите через"):
        enter_code(session_factory, secret_key=SECRET, code=code, client_keys=["ip9"], now=now)
    later = now + dt.timedelta(minutes=10)
    assert enter_code(session_factory, secret_key=SECRET, code=code, client_keys=["ip9"], now=later).owner_id == owner


def test_answers_are_accepted_only_while_voting_is_open(session_factory):
    meeting = create_demo_meeting(session_factory)  # starts in 12 days
    owner = owners(session_factory, meeting)[0]
    with pytest.raises(Exception, match="Голосование ещё не началось"):
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                               answers=answers_for(session_factory, owner))
    page = voter_page(session_factory, owner_id=owner)
    with pytest.raises(Exception, match="Голосование окончено"):
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                               answers=answers_for(session_factory, owner), today=page.end_date + dt.timedelta(days=1))


def test_by_default_online_answers_do_not_count_and_make_a_written_decision(session_factory, open_meeting):
    from docx import Document

    owner = owners(session_factory, open_meeting)[1]
    stored = submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                                    answers=answers_for(session_factory, owner, "against"))
    assert stored.status == "online"
    doc = Document(io.BytesIO(owner_decision_docx(session_factory, owner_id=owner)))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    full = "\n".join(p.text for p in doc.paragraphs) + "\n".join(cells)
    page = voter_page(session_factory, owner_id=owner)
    assert page.name in full and stored.fingerprint in full and "Подпись собственника" in full
    assert cells.count("☒") == len(page.questions)
    with pytest.raises(AlreadyDecided):
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                               answers=answers_for(session_factory, owner, "for"))


def test_with_code_signed_decisions_switched_on_the_decision_counts_and_is_final(session_factory, open_meeting):
    set_electronic_decisions(session_factory, meeting_id=open_meeting, enabled=True, user="anna")
    owner = owners(session_factory, open_meeting)[2]
    stored = submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                                    answers=answers_for(session_factory, owner))
    assert stored.status == "counted" and stored.number.startswith(f"{open_meeting}-")
    with pytest.raises(AlreadyDecided):
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                               answers=answers_for(session_factory, owner, "against"))
    paper = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=open_meeting, owner_id=owner,
                                    received_on=dt.date.today(), answers=answers_for(session_factory, owner))
    assert paper.status == "conflict", "an owner record counts once"


def test_a_question_of_another_meeting_is_refused(session_factory, open_meeting):
    other = create_demo_meeting(session_factory)
    owner = owners(session_factory, open_meeting)[0]
    foreign = voter_page(session_factory, owner_id=owners(session_factory, other)[0]).questions[0].id
    answers = answers_for(session_factory, owner) | {foreign: "for"}
    with pytest.raises(Exception, match="не относится к этому собранию"):
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner, answers=answers)
    with session_factory() as s:
        assert s.scalar(select(Decision.id)) is None


def test_paper_decisions_invalid_questions_late_and_differences(session_factory, open_meeting):
    ids = owners(session_factory, open_meeting)
    page = voter_page(session_factory, owner_id=ids[0])
    q = [x.id for x in page.questions]
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=ids[0], answers={i: "for" for i in q})
    # a question left without a choice is never taken as «нет отметки»: the analyst chooses it
    with pytest.raises(ValidationError, match="Не выбрана отметка по вопросам 4, 5"):
        register_paper_decision(session_factory, secret_key=SECRET, meeting_id=open_meeting, owner_id=ids[0],
                                received_on=dt.date.today(),
                                answers={q[0]: "for", q[1]: "against", q[2]: "invalid"})
    paper = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=open_meeting, owner_id=ids[0],
                                    received_on=dt.date.today(),
                                    answers={q[0]: "for", q[1]: "against", q[2]: "invalid", q[3]: "none",
                                             q[4]: "several"})
    assert paper.status == "counted" and paper.differs == [2, 3, 4, 5]
    assert paper.invalid == [(3, None), (4, "none"), (5, "several")]
    with session_factory() as s:
        stored = {qid: (answer, mark) for qid, answer, mark in s.execute(
            select(DecisionAnswer.question_id, DecisionAnswer.answer, DecisionAnswer.mark)
            .where(DecisionAnswer.decision_id == paper.id))}
    assert stored[q[2]] == ("invalid", None) and stored[q[3]] == ("invalid", "none"), \
        "no mark is invalid for that question only"
    assert stored[q[4]] == ("invalid", "several")
    late = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=open_meeting, owner_id=ids[1],
                                   received_on=page.end_date + dt.timedelta(days=1),
                                   answers={i: "for" for i in q}, today=page.end_date + dt.timedelta(days=2))
    assert late.status == "late"
    twice = register_paper_decision(session_factory, secret_key=SECRET, meeting_id=open_meeting, owner_id=ids[0],
                                    received_on=dt.date.today(), answers={i: "abstain" for i in q})
    assert twice.status == "conflict"
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_a_decision_edited_or_removed_in_the_database_is_reported(session_factory, engine, open_meeting):
    ids = owners(session_factory, open_meeting)
    for oid in ids[:4]:
        submit_online_decision(session_factory, secret_key=SECRET, owner_id=oid,
                               answers=answers_for(session_factory, oid))
    report = verify_decisions(session_factory, secret_key=SECRET)
    assert report.ok and report.decisions == 4
    with session_factory.begin() as s:
        target = s.scalar(select(Decision.id).where(Decision.seq == 2))
        s.execute(update(DecisionAnswer).where(DecisionAnswer.decision_id == target).values(answer="against"))
    report = verify_decisions(session_factory, secret_key=SECRET)
    assert any("00002" in p and "изменено" in p for p in report.problems)
    with session_factory.begin() as s:
        s.execute(text("DELETE FROM decisions WHERE seq = 4"))
    report = verify_decisions(session_factory, secret_key=SECRET)
    assert any("последние решения удалены" in p for p in report.problems)


def test_correcting_the_registry_later_does_not_break_a_seal(session_factory, open_meeting):
    owner = owners(session_factory, open_meeting)[0]
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                           answers=answers_for(session_factory, owner))
    with session_factory.begin() as s:
        s.execute(update(OwnerRecord).where(OwnerRecord.id == owner).values(doc_number="исправлено"))
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_two_tabs_submitting_at_once_record_exactly_one_decision(session_factory, open_meeting):
    owner = owners(session_factory, open_meeting)[3]
    answers = answers_for(session_factory, owner)
    outcomes = []

    def submit():
        try:
            outcomes.append(submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                                                   answers=answers).id)
        except AlreadyDecided:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("refused") == 19 and len(outcomes) == 20
    with session_factory() as s:
        assert len(s.scalars(select(Decision.id).where(Decision.owner_id == owner)).all()) == 1
    assert verify_decisions(session_factory, secret_key=SECRET).ok


def test_ballots_for_those_who_did_not_answer_one_per_owner(session_factory, open_meeting):
    import zipfile

    from docx import Document

    first = owners(session_factory, open_meeting)[0]
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=first,
                           answers=answers_for(session_factory, first))
    rest = not_answered_owner_ids(session_factory, meeting_id=open_meeting)
    assert first not in rest and len(rest) == len(owners(session_factory, open_meeting)) - 1
    doc = Document(io.BytesIO(ballots_docx(session_factory, meeting_id=open_meeting, owner_ids=rest)))
    full = "\n".join(p.text for p in doc.paragraphs)
    assert full.count("РЕШЕНИЕ СОБСТВЕННИКА ПОМЕЩЕНИЯ") == len(rest)
    boxes = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    assert "☒" not in boxes and boxes.count("☐") == 3 * 5 * len(rest)
    with zipfile.ZipFile(io.BytesIO(ballots_zip(session_factory, meeting_id=open_meeting, owner_ids=rest[:5]))) as zf:
        assert len(zf.namelist()) == 5 and all(n.endswith(".docx") for n in zf.namelist())


@pytest.mark.postgres
def test_on_postgresql_200_concurrent_submissions_for_one_owner_record_store_one(postgres_engine):
    from concurrent.futures import ThreadPoolExecutor

    from services.db import make_engine, make_session_factory

    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_engine)
    engine = make_engine(postgres_engine.url.render_as_string(hide_password=False))
    sf = make_session_factory(engine)
    meeting = create_demo_meeting(sf, today=dt.date.today() - dt.timedelta(days=15))
    owner = owners(sf, meeting)[0]
    answers = answers_for(sf, owner)

    def submit(_):
        try:
            return submit_online_decision(sf, secret_key=SECRET, owner_id=owner, answers=answers).id
        except AlreadyDecided:
            return None

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(submit, range(200)))
    engine.dispose()
    assert len([r for r in results if r is not None]) == 1
    with sf() as s:
        assert len(s.scalars(select(Decision.id).where(Decision.owner_id == owner)).all()) == 1
    assert verify_decisions(sf, secret_key=SECRET, meeting_id=meeting).ok


@pytest.mark.postgres
def test_on_postgresql_1000_owners_answering_at_once_make_1000_decisions(postgres_engine):
    from concurrent.futures import ThreadPoolExecutor

    from services.db import make_engine, make_session_factory
    from services.meetings import MeetingData, QuestionData, create_meeting
    from services.registry import OwnerInput, apply_registry_changes

    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_engine)
    engine = make_engine(postgres_engine.url.render_as_string(hide_password=False))
    sf = make_session_factory(engine)
    today = dt.date.today()
    meeting = create_meeting(sf, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 7", initiator="ООО «УК»", start_date=today - dt.timedelta(days=1),
        end_date=today + dt.timedelta(days=10), questions=[QuestionData("Вопрос 1"), QuestionData("Вопрос 2")]))
    apply_registry_changes(sf, meeting_id=meeting, added=[
        OwnerInput(premise=str(i), area="45,5", name=f"Собственник {i}") for i in range(1, 1001)])
    ids = owners(sf, meeting)
    questions = [q.id for q in voter_page(sf, owner_id=ids[0]).questions]

    def submit(oid):
        return submit_online_decision(sf, secret_key=SECRET, owner_id=oid,
                                      answers={q: "for" for q in questions}).id

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(submit, ids))
    engine.dispose()
    assert len(set(results)) == 1000
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(Decision).where(Decision.meeting_id == meeting)) == 1000
    report = verify_decisions(sf, secret_key=SECRET, meeting_id=meeting)
    assert report.ok and report.decisions == 1000


def test_the_registry_of_a_meeting_with_decisions_cannot_be_replaced_or_emptied(session_factory, open_meeting):
    from services.errors import ValidationError
    from services.registry import apply_registry_changes, delete_all_owners, import_registry
    from services.demo import DEMO_REGISTRY

    owner = owners(session_factory, open_meeting)[0]
    submit_online_decision(session_factory, secret_key=SECRET, owner_id=owner,
                           answers=answers_for(session_factory, owner))
    with pytest.raises(ValidationError, match="решения собственников"):
        delete_all_owners(session_factory, meeting_id=open_meeting)
    with pytest.raises(ValidationError, match="решения собственников"):
        import_registry(session_factory, meeting_id=open_meeting, data=DEMO_REGISTRY.read_bytes(),
                        filename=DEMO_REGISTRY.name, replace=True)
    with pytest.raises(ValidationError, match="У удаляемых собственников"):
        apply_registry_changes(session_factory, meeting_id=open_meeting, deleted=[owner])
    other = owners(session_factory, open_meeting)[1]
    # a legitimate edit re-seals the registry with the instance key (the app's sessions carry it)
    assert apply_registry_changes(session_factory, meeting_id=open_meeting, deleted=[other], secret_key=SECRET) == 1
    assert verify_decisions(session_factory, secret_key=SECRET).ok
