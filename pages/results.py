"""Итоги и протокол: the count by the law's rules and the protocol with its attachments."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from services.auth import can
from services.documents import failure_reason
from services.errors import DomainError
from services.meetings import get_meeting
from services.notify import delivery_register_xlsx
from services.registry import registry_xlsx
from services.results import (
    ProtocolData,
    decisions_list_xlsx,
    electronic_decisions_docx,
    notice_docx,
    participants_xlsx,
    protocol_data,
    protocol_docx,
    protocol_package_zip,
    protocol_warnings,
    VERDICT_COLUMNS,
    results_rows,
    results_xlsx,
    no_quorum_note,
    verdict_rows,
    save_protocol_data,
)
from services.closing import close_count, closing_problems, count_state, reopen_count, stored_protocol
from services.figures import count_of, format_area, format_local, format_percent, format_votes, ru_number
from services.owner_fields import format_date
from services.results_notice import queue_results_notice, results_deadline, results_notice_docx, results_notice_summary
from services.tally import recount, set_passport_area
from ui import state

RESULTS_KEY = "results_notice_key"  # one-time key: a double click queues the results notice once
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

state.require_staff()
may_edit = can(state.current_user(), "edit")
sees_personal = can(state.current_user(), "view_personal")
sf = state.session_factory()
rt = state.runtime()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)

state.back_to_stages()
st.title("Итоги и протокол")
st.caption(f"{state.md(meeting.address)} · голосование {meeting.start_date:%d.%m.%Y} — {meeting.end_date:%d.%m.%Y}")
state.show_flash()
for warning in protocol_warnings(sf, meeting_id=meeting_id):
    st.warning(warning, icon=":material/warning:")

t = recount(sf, meeting_id=meeting_id)
a, b, c = st.columns(3)
a.metric("Всего голосов", format_votes(t.all_votes))
b.metric("Приняли участие", format_votes(t.participants), format_percent(t.participation), delta_color="off",
         delta_arrow="off")
c.metric("Кворум", "есть" if t.quorum else "нет")
if t.passport_area:
    st.caption(f"Всего голосов — по техническому паспорту ({format_area(t.passport_area)}); по реестру "
               f"собственников — {format_area(t.registry_area)}.")
if t.passport_below_registry:
    st.warning("Площадь по техническому паспорту меньше суммы площадей помещений в реестре: всего голосов "
               "считается по реестру. Проверьте площадь по паспорту.")
elif t.unregistered_area:
    st.caption(f"Разница {format_area(t.unregistered_area)} приходится на помещения, собственники которых не внесены в "
               "реестр: их голоса входят во «Всего голосов» и не входят в число участников.")
if t.online_records:
    st.info(f"Заполнено онлайн, решение не сдано: "
            f"{count_of(t.online_records, 'собственник', 'собственника', 'собственников')}, {format_votes(t.online_votes)} "
            "голосов — в подсчёт не входят, пока не зарегистрированы подписанные решения.")
if note := no_quorum_note(t):
    st.warning(note, icon=":material/group_off:")
# each verdict next to the percentage its majority is measured against, in a table that fits the page
# (no horizontal scroll at 1440 px: abstentions and invalid votes are in the expander below and the .xlsx)
st.dataframe(pd.DataFrame(verdict_rows(t), columns=VERDICT_COLUMNS), hide_index=True, width="stretch",
             key="results_verdicts", column_order=VERDICT_COLUMNS[:7], column_config={
                 "№": st.column_config.NumberColumn(width=40), "Вопрос": st.column_config.TextColumn(width=250),
                 "Решение": st.column_config.TextColumn(width=95),
                 "«За», % по правилу": st.column_config.TextColumn(width=150),
                 "Требуется": st.column_config.TextColumn(width=205),
                 "За, голосов": st.column_config.TextColumn(width=100),
                 "Против, голосов": st.column_config.TextColumn(width=125)})
with st.expander("Все показатели: голоса и проценты от участников и от всех голосов"):
    header, rows = results_rows(t)
    table = pd.DataFrame(rows, columns=header)
    for h in header[3:-1]:  # votes and percentages, written as in the protocol
        table[h] = table[h].map(ru_number)
    st.dataframe(table, hide_index=True, width="stretch", key="results_all_figures",
                 column_order=[*header[:2], header[-1], *header[2:-1]])

with st.expander("Общая площадь помещений по техническому паспорту"):
    area_text = st.text_input("Площадь, м² (пусто — считать по реестру)",
                              value=format_area(t.passport_area, unit=False, exact=True) if t.passport_area else "")
    if st.button("Сохранить площадь", disabled=not may_edit):
        try:
            # «1 234,5»: the spaces between thousands (no-break ones too) and a decimal comma
            area = Decimal("".join(area_text.split()).replace(",", ".")) if area_text.strip() else None
            set_passport_area(sf, meeting_id=meeting_id, area=area)
        except InvalidOperation:
            st.error(f"«{area_text}» — не число.")
        except DomainError as exc:
            st.error(exc.message)
        else:
            state.flash("success", "Площадь сохранена; итоги пересчитаны.")
            st.rerun()

st.subheader("Протокол")
cs = count_state(sf, meeting_id=meeting_id)
if cs.closed:
    st.success(f"Подсчёт закрыт {format_local(cs.closed_at)}: протокол № {cs.number} от "
               f"{format_date(cs.drawn_up_on)}" + (f", редакция {cs.version}" if cs.version > 1 else "") +
               ". Решения, реестр и данные протокола заблокированы.", icon=":material/lock:")
else:
    st.info("Протокол — ПРОЕКТ: документы помечены «ПРОЕКТ», пока подсчёт не закрыт. Номер (идентификатор ГИС ЖКХ "
            "или порядковый номер управляющей организации за год) и дата присваиваются при закрытии.",
            icon=":material/edit_document:")
pd_ = protocol_data(sf, meeting_id=meeting_id)
with st.form("protocol", enter_to_submit=False):
    x, y = st.columns(2)
    chair = x.text_input("Председатель общего собрания (ФИО)", value=pd_.chair)
    secretary = y.text_input("Секретарь общего собрания (ФИО)", value=pd_.secretary)
    counters = st.text_area("Лица, проводившие подсчёт голосов (по одному в строке)", value=pd_.counters)
    st.caption("Пусто — счётная комиссия не избиралась: подсчёт провёл и протокол подписывает инициатор общего "
               "собрания.")
    drawn = x.date_input("Дата составления протокола", value=pd_.drawn_up_on or max(dt.date.today(), meeting.end_date),
                         format="DD.MM.YYYY")
    place = y.text_input("Место составления протокола", value=pd_.place or meeting.address)
    st.caption(f"Номер протокола — идентификатор собрания в ГИС ЖКХ: {meeting.gis_id or 'не указан'}"
               + ("" if meeting.gis_id else " (будет присвоен порядковый номер управляющей организации за год)") + ".")
    if st.form_submit_button("Сохранить данные протокола", type="primary", disabled=not may_edit or cs.closed):
        try:
            save_protocol_data(sf, meeting_id=meeting_id, data=ProtocolData(chair, secretary, counters, drawn, place))
        except DomainError as exc:
            st.error(exc.message)
            for line in exc.details:
                st.write("— " + line)
        else:
            state.audit("protocol_saved", meeting_id)
            state.flash("success", "Данные протокола сохранены.")
            st.rerun()

if may_edit and not cs.closed:
    problems = closing_problems(sf, meeting_id=meeting_id, today=dt.date.today())
    with st.container(border=True):
        st.markdown("**Закрыть подсчёт**")
        st.caption("Фиксирует итоги, присваивает протоколу номер и дату и блокирует решения. Изменение после "
                   "закрытия — только с указанием причины: протокол получает новую редакцию, прежняя сохраняется.")
        if problems:
            st.warning("Закрыть подсчёт пока нельзя:\n" + "\n".join(f"- {state.md(x)}" for x in problems),
                       icon=":material/checklist:")
        if st.button("Закрыть подсчёт", type="primary", icon=":material/lock:", disabled=bool(problems)):
            try:
                done = close_count(sf, meeting_id=meeting_id, user=state.current_user().username)
            except DomainError as exc:
                st.error(exc.message)
                for line in exc.details:
                    st.write("— " + line)
            else:
                state.audit("count_closed", meeting_id, version=done.version)
                state.flash("success", f"Подсчёт закрыт: протокол № {done.number} от {format_date(done.drawn_up_on)}.")
                st.rerun()
elif may_edit:
    with st.expander("Изменить протокол после закрытия подсчёта", icon=":material/lock_open:"):
        reason = st.text_area("Причина изменения (сохраняется в истории редакций и в журнале)", key="reopen_reason")
        if st.button("Открыть подсчёт для изменения"):
            try:
                reopen_count(sf, meeting_id=meeting_id, user=state.current_user().username, reason=reason)
            except DomainError as exc:
                st.error(exc.message)
            else:
                state.audit("count_reopened", meeting_id, version=cs.version)
                state.flash("warning", "Подсчёт открыт для изменения. Закройте его снова, чтобы получить новую редакцию "
                                       "протокола; прежняя сохранена.")
                st.rerun()
if cs.versions:
    with st.expander(f"Редакции протокола: {len(cs.versions)}"):
        for v in cs.versions:
            line = (f"**Редакция {v.version}** · № {state.md(v.number)} от {format_date(v.drawn_up_on)} · подсчёт закрыт "
                    f"{format_local(v.closed_at)} ({state.md(v.closed_by)})")
            if v.reopened_at:
                line += f" · открыт для изменения {format_local(v.reopened_at)}: {state.md(v.reason)}"
            st.markdown(line)
            st.download_button(f"Редакция {v.version} (.docx)", key=f"protocol_version_{v.version}",
                               data=lambda v=v.version: stored_protocol(sf, meeting_id=meeting_id, version=v),
                               file_name=f"протокол_{meeting_id}_редакция_{v.version}.docx", mime=DOCX,
                               icon=":material/download:")

# A document is made when its button is clicked, outside the script run: a failure there would
# reach the browser only as Streamlit's «Failed to generate file». Its reason is kept here, by the
# document's label, and shown on the page until the document is made.
failures: dict[str, str] = st.session_state.setdefault("results_document_failures", {})


def guarded(label: str, make):
    def data():
        try:
            payload = make()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, then re-raised
            failures[label] = failure_reason(exc)
            raise
        failures.pop(label, None)
        return payload
    return data


for failed, reason in list(failures.items()):
    st.error(f"Не удалось сформировать «{failed}»: {reason}", icon=":material/error:")

if cs.closed:
    with st.container(border=True):
        st.markdown("**Сообщение об итогах** (ЖК РФ ст. 46 ч. 3)")
        due = results_deadline(sf, meeting_id=meeting_id)
        rs = results_notice_summary(sf, meeting_id=meeting_id)
        st.caption(f"Итоги доводятся до собственников не позднее {format_date(due)} — в месте, определённом собранием "
                   f"(разместите сообщение), и, дополнительно, по эл. почте. Отправлено: {rs.sent} из "
                   f"{rs.owners_with_email} с эл. почтой; в очереди: {rs.queued}; не доставлено: {rs.failed}.")
        n1, n2 = st.columns(2)
        n1.download_button("Сообщение об итогах для размещения (.docx)", icon=":material/download:",
                           data=guarded("Сообщение об итогах", lambda: results_notice_docx(sf, meeting_id=meeting_id)),
                           file_name=f"сообщение_об_итогах_{meeting_id}.docx", mime=DOCX)
        st.session_state.setdefault(RESULTS_KEY, uuid.uuid4().hex)
        if n2.button("Разослать сообщение об итогах по эл. почте", icon=":material/mail:",
                     disabled=not may_edit or rs.owners_with_email == rs.sent + rs.queued):
            try:
                queued = queue_results_notice(sf, meeting_id=meeting_id, request_key=st.session_state[RESULTS_KEY],
                                              user=state.current_user().username)
            except DomainError as exc:
                st.error(exc.message)
            else:
                st.session_state.pop(RESULTS_KEY, None)  # the next deliberate click is a new request
                state.audit("results_notice_queued", meeting_id, queued=queued.queued, skipped=queued.skipped)
                state.flash("success", f"Сообщение об итогах поставлено в очередь отправки: {queued.queued}; без эл. "
                                       f"почты: {queued.skipped}.")
                st.rerun()

downloads = [
    ("Протокол (.docx)", lambda: protocol_docx(sf, meeting_id=meeting_id), f"протокол_{meeting_id}.docx", DOCX),
    ("Итоги (.xlsx)", lambda: results_xlsx(recount(sf, meeting_id=meeting_id)), f"итоги_{meeting_id}.xlsx", XLSX),
    ("Сообщение о собрании", lambda: notice_docx(sf, meeting_id=meeting_id, public_url=rt.settings.public_url),
     f"сообщение_{meeting_id}.docx", DOCX),
]
if sees_personal:
    # the attachments name the owners, their documents, СНИЛС and contacts: journaled when made
    st.download_button("Скачать протокол с приложениями (.zip)", type="primary", icon=":material/folder_zip:",
                       data=guarded("Протокол с приложениями", state.audited_export(
                           "протокол с приложениями", meeting_id, lambda: protocol_package_zip(
                               sf, meeting_id=meeting_id, public_url=rt.settings.public_url))),
                       file_name=f"протокол_ОСС_{meeting_id}.zip", mime="application/zip")
    downloads += [
        ("Реестр собственников", state.audited_export("реестр собственников", meeting_id,
                                                       lambda: registry_xlsx(sf, meeting_id=meeting_id)),
         f"реестр_{meeting_id}.xlsx", XLSX),
        ("Реестр вручения", state.audited_export("реестр вручения", meeting_id,
                                                  lambda: delivery_register_xlsx(sf, meeting_id=meeting_id)),
         f"реестр_вручения_{meeting_id}.xlsx", XLSX),
        ("Список участников", state.audited_export("список участников", meeting_id,
                                                    lambda: participants_xlsx(sf, meeting_id=meeting_id)),
         f"участники_{meeting_id}.xlsx", XLSX),
        ("Перечень решений", state.audited_export("перечень решений", meeting_id,
                                                   lambda: decisions_list_xlsx(sf, meeting_id=meeting_id)),
         f"решения_{meeting_id}.xlsx", XLSX),
        ("Решения, подписанные кодом", state.audited_export("решения, подписанные кодом", meeting_id,
                                                             lambda: electronic_decisions_docx(sf, meeting_id=meeting_id)),
         f"решения_кодом_{meeting_id}.docx", DOCX),
    ]
else:
    st.caption("Приложения с персональными данными собственников доступны операторам и администраторам.")
with st.container(horizontal=True):  # buttons sized to their labels: four columns cut the longest ones short
    for i, (label, data, name, mime) in enumerate(downloads):
        st.download_button(label, data=guarded(label, data), file_name=name, mime=mime, icon=":material/download:",
                           key=f"dl_{i}")

state.seal_check_button(meeting_id)
