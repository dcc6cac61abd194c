"""Сканы решений: machine-readable ballots to print, signed decisions read from their scans, the
pages the reader was not sure of checked by the analyst, and the batch registered as paper decisions."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from services.auth import can
from services.ballot_sheet import ballots_pdf
from services.errors import DomainError
from services.figures import count_of, format_count, format_local
from services.meetings import get_meeting
from services.scan_batches import (
    ANSWER_RU,
    OPEN,
    STATUS_RU,
    batch_pages,
    batches,
    confirm_page,
    dismiss_page,
    register_batch,
)
from services.scan_jobs import running_jobs, scan_job, start_reading
from services.voting import agenda_questions, not_answered_owner_ids, owner_ids_of
from ui import state
from ui.scan_views import review_pictures

UPLOAD_V = "scans_upload_v"  # bumping it empties the uploader: files handed to a reading are not read twice
JOB = "scans_job"  # the id of this session's reading (services.scan_jobs)
READ_RESULT = "scans_read_result"  # (kind, lines) of the last finished reading
BATCH = "scans_batch"  # the batch chosen for the review
QUEUE_FROM = "scans_queue_from"  # the first queue position shown
REVIEWED = "scans_reviewed"  # page ids confirmed or set aside in this session: a second click does nothing
REVIEW_ERROR = "scans_review_error"  # (page id, message) of a refused confirmation
TOAST = "scans_toast"
REGISTER_V = "scans_register_v"  # the registering button's version: one registering per click
REGISTER_RESULT = "scans_register_result"  # (batch id, kind, summary, waiting lines) or (batch id, "error", message)
QUEUE_SHOWN = 10  # review cards at a time: each one is a page image and a form
SCAN_TYPES = ["pdf", "tif", "tiff", "jpg", "jpeg", "png"]
ANSWER_LABELS = list(ANSWER_RU.values())
ANSWER_KEYS = {v: k for k, v in ANSWER_RU.items()}
BATCH_STATE = {"reading": "читается", "failed": "чтение прервано",
               "interrupted": "чтение прервано — загрузите те же файлы снова, прочитанные страницы пропускаются"}

state.require_permission("view_personal")
sf = state.session_factory()
rt = state.runtime()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)
user = st.session_state[state.USER]
may_edit = can(user, "edit")
for key, default in ((UPLOAD_V, 0), (REGISTER_V, 0), (REVIEWED, set()), (QUEUE_FROM, 0)):
    st.session_state.setdefault(key, default)
today = dt.date.today()

state.back_to_stages()
st.title("Сканы решений")
st.caption(f"{state.md(meeting.address)} · голосование {meeting.start_date:%d.%m.%Y} — {meeting.end_date:%d.%m.%Y}")
state.show_flash()
toast = st.session_state.pop(TOAST, None)
if toast:
    st.toast(toast)

# ---------- blank sheets ----------
st.subheader("Бланки для печати")
st.caption("Бланк решения с QR-кодом и метками по углам: по скану программа узнаёт собственника и читает отметки. "
           "Распечатайте бланки на А4 без масштабирования, раздайте собственникам, подписанные решения "
           "отсканируйте (150–300 dpi, цветные или серые; подойдёт и фотография) и загрузите ниже.")
rest = not_answered_owner_ids(sf, meeting_id=meeting_id)
everyone = owner_ids_of(sf, meeting_id=meeting_id)
a, b = st.columns(2)
with a:
    st.download_button("Скачать бланки решений (PDF, читаются со сканов)", disabled=not rest,
                       data=state.audited_export("бланки решений", meeting_id, lambda: ballots_pdf(
                           sf, secret_key=rt.secret_key, meeting_id=meeting_id, owner_ids=rest)),
                       file_name=f"бланки_решений_ОСС_{meeting_id}.pdf", mime="application/pdf",
                       icon=":material/print:", key="scans_blank_rest")
    st.caption(f"Для тех, кто ещё не ответил: {count_of(len(rest), 'собственник', 'собственника', 'собственников')}.")
with b:
    st.download_button("Бланки для всех собственников (PDF)", disabled=not everyone,
                       data=state.audited_export("бланки решений", meeting_id, lambda: ballots_pdf(
                           sf, secret_key=rt.secret_key, meeting_id=meeting_id, owner_ids=everyone)),
                       file_name=f"бланки_решений_все_ОСС_{meeting_id}.pdf", mime="application/pdf",
                       icon=":material/print:", key="scans_blank_all")
    st.caption(f"Весь реестр: {count_of(len(everyone), 'собственник', 'собственника', 'собственников')}.")

# ---------- upload and read ----------
st.subheader("Загрузить сканы")
limit = int(st.get_option("server.maxUploadSize"))
st.caption(f"PDF, TIFF (многостраничный), JPEG или PNG, каждый файл до {limit} МБ; большую пачку сканируйте "
           "несколькими файлами. Листы могут лежать в любом порядке и вверх ногами. Программа читает отметки сама "
           "и откладывает на проверку всё, в чём не уверена; решения вносятся только после вашей команды ниже.")
v = st.session_state[UPLOAD_V]
upload_key = f"scans_upload_{v}"
# the uploader's own caption says the registry's 20 MB (ui/state.russian_widgets): here, the server's limit
st.html(f"<style>.st-key-{upload_key} [data-testid='stFileUploaderDropzoneInstructions'] > div > span::after "
        f"{{ content: 'Файлы до {limit}\u00a0МБ каждый'; }}</style>")


def start_read(version: int) -> None:
    """«Распознать»: the files go to a reading once; the uploader is emptied first (a second click finds none)."""
    if st.session_state[UPLOAD_V] != version:
        return
    uploads = st.session_state.get(f"scans_upload_{version}") or []
    if not uploads:
        return
    st.session_state[UPLOAD_V] = version + 1
    try:
        job = start_reading(sf, secret_key=rt.secret_key, meeting_id=meeting_id, user=user.username,
                            files=[(u.name, u.getvalue()) for u in uploads])
    except DomainError as exc:
        st.session_state[READ_RESULT] = ("error", [exc.message])
        return
    st.session_state[JOB] = job.id
    st.session_state[READ_RESULT] = None


if st.session_state.get(JOB) is None:  # a reload or a second tab: the reading this analyst started goes on here
    st.session_state[JOB] = next((j.id for j in running_jobs(meeting_id=meeting_id) if j.user == user.username), None)
job = scan_job(st.session_state.get(JOB))
if job is not None and not job.running:  # finished since the last run: its summary, and its batch for the review
    st.session_state[JOB] = None
    if job.report is not None:
        r = job.report
        lines = [f"Прочитано страниц: {format_count(r.pages)} ("
                 f"{count_of(len(job.files), 'файл', 'файла', 'файлов')}, {job.seconds:.0f} с). "
                 f"Принято автоматически: {format_count(r.accepted)}, на проверку: {format_count(r.review)}."]
        if r.skipped:
            lines.append(f"Страниц, прочитанных раньше, пропущено: {format_count(r.skipped)} — они уже в пакетах ниже.")
        lines += r.file_errors
        st.session_state[READ_RESULT] = ("warning" if r.file_errors or r.review else "success", lines)
        if r.batch_id is not None:
            st.session_state[BATCH] = r.batch_id
            st.session_state[QUEUE_FROM] = 0
    else:
        st.session_state[READ_RESULT] = ("error", [job.error])
    job = None

st.file_uploader("Сканы подписанных решений", type=SCAN_TYPES, accept_multiple_files=True, key=upload_key,
                 disabled=not may_edit)
st.button("Распознать", type="primary", icon=":material/document_scanner:", on_click=start_read, args=(v,),
          disabled=not may_edit or job is not None or not st.session_state.get(upload_key))


@st.fragment(run_every=1.0)
def reading_progress(job_id: str) -> None:
    state.guard_fragment()
    current = scan_job(job_id)
    if current is None or not current.running:
        st.rerun(scope="app")  # the summary, the new batch and its queue
    if current.state == "waiting":
        st.progress(0.0, text="Ждёт очереди: сервер читает другой пакет сканов…")
    else:
        st.progress(current.done / max(current.total, 1),
                    text=f"Прочитано страниц: {format_count(current.done)} из {format_count(current.total)}")
    st.caption("Чтение идёт на сервере: можно работать на других страницах и вернуться сюда.")


if job is not None:
    reading_progress(job.id)
else:
    others = running_jobs(meeting_id=meeting_id)
    if others:
        st.info(f"Сотрудник {state.md(others[0].user)} читает сканы этого собрания: прочитано страниц "
                f"{format_count(others[0].done)} из {format_count(others[0].total)}. Пакет появится в списке ниже.",
                icon=":material/hourglass_top:")
result = st.session_state.get(READ_RESULT)
if result:
    kind, lines = result
    {"success": st.success, "warning": st.warning}.get(kind, st.error)(lines[0])
    for line in lines[1:]:
        st.text("— " + line)

# ---------- the review queue ----------
st.subheader("Проверка")
known = batches(sf, meeting_id=meeting_id)
if not known:
    st.info("Сканов пока нет: загрузите их выше.")
    st.stop()
by_id = {x.id: x for x in known}
if st.session_state.get(BATCH) not in by_id:
    st.session_state[BATCH] = known[0].id


def batch_label(batch_id: int) -> str:
    x = by_id[batch_id]
    parts = [f"Пакет № {x.id} от {format_local(x.created_at)}", count_of(x.pages, "страница", "страницы", "страниц")]
    if x.status in BATCH_STATE:
        parts.append(BATCH_STATE[x.status])
    parts.append(f"ждут проверки: {format_count(x.waiting)}")
    return " · ".join(parts)


def reset_queue() -> None:
    st.session_state[QUEUE_FROM] = 0


batch_id = st.selectbox("Пакет сканов", list(by_id), format_func=batch_label, key=BATCH, on_change=reset_queue)
chosen = by_id[batch_id]
counts = chosen.counts
m = st.columns(5)
m[0].metric("Страниц", format_count(chosen.pages))
m[1].metric("Принято автоматически", format_count(counts.get("accepted", 0)))
m[2].metric("Проверено", format_count(counts.get("confirmed", 0)))
m[3].metric("Ждут проверки", format_count(chosen.waiting))
m[4].metric("Внесено / отложено", f"{format_count(counts.get('registered', 0))} / "
                                   f"{format_count(counts.get('dismissed', 0))}")

questions = {q.number: q.text for q in agenda_questions(sf, meeting_id=meeting_id)}


def confirm(page_id: int, numbers: tuple[int, ...], signable: bool) -> None:
    if page_id in st.session_state[REVIEWED]:
        return  # a second click on a page already confirmed
    answers = {n: ANSWER_KEYS.get(st.session_state.get(f"scan_{page_id}_q{n}")) for n in numbers}
    try:
        confirm_page(sf, meeting_id=meeting_id, page_id=page_id, answers={n: a for n, a in answers.items() if a},
                     signed=bool(st.session_state.get(f"scan_{page_id}_signed")) if signable else False,
                     user=user.username)
    except DomainError as exc:
        st.session_state[REVIEW_ERROR] = (page_id, exc.message)
        return
    st.session_state[REVIEWED].add(page_id)
    st.session_state[REVIEW_ERROR] = None
    st.session_state[TOAST] = "Лист проверен: он будет внесён вместе с пакетом."


def set_aside(page_id: int) -> None:
    if page_id in st.session_state[REVIEWED]:
        return
    try:
        dismiss_page(sf, meeting_id=meeting_id, page_id=page_id, user=user.username)
    except DomainError as exc:
        st.session_state[REVIEW_ERROR] = (page_id, exc.message)
        return
    st.session_state[REVIEWED].add(page_id)
    st.session_state[REVIEW_ERROR] = None
    st.session_state[TOAST] = "Лист отложен: внесите решение вручную на странице «Решения собственников»."


def review_card(p) -> None:
    """One waiting page: why it waits, the page straightened, its doubtful places, and the check."""
    doubtful = sorted({q for q, _o in p.doubtful if q})
    readable = p.owner_id is not None and p.status == "review"
    with st.container(border=True):
        st.markdown(f"**{state.md(p.label)}** — {p.status_ru}")
        for reason in p.reasons:
            st.caption("— " + state.md(reason))
        picture, crops = review_pictures(meeting_id, p.id, questions=tuple(doubtful),
                                         signature=p.signed is not None and not p.signed)
        left, right = st.columns([3, 2], gap="medium")
        with left:
            if picture:
                st.image(picture, width=600)
            else:
                st.caption("Изображения страницы нет: файл не прочитан.")
        with right:
            for caption, png in crops:
                st.image(png, caption=caption)
            error = st.session_state.get(REVIEW_ERROR)
            if error and error[0] == p.id:
                st.error(error[1])
            if not readable:
                st.info("Бланк не распознан: внесите решение вручную по изображению, затем отложите лист здесь.")
                state.page_link(state.PAGE_DECISIONS, label="Внести на странице «Решения собственников»",
                                icon=":material/ballot:")
                st.button("Отложить (внести вручную)", key=f"scan_dismiss_{p.id}", on_click=set_aside, args=(p.id,),
                          disabled=not may_edit)
                return
            numbers = tuple(sorted(p.answers))
            with st.form(f"scan_review_{p.id}", border=False, enter_to_submit=False):
                for n in numbers:
                    text = questions.get(n, "")
                    label = f"{n}. {text[:90]}{'…' if len(text) > 90 else ''}"
                    if n in doubtful:
                        label += " — проверьте отметку"
                    # a doubtful question starts unchosen: the analyst looks and chooses, never confirms a guess
                    read = p.answers[n] if n not in doubtful and p.answers[n] in ANSWER_RU else None
                    st.radio(state.md(label), ANSWER_LABELS, horizontal=True, key=f"scan_{p.id}_q{n}",
                             index=ANSWER_LABELS.index(ANSWER_RU[read]) if read else None)
                if p.signed is not None:
                    st.checkbox("Подпись есть", value=bool(p.signed), key=f"scan_{p.id}_signed",
                                help="Решение без подписи собственника (представителя) не учитывается.")
                with st.container(horizontal=True):
                    st.form_submit_button("Подтвердить", type="primary", on_click=confirm,
                                          args=(p.id, numbers, p.signed is not None), disabled=not may_edit)
                    st.form_submit_button("Отложить (внести вручную)", on_click=set_aside, args=(p.id,),
                                          disabled=not may_edit)


waiting = batch_pages(sf, meeting_id=meeting_id, batch_id=batch_id, statuses=OPEN)
if not waiting:
    st.success("Все листы пакета проверены." if chosen.status != "reading" else "Пока листов на проверку нет.")
else:
    st.caption("Проверьте отметки по изображению и исправьте прочитанное, если нужно. Вопрос без отметки или с "
               "несколькими отметками недействителен только для этого вопроса (ЖК РФ ст. 48 ч. 6). Лист, который "
               "не удаётся прочитать, отложите и внесите решение вручную.")
    if len(waiting) > QUEUE_SHOWN:
        starts = list(range(0, len(waiting), QUEUE_SHOWN))
        if st.session_state[QUEUE_FROM] not in starts:
            st.session_state[QUEUE_FROM] = starts[-1] if st.session_state[QUEUE_FROM] > starts[-1] else 0
        st.selectbox("Листы на проверке", starts, key=QUEUE_FROM,
                     format_func=lambda s: f"{s + 1}–{min(s + QUEUE_SHOWN, len(waiting))} из {len(waiting)}")
    first = st.session_state[QUEUE_FROM] if len(waiting) > QUEUE_SHOWN else 0
    for p in waiting[first:first + QUEUE_SHOWN]:
        review_card(p)

# ---------- registering ----------
st.subheader("Внести решения")
ready = chosen.ready
st.caption("Вносятся решения собственников, все листы которых приняты или проверены и подписаны: каждое — как "
           "письменное решение, с печатью и изображениями листов. Листы, которые ждут проверки, остаются в очереди "
           "и вносятся следующим нажатием.")
open_now = today <= meeting.end_date
received = st.date_input("Дата получения решений", value=today if open_now else None, max_value=today,
                         min_value=min(meeting.start_date - dt.timedelta(days=60), today), format="DD.MM.YYYY",
                         key=f"scans_received_{batch_id}",
                         help="Решение, полученное после окончания приёма решений, сохраняется, но не учитывается "
                              "(ЖК РФ ст. 47 ч. 2).")
if not open_now:
    st.caption(f"Приём решений окончен {meeting.end_date:%d.%m.%Y}: укажите дату, когда решения были получены.")


def register(version: int, batch: int) -> None:
    if st.session_state[REGISTER_V] != version:
        return  # a second click: this batch was registered by the first
    st.session_state[REGISTER_V] = version + 1
    on = st.session_state.get(f"scans_received_{batch}")
    if on is None:
        st.session_state[REGISTER_RESULT] = (batch, "error", "Укажите дату получения решений.", [])
        return
    try:
        r = register_batch(sf, secret_key=rt.secret_key, meeting_id=meeting_id, batch_id=batch, received_on=on,
                           user=user.username)
    except DomainError as exc:
        st.session_state[REGISTER_RESULT] = (batch, "error", exc.message, [])
        return
    text = (f"Внесено решений: {format_count(r.registered)} (учитываются: {format_count(r.counted)}, "
            f"получены после окончания приёма: {format_count(r.late)}, повторные: {format_count(r.conflicts)}).")
    if r.waiting:
        text += f" Не внесены: {format_count(len(r.waiting))} — ниже, почему."
    st.session_state[REGISTER_RESULT] = (batch, "warning" if r.waiting or r.late or r.conflicts else "success", text,
                                         r.waiting)


st.button("Внести решения с проверенных листов", type="primary", icon=":material/how_to_reg:", on_click=register,
          args=(st.session_state[REGISTER_V], batch_id), disabled=not may_edit or not ready, key="scans_register")
st.caption(f"Листов принято или проверено и ещё не внесено: {format_count(ready)}; ждут проверки: "
           f"{format_count(chosen.waiting)}.")
done = st.session_state.get(REGISTER_RESULT)
if done and done[0] == batch_id:
    {"success": st.success, "warning": st.warning}.get(done[1], st.error)(done[2])
    if done[3]:
        with st.expander(f"Не внесены: {format_count(len(done[3]))}", expanded=len(done[3]) <= 10):
            for line in done[3]:
                st.text("— " + line)

# ---------- the batch's pages ----------
st.subheader("Страницы пакета")
rows = batch_pages(sf, meeting_id=meeting_id, batch_id=batch_id)
st.dataframe(pd.DataFrame([{
    "Файл": p.file_name, "Стр.": p.file_page, "Помещение": p.premise, "Собственник": p.owner,
    "Лист": f"{p.sheet} из {p.sheets}" if p.sheet else "", "Статус": STATUS_RU.get(p.status, p.status),
} for p in rows], columns=["Файл", "Стр.", "Помещение", "Собственник", "Лист", "Статус"]),
    hide_index=True, width="stretch",
    column_config={"Файл": st.column_config.TextColumn(width=220), "Стр.": st.column_config.NumberColumn(width=60),
                   "Помещение": st.column_config.TextColumn(width=100),
                   "Собственник": st.column_config.TextColumn(width=330),
                   "Лист": st.column_config.TextColumn(width=80), "Статус": st.column_config.TextColumn(width=190)})
