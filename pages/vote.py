"""Голосование: the owners' public page. The personal code opens that owner's ballot, nothing else."""
from __future__ import annotations

import datetime as dt
import uuid

import streamlit as st

from services.errors import DomainError
from services.figures import format_local
from services.ballot_sheet import owner_decision_pdf
from services.voting import (
    ANSWERS,
    AlreadyDecided,
    CodeRefused,
    check_access,
    enter_code,
    owner_decision_docx,
    send_receipt_copy,
    submit_online_decision,
    voter_page,
)
from services import web_sessions
from ui import browser, client, state

VOTER = "voter_owner_id"
VOTER_CODE = "voter_code_hash"  # the code the ballot was opened with: replaced, it ends this session
STEP = "voter_step"  # "answer" | "review"
DRAFT = "voter_answers"  # question id -> answer key
SESSION_KEY = "voter_session_key"  # a random id of this browser session, to throttle by
RESULT = "voter_result"
CODE_FIELD = "voter_code_field"  # the code field's value: filled from the notice's link
LABELS = {v: k for k, v in ANSWERS.items()}

# Static styles only (no user text): large type and big touch targets for an owner on a phone.
st.html("""<style>
section.main p, section.main li, section.main label, section.main input, div[data-testid="stMarkdownContainer"] p
{ font-size: 1.15rem !important; line-height: 1.55; }
div[role="radiogroup"] label { padding: 0.35rem 0.9rem 0.35rem 0; }
div[data-testid="stTextInput"] input { font-size: 1.5rem !important; letter-spacing: 0.12em; }
div[data-testid="stButton"] button, div[data-testid="stButton"] button * { white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; height: auto; }
</style>""")

rt = state.runtime()
sf = rt.session_factory
st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex)

# The notice's link carries the code (/vote?code=…): it fills the field, and leaves the address
# bar at once, so the address can be shared or bookmarked without it. The owner still presses «Войти».
if "code" in st.query_params:
    link_code = str(st.query_params.get("code") or "")[:64]
    del st.query_params["code"]
    if st.session_state.get(VOTER) is None and link_code:
        st.session_state[CODE_FIELD] = link_code


def client_keys() -> list[str]:
    # the browser session and the client address (from the trusted proxy, if one is configured)
    return [f"session:{st.session_state[SESSION_KEY]}", f"ip:{client.client_address()}"]


def sign_out() -> None:
    for key in (VOTER, VOTER_CODE, STEP, DRAFT, RESULT, SAVED_DRAFT, PENDING):
        st.session_state.pop(key, None)
    browser.sign_out("owner")  # a reload no longer opens the ballot


SAVED_DRAFT = "voter_saved_draft"  # the ballot's state as last kept server side: written only on a change
PENDING = "voter_pending_answers"  # (owner id, step, answers) kept from before a reload, until the code


def signing_by_code(owner_id: int) -> bool:
    """Whether the owner's meeting counts decisions signed with the code (DOMAIN.md rule 2)."""
    try:
        return voter_page(sf, owner_id=owner_id).electronic_counts
    except DomainError:
        return False


def ballot_state() -> dict:
    """What a reload needs (services/web_sessions.py keeps it with the owner's session): the code
    the ballot was opened with (its hash), the step, the answers chosen and not yet sent."""
    return {"code_hash": st.session_state.get(VOTER_CODE), "step": st.session_state.get(STEP, "answer"),
            "answers": {str(q): a for q, a in st.session_state.get(DRAFT, {}).items()}}


def keep_ballot() -> None:
    kept = ballot_state()
    if st.session_state.get(SAVED_DRAFT) != kept:
        browser.save_draft("owner", kept)
        st.session_state[SAVED_DRAFT] = kept


owner_id = st.session_state.get(VOTER)
notice = None
if owner_id is None and PENDING not in st.session_state:
    # a reload mid-ballot, or a second tab: the ballot this browser opened with a code, and its answers
    restored = browser.restore("owner")
    if restored is not None and restored.owner_id is not None:
        kept = restored.draft
        answers = {int(q): a for q, a in (kept.get("answers") or {}).items() if str(q).isdigit() and a in ANSWERS}
        step = kept.get("step") if kept.get("step") in ("answer", "review") else "answer"
        if signing_by_code(restored.owner_id):
            # where a code-signed decision counts, the code signs it: the cookie alone does not open a
            # ballot that can be signed (a shared computer's next user); the answers wait for the code
            st.session_state[PENDING] = (restored.owner_id, step, answers)
        else:
            owner_id = restored.owner_id
            st.session_state[VOTER] = owner_id
            st.session_state[VOTER_CODE] = kept.get("code_hash")
            st.session_state[STEP] = step
            st.session_state[DRAFT] = answers
            st.session_state[SAVED_DRAFT] = ballot_state()
if owner_id is None and PENDING in st.session_state:
    notice = "Для подписи решения введите код ещё раз: ответы, выбранные на этом устройстве, сохранены."
if owner_id is not None and browser.moved():
    sign_out()  # the session's id came from another browser: the ballot stays with the one that entered the code
    owner_id = None
if owner_id is not None:
    try:
        check_access(sf, owner_id=owner_id, code_hash=st.session_state.get(VOTER_CODE))
    except CodeRefused as exc:
        sign_out()
        owner_id, notice = None, exc.message
if owner_id is not None and browser.session_state("owner") in (web_sessions.IDLE, web_sessions.ENDED):
    sign_out()  # signed out in another tab, or idle past the timeout
    owner_id, notice = None, "Сеанс завершён. Введите код ещё раз."
if owner_id is not None:
    browser.keep()
    browser.hand_over("owner")
if owner_id is None:
    st.title("Голосование собственников")
    if notice:
        st.warning(notice)
    st.write("Введите персональный код доступа из уведомления о собрании. Код состоит из 12 букв и цифр, "
             "например «7KQ3-M9XD-2PWA»; можно вводить строчными буквами, с дефисами или без.")
    with st.form("code_form", enter_to_submit=False):
        code = st.text_input("Персональный код", max_chars=64, placeholder="XXXX-XXXX-XXXX", autocomplete="off",
                             key=CODE_FIELD)
        if st.form_submit_button("Войти", type="primary", width="stretch"):
            try:
                access = enter_code(sf, secret_key=rt.secret_key, code=code, client_keys=client_keys())
            except CodeRefused as exc:
                st.error(exc.message)
            else:
                st.session_state[VOTER] = access.owner_id
                st.session_state[VOTER_CODE] = access.code_hash
                st.session_state[STEP] = "answer"
                st.session_state[DRAFT] = {}
                pending = st.session_state.pop(PENDING, None)
                if pending and pending[0] == access.owner_id:  # the same owner's answers from before the reload
                    st.session_state[STEP], st.session_state[DRAFT] = pending[1], pending[2]
                browser.end_server_session("owner")  # the session restored before the code, if any: replaced
                browser.sign_in("owner", owner_id=access.owner_id, draft=ballot_state())
                st.session_state[SAVED_DRAFT] = ballot_state()
                st.rerun()
    st.caption("Нет кода? Обратитесь к инициатору собрания: вам выдадут новый код или бумажный бланк решения.")
    st.stop()

try:
    page = voter_page(sf, owner_id=owner_id)
except DomainError as exc:
    st.error(exc.message)
    st.button("Выйти", on_click=sign_out)
    st.stop()

today = dt.date.today()
st.title("Голосование собственников")
st.markdown(f"**{state.md(page.address)}**")
with st.container(border=True):
    st.markdown(f"Собственник: **{state.md(page.name)}**")
    st.markdown(f"Помещение № **{state.md(page.premise)}** · площадь {page.area} м² · доля {page.share} · "
                f"голосов **{page.votes}**")
st.write(f"Голосование проходит с {page.start_date:%d.%m.%Y} по {page.end_date:%d.%m.%Y}. "
         f"Инициатор собрания: {state.md(page.initiator)}.")
if page.decisions_place:
    st.write(f"Письменные решения принимаются до {page.end_date:%d.%m.%Y} включительно: {state.md(page.decisions_place)}.")
if page.materials_place:
    st.caption(f"Материалы к собранию: {state.md(page.materials_place)}")


def show_answers(answers: dict[int, str]) -> None:
    for q in page.questions:
        st.markdown(f"**{q.number}.** {state.md(q.text)}  \n→ **{ANSWERS.get(answers.get(q.id), 'нет ответа')}**")


def decision_download() -> None:
    # The PDF is the sheet the office reads back from a scan (its QR code names this owner and the
    # meeting, with a keyed check): the main download. The .docx stays for those who edit or print
    # from Word, and is entered by hand.
    st.download_button("Скачать решение для подписи (PDF)",
                       data=lambda: owner_decision_pdf(sf, secret_key=rt.secret_key, owner_id=owner_id),
                       file_name=f"решение_помещение_{page.premise}.pdf", type="primary", width="stretch",
                       icon=":material/download:", mime="application/pdf")
    st.caption("Распечатайте решение на листе A4, подпишите его в рамке «Подпись» и не закрывайте чёрные метки "
               "по углам и QR-код: по ним решение читается со скана.")
    st.download_button("Скачать решение в формате Word (.docx)", data=lambda: owner_decision_docx(sf, owner_id=owner_id),
                       file_name=f"решение_помещение_{page.premise}.docx", type="secondary", width="stretch",
                       icon=":material/description:",
                       mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")


# The outcome of the last click, shown whatever the page shows next: a decision saved meanwhile
# from another device, or a voting window that closed, must not swallow it.
result = st.session_state.pop(RESULT, None)
if result:
    {"success": st.success, "info": st.info}.get(result[0], st.error)(result[1])

if page.online is not None:
    d = page.online
    if d.kind == "electronic" and d.status == "conflict":
        st.info(f"Ваше решение подписано кодом и сохранено (номер {d.number}, отпечаток печати {d.fingerprint}), "
                "но не учитывается: у вас уже есть учтённое письменное решение.")
    elif d.kind == "electronic":
        st.success(f"Ваше решение подписано кодом и принято. Номер решения {d.number}, "
                   f"время {format_local(d.submitted_at, zone=True)}, отпечаток печати {d.fingerprint}.")
    else:
        st.success("Ваши ответы сохранены. Распечатайте решение, подпишите его и передайте до "
                   f"{page.end_date:%d.%m.%Y} — учитывается подписанное письменное решение.")
        decision_download()
        st.caption(f"Отпечаток печати ваших ответов: {d.fingerprint}. Он напечатан в решении для подписи.")
    with st.expander("Ваши ответы", expanded=True):
        show_answers(d.answers)
    st.button("Выйти", on_click=sign_out)
    st.stop()

window = page.window(today)
if window == "before":
    st.info(f"Голосование ещё не началось: ответы принимаются с {page.start_date:%d.%m.%Y}.")
    st.button("Выйти", on_click=sign_out)
    st.stop()
if window == "after":
    st.warning(f"Голосование окончено {page.end_date:%d.%m.%Y}: ответы больше не принимаются.")
    st.button("Выйти", on_click=sign_out)
    st.stop()

draft: dict[int, str] = st.session_state.setdefault(DRAFT, {})


def submit() -> None:
    try:
        stored = submit_online_decision(sf, secret_key=rt.secret_key, owner_id=owner_id,
                                        answers=st.session_state[DRAFT],
                                        code_hash=st.session_state.get(VOTER_CODE))
    except AlreadyDecided:
        st.session_state[RESULT] = ("info", "Ваше решение уже было принято раньше.")
        return
    except DomainError as exc:
        st.session_state[RESULT] = ("error", exc.message)
        return
    st.session_state[RESULT] = ("success", f"Решение № {stored.number} сохранено.")
    st.session_state[DRAFT] = {}  # sent: nothing unsent is left, and a reload asks for the code again
    browser.end_server_session("owner")
    if page.electronic_counts:
        send_receipt_copy(sf, settings=rt.settings, decision_id=stored.id)


if st.session_state.get(STEP) == "review":
    keep_ballot()
    st.subheader("Проверьте ответы")
    show_answers(draft)
    if page.electronic_counts:
        st.write("Нажимая «Подписать и отправить», вы подписываете решение простой электронной подписью — "
                 "персональным кодом. Изменить решение после отправки нельзя.")
        final = "Подписать и отправить"
    else:
        st.write("Ответы будут сохранены, и вы получите заполненное решение: его нужно распечатать, подписать и "
                 "передать инициатору. Изменить ответы после сохранения нельзя.")
        final = "Сохранить ответы и сформировать решение"
    a, b = st.columns(2)
    a.button("← Изменить ответы", on_click=lambda: st.session_state.update({STEP: "answer"}), width="stretch")
    b.button(final, type="primary", on_click=submit, width="stretch")
else:
    st.subheader("Вопросы повестки дня")
    st.caption("По каждому вопросу выберите один ответ.")
    for q in page.questions:
        with st.container(border=True):
            st.markdown(f"**{q.number}. {state.md(q.text)}**")
            if q.proposal:
                st.markdown(f"Предлагается: {state.md(q.proposal)}")
            if q.materials:
                st.caption(state.md(q.materials))
            current = draft.get(q.id)
            choice = st.radio(f"Ответ на вопрос {q.number}", list(ANSWERS.values()), horizontal=True,
                              index=list(ANSWERS).index(current) if current else None, key=f"q_{q.id}",
                              label_visibility="collapsed")
            if choice:
                draft[q.id] = LABELS[choice]
    keep_ballot()  # a reload on this device finds the answers chosen so far
    missing = [q.number for q in page.questions if q.id not in draft]
    if st.button("Далее: проверить ответы", type="primary", width="stretch"):
        if missing:
            st.error("Ответьте на вопросы: " + ", ".join(str(n) for n in missing) + ".")
        else:
            st.session_state[STEP] = "review"
            st.rerun()
st.divider()
st.button("Выйти", on_click=sign_out)
