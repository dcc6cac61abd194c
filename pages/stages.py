"""Этапы ОСС: the stages of the chosen meeting and the state of each."""
from __future__ import annotations

import streamlit as st

from services.law import majority_label
from services.meetings import get_meeting, meeting_stages
from ui import state

state.require_staff()
sf = state.session_factory()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)

st.title("Этапы ОСС")
state.show_flash()
st.markdown(f"**{state.md(meeting.address)}**")
st.caption(
    f"Собрание № {meeting.id} · {meeting.form} голосование {meeting.start_date:%d.%m.%Y} — "
    f"{meeting.end_date:%d.%m.%Y} · инициатор: {state.md(meeting.initiator)}"
)

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
        with b:
            st.page_link(PAGES[stage.key], label="Открыть", icon=":material/arrow_forward:")
            if stage.key == "voting":
                st.page_link(state.PAGE_ACTIVITY, label="Активность", icon=":material/monitoring:")

with st.expander("Повестка дня"):
    for q in meeting.questions:
        st.markdown(f"**{q.number}.** {state.md(q.text)}")
        st.caption(f"Большинство: {majority_label(q.majority)}")
