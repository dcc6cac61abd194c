"""Решения собственников: who entered with the code and answered online, registering the signed
paper decisions (by hand or from a spreadsheet), ballots for the rest, and the seal check."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import streamlit as st

from services.attendance import attendance, attendance_sheet_docx, record_attendance, remove_attendance
from services.auth import can
from services.decision_import import parse_decisions, store_decisions
from services.errors import DomainError, ValidationError
from services.figures import count_of, format_count
from services.meetings import get_meeting
from services.representatives import Representative
from services.spreadsheet import MAX_FILE_BYTES, TableFileError
from services.voting import (
    ANSWER_LABELS,
    ELECTRONIC_WARNING,
    INVALID,
    MARKS,
    REASON_MIN,
    STATUSES,
    TYPED_LEGEND,
    agenda_questions,
    annul_decision,
    ballots_docx,
    ballots_zip,
    combine_marks,
    correct_paper_decision,
    decisions_frame,
    joint_conflicts,
    not_answered_owner_ids,
    owner_choices,
    paper_decisions,
    register_paper_decision,
    saved_message,
    set_electronic_decisions,
    settle_joint_conflict,
    voting_summary,
)
from ui import state

PREVIEW = "decisions_preview"  # (file digest, the date given for undated rows, the checked report)
UPLOAD_V = "decisions_upload_v"
FORM_V = "decisions_form_v"  # the paper form's version: a saved form is never submitted again
PAPER_RESULT = "decisions_paper_result"  # (kind, message) of the last save, shown by the form
PAPER_ERROR = "decisions_paper_error"  # (form version, message) of a refused save
LAST_RECEIVED = "decisions_last_received"  # the receipt date of the last save: the next form starts with it
FOCUS_OWNER = "decisions_focus_owner"  # after a save: put the cursor back into the owner search
FIX_V = "decisions_fix_v"  # the correction form's version
FIX_PICK = "decisions_fix_pick"  # the decision chosen for a correction
FIX_RESULT = "decisions_fix_result"  # (kind, message) of the last correction or annulment
FIX_ERROR = "decisions_fix_error"  # (form version, decision id, message) of a refused one
JOINT_PICK = "decisions_joint_pick"  # (decision id, its number, premise) awaiting confirmation
MARK_LABELS = list(MARKS.values())  # «За» … «Несколько отметок»: none is chosen until the analyst does
MARK_KEYS = {v: k for k, v in MARKS.items()}
OWNER_LABEL = "Собственник (начните вводить номер помещения или ФИО)"
# Runs in st.iframe's same-origin frame (the successor of components.html): finds the owner search by its label and focuses it
# (retrying while the page renders). No request leaves the page.
FOCUS_SCRIPT = """<script>/* __NONCE__ */
const label = __LABEL__;
let tries = 0;
const timer = setInterval(() => {
  const doc = window.parent.document;
  const box = [...doc.querySelectorAll('[data-testid="stSelectbox"]')]
    .find((el) => (el.querySelector('label') || {}).textContent?.startsWith(label));
  const input = box && box.querySelector('input');
  if (input || ++tries > 60) { clearInterval(timer); if (input) { input.focus(); } }
}, 50);
</script>"""

state.require_permission("view_personal")
sf = state.session_factory()
rt = state.runtime()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)
user = st.session_state[state.USER]
st.session_state.setdefault(UPLOAD_V, 0)
st.session_state.setdefault(FORM_V, 0)
st.session_state.setdefault(FIX_V, 0)

state.back_to_stages()
st.title("Решения собственников")
st.caption(f"{state.md(meeting.address)} · голосование {meeting.start_date:%d.%m.%Y} — {meeting.end_date:%d.%m.%Y}")
state.show_flash()

summary = voting_summary(sf, meeting_id=meeting_id)
c = st.columns(5)
c[0].metric("Собственников", format_count(summary.owners))
c[1].metric("Вошли по коду", format_count(summary.entered), help="«Пошел в приложение с помощью кода: Да»")
c[2].metric("Заполнено онлайн", format_count(summary.online), help="Заполнено онлайн, письменное решение ещё не сдано")
c[3].metric("Учтено решений", format_count(summary.counted))
c[4].metric("Поздние / повторные", f"{format_count(summary.late)} / {format_count(summary.conflicts)}")

# ---------- «Решения, подписанные кодом» ----------
with st.expander("Решения, подписанные кодом: " + ("учитываются" if meeting.electronic_decisions_count
                                                    else "не учитываются (по умолчанию)"), icon=":material/gavel:"):
    st.warning(ELECTRONIC_WARNING)
    if meeting.electronic_decisions_count:
        if st.button("Не учитывать решения, подписанные кодом"):
            set_electronic_decisions(sf, meeting_id=meeting_id, enabled=False, user=user.username)
            state.audit("electronic_setting", meeting_id, enabled=False)
            state.flash("success", "Решения, подписанные кодом, больше не учитываются; нужны письменные решения.")
            st.rerun()
    else:
        agree = st.checkbox("Правила, по которым проводится это собрание, допускают учёт решений, подписанных кодом")
        if st.button("Учитывать решения, подписанные кодом", disabled=not agree, type="primary"):
            set_electronic_decisions(sf, meeting_id=meeting_id, enabled=True, user=user.username)
            state.audit("electronic_setting", meeting_id, enabled=True)
            state.flash("success", "Решения, подписанные кодом, учитываются. Изменение записано.")
            st.rerun()

options = owner_choices(sf, meeting_id=meeting_id)

# ---------- очно-заочное: the in-person discussion's attendance list ----------
if meeting.form == "очно-заочное":
    present = attendance(sf, meeting_id=meeting_id)
    with st.expander(f"Очное обсуждение: лист регистрации (присутствовали: {len(present)})", icon=":material/groups:"):
        when = meeting.in_person_at
        st.caption(f"Очное обсуждение: {when:%d.%m.%Y} в {when:%H:%M}, {state.md(meeting.in_person_place)}. "
                   "Распечатайте лист регистрации, соберите подписи присутствующих и отметьте их здесь. Решения, "
                   "сданные на обсуждении, внесите ниже как письменные — они учитываются вместе с остальными."
                   if when else "Дата и место очного обсуждения не указаны в карточке собрания.")
        st.download_button("Лист регистрации для печати (.docx)", icon=":material/print:",
                           data=state.audited_export("лист регистрации", meeting_id,
                                                     lambda: attendance_sheet_docx(sf, meeting_id=meeting_id)),
                           file_name=f"лист_регистрации_{meeting_id}.docx",
                           mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        with st.form("attendance", clear_on_submit=True, enter_to_submit=False):
            chosen = st.multiselect("Присутствовали (начните вводить номер помещения или ФИО)", list(options),
                                    format_func=options.get, placeholder="пом. 12 — Иванов …")
            representative = st.text_input("Представитель и доверенность (если за собственника был представитель)")
            if st.form_submit_button("Отметить присутствующих", disabled=not can(user, "edit")):
                try:
                    added = record_attendance(sf, meeting_id=meeting_id, owner_ids=chosen, user=user.username,
                                              representative=representative)
                except DomainError as exc:
                    st.error(exc.message)
                else:
                    state.audit("attendance_recorded", meeting_id, added=added)
                    state.flash("success", f"Отмечено присутствующих: {added}.")
                    st.rerun()
        if present:
            st.dataframe(pd.DataFrame([{"Помещение": x.premise, "Собственник": x.name,
                                        "Представитель": x.representative} for x in present]),
                         hide_index=True, width="stretch")
            drop = st.multiselect("Убрать из листа регистрации", [x.owner_id for x in present],
                                  format_func=options.get, key="attendance_drop", placeholder="Выберите собственников…")
            if st.button("Убрать отмеченных", disabled=not drop or not can(user, "edit")):
                try:
                    removed = remove_attendance(sf, meeting_id=meeting_id, owner_ids=drop)
                except DomainError as exc:
                    st.error(exc.message)
                else:
                    state.audit("attendance_recorded", meeting_id, deleted=removed)
                    st.rerun()

# ---------- registering a paper decision by hand ----------
# Keyboard first, for hundreds of ballots: type the owner, Enter; Tab; type the marks, one key per
# question; Enter saves, and the cursor is back in the owner search. Nothing is chosen before the
# analyst chooses it: a question left without a choice is refused, «нет отметки» is a choice.
st.subheader("Внести письменное решение")
questions = agenda_questions(sf, meeting_id=meeting_id)
order = [(q.id, q.number) for q in questions]
may_edit = can(user, "edit")


def chosen_marks(prefix: str) -> dict[int, str | None]:
    return {q.id: MARK_KEYS.get(st.session_state.get(f"{prefix}_{q.id}")) for q in questions}


def form_representative(v: int) -> Representative | None:
    get = st.session_state.get
    name, office = get(f"rep_name_{v}") or "", get(f"rep_office_{v}") or ""
    number, certified, date = get(f"rep_poa_number_{v}") or "", get(f"rep_poa_certified_{v}") or "", \
        get(f"rep_poa_date_{v}")
    if any(x.strip() for x in (name, number, certified, office)) or date:
        return Representative(name, office, number, date, certified)
    return None


def save_paper(v: int) -> None:
    """The form's submit (button or Enter), before the page runs: saved once per form version."""
    if st.session_state[FORM_V] != v:
        return  # this form was saved already: a second click or Enter
    owner = st.session_state.get(f"paper_owner_{v}")
    received = st.session_state.get(f"paper_received_{v}") or dt.date.today()
    try:
        if owner is None:
            raise ValidationError("Выберите собственника.")
        marks = combine_marks(order, st.session_state.get(f"paper_typed_{v}") or "", chosen_marks(f"mark_{v}"))
        stored = register_paper_decision(
            sf, secret_key=rt.secret_key, meeting_id=meeting_id, owner_id=owner, received_on=received,
            answers=marks, user=user.username, source="внесено вручную", representative=form_representative(v))
    except DomainError as exc:
        st.session_state[PAPER_ERROR] = (v, exc.message)
        return
    st.session_state[FORM_V] = v + 1  # first: the saved form is gone before anything else can run
    st.session_state[PAPER_ERROR] = None
    st.session_state[LAST_RECEIVED] = received  # a pile of ballots usually came in on one day
    st.session_state[FOCUS_OWNER] = v + 1
    state.audit("decision_registered", meeting_id, status=stored.status)
    st.session_state[PAPER_RESULT] = ("warning" if stored.status != "counted" or stored.differs or stored.invalid
                                      else "success", saved_message(stored, state.md(options[owner])))


if not options:
    st.info("В реестре нет собственников.")
else:
    v = st.session_state[FORM_V]
    result = st.session_state.get(PAPER_RESULT)
    if result:
        (st.warning if result[0] == "warning" else st.success)(result[1])
    with st.form(f"paper_{v}", clear_on_submit=False, enter_to_submit=True):
        a, b, c = st.columns([3, 2, 1])
        a.selectbox(OWNER_LABEL, list(options), format_func=options.get, index=None,
                    placeholder="пом. 12 — Иванов …", key=f"paper_owner_{v}")
        b.text_input("Отметки с клавиатуры", key=f"paper_typed_{v}", max_chars=3 * len(questions) + 10,
                     placeholder="например, " + "1230"[:len(questions)] + "1" * max(len(questions) - 4, 0))
        c.date_input("Дата получения", value=st.session_state.get(LAST_RECEIVED, dt.date.today()),
                     max_value=dt.date.today(), format="DD.MM.YYYY", key=f"paper_received_{v}")
        # no help icon on the line: it would be one more Tab stop between the owner and the marks
        st.caption(f"Отметки — строкой, по одному знаку на вопрос по порядку ({TYPED_LEGEND}), или кнопками у "
                   "каждого вопроса. Выберите отметку для каждого вопроса, «Нет отметки» тоже: пропущенный вопрос "
                   "не сохраняется. С клавиатуры: собственник — Enter, Tab, Tab — отметки — Enter сохраняет.")
        for q in questions:
            st.radio(f"{q.number}. {state.md(q.text)}", MARK_LABELS, horizontal=True, index=None,
                     key=f"mark_{v}_{q.id}")
        with st.expander("Подписал представитель (ЖК РФ ст. 48 ч. 2)"):
            st.text_input("Подписал представитель", key=f"rep_name_{v}", max_chars=300, placeholder="ФИО представителя")
            a, b = st.columns([1, 1])
            a.text_input("Доверенность №", key=f"rep_poa_number_{v}", max_chars=100)
            b.date_input("от", value=None, min_value=dt.date(1990, 1, 1), max_value=dt.date.today(),
                         format="DD.MM.YYYY", key=f"rep_poa_date_{v}")
            st.text_input("Кем удостоверена", key=f"rep_poa_certified_{v}", max_chars=300,
                          placeholder="нотариус …, или организация, выдавшая доверенность")
            st.text_input("Должность (для руководителя юр. лица)", key=f"rep_office_{v}", max_chars=200,
                          placeholder="генеральный директор — подписывает без доверенности")
            st.caption("Доверенность прилагается к протоколу; без доверенности подписывает только руководитель "
                       "юридического лица.")
        error = st.session_state.get(PAPER_ERROR)
        if error and error[0] == v:
            st.error(error[1])
        st.form_submit_button("Сохранить решение", type="primary", on_click=save_paper, args=(v,),
                              disabled=not may_edit)
    st.caption("Вопрос без отметки или с несколькими отметками недействителен только для этого вопроса "
               "(ЖК РФ ст. 48 ч. 6); остальные ответы учитываются.")
    focus = st.session_state.pop(FOCUS_OWNER, None)
    if focus is not None:
        # the cursor back in the owner search for the next ballot: a same-origin script, no request
        st.iframe(FOCUS_SCRIPT.replace("__LABEL__", json.dumps(OWNER_LABEL.split(" (")[0]))
                  .replace("__NONCE__", str(focus)), height=1)

# ---------- correcting or annulling a paper decision ----------
live = paper_decisions(sf, meeting_id=meeting_id)
live_by_id = {d.id: d for d in live}
fix_result = st.session_state.get(FIX_RESULT)


def fix_decision(fv: int, decision_id: int, annul: bool) -> None:
    if st.session_state[FIX_V] != fv:
        return  # done already: a second click
    key = f"{fv}_{decision_id}"
    reason = st.session_state.get(f"fix_reason_{key}") or ""
    try:
        if annul:
            if not st.session_state.get(f"fix_annul_{key}"):
                raise ValidationError("Чтобы аннулировать решение, отметьте «Аннулировать решение целиком».")
            done = annul_decision(sf, secret_key=rt.secret_key, meeting_id=meeting_id, decision_id=decision_id,
                                  reason=reason, user=user.username)
        else:
            marks = combine_marks(order, st.session_state.get(f"fix_typed_{key}") or "",
                                  chosen_marks(f"fixmark_{key}"), typed_wins=True)
            done = correct_paper_decision(sf, secret_key=rt.secret_key, meeting_id=meeting_id,
                                          decision_id=decision_id, marks=marks, reason=reason, user=user.username,
                                          received_on=st.session_state.get(f"fix_received_{key}"))
    except DomainError as exc:
        st.session_state[FIX_ERROR] = (fv, decision_id, exc.message)
        return
    st.session_state[FIX_V] = fv + 1
    st.session_state[FIX_ERROR] = None
    st.session_state[FIX_PICK] = None
    if done.annulled:
        st.session_state[FIX_RESULT] = ("success", f"Решение № {done.replaced} аннулировано (запись № "
                                        f"{done.stored.number}): оно больше не учитывается, история сохранена.")
    else:
        owner_label = state.md(options.get(live_by_id[decision_id].owner_id, ""))
        st.session_state[FIX_RESULT] = (
            "warning" if done.stored.status != "counted" or done.stored.invalid else "success",
            f"Решение № {done.replaced} исправлено, прежняя запись сохранена в истории. "
            + saved_message(done.stored, owner_label))


with st.expander("Исправить или аннулировать решение", icon=":material/edit_note:",
                 expanded=bool(st.session_state.get(FIX_PICK) or fix_result)):
    st.caption("Внесённое решение не удаляется и не переписывается: исправление или аннулирование — новая "
               "запечатанная запись; прежняя остаётся в таблице со статусом, кто, когда и почему её заменил. "
               f"Учитывается только действующая запись. Причина обязательна (не короче {REASON_MIN} символов) и "
               "записывается в журнал.")
    if fix_result:
        (st.warning if fix_result[0] == "warning" else st.success)(fix_result[1])
        st.session_state[FIX_RESULT] = None
    choices = {d.id: f"№ {d.number} — {options.get(d.owner_id, '')}" for d in live}
    picked = st.selectbox("Решение (начните вводить номер, помещение или ФИО)", list(choices),
                          format_func=choices.get, index=None, key=FIX_PICK, placeholder="№ 1-00012 — пом. 12 — …")
    if picked in live_by_id:
        d = live_by_id[picked]
        fv = st.session_state[FIX_V]
        key = f"{fv}_{d.id}"
        with st.form(f"fix_{key}", enter_to_submit=False):
            a, b = st.columns([3, 1])
            a.text_input("Отметки с клавиатуры", key=f"fix_typed_{key}", max_chars=3 * len(questions) + 10,
                         help=f"Если заполнено — заменяет отметки ниже: {TYPED_LEGEND}.")
            b.date_input("Дата получения", value=d.received_on, max_value=dt.date.today(), format="DD.MM.YYYY",
                         key=f"fix_received_{key}")
            for q in questions:
                was = MARKS.get(d.marks.get(q.id))
                st.radio(f"{q.number}. {state.md(q.text)}", MARK_LABELS, horizontal=True, key=f"fixmark_{key}_{q.id}",
                         index=MARK_LABELS.index(was) if was else None)
            if d.representative is not None:
                st.caption("Подписал представитель — остаётся в исправленном решении: "
                           + state.md(d.representative.describe()))
            st.text_input("Причина исправления или аннулирования", key=f"fix_reason_{key}", max_chars=500,
                          placeholder="например: при вводе перепутаны ответы на вопросы 2 и 3")
            st.checkbox("Аннулировать решение целиком: оно перестанет учитываться", key=f"fix_annul_{key}")
            error = st.session_state.get(FIX_ERROR)
            if error and error[:2] == (fv, d.id):
                st.error(error[2])
            with st.container(horizontal=True):
                st.form_submit_button("Сохранить исправление", type="primary", on_click=fix_decision,
                                      args=(fv, d.id, False), disabled=not may_edit)
                st.form_submit_button("Аннулировать решение", on_click=fix_decision, args=(fv, d.id, True),
                                      disabled=not may_edit)

# ---------- from a spreadsheet ----------
with st.expander("Загрузить решения из таблицы", icon=":material/upload_file:"):
    # the uploader itself says only the size limit (ui/state.russian_widgets): the formats are said here
    st.caption(f"Excel (.xlsx, .xls), OpenDocument (.ods) или CSV, до {MAX_FILE_BYTES // 1024 // 1024} МБ. "
               "Столбцы: «Номер помещения», «ФИО/Наименование собственника», «Дата получения» и по столбцу на "
               "вопрос: «Вопрос 1», «Вопрос 2» … В ячейке — «За», «Против» или «Воздержался». Если решение "
               "подписал представитель — столбцы «Представитель», «Номер доверенности», «Дата доверенности», "
               "«Кем удостоверена» или «Должность» (для руководителя юридического лица).")
    upload = st.file_uploader("Файл с решениями", type=["xlsx", "xls", "ods", "csv"],
                              key=f"decisions_upload_{st.session_state[UPLOAD_V]}")
    if upload is not None:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        received_key = f"decisions_received_{st.session_state[UPLOAD_V]}"
        given = st.session_state.get(received_key)
        preview = st.session_state.get(PREVIEW)
        if not preview or preview[:2] != (digest, given):
            try:
                report = parse_decisions(sf, meeting_id=meeting_id, data=data, filename=upload.name,
                                         received_on=given)
            except TableFileError as exc:
                st.error(str(exc))
                report = None
            except DomainError as exc:
                st.error(exc.message)
                report = None
            st.session_state[PREVIEW] = (digest, given, report) if report else None
        preview = st.session_state.get(PREVIEW)
        if preview:
            report = preview[2]
            if report.needs_date:
                st.date_input("Дата получения решений, у которых в файле нет даты", value=None, key=received_key,
                              min_value=min(meeting.start_date - dt.timedelta(days=60), dt.date.today()),
                              max_value=dt.date.today(),
                              format="DD.MM.YYYY",
                              help="Одна дата для всех строк файла без даты получения. От неё зависит, учитывается "
                                   "ли решение: полученное после окончания приёма не учитывается (ЖК РФ ст. 47 ч. 2).")
            st.write(f"Принято строк: **{len(report.rows)}**, отклонено: **{len({e.row for e in report.errors})}**, "
                     f"недействительных ответов на вопросы: {report.invalid_answers}.")
            for note in report.notes:
                st.info(note)
            if report.refusal:
                st.error(report.refusal)
            if report.errors:
                st.dataframe(pd.DataFrame([(e.row, e.column, e.message) for e in report.errors],
                                          columns=["Строка", "Столбец", "Причина"]).astype({"Строка": "Int64"}),
                             hide_index=True, width="stretch", placeholder="—")

            def do_import() -> None:
                kept = st.session_state.get(PREVIEW)
                if not kept:
                    return  # a second click after the import ran
                try:
                    result = store_decisions(sf, secret_key=rt.secret_key, meeting_id=meeting_id, report=kept[2],
                                             user=user.username)
                except DomainError as exc:
                    state.flash("error", exc.message)
                    return
                st.session_state[PREVIEW] = None
                st.session_state[UPLOAD_V] += 1
                state.audit("decisions_imported", meeting_id, count=result.total, late=result.late)
                text = f"Загружено решений: {result.total} (учитываются {result.counted}, поздних {result.late})."
                if result.joint_same or result.joint_conflicts:
                    text += (f" Решения совместных собственников: совпадают с учтённым — {result.joint_same}, "
                             f"расходятся — {result.joint_conflicts}.")
                state.flash("warning" if result.joint_conflicts else "success", text)

            if report.rows and not report.refusal:
                st.button(f"Загрузить {count_of(len(report.rows), 'решение', 'решения', 'решений')}", type="primary",
                          on_click=do_import)

# ---------- joint owners whose decisions differ ----------
conflicts = joint_conflicts(sf, meeting_id=meeting_id)
if conflicts:
    st.subheader("Расхождения решений совместных собственников")
    st.caption("Решение любого из совместных собственников выражает волю всех (ГК РФ ст. 253 ч. 2), и голоса "
               "помещения учитываются один раз. Здесь решения совместных собственников расходятся: пока вы не "
               "выберете учитываемое, вопросы, по которым они расходятся, считаются недействительными для этого "
               "помещения. Остальные решения помещения сохраняются, но не учитываются; выбор записывается в журнал.")
    may_settle = can(user, "edit")

    def ask_pick(decision_id: int, number: str, premise: str) -> None:
        st.session_state[JOINT_PICK] = (decision_id, number, premise)

    def cancel_pick() -> None:
        st.session_state[JOINT_PICK] = None

    def do_pick() -> None:
        pending = st.session_state.get(JOINT_PICK)
        st.session_state[JOINT_PICK] = None
        if not pending:
            return  # a second click after the choice was made
        try:
            stored = settle_joint_conflict(sf, meeting_id=meeting_id, decision_id=pending[0], user=user.username)
        except DomainError as exc:
            state.flash("error", exc.message)
            return
        state.flash("success", f"Помещение {state.md(pending[2])}: учитывается решение № {stored.number}.")

    pending = st.session_state.get(JOINT_PICK)
    for conflict in conflicts:
        with st.container(border=True):
            st.markdown(f"**Помещение {state.md(conflict.premise)}** — ответы расходятся по вопросам: "
                        + ", ".join(map(str, conflict.differing)))
            st.table(pd.DataFrame([{
                "Решение": d.number, "Собственник": d.owner, "Статус": STATUSES[d.status],
                "Дата получения": f"{d.received_on:%d.%m.%Y}",
                **{f"Вопрос {n}": ANSWER_LABELS[d.answers.get(n, INVALID)] for n in conflict.differing},
                **({"Представитель": d.representative} if any(x.representative for x in conflict.decisions) else {}),
            } for d in conflict.decisions]).set_index("Решение"))
            ids = {d.id for d in conflict.decisions}
            if pending and pending[0] in ids:
                st.warning(f"Учитывать решение № {pending[1]} по помещению {state.md(pending[2])}? Остальные решения "
                           "совместных собственников этого помещения учитываться не будут.")
                with st.container(horizontal=True):
                    st.button("Подтвердить выбор", type="primary", key=f"joint_confirm_{pending[0]}",
                              on_click=do_pick, disabled=not may_settle)
                    st.button("Отмена", key=f"joint_cancel_{pending[0]}", on_click=cancel_pick)
            else:
                with st.container(horizontal=True):
                    for d in conflict.decisions:
                        st.button(f"Учитывать решение № {d.number}", key=f"joint_pick_{d.id}", on_click=ask_pick,
                                  args=(d.id, d.number, conflict.premise), disabled=not may_settle)

# ---------- the decisions ----------
st.subheader("Решения")
frame = decisions_frame(sf, meeting_id=meeting_id)
if frame.empty:
    st.info("Решений пока нет.")
else:
    st.dataframe(frame.drop(columns="id"), hide_index=True, width="stretch",
                 column_config={"Дата получения": st.column_config.DateColumn(format="DD.MM.YYYY")})

# ---------- ballots and the seal check ----------
a, b, c = st.columns(3)
rest = not_answered_owner_ids(sf, meeting_id=meeting_id)
with a:
    st.download_button(f"Скачать бюллетени ({len(rest)}) .docx", disabled=not rest,
                       data=state.audited_export("бюллетени", meeting_id,
                                                 lambda: ballots_docx(sf, meeting_id=meeting_id, owner_ids=rest)),
                       file_name=f"бюллетени_ОСС_{meeting_id}.docx", icon=":material/print:",
                       mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                       help="Для собственников, которые ещё не ответили ни онлайн, ни на бумаге")
with b:
    st.download_button("Бюллетени по одному (.zip)", disabled=not rest,
                       data=state.audited_export("бюллетени", meeting_id,
                                                 lambda: ballots_zip(sf, meeting_id=meeting_id, owner_ids=rest)),
                       file_name=f"бюллетени_ОСС_{meeting_id}.zip", mime="application/zip",
                       icon=":material/folder_zip:")
with c:
    state.seal_check_button(meeting_id)
state.page_link(state.PAGE_SCANS, label="Сканы решений: бланки с QR-кодом и чтение подписанных решений со сканов",
                icon=":material/document_scanner:")

if user.role == "admin":
    # Rebuilding the running totals takes in whatever the decisions now say, tampered or not: only
    # after the seal check's findings are understood, and journaled.
    with st.expander("Пересчитать текущие итоги (администратор)", icon=":material/calculate:"):
        st.caption("Текущие итоги («Активность») будут заново посчитаны из решений, как они сейчас записаны в "
                   "базе данных. Сначала проверьте печати решений: если решения или реестр изменены в обход "
                   "программы, пересчёт перенесёт эти изменения в итоги. Действие записывается в журнал.")
        sure = st.checkbox("Причина расхождения выяснена, пересчитать", key="rebuild_totals_sure")
        if st.button("Пересчитать текущие итоги", disabled=not sure, icon=":material/restart_alt:"):
            from services.tally import rebuild_running_totals

            try:
                differed = rebuild_running_totals(sf, meeting_id=meeting_id, user=user.username)
            except DomainError as exc:
                st.error(exc.message)
            else:
                st.success("Текущие итоги пересчитаны заново" + (": они расходились с полным пересчётом."
                                                                 if differed else "; они совпадали с полным пересчётом."))
