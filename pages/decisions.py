"""Решения собственников: who entered with the code and answered online, registering the signed
paper decisions (by hand or from a spreadsheet), ballots for the rest, and the seal check."""
from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import streamlit as st

from services.decision_import import parse_decisions, store_decisions
from services.errors import DomainError
from services.meetings import get_meeting
from services.notify import owner_status_index
from services.spreadsheet import TableFileError
from services.voting import (
    ANSWERS,
    ELECTRONIC_WARNING,
    INVALID,
    ballots_docx,
    ballots_zip,
    decisions_frame,
    not_answered_owner_ids,
    register_paper_decision,
    set_electronic_decisions,
    voter_page,
    voting_summary,
)
from ui import state

PREVIEW = "decisions_preview"
UPLOAD_V = "decisions_upload_v"
FORM_V = "decisions_form_v"
MARKS = [*ANSWERS.values(), "Нет отметки", "Несколько отметок"]
MARK_KEYS = {**{v: k for k, v in ANSWERS.items()}, "Нет отметки": INVALID, "Несколько отметок": INVALID}

state.require_permission("view_personal")
sf = state.session_factory()
rt = state.runtime()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)
user = st.session_state[state.USER]
st.session_state.setdefault(UPLOAD_V, 0)
st.session_state.setdefault(FORM_V, 0)

state.back_to_stages()
st.title("Решения собственников")
st.caption(f"{state.md(meeting.address)} · голосование {meeting.start_date:%d.%m.%Y} — {meeting.end_date:%d.%m.%Y}")
state.show_flash()

summary = voting_summary(sf, meeting_id=meeting_id)
c = st.columns(5)
c[0].metric("Собственников", summary.owners)
c[1].metric("Вошли по коду", summary.entered, help="«Пошел в приложение с помощью кода: Да»")
c[2].metric("Заполнено онлайн", summary.online, help="Заполнено онлайн, письменное решение ещё не сдано")
c[3].metric("Учтено решений", summary.counted)
c[4].metric("Поздние / повторные", f"{summary.late} / {summary.conflicts}")

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

# ---------- registering a paper decision by hand ----------
st.subheader("Внести письменное решение")
index = owner_status_index(sf, meeting_id=meeting_id).sort_values("premise_rank")
options = {int(r.id): f"пом. {r.premise} — {r.name}" for r in index.itertuples()}
questions = voter_page(sf, owner_id=next(iter(options))).questions if options else []
if not options:
    st.info("В реестре нет собственников.")
else:
    with st.form(f"paper_{st.session_state[FORM_V]}", clear_on_submit=False):
        a, b = st.columns([3, 1])
        owner = a.selectbox("Собственник (начните вводить номер помещения или ФИО)", list(options),
                            format_func=options.get, index=None, placeholder="пом. 12 — Иванов …")
        received = b.date_input("Дата получения", value=dt.date.today(),
                                max_value=dt.date.today(), format="DD.MM.YYYY")
        marks = {}
        for q in questions:
            marks[q.id] = st.radio(f"{q.number}. {q.text}", MARKS, horizontal=True, index=None,
                                   key=f"mark_{st.session_state[FORM_V]}_{q.id}")
        if st.form_submit_button("Сохранить решение", type="primary"):
            if owner is None:
                st.error("Выберите собственника.")
            else:
                try:
                    stored = register_paper_decision(
                        sf, secret_key=rt.secret_key, meeting_id=meeting_id, owner_id=owner, received_on=received,
                        answers={q: MARK_KEYS.get(m, INVALID) for q, m in marks.items()}, user=user.username,
                        source="внесено вручную")
                except DomainError as exc:
                    st.error(exc.message)
                else:
                    state.audit("decision_registered", meeting_id, status=stored.status)
                    text = {"counted": "учитывается", "late": "получено после окончания приёма — хранится, но не "
                            "учитывается", "conflict": "у собственника уже есть учтённое решение — не учитывается"}
                    msg = f"Решение № {stored.number} ({options[owner]}) сохранено: {text[stored.status]}."
                    if stored.differs:
                        msg += (" Ответы на вопросы " + ", ".join(map(str, stored.differs)) +
                                " отличаются от заполненных онлайн; учитывается письменное решение.")
                    state.flash("warning" if stored.status != "counted" or stored.differs else "success", msg)
                    st.session_state[FORM_V] += 1
                    st.rerun()
    st.caption("Вопрос без отметки или с несколькими отметками недействителен только для этого вопроса "
               "(ЖК РФ ст. 48 ч. 6); остальные ответы учитываются.")

# ---------- from a spreadsheet ----------
with st.expander("Загрузить решения из таблицы", icon=":material/upload_file:"):
    st.caption("Столбцы: «Номер помещения», «ФИО/Наименование собственника», «Дата получения» (необязательно) и по "
               "столбцу на вопрос: «Вопрос 1», «Вопрос 2» … В ячейке — «За», «Против» или «Воздержался».")
    upload = st.file_uploader("Файл с решениями", type=["xlsx", "xls", "ods", "csv"],
                              key=f"decisions_upload_{st.session_state[UPLOAD_V]}")
    if upload is not None:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        preview = st.session_state.get(PREVIEW)
        if not preview or preview[0] != digest:
            try:
                report = parse_decisions(sf, meeting_id=meeting_id, data=data, filename=upload.name)
            except TableFileError as exc:
                st.error(str(exc))
                report = None
            st.session_state[PREVIEW] = (digest, report) if report else None
        preview = st.session_state.get(PREVIEW)
        if preview:
            report = preview[1]
            st.write(f"Принято строк: **{len(report.rows)}**, отклонено: **{len({e.row for e in report.errors})}**, "
                     f"недействительных ответов на вопросы: {report.invalid_answers}.")
            if report.errors:
                st.dataframe(pd.DataFrame([(e.row, e.column, e.message) for e in report.errors],
                                          columns=["Строка", "Столбец", "Причина"]), hide_index=True, width="stretch")

            def do_import() -> None:
                kept = st.session_state.get(PREVIEW)
                if not kept:
                    return  # a second click after the import ran
                try:
                    result = store_decisions(sf, secret_key=rt.secret_key, meeting_id=meeting_id, report=kept[1],
                                             user=user.username)
                except DomainError as exc:
                    state.flash("error", exc.message)
                    return
                st.session_state[PREVIEW] = None
                st.session_state[UPLOAD_V] += 1
                state.audit("decisions_imported", meeting_id, count=result.total, late=result.late)
                state.flash("success", f"Загружено решений: {result.total} (учитываются {result.counted}, "
                            f"поздних {result.late}).")

            if report.rows:
                st.button(f"Загрузить {len(report.rows)} решений", type="primary", on_click=do_import)

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
