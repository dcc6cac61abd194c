"""Активность: participation at a glance — statuses, growth against the quorum, each question."""
from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from services.meetings import get_meeting
from services.results import VERDICT_COLUMNS, activity_xlsx, live_activity_figures, no_quorum_note, verdict_rows
from services.figures import chart_locale, count_of, format_percent, format_votes, round2
from services.tally import live_tally
from ui import state

REFRESH_SECONDS = 10
VOTES_TEXT = "Голосов (текст)"  # a chart's figure as people read it, for its tooltip
RU = chart_locale()  # axes read «1 400» and «2 236,5», as the pages write figures

state.require_staff()
sf = state.session_factory()
meeting_id = state.require_meeting()
meeting = get_meeting(sf, meeting_id)

state.back_to_stages()
st.title("Активность")
st.caption(f"{state.md(meeting.address)} · голосование {meeting.start_date:%d.%m.%Y} — {meeting.end_date:%d.%m.%Y}")
today = dt.date.today()
voting_open = meeting.start_date <= today <= meeting.end_date
# each column as wide as its header; «Вопрос» takes the rest and shows the text's beginning
VERDICT_WIDTHS = {"№": st.column_config.NumberColumn(width=40), "Вопрос": st.column_config.TextColumn(width=250),
                  "Решение": st.column_config.TextColumn(width=95),
                  "«За», % по правилу": st.column_config.TextColumn(width=150),
                  "Требуется": st.column_config.TextColumn(width=205),
                  "За, голосов": st.column_config.TextColumn(width=100),
                  "Против, голосов": st.column_config.TextColumn(width=125)}
ANSWER_COLORS = alt.Scale(domain=["За", "Против", "Воздержался", "Недействительно"],
                          range=["#2e7d32", "#c62828", "#f9a825", "#9e9e9e"])


def render() -> None:
    t = live_tally(sf, meeting_id=meeting_id)
    figures = live_activity_figures(sf, meeting_id=meeting_id)
    a, b, c = st.columns(3)
    # the deltas are explanations, not changes: an arrow would read as growth («↑ 0.00 голосов»)
    a.metric("Приняли участие (учтённые решения)", f"{format_votes(t.participants)} голосов",
             f"{format_percent(t.participation)} от {format_votes(t.all_votes)}", delta_color="off", delta_arrow="off")
    if t.quorum:
        b.metric("Кворум", "есть", "более 50 % всех голосов", delta_color="normal", delta_arrow="off")
    else:
        b.metric("До кворума", f"более {format_votes(t.votes_to_quorum)} голосов", "нужно более 50 % всех голосов",
                 delta_color="off", delta_arrow="off")
    c.metric("Заполнено онлайн, решение не сдано",
             count_of(t.online_records, "собственник", "собственника", "собственников"),
             f"{format_votes(t.online_votes)} голосов", delta_color="off", delta_arrow="off")
    st.progress(min(float(t.participation) / 0.5, 1.0),
                text=f"Участие {format_percent(t.participation)} — кворум начинается с более чем 50 %")

    # the bars stand on numbers rounded as everywhere; the tooltips show the figures as written elsewhere
    frame = pd.DataFrame([{"Статус": x.status, "Собственников": x.owners, "Голосов": float(round2(x.votes)),
                           VOTES_TEXT: format_votes(x.votes)} for x in figures])
    left, right = st.columns(2)
    for column, where in (("Собственников", left), ("Голосов", right)):
        # owners are counted in whole numbers; the longest status must not be cut («Заполнили онла…»)
        x_axis = alt.Axis(tickMinStep=1, format="d") if column == "Собственников" else alt.Axis()
        chart = alt.Chart(frame).mark_bar().encode(
            x=alt.X(f"{column}:Q", title=f"{column.lower()}", axis=x_axis),
            y=alt.Y("Статус:N", sort=list(frame["Статус"]), title=None, axis=alt.Axis(labelLimit=250)),
            color=alt.Color("Статус:N", legend=None, scale=alt.Scale(scheme="tableau10")),
            tooltip=["Статус", "Собственников", alt.Tooltip(f"{VOTES_TEXT}:N", title="Голосов")],
        ).properties(title=f"По {'числу собственников' if column == 'Собственников' else 'голосам (м²)'}",
                     height=220)
        where.altair_chart(chart.configure(locale=RU), width="stretch")

    st.subheader("Участие по дням")
    if t.by_day:
        days = pd.DataFrame({"Дата": [pd.Timestamp(d) for d, _v in t.by_day],
                             "Голосов участников": [float(round2(v)) for _d, v in t.by_day],
                             VOTES_TEXT: [format_votes(v) for _d, v in t.by_day]})
        # step-after: the running total changes only on days decisions came in; a slope between two such
        # days would show the quorum crossed on a day nobody voted
        line = alt.Chart(days).mark_line(point=True, interpolate="step-after").encode(
            x=alt.X("Дата:T", title=None, axis=alt.Axis(format="%d.%m", tickCount="day")),
            y=alt.Y("Голосов участников:Q", title="Голосов участников",
                    scale=alt.Scale(domain=[0, float(round2(t.all_votes))])),
            tooltip=[alt.Tooltip("Дата:T", format="%d.%m.%Y"),
                     alt.Tooltip(f"{VOTES_TEXT}:N", title="Голосов участников")])
        # the rule on the line's own field: a field of its own added «, Кворум» to the shared axis title
        rule = alt.Chart(pd.DataFrame({"Голосов участников": [float(round2(t.all_votes / 2))],
                                       VOTES_TEXT: [format_votes(t.all_votes / 2)]})).mark_rule(
            color="#c62828", strokeDash=[6, 4]).encode(
            y="Голосов участников:Q", tooltip=[alt.Tooltip(f"{VOTES_TEXT}:N", title="Половина всех голосов")])
        st.altair_chart((line + rule).configure(locale=RU), width="stretch")
        st.caption("Красная линия — половина всех голосов: кворум есть, когда участие выше неё.")
    else:
        st.info("Учтённых решений пока нет.")

    st.subheader("Текущие итоги по вопросам")
    rows = []
    for q in t.questions:
        for key, label in (("for", "За"), ("against", "Против"), ("abstain", "Воздержался"), ("invalid", "Недействительно")):
            rows.append({"Вопрос": f"{q.number}", "Ответ": label, "Голосов": float(round2(q.votes[key])),
                         VOTES_TEXT: format_votes(q.votes[key]),
                         "Решение": "принято" if q.adopted else "не принято"})
    answers = pd.DataFrame(rows)
    if not answers.empty:
        bars = alt.Chart(answers).mark_bar().encode(
            y=alt.Y("Вопрос:N", title="Вопрос №", sort=[str(q.number) for q in t.questions]),
            x=alt.X("Голосов:Q", stack="zero", scale=alt.Scale(domain=[0, float(round2(t.all_votes))])),
            color=alt.Color("Ответ:N", scale=ANSWER_COLORS),
            tooltip=["Вопрос", "Ответ", alt.Tooltip(f"{VOTES_TEXT}:N", title="Голосов"), "Решение"])
        st.altair_chart(bars.configure(locale=RU), width="stretch")
        if note := no_quorum_note(t):
            st.caption(note)
        # the verdict next to the percentage its majority is measured against (services/results.py)
        # no horizontal scroll at 1440 px: abstentions and invalid votes are in the chart above and the .xlsx
        st.dataframe(pd.DataFrame(verdict_rows(t), columns=VERDICT_COLUMNS), hide_index=True, width="stretch",
                     column_order=VERDICT_COLUMNS[:7], column_config=VERDICT_WIDTHS)
    st.download_button("Скачать показатели (.xlsx)", data=lambda: activity_xlsx(sf, meeting_id=meeting_id, tally=t),
                       file_name=f"активность_ОСС_{meeting_id}.xlsx", icon=":material/download:",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key=f"activity_xlsx_{t.participant_records}")
    if voting_open:
        st.caption(f"Обновляется автоматически каждые {REFRESH_SECONDS} с, пока идёт голосование.")


def refreshing() -> None:
    state.guard_fragment()
    render()


if voting_open:
    st.fragment(run_every=REFRESH_SECONDS)(refreshing)()
else:
    render()
