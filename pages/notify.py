"""Уведомление собственников: select owners, send notices with personal codes, follow delivery."""
from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import streamlit as st

from services.errors import DomainError
from services.figures import count_of, format_count, format_local
from services.registry import registry_line
from services.mailer import delivery_label, list_outbox, outbox_entries
from services.meetings import get_meeting
from services.notify import (
    ASC,
    DESC,
    SHOW_ALL,
    SHOW_NOT_VOTED,
    SHOW_UNNOTIFIED,
    SORTS,
    LateNoticeError,
    active_job_id,
    delivery_register_xlsx,
    failed_owner_ids,
    failures,
    filter_owners,
    job_outcome,
    job_progress,
    job_progress_label,
    notice_deadline,
    notice_text,
    notify_summary,
    print_notices,
    queue_notices,
    record_paper_delivery,
    signature_sheet,
    update_notice_settings,
)
from services.public_link import local_link_warning, machine_name
from services.reminders import queue_reminders, reminder_window_problem
from services.notice_terms import owners_to_notify_again
from ui import state
from ui.owners import owner_index, refresh_owner_index

SELECTED = "notify_selected"  # set of owner ids: survives filtering and sorting
EDITOR_V = "notify_editor_v"
VIEW_IDS = "notify_view_ids"  # owner ids of the rows shown, in order
SEND_KEY = "notify_send_key"  # one-time key of the open confirmation: a double click sends once
REMIND_KEY = "notify_remind_key"  # the same for a reminder
URL_OK = "notify_url_ok"  # the analyst confirmed a voting link that points to this machine
JOB = "notify_job"
GIS_TEXT = "notify_gis_text"  # the toggle that shows the notice's text for ГИС ЖКХ
MAX_ROWS = 2000

state.require_permission("view_personal")
sf = state.session_factory()
rt = state.runtime()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)
user = st.session_state[state.USER]
st.session_state.setdefault(SELECTED, set())
st.session_state.setdefault(EDITOR_V, 0)

state.back_to_stages()
st.title("Уведомление собственников")
st.caption(state.md(meeting.address))
state.show_flash()

summary = notify_summary(sf, meeting_id=meeting_id)
st.subheader(registry_line(summary.owners, len(set(owner_index(meeting_id)["premise"]))))
deadline = notice_deadline(meeting.start_date)
(st.warning if deadline.days_left <= 2 else st.info)(deadline.text, icon=":material/event:")
st.caption(
    "Для того, чтобы все собственники получили уведомления о предстоящем собрании, поставьте галочку напротив "
    "«Выбрать всех». Или поставьте галочки только напротив нескольких собственников. После нажмите на кнопку "
    "«Отправить уведомления». Собственники помещений в МКД должны получить уведомления о предстоящем собрании "
    f"**не позднее чем за 10 дней до даты** начала голосования. Доставка: {delivery_label(rt.settings)}."
)
outbox = not rt.settings.smtp_host
# A voting link to localhost is dead in every owner's mail, QR code and ГИС ЖКХ posting: nothing
# that carries it goes until PUBLIC_URL is set or the analyst confirms the link on purpose.
link_warning = local_link_warning(rt.settings.public_url, hostname=machine_name())
if link_warning:
    st.error(link_warning, icon=":material/link_off:")
    st.checkbox(f"Ссылка {rt.settings.public_url.rstrip('/')}/vote верна: собственники откроют её со своих "
                "устройств — отправлять и печатать уведомления с ней", key=URL_OK)
link_ok = not link_warning or bool(st.session_state.get(URL_OK))
if meeting.email_notice_decision_date is None:
    st.warning(
        "Решение общего собрания об уведомлении по электронной почте не указано: письма будут отправлены, но "
        "законным уведомлением считаются вручение под роспись или заказное письмо (ЖК РФ ст. 45 ч. 4). "
        "Укажите решение ниже, в разделе «Решение ОСС и ГИС ЖКХ».", icon=":material/gavel:",
    )

# change control (services/notice_terms.py): owners told only of terms that changed since
stale, in_force = owners_to_notify_again(sf, meeting_id=meeting_id)
if stale:
    st.warning(f"Условия собрания изменены {format_local(in_force.since)} (причина: {state.md(in_force.reason)}). "
               f"{count_of(len(stale), 'собственник уведомлён', 'собственника уведомлены', 'собственников уведомлены')} "
               "только на прежних условиях: направьте им сообщения повторно — не позднее чем за 10 дней до начала "
               "голосования.", icon=":material/published_with_changes:")

    def select_stale() -> None:
        st.session_state[SELECTED] = set(stale)
        st.session_state[EDITOR_V] += 1

    st.button(f"Выбрать их для повторного уведомления ({len(stale)})", on_click=select_stale,
              icon=":material/checklist:")

m1, m2, m3, m4 = st.columns(4)
m1.metric("Уведомлено законным способом", f"{format_count(summary.notified)} из {format_count(summary.owners)}")
m2.metric("Из них в срок", format_count(summary.in_time))
m3.metric("Только по эл. почте (доп.)", format_count(summary.additional_only))
m4.metric("Нет эл. почты", format_count(summary.no_email))


# ---------- the sending job ----------
job_id = st.session_state.get(JOB) or active_job_id(sf, meeting_id=meeting_id)


@st.fragment(run_every=1.0)
def show_progress(job: int) -> None:
    state.guard_fragment()
    p = job_progress(sf, job_id=job)
    if p.done:
        refresh_owner_index()
        st.session_state[JOB] = None
        state.flash(*job_outcome(p, outbox=outbox))
        st.rerun(scope="app")
    st.progress(p.processed / max(p.total, 1), text=job_progress_label(p, outbox=outbox))
    if p.last_error:
        when = f" Повторная попытка: {format_local(p.next_attempt_at, seconds=True)}." if p.next_attempt_at else ""
        st.warning(p.last_error + when, icon=":material/cloud_off:")
    st.caption("Отправка идёт на сервере: страницу можно закрыть, она продолжится.")


if job_id:
    show_progress(job_id)


# ---------- search, sort, filter and selection ----------
c1, c2, c3 = st.columns([2.5, 1.7, 1.4])
search = c1.text_input("Поиск", placeholder="Введите ФИО или номер помещения собственника", key="notify_search",
                       label_visibility="collapsed")
sort = c2.selectbox("Сортировка", SORTS, key="notify_sort", label_visibility="collapsed")
order = c3.selectbox("Порядок", (DESC, ASC), key="notify_order", label_visibility="collapsed")
# a row of its own: three options in a column beside the search scroll and cut the first one at 1440 px
show = st.segmented_control("Кого показать", (SHOW_UNNOTIFIED, SHOW_NOT_VOTED, SHOW_ALL), default=SHOW_ALL,
                            key="notify_show", label_visibility="collapsed")
index = owner_index(meeting_id)
view = filter_owners(index, search=search, sort=sort, descending=order == DESC,
                     only_unnotified=show == SHOW_UNNOTIFIED, only_not_voted=show == SHOW_NOT_VOTED)
view_ids = [int(i) for i in view["id"]]
selected: set[int] = st.session_state[SELECTED]


def select_all() -> None:
    st.session_state[SELECTED] |= set(st.session_state[VIEW_IDS + "_all"])
    st.session_state[EDITOR_V] += 1


def clear_selection() -> None:
    st.session_state[SELECTED] = set()
    st.session_state[EDITOR_V] += 1


def apply_ticks() -> None:
    changes = st.session_state.get(f"notify_editor_{st.session_state[EDITOR_V]}", {})
    shown = st.session_state[VIEW_IDS]
    for pos, change in changes.get("edited_rows", {}).items():
        if "Выбрать" in change:
            oid = shown[int(pos)]
            (st.session_state[SELECTED].add if change["Выбрать"] else st.session_state[SELECTED].discard)(oid)


st.session_state[VIEW_IDS + "_all"] = view_ids
shown = view.head(MAX_ROWS)
st.session_state[VIEW_IDS] = [int(i) for i in shown["id"]]
b1, b2, b3 = st.columns([1, 1, 4], vertical_alignment="center")
b1.button("Выбрать всех", on_click=select_all, icon=":material/select_all:",
          help="Выбрать всех собственников, которых показывает текущий фильтр")
b2.button("Снять выбор", on_click=clear_selection, disabled=not selected)
b3.markdown(f"Выбрано: **{len(selected)}**" + (f" · показано {len(view_ids)}" if search or show != SHOW_ALL else ""))

table = pd.DataFrame({
    # bool even when nothing is shown: an empty list is float, which a checkbox column refuses
    "Выбрать": pd.Series([int(i) in selected for i in shown["id"]], dtype=bool),
    "Номер помещения": shown["premise"].to_numpy(),
    "ФИО/Наименование": shown["name"].to_numpy(),
    "Дата последней отправки уведомления": [
        "" if pd.isna(d) else f"{d:%d.%m.%Y}" for d in shown["last_notice"]],
    "Пошел в приложение с помощью кода": ["Да" if u else "Нет" for u in shown["code_used"]],
    "Эл. почта": shown["emails"].to_numpy(),
})
if show == SHOW_NOT_VOTED:
    table["Дата последнего напоминания"] = ["" if pd.isna(d) else f"{d:%d.%m.%Y}" for d in shown["last_reminder"]]
if view.empty:  # instead of an empty grid, which says «empty» in English
    st.info("Никто не найден." if search else
            "Все собственники проголосовали." if show == SHOW_NOT_VOTED else "Все собственники уведомлены.")
else:
    st.data_editor(
        table, key=f"notify_editor_{st.session_state[EDITOR_V]}", on_change=apply_ticks, hide_index=True,
        width="stretch", height=min(38 + 35 * max(len(table), 3), 560),
        disabled=[c for c in table.columns if c != "Выбрать"],
        # wide enough for the headers: 70/90 px cut them to «Выбра» and «Номер помещ»
        column_config={"Выбрать": st.column_config.CheckboxColumn(width=95),
                       "Номер помещения": st.column_config.TextColumn(width=135)},
    )
if len(view_ids) > MAX_ROWS:
    st.caption(f"Показаны первые {format_count(MAX_ROWS)} из {format_count(len(view_ids))}; «Выбрать всех» "
               f"выбирает всех {format_count(len(view_ids))}.")


# ---------- sending ----------
@st.dialog("Отправить уведомления?")
def confirm_send(owner_ids: list[int]) -> None:
    st.session_state.setdefault(SEND_KEY, uuid.uuid4().hex)
    index = owner_index(meeting_id)
    chosen = index[index["id"].isin(owner_ids)]
    with_email = int((chosen["emails"] != "").sum())
    without = len(owner_ids) - with_email
    if with_email:
        st.write(f"Уведомление с персональным кодом доступа уйдёт по электронной почте. Собственников с адресом "
                 f"эл. почты: **{with_email}**.")
    else:
        st.write("Ни у кого из выбранных нет адреса эл. почты: им нужно бумажное уведомление (раздел «Бумажные "
                 "уведомления» ниже).")
    if with_email and without:
        st.write(f"Без адреса эл. почты: {without} — им нужно бумажное уведомление.")
    if (chosen["last_notice"].notna()).any():
        st.info("Тем, кому код уже отправлялся, придёт новый код; прежний перестанет действовать.")
    if outbox and with_email:
        st.warning("Почтовый сервер не настроен: письма будут записаны в папку outbox (data/outbox/), "
                   "собственникам они не уйдут.", icon=":material/outbox:")
    late_ok = False
    if deadline.passed:
        st.error(deadline.text)
        late_ok = st.checkbox("Понимаю, отправить после срока (уведомления будут отмечены как поздние)")
    a, b = st.columns(2)
    if a.button("Отправить", type="primary", disabled=deadline.passed and not late_ok or with_email == 0 or not link_ok):
        try:
            result = queue_notices(sf, meeting_id=meeting_id, owner_ids=owner_ids,
                                   request_key=st.session_state[SEND_KEY], user=user.username,
                                   confirm_late=late_ok)
        except LateNoticeError as exc:
            st.error(exc.message)
            return
        except DomainError as exc:
            st.error(exc.message)
            return
        st.session_state.pop(SEND_KEY, None)
        if not result.existed:
            state.audit("notices_queued", meeting_id, queued=result.queued, skipped=result.skipped, late=result.late)
        st.session_state[JOB] = result.job_id
        st.session_state[SELECTED] = set()
        st.session_state[EDITOR_V] += 1
        st.rerun()
    if b.button("Отмена"):
        st.session_state.pop(SEND_KEY, None)
        st.rerun()


@st.dialog("Напомнить о голосовании?")
def confirm_remind(owner_ids: list[int]) -> None:
    st.session_state.setdefault(REMIND_KEY, uuid.uuid4().hex)
    index = owner_index(meeting_id)
    chosen = index[index["id"].isin(owner_ids) & ~index["voted"].astype(bool)]
    with_email = int((chosen["emails"] != "").sum())
    without = len(chosen) - with_email
    problem = reminder_window_problem(start_date=meeting.start_date, end_date=meeting.end_date,
                                      count_closed=meeting.count_closed, today=dt.date.today())
    if problem:
        st.error(problem)
    elif with_email:
        whom = count_of(with_email, "собственнику", "собственникам", "собственникам")
        st.write(f"Напоминание о голосовании уйдёт по электронной почте: **{whom}**, которые ещё не "
                 "проголосовали. В нём — срок и место приёма "
                 "решений и ссылка на страницу голосования; нового кода нет, действует код из сообщения о собрании.")
    else:
        st.write("Ни у кого из выбранных, кто ещё не проголосовал, нет адреса эл. почты.")
    if with_email and without:
        st.write(f"Без адреса эл. почты: {without} — им напоминание не уйдёт.")
    if (chosen["last_notice"].isna() & (chosen["emails"] != "")).any():
        st.info("Часть из них ещё не получала сообщение о собрании и кода у них нет: сначала отправьте им "
                "уведомление.")
    if outbox and with_email:
        st.warning("Почтовый сервер не настроен: письма будут записаны в папку outbox (data/outbox/), "
                   "собственникам они не уйдут.", icon=":material/outbox:")
    a, b = st.columns(2)
    if a.button("Напомнить", type="primary", disabled=bool(problem) or with_email == 0 or not link_ok):
        try:
            result = queue_reminders(sf, meeting_id=meeting_id, owner_ids=owner_ids,
                                     request_key=st.session_state[REMIND_KEY], user=user.username)
        except DomainError as exc:
            st.error(exc.message)
            return
        st.session_state.pop(REMIND_KEY, None)
        if not result.existed:
            state.audit("reminders_queued", meeting_id, queued=result.queued, skipped=result.skipped)
        st.session_state[JOB] = result.job_id
        st.session_state[SELECTED] = set()
        st.session_state[EDITOR_V] += 1
        st.rerun()
    if b.button("Отмена", key="remind_cancel"):
        st.session_state.pop(REMIND_KEY, None)
        st.rerun()


not_voted_selected = sorted(set(int(i) for i in index.loc[~index["voted"].astype(bool), "id"]) & selected)
s1, s2 = st.columns([1, 1])
if s1.button(f"Отправить уведомления ({len(selected)})", type="primary",
             disabled=not selected or bool(job_id) or not link_ok, icon=":material/send:"):
    confirm_send(sorted(selected))
if s2.button(f"Напомнить ({len(not_voted_selected)})", disabled=not not_voted_selected or bool(job_id) or not link_ok,
             icon=":material/notifications:",
             help="Напоминание о голосовании выбранным собственникам, которые ещё не проголосовали "
                  "(фильтр «Не проголосовали»)"):
    confirm_remind(not_voted_selected)


# ---------- not delivered ----------
failed = failures(sf, meeting_id=meeting_id)
with st.expander(f"Не доставлено и нет эл. почты ({len(failed)})", icon=":material/report:"):
    if failed.empty:
        st.write("Все уведомления по эл. почте доставлены или ещё не отправлялись.")
    else:
        st.dataframe(failed.drop(columns="id"), hide_index=True, width="stretch")
        retry = failed_owner_ids(sf, meeting_id=meeting_id)
        if retry and st.button(f"Отправить повторно ({len(retry)})", disabled=bool(job_id) or not link_ok):
            confirm_send(retry)
        if st.button("Выбрать их для бумажного уведомления"):
            st.session_state[SELECTED] = set(int(i) for i in failed["id"])
            st.session_state[EDITOR_V] += 1
            st.rerun()


# ---------- paper notices ----------
with st.expander("Бумажные уведомления: печать, вручение под роспись, заказные письма", icon=":material/print:"):
    if not selected:
        st.write("Выберите собственников в таблице выше (например, «Показать неуведомлённых» → «Выбрать всех»).")
    else:
        st.write(f"Выбрано собственников: **{len(selected)}**. В каждом сообщении — новый персональный код и QR-код "
                 "страницы голосования; прежний код этих собственников перестанет действовать.")
        if st.button("Сформировать сообщения для печати (.docx)", icon=":material/description:", disabled=not link_ok,
                     help=None if link_ok else "Сначала задайте PUBLIC_URL или подтвердите ссылку вверху страницы"):
            try:
                st.session_state["notify_paper"] = print_notices(
                    sf, meeting_id=meeting_id, owner_ids=sorted(selected), secret_key=rt.secret_key,
                    public_url=rt.settings.public_url)
                state.audit("notices_printed", meeting_id, count=len(selected))
            except DomainError as exc:
                st.error(exc.message)
        if st.session_state.get("notify_paper"):
            paper = st.session_state["notify_paper"]
            # handed to the browser on the click only (codes inside): never parked at a /media/ address
            st.download_button("Скачать сообщения (.docx)", data=lambda: paper,
                               file_name=f"сообщения_ОСС_{meeting_id}.docx", icon=":material/download:",
                               mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        st.download_button("Лист вручения под роспись (.docx)",
                           data=state.audited_export("лист вручения", meeting_id, lambda: signature_sheet(
                               sf, meeting_id=meeting_id, owner_ids=sorted(selected))),
                           file_name=f"лист_вручения_ОСС_{meeting_id}.docx", icon=":material/signature:",
                           mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        with st.form("paper_delivery", enter_to_submit=False):
            channel = st.radio("Как вручено", ("Вручено под роспись", "Заказное письмо"), horizontal=True)
            on_date = st.date_input("Дата вручения (отправки)", value=dt.date.today(), format="DD.MM.YYYY")
            postal = st.text_input("Почтовый идентификатор (для заказного письма)")
            if st.form_submit_button(
                    f"Отметить вручение для {count_of(len(selected), 'собственника', 'собственников', 'собственников')}"):
                try:
                    n = record_paper_delivery(
                        sf, meeting_id=meeting_id, owner_ids=sorted(selected),
                        channel="hand" if channel == "Вручено под роспись" else "registered_mail",
                        on_date=on_date, postal_number=postal, user=user.username)
                except DomainError as exc:
                    st.error(exc.message)
                else:
                    refresh_owner_index()
                    state.audit("paper_delivery", meeting_id, count=n, mode=channel)
                    st.session_state[SELECTED] = set()
                    st.session_state[EDITOR_V] += 1
                    state.flash("success", "Вручение отмечено для "
                                           f"{count_of(n, 'собственника', 'собственников', 'собственников')}.")
                    st.rerun()


# ---------- the meeting's notice settings ----------
with st.expander("Решение ОСС об эл. почте и размещение в ГИС ЖКХ", icon=":material/gavel:"):
    with st.form("notice_settings", enter_to_submit=False):
        a, b = st.columns(2)
        decision_date = a.date_input("Дата протокола ОСС, решившего уведомлять по эл. почте",
                                     value=meeting.email_notice_decision_date, format="DD.MM.YYYY")
        decision_no = b.text_input("Номер протокола", value=meeting.email_notice_decision_number)
        gis_id = a.text_input("Идентификатор собрания в ГИС ЖКХ", value=meeting.gis_id)
        gis_date = b.date_input("Дата размещения сообщения в ГИС ЖКХ", value=meeting.gis_posted_on,
                                format="DD.MM.YYYY")
        if st.form_submit_button("Сохранить"):
            try:
                update_notice_settings(sf, meeting_id=meeting_id, email_decision_date=decision_date,
                                       email_decision_number=decision_no, gis_id=gis_id, gis_posted_on=gis_date)
            except DomainError as exc:
                st.error(exc.message)
            else:
                state.audit("notice_settings", meeting_id)
                state.flash("success", "Сведения о решении ОСС и о размещении в ГИС ЖКХ сохранены.")
                st.rerun()
    # Drawn on request: the browser loads and runs st.code's frontend module (a syntax highlighter, 1.5 MB) as
    # soon as a block is drawn, even in a closed section; its 0.15–0.3 s fell on the next page opened
    # (bench/page_speed.py: the first visit of «Решения собственников»).
    if st.toggle("Текст сообщения для размещения в ГИС ЖКХ (без персональных данных и кодов)", key=GIS_TEXT):
        st.code(notice_text(sf, meeting_id=meeting_id, public_url=rt.settings.public_url), language=None,
                wrap_lines=True)


# ---------- the delivery register and the outbox ----------
st.download_button("Реестр вручения сообщений (.xlsx)",
                   data=state.audited_export("реестр вручения", meeting_id,
                                             lambda: delivery_register_xlsx(sf, meeting_id=meeting_id)),
                   file_name=f"реестр_вручения_ОСС_{meeting_id}.xlsx", icon=":material/download:",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
if not rt.settings.smtp_host:
    files = list_outbox(rt.settings, meeting_id=meeting_id, limit=50)
    with st.expander(f"Папка исходящих (SMTP не настроен): писем {len(files)}", icon=":material/outbox:"):
        st.caption("Письма не уходят адресатам: они сохранены в data/outbox/ как .eml. Укажите SMTP_HOST в "
                   "настройках, чтобы отправлять по-настоящему.")
        for entry in outbox_entries(files[:20]):
            st.download_button(f"{format_local(entry.when)} — {entry.to}", data=entry.path.read_bytes,
                               file_name=entry.path.name, mime="message/rfc822", key=f"eml_{entry.path.name}",
                               icon=":material/mail:")
