"""Этапы ОСС: the stages of the chosen meeting and the state of each."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from services.auth import can
from services.errors import DomainError
from services.law import majority_label
from services.meetings import confirm_without_ground, get_meeting, ground_warning, meeting_stages, repeat_meeting
from services.tally import live_tally
from ui import state

state.require_staff()
sf = state.session_factory()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)
may_edit = can(state.current_user(), "edit")

st.title("Этапы ОСС")
state.show_flash()
st.markdown(f"**{state.md(meeting.address)}**")
st.caption(
    f"Собрание № {meeting.id} · {meeting.kind} · {meeting.form} голосование {meeting.start_date:%d.%m.%Y} — "
    f"{meeting.end_date:%d.%m.%Y} · инициатор: {state.md(meeting.initiator)}"
)

if warning := ground_warning(meeting):
    st.warning(warning, icon=":material/gavel:")
    if not meeting.no_ground_confirmed_by and may_edit:
        confirmed = st.checkbox("Подтверждаю: очное собрание с этой повесткой проводилось и не имело кворума, либо "
                                "заочная форма допустима по иному основанию", key="stages_ground_ack")
        if st.button("Подтвердить проведение без указания основания", disabled=not confirmed):
            confirm_without_ground(sf, meeting_id=meeting_id, user=state.current_user().username)
            state.audit("no_ground_confirmed", meeting_id)
            state.flash("success", "Подтверждение сохранено в карточке собрания и в журнале.")
            st.rerun()

PAGES = {"registry": state.PAGE_REGISTRY, "notify": state.PAGE_NOTIFY, "voting": state.PAGE_DECISIONS,
         "results": state.PAGE_RESULTS}
for number, stage in enumerate(meeting_stages(sf, meeting_id=meeting_id), start=1):
    with st.container(border=True):
        a, b = st.columns([4, 1])
        mark = ":material/check_circle:" if stage.done else ":material/radio_button_unchecked:"
        a.markdown(f"{mark} **{number}. {stage.title}**")
        a.write(stage.state)
        for w in stage.warnings:
            a.warning(w, icon=":material/warning:")
        for note in stage.notes:
            a.caption(note)
        with b:
            state.page_link(PAGES[stage.key], label="Открыть", icon=":material/arrow_forward:",
                            unavailable="Доступно оператору и администратору")
            if stage.key == "voting":
                state.page_link(state.PAGE_ACTIVITY, label="Активность", icon=":material/monitoring:")

if may_edit and dt.date.today() > meeting.end_date and not live_tally(sf, meeting_id=meeting_id).quorum:
    with st.expander("Провести повторно в заочной форме (собрание не имело кворума)", icon=":material/replay:"):
        st.caption("Создаётся новое собрание в форме заочного голосования с тем же домом, реестром собственников, "
                   "повесткой дня и сведениями; это собрание записывается как его основание (ЖК РФ ст. 47 ч. 1).")
        r1, r2 = st.columns(2)
        first = dt.date.today() + dt.timedelta(days=11)
        start = r1.date_input("Начало голосования", value=first, format="DD.MM.YYYY", key="repeat_start")
        end = r2.date_input("Окончание приёма решений", value=first + dt.timedelta(days=30), format="DD.MM.YYYY",
                            key="repeat_end")
        if st.button("Провести повторно", type="primary", icon=":material/replay:"):
            try:
                new_id = repeat_meeting(sf, meeting_id=meeting_id, start_date=start, end_date=end)
            except DomainError as exc:
                st.error(exc.message)
                for line in exc.details:
                    st.write("— " + line)
            else:
                state.audit("meeting_repeated", new_id, new_meeting=new_id)
                state.choose_meeting(new_id)
                state.flash("success", f"Создано повторное заочное собрание № {new_id} с реестром и повесткой "
                                       f"собрания № {meeting_id}. Проверьте даты и отправьте сообщения.")
                st.rerun()

with st.expander("Повестка дня"):
    for q in meeting.questions:
        st.markdown(f"**{q.number}.** {state.md(q.text)}")
        st.caption(f"Большинство: {majority_label(q.majority)}")
