"""Реестр собственников: upload with a preview, the registry table, editing, export."""
from __future__ import annotations

import dataclasses
import hashlib

import pandas as pd
import streamlit as st

from services.errors import DomainError
from services.figures import count_of, format_area, format_count, format_votes, plural
from services.meetings import get_meeting
from services.registry import (
    COL_CONTACTS,
    COL_DATE,
    COL_DOC,
    COL_STATUS,
    REGISTRY_COLUMNS,
    EDITABLE_COLUMNS,
    REGISTRY_PAGE_ROWS,
    OwnerInput,
    apply_registry_changes,
    delete_all_owners,
    registry_page,
    registry_summary,
    registry_xlsx,
    rejected_rows_xlsx,
    snils_missing,
)
from services.registry_job import CHILD_IMPORT_OWNERS, check_for_preview, store_checked_registry
from services.registry_parse import FIELD_LABELS, release_memory
from services.spreadsheet import MAX_FILE_BYTES, TableFileError
from ui import state

PREVIEW = "registry_preview"  # (digest, replace, report) of the checked upload
UPLOAD_V = "registry_upload_v"  # bumping it empties the file uploader after an import
EDITOR_V = "registry_editor_v"  # bumping it resets the table editor after edits were applied
EDITOR_IDS = "registry_editor_ids"  # owner ids of the rows shown, in order: positions -> ids
EDITOR_ROWS = "registry_editor_rows"
ERRORS = "registry_edit_errors"
PAGE_NO = "registry_page_no"  # the table's page (registry_page): a large registry is shown a page at a time

state.require_permission("view_personal")
sf = state.session_factory()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)
for key, default in ((UPLOAD_V, 0), (EDITOR_V, 0), (ERRORS, [])):
    st.session_state.setdefault(key, default)

state.back_to_stages()
st.title("Реестр собственников")
st.caption(state.md(meeting.address))
state.show_flash()

summary = registry_summary(sf, meeting_id=meeting_id)
st.subheader(summary.line)
c1, c2, c3 = st.columns(3)
c1.metric("Общая площадь помещений", format_area(summary.total_area))
c2.metric("Голосов у собственников в реестре", format_votes(summary.votes))
c3.metric("Помещений", format_count(summary.premises))
no_snils = snils_missing(sf, meeting_id=meeting_id) if summary.owners else 0
if no_snils:
    who = plural(no_snils, "собственника — физического лица", "собственников — физических лиц",
                 "собственников — физических лиц")
    st.warning(f"У {format_count(no_snils)} {who} нет СНИЛС или он неверен: с 01.09.2025 СНИЛС указывается в "
               "решении (ЖК РФ ст. 48 ч. 5.1).", icon=":material/badge:")


# ---------- upload ----------
def do_import() -> None:
    preview = st.session_state.get(PREVIEW)
    if not preview:
        return  # a second click after the import already ran: nothing to do
    digest, replace, report = preview
    upload = st.session_state.get(f"registry_upload_{st.session_state[UPLOAD_V]}")
    data = upload.getvalue() if upload is not None else b""
    if hashlib.sha256(data).hexdigest() != digest:
        return  # the file was taken away or changed meanwhile: this run checks what is there now
    try:
        result = store_checked_registry(sf, meeting_id=meeting_id, report=report, data=data, replace=replace)
    except DomainError as exc:
        state.flash("error", exc.message)
        return
    st.session_state[PREVIEW] = None
    del report, preview, data
    release_memory()  # the checked rows of a large file are hundreds of megabytes
    st.session_state[UPLOAD_V] += 1
    st.session_state[EDITOR_V] += 1
    state.audit("registry_imported", meeting_id, mode="замена" if replace else "добавление", owners=result.owners,
                premises=result.premises, rejected=result.rejected)
    state.flash("success", (
        f"Реестр {'заменён' if replace else 'дополнен'}: импортировано "
        f"{count_of(result.owners, 'собственник', 'собственника', 'собственников')}, "
        f"{count_of(result.premises, 'помещение', 'помещения', 'помещений')}."
        + (f" Отклонено строк: {format_count(result.rejected)}." if result.rejected else "")
    ))


def import_with_status(report) -> None:
    """Import the checked file once, with a status box where the analyst clicked (in the page or the
    confirmation, not a callback); a second click finds the preview gone (do_import) and imports nothing."""
    with st.status(f"Импортирую «{state.md(report.filename)}»: "
                   f"{count_of(report.owner_count, 'собственник', 'собственника', 'собственников')}…",
                   expanded=True) as status:
        if report.owner_count >= CHILD_IMPORT_OWNERS:
            st.write("Большой реестр записывает отдельный процесс: файл читается ещё раз и "
                     "сверяется с предпросмотром. Это займёт около минуты на каждые 100 000 строк.")
        do_import()
        status.update(label="Импорт завершён", state="complete", expanded=False)
    st.rerun()


@st.dialog("Заменить реестр?")
def confirm_replace(owners: int, premises: int, report) -> None:
    # the owners now in the registry are deleted: the analyst sees what goes and what comes first
    st.write(
        f"Заменить реестр: сейчас {count_of(owners, 'собственник', 'собственника', 'собственников')} / "
        f"{count_of(premises, 'помещение', 'помещения', 'помещений')}, после замены — "
        f"{count_of(report.owner_count, 'собственник', 'собственника', 'собственников')} / "
        f"{count_of(report.premises, 'помещение', 'помещения', 'помещений')}; отклонено строк: "
        f"{format_count(len(report.rejected_rows))}. Заменить?"
    )
    a, b = st.columns(2)
    if a.button("Да, заменить реестр", type="primary"):
        import_with_status(report)
    if b.button("Отмена"):
        st.rerun()


# Open for a new meeting and whenever a file is in the uploader: its preview is inside. The key
# keeps the box the same one when the message above it comes and goes, so it does not fold up.
has_upload = st.session_state.get(f"registry_upload_{st.session_state[UPLOAD_V]}") is not None
with st.expander("Загрузить реестр из файла", expanded=summary.owners == 0 or has_upload, key="registry_upload_box",
                 icon=":material/upload_file:"):
    st.caption(
        "Excel (.xlsx, .xls), OpenDocument (.ods) или CSV (UTF-8 или Windows-1251; разделитель «;», «,» или "
        f"табуляция), до {MAX_FILE_BYTES // 1024 // 1024} МБ. Строка заголовков может быть в любой из первых 30 "
        "строк; столбцы узнаются по названиям: «Номер помещения», «Общая площадь», «ФИО/Наименование "
        "собственника», «Доля собственника», «Номер документа», «Дата документа», «Адрес эл. почты и номер "
        "телефона», «СНИЛС», «ОГРН»."
    )
    mode = st.radio("Что сделать с файлом", ["Заменить реестр", "Добавить к реестру"], horizontal=True,
                    disabled=summary.owners == 0, key="registry_mode")
    replace = summary.owners == 0 or mode == "Заменить реестр"
    upload = st.file_uploader("Файл реестра", type=["xlsx", "xls", "ods", "csv"],
                              key=f"registry_upload_{st.session_state[UPLOAD_V]}")
    if upload is None and st.session_state.get(PREVIEW) is not None:
        st.session_state[PREVIEW] = None  # the file was taken away: its preview goes with it
        release_memory()
    if upload is not None:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        preview = st.session_state.get(PREVIEW)
        if not preview or preview[0] != digest or preview[1] != replace:
            if preview:  # another file, or the other mode: the old preview goes before the new one is made
                st.session_state[PREVIEW] = preview = None
                release_memory()
            try:
                with st.status(f"Проверяю «{upload.name}»…", expanded=True) as status:
                    bar = st.progress(0.0, text="Читаю файл…")

                    def show_progress(done: int, total: int) -> None:
                        bar.progress(min(done / max(total, 1), 1.0),
                                     text=f"Проверено строк: {format_count(done)} из {format_count(total)}")

                    try:
                        report = check_for_preview(sf, data=data, filename=upload.name, meeting_id=meeting_id,
                                                   replace=replace, progress=show_progress)
                    finally:
                        bar.empty()
                    status.update(label=f"Файл «{upload.name}» проверен", state="complete", expanded=False)
            except TableFileError as exc:
                status.update(label=f"Файл «{upload.name}» не прочитан", state="error", expanded=False)
                st.session_state[PREVIEW] = None
                st.error(str(exc))
                report = None
            else:
                st.session_state[PREVIEW] = (digest, replace, report)
                if report.figures is not None:  # a large file: its checked rows were dropped, give the memory back
                    release_memory()
        preview = st.session_state.get(PREVIEW)
        if preview and preview[0] == digest:
            report = preview[2]
            s = report.summary()
            st.markdown(
                f"**Прочитано из «{state.md(report.filename)}»** (лист «{state.md(report.sheet)}», строка "
                f"заголовков {report.header_row}): принято "
                f"**{count_of(s['owners'], 'собственник', 'собственника', 'собственников')}**, "
                f"**{count_of(s['premises'], 'помещение', 'помещения', 'помещений')}**, "
                f"площадь **{format_area(report.total_area)}**, "
                f"голосов **{format_votes(report.votes)}**"
            )
            recognised = ", ".join(f"«{state.md(v)}» → {FIELD_LABELS[k]}" for k, v in report.columns.items())
            st.caption(f"Столбцы: {recognised}")
            if report.ignored_columns:
                st.caption("Не используются: " + ", ".join(f"«{state.md(c)}»" for c in report.ignored_columns))
            if report.errors:
                st.error(f"Отклонено строк: {len(report.rejected_rows)}. Они не будут импортированы — исправьте "
                         "их в файле и загрузите снова (или добавьте к реестру).")
                st.dataframe(
                    pd.DataFrame([(e.row, e.column, e.message) for e in report.errors],
                                 columns=["Строка", "Столбец", "Причина"]).astype({"Строка": "Int64"}),
                    hide_index=True, width="stretch", placeholder="—",  # a file-wide issue has no row
                )
                # the file of refused rows needs only them: the download, kept until the next run,
                # must not hold the accepted owners of a large file after the import
                refused = dataclasses.replace(report, owners=[], warnings=[])
                st.download_button(
                    "Скачать отклонённые строки (.xlsx)", data=lambda: rejected_rows_xlsx(refused),
                    file_name=f"отклонённые_строки_{report.filename.rsplit('.', 1)[0]}.xlsx",
                    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    icon=":material/download:",
                )
            if report.warnings:
                st.warning(f"Предупреждений: {len(report.warnings)} (строки приняты).")
                st.dataframe(
                    pd.DataFrame([(w.row, w.premise, w.message) for w in report.warnings],
                                 columns=["Строка", "Помещение", "Предупреждение"]).astype({"Строка": "Int64"}),
                    hide_index=True, width="stretch", placeholder="—",  # a premise-wide note has no row
                )
            if report.owner_count:
                label = "Импортировать" + (" (заменить реестр)" if replace and summary.owners else "")
                if st.button(label, type="primary", icon=":material/database_upload:"):
                    if replace and summary.owners:
                        confirm_replace(summary.owners, summary.premises, report)
                    else:  # a first load or an addition deletes nothing: no question asked
                        import_with_status(report)
            else:
                st.error("В файле нет ни одной строки, которую можно импортировать.")


# ---------- the table ----------
def apply_edits() -> None:
    changes = st.session_state.get(f"registry_editor_{st.session_state[EDITOR_V]}", {})
    ids: list[int] = st.session_state.get(EDITOR_IDS, [])
    rows: pd.DataFrame | None = st.session_state.get(EDITOR_ROWS)

    def to_input(values: dict) -> OwnerInput:
        get = lambda col: "" if pd.isna(values.get(col)) else str(values.get(col) or "")  # noqa: E731
        return OwnerInput(
            premise=get(EDITABLE_COLUMNS[0]), area=get(EDITABLE_COLUMNS[1]), name=get(EDITABLE_COLUMNS[2]),
            share=get(EDITABLE_COLUMNS[3]), doc_number=get(EDITABLE_COLUMNS[4]), doc_date=get(EDITABLE_COLUMNS[5]),
            contacts=get(EDITABLE_COLUMNS[6]),
        )

    edited = {}
    for pos, change in changes.get("edited_rows", {}).items():
        rid = ids[int(pos)]
        edited[rid] = to_input({**rows.loc[rid].to_dict(), **change})
    added = [to_input(r) for r in changes.get("added_rows", []) if any(not pd.isna(v) and v for v in r.values())]
    deleted = [ids[int(pos)] for pos in changes.get("deleted_rows", [])]
    try:
        n = apply_registry_changes(sf, meeting_id=meeting_id, edited=edited, added=added, deleted=deleted)
    except DomainError as exc:
        st.session_state[ERRORS] = [exc.message, *exc.details]
    else:
        st.session_state[ERRORS] = []
        if n:
            state.audit("registry_edited", meeting_id, edited=len(edited), added=len(added), deleted=len(deleted))
            state.flash("success", f"Сохранено изменений: {n}.")
    st.session_state[EDITOR_V] += 1


search = st.text_input("Поиск", placeholder="Введите ФИО или номер помещения собственника", key="registry_search")
if st.session_state.get("registry_search_seen") != search:  # a new search starts on its first page
    st.session_state["registry_search_seen"] = search
    st.session_state[PAGE_NO] = 1
shown = registry_page(sf, meeting_id=meeting_id, search=search, page=st.session_state.get(PAGE_NO, 1))
st.session_state[PAGE_NO] = shown.page  # clamped: the registry may have shrunk since the last run
frame = shown.frame
if shown.pages > 1:
    first = (shown.page - 1) * REGISTRY_PAGE_ROWS + 1
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    left.number_input(f"Страница (всего {format_count(shown.pages)})", min_value=1, max_value=shown.pages, step=1,
                      key=PAGE_NO)
    right.caption(f"Показаны строки {format_count(first)}–{format_count(first + len(frame) - 1)} "
                  f"из {format_count(shown.total)}. Найти собственника быстрее поиском по ФИО или номеру помещения.")
st.session_state[EDITOR_IDS] = list(frame.index)
# the shown rows by id, for the edits: the frame itself (a dict a row would be hundreds of
# megabytes of a 200 000-owner registry, held for the whole session)
st.session_state[EDITOR_ROWS] = frame
for line in st.session_state[ERRORS]:
    st.error(line)
if search and frame.empty:
    st.info("Никто не найден.")
# At 1440 px with the sidebar open the table has about 980 px; the eight columns under their full
# headers (an editable one has a pencil before its header) need about 1 300. The contacts and the
# ownership documents are shown on request, so «Статус» and every header fit without a horizontal scroll.
more = st.toggle("Показать контакты и документы о праве собственности", key="registry_more_columns")
if more:
    st.caption("Все столбцы реестра: таблица прокручивается вправо.")
st.data_editor(
    frame.reset_index(drop=True),  # positions map to ids through EDITOR_IDS
    key=f"registry_editor_{st.session_state[EDITOR_V]}",
    on_change=apply_edits,
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    height=min(38 + 35 * max(len(frame), 3), 700),
    disabled=[COL_STATUS],
    column_order=[c for c in REGISTRY_COLUMNS if more or c not in (COL_DOC, COL_DATE, COL_CONTACTS)],
    column_config={  # each at least as wide as its header (14 px semibold), its pencil and its padding
        "Номер помещения": st.column_config.TextColumn(required=True, width=155),
        "Общая площадь": st.column_config.TextColumn(required=True, width=140, help="Например: 50,00 м²"),
        "ФИО/Наименование собственника": st.column_config.TextColumn(required=True, width=360),
        "Доля собственника": st.column_config.TextColumn(width=160, help="1, 1/2, 0,5 или 50%"),
        COL_DOC: st.column_config.TextColumn(width=180),
        COL_DATE: st.column_config.TextColumn(width=140, help="ДД.ММ.ГГГГ"),
        COL_CONTACTS: st.column_config.TextColumn(width=280),
        COL_STATUS: st.column_config.TextColumn(width=110, help="✉ — уведомление отправлено, 🔑 — вход по коду; "
                                                             "отправка кода и вход — на этапе уведомления"),
    },
)
st.caption("Щёлкните ячейку, чтобы исправить значение; строку можно добавить внизу таблицы или удалить, "
           "выделив её слева. Неверное значение не сохраняется — появится сообщение о причине.")


@st.dialog("Удалить всех собственников?")
def confirm_delete_all(count: int) -> None:
    st.write(f"Из реестра будут удалены все собственники ({format_count(count)}) и их помещения. Это действие "
             "не отменить.")
    a, b = st.columns(2)
    if a.button("Удалить всех", type="primary"):
        try:
            n = delete_all_owners(sf, meeting_id=meeting_id)
        except DomainError as exc:
            st.error(exc.message)
            return
        st.session_state[EDITOR_V] += 1
        state.audit("registry_cleared", meeting_id, deleted=n)
        state.flash("success", f"Удалено собственников: {n}.")
        st.rerun()
    if b.button("Отмена"):
        st.rerun()


if summary.owners:
    # one row of buttons as wide as their labels: fixed columns cut «Экспорт реестра (.xlsx)» short
    with st.container(horizontal=True):
        st.download_button(
            "Экспорт реестра (.xlsx)",
            data=state.audited_export("реестр собственников", meeting_id, lambda: registry_xlsx(sf, meeting_id=meeting_id)),
            file_name=f"реестр_собственников_собрание_{meeting_id}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:",
        )
        if st.button("Удалить всех", icon=":material/delete:"):
            confirm_delete_all(summary.owners)
