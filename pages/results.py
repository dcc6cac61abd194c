"""Итоги и протокол: the count by the law's rules and the protocol with its attachments."""
from __future__ import annotations

import datetime as dt
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
    results_rows,
    results_xlsx,
    save_protocol_data,
)
from services.figures import format_area, format_percent, format_votes, ru_number
from services.tally import recount, set_passport_area
from ui import state

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
    st.info(f"Заполнено онлайн, решение не сдано: {t.online_records} собственников, {format_votes(t.online_votes)} "
            "голосов — в подсчёт не входят, пока не зарегистрированы подписанные решения.")
header, rows = results_rows(t)
# «Решение» next to the question: at the end of 14 columns it lay beyond the table's visible width
table = pd.DataFrame(rows, columns=header)
for h in header[3:-1]:  # votes and percentages, written as in the protocol
    table[h] = table[h].map(ru_number)
st.dataframe(table, hide_index=True, width="stretch", column_order=[*header[:2], header[-1], *header[2:-1]])

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
pd_ = protocol_data(sf, meeting_id=meeting_id)
with st.form("protocol", enter_to_submit=False):
    x, y = st.columns(2)
    chair = x.text_input("Председатель общего собрания (ФИО)", value=pd_.chair)
    secretary = y.text_input("Секретарь общего собрания (ФИО)", value=pd_.secretary)
    counters = st.text_area("Лица, проводившие подсчёт голосов (по одному в строке)", value=pd_.counters)
    drawn = x.date_input("Дата составления протокола", value=pd_.drawn_up_on or max(dt.date.today(), meeting.end_date),
                         format="DD.MM.YYYY")
    place = y.text_input("Место составления протокола", value=pd_.place or meeting.address)
    st.caption(f"Номер протокола — идентификатор собрания в ГИС ЖКХ: {meeting.gis_id or 'не указан'}.")
    if st.form_submit_button("Сохранить данные протокола", type="primary", disabled=not may_edit):
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
