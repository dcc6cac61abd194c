"""Журнал действий: who did what and when — filter and export."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from services.audit import ACTIONS, audit_frame, audit_xlsx, verify_journal
from services.figures import format_count
from ui import state

state.require_permission("view_audit")
sf = state.session_factory()
st.title("Журнал действий")
st.caption("Журнал только пополняется: записи нельзя изменить или удалить. В нём — кто, когда и что сделал, "
           "с количествами, без персональных данных собственников.")
if st.button("Проверить журнал", icon=":material/verified:",
             help="Каждая запись запечатана вместе с предыдущей: изменение, удаление или вставка записи в базе "
                  "данных видны даже без защиты самой базы"):
    state.show_check(verify_journal(sf, secret_key=state.runtime().secret_key))
a, b, c, d = st.columns([1, 1, 1, 2])
since = a.date_input("С", value=dt.date.today() - dt.timedelta(days=30), format="DD.MM.YYYY")
until = b.date_input("По", value=dt.date.today(), format="DD.MM.YYYY")
actor = c.text_input("Сотрудник (логин)")
actions = d.multiselect("Действия", list(ACTIONS), format_func=ACTIONS.get, placeholder="все действия")
frame = audit_frame(sf, since=since, until=until, actor=actor, actions=actions)
st.write(f"Записей: **{format_count(len(frame))}**")
if frame.empty:  # an empty grid says «empty» in English
    st.info("За выбранные дни записей нет.")
else:
    st.dataframe(frame, hide_index=True, width="stretch", placeholder="—",
                 column_config={"Собрание": st.column_config.NumberColumn(format="%d")})
st.download_button("Экспорт журнала (.xlsx)", data=lambda: audit_xlsx(frame), file_name="журнал_действий.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:")
