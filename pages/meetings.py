"""Собрания: the list of meetings, creating and editing one."""
from __future__ import annotations

import datetime as dt
import streamlit as st

from services.demo import create_live_demo
from services.auth import can
from services.errors import DomainError
from services.figures import format_count
from services.law import AGENDA_TEMPLATES, LAW_EDITION, MAJORITY_KINDS, majority_label
from services.meeting_details import INITIATOR_KINDS, KINDS
from services.notice_terms import notice_lock
from services.meetings import (
    FORMS,
    SPEAKER_MAX,
    MeetingData,
    QuestionData,
    create_meeting,
    get_meeting,
    list_meetings,
    update_meeting,
)
from ui import state

EDITING = "meetings_editing"  # None, "new" or a meeting id
DRAFT = "meetings_draft"  # list of _question dicts while editing

state.require_staff()
sf = state.session_factory()
st.title("Собрания собственников")
state.show_flash()


def _new_id() -> int:
    return max((q["id"] for q in st.session_state.get(DRAFT, [])), default=0) + 1


def open_stages(meeting_id: int) -> None:
    state.choose_meeting(meeting_id)


def _question(qid: int, text: str = "", majority: str = "simple", *, proposal: str = "", speaker: str = "",
              materials: str = "") -> dict:
    """One agenda question of the draft being edited."""
    return {"id": qid, "text": text, "majority": majority, "proposal": proposal, "speaker": speaker,
            "materials": materials}


def start_edit(target) -> None:
    st.session_state[EDITING] = target
    if target == "new":
        st.session_state[DRAFT] = [_question(1)]
    else:
        m = get_meeting(sf, target)
        st.session_state[DRAFT] = [
            _question(i, q.text, q.majority, proposal=q.proposal, speaker=q.speaker, materials=q.materials)
            for i, q in enumerate(m.questions, start=1)
        ]
    for key in [k for k in st.session_state if str(k).startswith("mf_")]:
        del st.session_state[key]


def make_demo() -> None:
    try:
        demo = create_live_demo(sf, secret_key=state.runtime().secret_key)
    except DomainError as exc:
        state.flash("error", exc.message)
        return
    state.choose_meeting(demo.meeting_id)
    state.audit("meeting_created", demo.meeting_id, what="демонстрационное")
    state.flash("success", f"Создано демонстрационное собрание № {demo.meeting_id}: голосование идёт, собственники "
                           f"уведомлены, часть решений уже получена. Чтобы проголосовать как собственник, откройте "
                           f"«Страница голосования» и введите код {demo.code} (помещение {demo.premise}, "
                           f"{demo.owner}). Код показан один раз.")


editing = st.session_state.get(EDITING)
meetings = list_meetings(sf)
may_edit = can(state.current_user(), "edit")
if not may_edit:
    editing = None  # an observer only looks

if editing is None:
    c1, c2 = st.columns([1, 3])
    c1.button("Создать собрание", type="primary", on_click=start_edit, args=("new",), icon=":material/add:",
              disabled=not may_edit)
    if not meetings and may_edit:
        st.info("Собраний пока нет. Создайте собрание или посмотрите, как всё устроено, на демонстрационном.")
        c2.button("Создать демонстрационное собрание", on_click=make_demo, icon=":material/auto_awesome:")
    for m in meetings:
        with st.container(border=True):
            a, b = st.columns([4, 2])
            a.markdown(f"**№ {m.id}. {state.md(m.address)}**")
            a.caption(
                f"{m.form.capitalize()} голосование {m.start_date:%d.%m.%Y} — {m.end_date:%d.%m.%Y} · инициатор: {state.md(m.initiator)} · "
                f"вопросов: {m.questions} · собственников в реестре: {format_count(m.owners)}"
            )
            if b.button("Этапы ОСС", key=f"open_{m.id}", on_click=open_stages, args=(m.id,), type="primary"):
                st.switch_page(state.PAGE_STAGES)
            if may_edit:
                b.button("Изменить", key=f"edit_{m.id}", on_click=start_edit, args=(m.id,))
    st.stop()

# ---------- the meeting form ----------
is_new = editing == "new"
current = None if is_new else get_meeting(sf, editing)
st.subheader("Новое собрание" if is_new else f"Собрание № {editing}")
today = dt.date.today()

if current is not None and current.count_closed:
    st.warning("Подсчёт голосов по этому собранию закрыт: изменения не сохранятся. Чтобы внести изменение, откройте "
               "подсчёт с указанием причины на странице «Итоги и протокол».", icon=":material/lock:")
c1, c2 = st.columns(2)
address = c1.text_input("Адрес дома", value="" if is_new else current.address, key="mf_address",
                        placeholder="г. Москва, ул. Садовая, д. 10")
c2a, c2b = c2.columns(2)
meeting_kind = c2a.selectbox("Вид собрания", KINDS, index=KINDS.index(current.kind) if current else 0, key="mf_kind")
form = c2b.selectbox("Форма собрания", FORMS, index=1 if is_new else FORMS.index(current.form), key="mf_form",
                     help="Очно-заочное: очное обсуждение в назначенные день, время и месте, затем приём решений "
                          "до даты окончания. Заочное проводится после очного собрания без кворума (ЖК РФ ст. 47 ч. 1).")
with st.container(border=True):
    st.markdown("**Инициатор собрания**")
    i1, i2 = st.columns([1, 2])
    kinds = list(INITIATOR_KINDS)
    initiator_kind = i1.radio("Кто созывает собрание", kinds, format_func=INITIATOR_KINDS.get, key="mf_init_kind",
                              index=kinds.index(current.initiator_kind) if current else 0)
    initiator = i2.text_input(
        "Инициатор собрания", value="" if is_new else current.initiator, key="mf_initiator",
        placeholder={"organisation": "ООО «УК Пример»", "owner": "Иванов Иван Иванович",
                     "group": "Собственники помещений дома (инициативная группа)"}[initiator_kind])
    ogrn = address_init = passport = ownership = group = ""
    if initiator_kind == "organisation":
        ogrn = i2.text_input("ОГРН", value=current.initiator_ogrn if current else "", key="mf_init_ogrn",
                             max_chars=19, placeholder="13 цифр (ОГРНИП — 15)")
        address_init = i2.text_input("Адрес организации", value=current.initiator_address if current else "",
                                     key="mf_init_address")
    elif initiator_kind == "owner":
        passport = i2.text_input("Паспортные данные (серия, номер, кем и когда выдан)", key="mf_init_passport",
                                 value=current.initiator_passport if current else "")
        ownership = i2.text_input("Документ о праве собственности (вид, номер, дата; помещение)",
                                  value=current.initiator_ownership_doc if current else "", key="mf_init_doc")
    else:
        group = i2.text_area("Собственники — инициаторы (ФИО, как в реестре; по одному в строке)",
                             value=current.initiator_group if current else "", key="mf_init_group", height=100,
                             help="Группа должна владеть не менее чем 10 % голосов (ЖК РФ ст. 45 ч. 2): доля "
                                  "проверяется по реестру при закрытии подсчёта.")
    initiator_details = i2.text_input("Прочие сведения об инициаторе (необязательно, например ИНН)",
                                      value="" if is_new else current.initiator_details, key="mf_initiator_details")
c1, c2 = st.columns(2)
start = c1.date_input("Начало голосования", value=today + dt.timedelta(days=11) if is_new else current.start_date,
                      format="DD.MM.YYYY", key="mf_start")
end = c2.date_input("Окончание приёма решений (последний день)",
                    value=today + dt.timedelta(days=40) if is_new else current.end_date, format="DD.MM.YYYY",
                    key="mf_end")
if isinstance(start, dt.date) and start - dt.timedelta(days=10) < today:
    st.warning(f"Сообщение о собрании нужно направить не позднее чем за 10 дней до начала голосования "
               f"(ЖК РФ ст. 45 ч. 4): для начала {start:%d.%m.%Y} — не позднее {start - dt.timedelta(days=10):%d.%m.%Y}.")
in_person_at, in_person_place = None, ""
if form == "очно-заочное":
    p1, p2, p3 = st.columns([1, 1, 3])
    default_day = current.in_person_at.date() if current and current.in_person_at else (
        start if isinstance(start, dt.date) else today)
    # not keyed: until the analyst picks another day, the discussion follows the start date
    day = p1.date_input("Очное обсуждение: дата", value=default_day, format="DD.MM.YYYY")
    hour = p2.time_input("Время", value=current.in_person_at.time() if current and current.in_person_at
                         else dt.time(19, 0), key="mf_in_person_time", step=dt.timedelta(minutes=15))
    in_person_place = p3.text_input("Место очного обсуждения", key="mf_in_person_place",
                                    value=current.in_person_place if current else "",
                                    placeholder="двор дома, у подъезда 1")
    if isinstance(day, dt.date) and hour is not None:
        in_person_at = dt.datetime.combine(day, hour)
ground_meeting_id, ground_text = (current.ground_meeting_id, current.ground_text) if current else (None, "")
if form == "заочное":
    earlier = [m for m in meetings if m.id != (None if is_new else editing)]
    options = [None, *[m.id for m in earlier]]
    labels = {m.id: f"№ {m.id}. {m.address}, {m.start_date:%d.%m.%Y} — {m.end_date:%d.%m.%Y}" for m in earlier}
    g1, g2 = st.columns(2)
    ground_meeting_id = g1.selectbox(
        "Основание заочного голосования: собрание без кворума (ЖК РФ ст. 47 ч. 1)", options,
        index=options.index(ground_meeting_id) if ground_meeting_id in options else 0, key="mf_ground_id",
        format_func=lambda x: "— не из Kvorum —" if x is None else labels[x])
    ground_text = g2.text_input("или опишите его (протокол № и дата очного собрания без кворума)",
                                value=ground_text, key="mf_ground_text")
decisions_place = st.text_area("Место или адрес приёма письменных решений", key="mf_decisions_place",
                               value="" if is_new else current.decisions_place, height=68)
materials_place = st.text_area("Где можно ознакомиться с материалами собрания", key="mf_materials_place",
                               value="" if is_new else current.materials_place, height=68)
archive_place = st.text_area("Место (адрес) хранения протокола и решений собственников", key="mf_archive_place",
                             value="" if is_new else current.archive_place, height=68,
                             help="Указывается в протоколе (Приказ Минстроя России № 266/пр).")
invited = st.text_area("Приглашённые лица: «ФИО, должность; кого представляет; цель участия», по одному в строке",
                       key="mf_invited", value="" if is_new else current.invited, height=68)
c1, c2 = st.columns(2)
gis_id = c1.text_input("Идентификатор собрания в ГИС ЖКХ (номер протокола)", key="mf_gis_id",
                       value="" if is_new else current.gis_id)
gis_posted = c2.date_input("Дата размещения сообщения в ГИС ЖКХ", key="mf_gis_posted",
                           value=None if is_new else current.gis_posted_on, format="DD.MM.YYYY")

st.markdown("#### Повестка дня")
with st.expander("Какое большинство нужно для вопроса? (ЖК РФ ст. 46 ч. 1)"):
    st.caption(LAW_EDITION)
    st.table([
        {"Большинство": k.label, "Правило": k.rule, "Пункты ст. 44 ч. 2": k.points, "Источник": k.source}
        for k in MAJORITY_KINDS.values()
    ])
    st.caption("Неверно выбранное большинство — частая причина признания решений собрания недействительными в суде.")

draft: list[dict] = st.session_state[DRAFT]
keys = list(MAJORITY_KINDS)
for i, q in enumerate(draft, start=1):
    with st.container(border=True):
        a, b, c = st.columns([6, 3, 1])
        q["text"] = a.text_area(f"Вопрос {i}", value=q["text"], key=f"mf_q_text_{q['id']}", height=80)
        q["majority"] = b.selectbox("Большинство", keys, index=keys.index(q["majority"]), key=f"mf_q_maj_{q['id']}",
                                    format_func=majority_label)
        kind = MAJORITY_KINDS[q["majority"]]
        b.caption(f"{kind.rule}. Применяется: {kind.points}.")
        q["proposal"] = a.text_area(
            "Предлагаемое решение (ПРЕДЛОЖЕНО)", value=q["proposal"], key=f"mf_q_prop_{q['id']}", height=80,
            help="Формулировка решения, за которое голосуют собственники. Если решение принято, протокол повторит "
                 "её в «РЕШИЛИ (ПОСТАНОВИЛИ)». Места «____» в типовом вопросе заполните.")
        q["speaker"] = a.text_input(
            "Докладчик (СЛУШАЛИ), необязательно", value=q["speaker"], key=f"mf_q_speaker_{q['id']}",
            max_chars=SPEAKER_MAX, placeholder="Например: Смирнова Е. В., представитель управляющей организации")
        if c.button("✕", key=f"mf_q_del_{q['id']}", help="Удалить вопрос"):
            st.session_state[DRAFT] = [x for x in draft if x["id"] != q["id"]]
            st.rerun()

a, b = st.columns([3, 1])
titles = [t.title for t in AGENDA_TEMPLATES]
chosen = a.selectbox("Типовой вопрос", titles, index=None, placeholder="Выберите типовой вопрос…",
                     key="mf_template", format_func=lambda t: f"{t} — {majority_label(next(x for x in AGENDA_TEMPLATES if x.title == t).majority)}")
if chosen:
    tpl = next(t for t in AGENDA_TEMPLATES if t.title == chosen)
    a.caption(f"Основание: {tpl.basis} (редакция на {tpl.edition}).")
if b.button("Добавить типовой", disabled=not chosen):
    tpl = next(t for t in AGENDA_TEMPLATES if t.title == chosen)
    draft.append(_question(_new_id(), tpl.text, tpl.majority, proposal=tpl.proposal))
    st.rerun()
if b.button("Добавить вопрос"):
    draft.append(_question(_new_id()))
    st.rerun()

change_reason = ""
if not is_new:
    given, earlier = notice_lock(sf, meeting_id=editing)
    if given:
        st.warning("Сообщения о собрании уже направлены собственникам. Даты, форма, очное обсуждение, место приёма "
                   "решений и повестка дня изменяются только с указанием причины: изменение записывается в журнал, "
                   "сообщения, направленные раньше, остаются сообщениями на прежних условиях, и всем собственникам "
                   "нужно направить сообщения повторно (не позднее чем за 10 дней до начала голосования)."
                   + (f" Условия уже изменялись: {len(earlier) - 1} раз(а)." if earlier else ""),
                   icon=":material/lock:")
        change_reason = st.text_area("Причина изменения условий собрания (если они меняются)", key="mf_change_reason",
                                     height=68)

data = MeetingData(
    address=address, initiator=initiator, start_date=start, end_date=end, form=form,
    initiator_details=initiator_details, decisions_place=decisions_place, materials_place=materials_place,
    gis_id=gis_id, gis_posted_on=gis_posted, kind=meeting_kind, initiator_kind=initiator_kind, initiator_ogrn=ogrn,
    initiator_address=address_init, initiator_passport=passport, initiator_ownership_doc=ownership,
    initiator_group=group, invited=invited, archive_place=archive_place, in_person_at=in_person_at,
    in_person_place=in_person_place, ground_meeting_id=ground_meeting_id, ground_text=ground_text,
    questions=[QuestionData(q["text"], q["majority"], q["materials"], proposal=q["proposal"], speaker=q["speaker"])
               for q in draft],
    change_reason=change_reason,
)
c1, c2, _ = st.columns([1, 1, 4])
if c1.button("Сохранить", type="primary"):
    try:
        if is_new:
            new_id = create_meeting(sf, data=data)
            state.audit("meeting_created", new_id)
            state.choose_meeting(new_id)
            state.flash("success", f"Собрание № {new_id} создано. Следующий шаг — реестр собственников.")
        else:
            changed = update_meeting(sf, meeting_id=editing, data=data, user=state.current_user().username)
            state.audit("meeting_updated", editing, what="условия сообщения изменены" if changed else "карточка",
                        count=len(changed))
            state.choose_meeting(editing)  # the stages page opened next shows this meeting
            if changed:
                state.flash("warning", f"Собрание № {editing} сохранено. Изменены условия, указанные в сообщении: "
                                       f"{'; '.join(changed)}. Сообщения, направленные раньше, содержат прежние условия: "
                                       "направьте сообщения всем собственникам повторно на странице «Уведомление "
                                       "собственников».")
            else:
                state.flash("success", f"Собрание № {editing} сохранено.")
    except DomainError as exc:
        st.error(exc.message)
        for line in exc.details:
            st.write(f"— {line}")
    else:
        st.session_state[EDITING] = None
        st.switch_page(state.PAGE_STAGES)
if c2.button("Отмена"):
    st.session_state[EDITING] = None
    st.rerun()
