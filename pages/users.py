"""Сотрудники: the administrator creates accounts, changes roles, switches accounts off and
resets passwords."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from services.auth import ROLES, create_user, list_users, reset_password, update_user
from services.errors import DomainError
from services.figures import format_local
from ui import state

state.require_permission("manage_users")
sf = state.session_factory()
admin = state.current_user()
st.title("Сотрудники")
state.show_flash()
st.caption("Администратор — учётные записи и настройки; оператор — собрания, реестр, рассылка, ввод решений; "
           "наблюдатель — графики и итоги, адреса и телефоны собственников скрыты.")

users = list_users(sf)
st.dataframe(pd.DataFrame([{
    "Логин": u.username, "ФИО": u.full_name, "Роль": ROLES[u.role], "Активен": "да" if u.is_active else "нет",
    # stored in UTC: shown in the company's time zone, «—» when there is none
    "Последний вход": format_local(u.last_login_at) or None, "Заблокирован до": format_local(u.locked_until) or None,
} for u in users]), hide_index=True, width="stretch", placeholder="—")

left, right = st.columns(2)
with left.form("new_user", clear_on_submit=True):
    st.subheader("Новый сотрудник")
    username = st.text_input("Логин")
    full_name = st.text_input("ФИО")
    role = st.selectbox("Роль", list(ROLES), format_func=ROLES.get, index=1)
    password = st.text_input("Пароль (не короче 8 символов, буквы и цифры)", type="password")
    if st.form_submit_button("Создать", type="primary"):
        try:
            created = create_user(sf, username=username, password=password, role=role, full_name=full_name,
                                  actor=admin.username)
        except DomainError as exc:
            st.error(exc.message)
        else:
            state.flash("success", f"Сотрудник «{created.username}» создан.")
            st.rerun()

with right.form("change_user"):
    st.subheader("Изменить сотрудника")
    by_id = {u.id: u for u in users}
    target = st.selectbox("Сотрудник", list(by_id), format_func=lambda i: f"{by_id[i].username} ({ROLES[by_id[i].role]})")
    new_role = st.selectbox("Роль ", list(ROLES), format_func=ROLES.get,
                            index=list(ROLES).index(by_id[target].role) if target else 0)
    active = st.checkbox("Учётная запись активна", value=by_id[target].is_active if target else True)
    new_password = st.text_input("Новый пароль (оставьте пустым, чтобы не менять)", type="password")
    if st.form_submit_button("Сохранить"):
        try:
            update_user(sf, admin=admin, user_id=target, role=new_role, is_active=active)
            if new_password:
                reset_password(sf, admin=admin, user_id=target, new_password=new_password)
        except DomainError as exc:
            st.error(exc.message)
        else:
            state.flash("success", "Изменения сохранены." + (" Пароль сброшен." if new_password else ""))
            st.rerun()
