#!/usr/bin/env python3
"""Builds the default .docx templates in templates/ (docxtpl: Jinja tags inside a Word document).

A management company replaces those files with its own, made in Word with the same tags; this
script only recreates Kvorum's defaults: `.venv/bin/python tools/build_templates.py`.
"""
from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.text import WD_BREAK
from docx.shared import Mm, Pt

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _base() -> Document:
    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Mm(297), Mm(210)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(15)
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    return doc


def notice_paper() -> None:
    doc = _base()
    doc.add_paragraph("{%p for n in notices %}")
    title = doc.add_paragraph()
    title.alignment = 1
    title.add_run("СООБЩЕНИЕ\nо проведении общего собрания собственников помещений\nв многоквартирном доме").bold = True
    doc.add_paragraph("по адресу: {{ meeting.address }}").alignment = 1
    doc.add_paragraph("Собственнику: {{ n.owner.name }}, помещение № {{ n.owner.premise }} "
                      "(площадь {{ n.owner.area }} м², доля {{ n.owner.share }}, голосов {{ n.owner.votes }})")
    doc.add_paragraph("Инициатор собрания: {{ meeting.initiator }}{% if meeting.initiator_details %} "
                      "({{ meeting.initiator_details }}){% endif %}.")
    doc.add_paragraph("Вид собрания: {{ meeting.kind }}. Форма проведения: {{ meeting.form }} голосование. "
                      "Голосование проводится с {{ meeting.start_date }} по {{ meeting.end_date }}.")
    doc.add_paragraph("{%p if meeting.in_person %}")
    doc.add_paragraph("Очное обсуждение вопросов повестки дня: {{ meeting.in_person }}.")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Решения собственников принимаются до {{ meeting.end_date }} включительно"
                      "{% if meeting.decisions_place %} по адресу: {{ meeting.decisions_place }}{% endif %}.")
    doc.add_paragraph().add_run("Повестка дня:").bold = True
    doc.add_paragraph("{%p for q in meeting.questions %}")
    doc.add_paragraph("{{ q.number }}. {{ q.text }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("Ознакомиться с материалами: {% if meeting.materials_place %}{{ meeting.materials_place }}"
                      "{% else %}у инициатора собрания{% endif %}; на странице голосования {{ vote_url }}.")
    box = doc.add_table(rows=1, cols=2)
    box.style = "Table Grid"
    left, right = box.rows[0].cells
    left.paragraphs[0].add_run("Ваш персональный код доступа:").bold = True
    code = left.add_paragraph().add_run("{{ n.code }}")
    code.bold = True
    code.font.size = Pt(20)
    code.font.name = "Courier New"
    left.add_paragraph("Откройте {{ vote_url }} (или наведите камеру телефона на QR-код), введите код "
                       "и ответьте на вопросы. Код действует только для вашего помещения; новый код "
                       "отменяет прежний.")
    right.paragraphs[0].add_run("{{ n.qr }}")
    doc.add_paragraph("Можно также заполнить и сдать письменное решение (бюллетень) по адресу приёма решений.")
    doc.add_paragraph("{{ meeting.initiator }}")
    doc.add_paragraph("{%p if not loop.last %}")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("{%p endfor %}")
    doc.save(TEMPLATES / "notice_paper.docx")


def decision() -> None:
    """Решение собственника (бюллетень): filled with the owner's answers, or with empty boxes."""
    doc = _base()
    doc.add_paragraph("{%p for b in ballots %}")
    title = doc.add_paragraph()
    title.alignment = 1
    title.add_run("РЕШЕНИЕ СОБСТВЕННИКА ПОМЕЩЕНИЯ\nпо вопросам повестки дня общего собрания собственников "
                  "помещений в многоквартирном доме").bold = True
    doc.add_paragraph("по адресу: {{ meeting.address }}").alignment = 1
    doc.add_paragraph("Форма проведения: {{ meeting.form }} голосование; голосование с {{ meeting.start_date }} по "
                      "{{ meeting.end_date }}. Инициатор: {{ meeting.initiator }}.")
    info = doc.add_table(rows=0, cols=2)
    info.style = "Table Grid"
    for label, value in (
        ("Собственник (ФИО / наименование)", "{{ b.owner.name }}"),
        ("Помещение №", "{{ b.owner.premise }}"),
        ("Общая площадь помещения, м²", "{{ b.owner.area }}"),
        ("Доля в праве собственности", "{{ b.owner.share }}"),
        ("Количество голосов", "{{ b.owner.votes }}"),
        ("Документ о праве собственности (номер, дата)", "{{ b.owner.doc_number }}{% if b.owner.doc_date %} от {{ b.owner.doc_date }}{% endif %}"),
    ):
        cells = info.add_row().cells
        cells[0].text, cells[1].text = label, value
    # The owner's identification (ЖК РФ ст. 48 ч. 5.1: a person's СНИЛС since 01.09.2025; a legal
    # entity's ОГРН and who acts for it) and the representative (ст. 48 ч. 2): what is known is
    # printed, the rest is a line to fill in by hand.
    doc.add_paragraph("{%p if b.owner.legal_entity %}")
    doc.add_paragraph("ОГРН: {{ b.owner.ogrn or '______________________' }}")
    doc.add_paragraph("в лице (должность, ФИО): "
                      "{{ b.representative.in_person or '____________________________________________' }}")
    doc.add_paragraph("{%p else %}")
    doc.add_paragraph("СНИЛС: {{ b.owner.snils or '______________________' }}")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Представитель (при голосовании по доверенности): "
                      "ФИО {{ b.representative.name or '______________________' }}, "
                      "доверенность № {{ b.representative.poa_number or '__________' }} от "
                      "{{ b.representative.poa_date or '____________' }}, удостоверена "
                      "{{ b.representative.poa_certified_by or '______________________' }}")
    doc.add_paragraph("По каждому вопросу отметьте только один вариант: «За», «Против» или «Воздержался». "
                      "Вопрос без отметки или с несколькими отметками не учитывается (ЖК РФ ст. 48 ч. 6).")
    table = doc.add_table(rows=4, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("№", "Вопрос повестки дня", "За", "Против", "Воздержался")):
        cell.paragraphs[0].add_run(text).bold = True
    table.rows[1].cells[0].text = "{%tr for q in b.questions %}"
    for cell, text in zip(table.rows[2].cells, ("{{ q.number }}", "{{ q.text }}", "{{ q.for_box }}",
                                                "{{ q.against_box }}", "{{ q.abstain_box }}")):
        cell.text = text
    # the wording voted on, under the question (Приказ № 44/пр: the decision form gives each proposal)
    for line in ("{%p if q.proposal %}", "Предложено: {{ q.proposal }}", "{%p endif %}"):
        table.rows[2].cells[1].add_paragraph(line)
    table.rows[3].cells[0].text = "{%tr endfor %}"
    table.autofit = False
    for column, width in zip(table.columns, (Mm(10), Mm(92), Mm(20), Mm(22), Mm(26))):
        column.width = width  # the grid: LibreOffice reads this, Word the cells
    for row in table.rows:
        for cell, width in zip(row.cells, (Mm(10), Mm(92), Mm(20), Mm(22), Mm(26))):
            cell.width = width
        for cell in row.cells[2:]:
            for p in cell.paragraphs:
                p.alignment = 1
    doc.add_paragraph("{% if b.fingerprint %}Ответы внесены собственником на странице голосования с персональным "
                      "кодом {{ b.submitted }}; отпечаток печати решения: {{ b.fingerprint }}.{% endif %}")
    doc.add_paragraph("Решение необходимо передать до {{ meeting.end_date }} включительно{% if meeting.decisions_place %}"
                      " по адресу: {{ meeting.decisions_place }}{% endif %}. Решение, полученное позже, не учитывается.")
    doc.add_paragraph()
    doc.add_paragraph("{%p if b.owner.joint %}")
    doc.add_paragraph("Помещение в совместной собственности: решение подписывает любой из совместных собственников "
                      "(ГК РФ ст. 253 ч. 2).")
    doc.add_paragraph("{%p for signer in b.owner.signers %}")
    doc.add_paragraph("Подпись ({{ signer }}): ______________________ / ______________________ /")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p else %}")
    doc.add_paragraph("Подпись собственника (представителя): ______________________ / ______________________ /")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Дата заполнения: «____» ______________ 20____ г.")
    doc.add_paragraph("{%p if not loop.last %}")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("{%p endfor %}")
    doc.save(TEMPLATES / "decision.docx")


def protocol() -> None:
    """Протокол ОСС (Приказ Минстроя России от 30.04.2025 № 266/пр, keeping the list of details of
    № 44/пр п. 12–22): name, number and date, place, kind, form, dates and place of the meeting, the
    initiator with identity details, the invited, chair, secretary and counters, votes and quorum,
    per question СЛУШАЛИ / ПРЕДЛОЖЕНО / РЕШИЛИ (ПОСТАНОВИЛИ), where the documents are kept, the
    numbered attachments and dated signatures. A draft («ПРОЕКТ») until the count is closed."""
    doc = _base()
    doc.add_paragraph("{%p if draft %}")
    mark = doc.add_paragraph()
    mark.alignment = 1
    run = mark.add_run("ПРОЕКТ")
    run.bold = True
    run.font.size = Pt(20)
    doc.add_paragraph("Подсчёт голосов не закрыт: документ не является протоколом общего собрания, цифры могут "
                      "измениться. Номер и дата присваиваются при закрытии подсчёта.").alignment = 1
    doc.add_paragraph("{%p endif %}")
    head = doc.add_paragraph()
    head.alignment = 1
    head.add_run("ПРОТОКОЛ № {% if number %}{{ number }}{% else %}____{% endif %}\n{{ kind_genitive }} общего "
                 "собрания собственников помещений в многоквартирном доме,\n"
                 "расположенном по адресу: {{ address }},\nпроведённого в форме {{ form_genitive }} голосования").bold = True
    row = doc.add_table(rows=1, cols=2)
    row.rows[0].cells[0].text = "{{ place }}"
    row.rows[0].cells[1].text = "{{ date }}"
    row.rows[0].cells[1].paragraphs[0].alignment = 2
    doc.add_paragraph("{%p if revision > 1 %}")
    doc.add_paragraph("Редакция {{ revision }} протокола (изменён после закрытия подсчёта; причина: "
                      "{{ revision_reason }}). Предыдущие редакции сохранены.")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Вид общего собрания: {{ kind }}. Форма проведения: {{ form }} голосование.")
    doc.add_paragraph("{%p if in_person %}")
    doc.add_paragraph("Дата, время и место очного обсуждения вопросов повестки дня: {{ in_person }}.")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Период голосования: с {{ start_date }} по {{ end_date }}. Дата окончания приёма решений "
                      "собственников: {{ end_date }}.{% if decisions_place %} Место (адрес) приёма решений: "
                      "{{ decisions_place }}.{% endif %}")
    doc.add_paragraph("{%p if ground %}")
    doc.add_paragraph("{{ ground }}")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("{%p if gis_posted_on %}")
    doc.add_paragraph("Сообщение о проведении общего собрания размещено в ГИС ЖКХ {{ gis_posted_on }}.")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Инициатор общего собрания: {{ initiator }}{% if initiator_kind %} ({{ initiator_kind }})"
                      "{% endif %}{% if initiator_details %}; {{ initiator_details }}{% endif %}.")
    doc.add_paragraph("{%p if invited %}")
    doc.add_paragraph("Лица, приглашённые для участия в общем собрании:")
    doc.add_paragraph("{%p for i in invited %}")
    doc.add_paragraph("— {{ i }}{% if loop.last %}.{% else %};{% endif %}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p else %}")
    doc.add_paragraph("Лица, приглашённые для участия в общем собрании: отсутствуют.")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("Председатель общего собрания: {{ chair }}{% if not chair.endswith('.') %}.{% endif %}")
    doc.add_paragraph("Секретарь общего собрания: {{ secretary }}{% if not secretary.endswith('.') %}.{% endif %}")
    doc.add_paragraph("{% if counters %}Лица, проводившие подсчёт голосов: {{ counters | join(', ') }}"
                      "{% if not (counters | last).endswith('.') %}.{% endif %}{% else %}Счётная комиссия не "
                      "избиралась; подсчёт голосов проведён инициатором общего собрания.{% endif %}")
    doc.add_paragraph("Общее количество голосов собственников помещений в многоквартирном доме: {{ all_votes }} "
                      "(1 голос = 1 м² общей площади помещения){% if passport_area %}; по техническому паспорту "
                      "{{ passport_area }} м², по реестру собственников {{ registry_area }} м²{% endif %}."
                      "{% if unregistered_area %} Разница {{ unregistered_area }} м² приходится на помещения, "
                      "собственники которых не внесены в реестр: их голоса входят в общее количество голосов и не "
                      "входят в число голосов участников.{% endif %}")
    doc.add_paragraph("Количество голосов собственников, принявших участие в голосовании: {{ participants }} "
                      "({{ participation }} % от общего количества голосов; собственников: {{ participants_records }}). "
                      "{{ quorum }}")
    doc.add_paragraph().add_run("Повестка дня:").bold = True
    doc.add_paragraph("{%p for q in questions %}")
    doc.add_paragraph("{{ q.number }}. {{ q.text }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph().add_run("Результаты голосования по вопросам повестки дня:").bold = True
    doc.add_paragraph("{%p for q in questions %}")
    doc.add_paragraph().add_run("По вопросу № {{ q.number }}: {{ q.text }}").bold = True
    doc.add_paragraph("{%p if q.speaker %}")  # «СЛУШАЛИ» only when someone reported
    heard = doc.add_paragraph()
    heard.add_run("СЛУШАЛИ: ").bold = True
    heard.add_run("{{ q.speaker }}{% if not q.speaker.endswith('.') %}.{% endif %}")
    doc.add_paragraph("{%p endif %}")
    proposed = doc.add_paragraph()
    proposed.add_run("ПРЕДЛОЖЕНО: ").bold = True
    proposed.add_run("{{ q.proposal }}")
    doc.add_paragraph("Проголосовали: «за» — {{ q.for.votes }} голосов ({{ q.for.of_participants }} % от числа "
                      "проголосовавших, {{ q.for.of_all }} % от общего числа голосов); «против» — "
                      "{{ q.against.votes }} ({{ q.against.of_participants }} %, {{ q.against.of_all }} %); "
                      "«воздержались» — {{ q.abstain.votes }} ({{ q.abstain.of_participants }} %, "
                      "{{ q.abstain.of_all }} %); недействительные — {{ q.invalid }}.")
    doc.add_paragraph("Необходимое большинство: {{ q.majority }} ({{ q.majority_rule }}). {{ q.decision }}.")
    decided = doc.add_paragraph()
    decided.add_run("РЕШИЛИ (ПОСТАНОВИЛИ): ").bold = True
    decided.add_run("{{ q.resolution }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph().add_run("Сводная таблица результатов").bold = True
    table = doc.add_table(rows=4, cols=6)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("№", "За, голосов (% участников / % всех)",
                                                "Против", "Воздержались", "Большинство", "Решение")):
        cell.paragraphs[0].add_run(text).bold = True
    table.rows[1].cells[0].text = "{%tr for q in questions %}"
    for cell, text in zip(table.rows[2].cells, (
            "{{ q.number }}", "{{ q.for.votes }} ({{ q.for.of_participants }} / {{ q.for.of_all }})",
            "{{ q.against.votes }} ({{ q.against.of_participants }} / {{ q.against.of_all }})",
            "{{ q.abstain.votes }} ({{ q.abstain.of_participants }} / {{ q.abstain.of_all }})",
            "{{ q.majority }}", "{{ q.decision }}")):
        cell.text = text
    table.rows[3].cells[0].text = "{%tr endfor %}"
    table.autofit = False
    widths = (Mm(9), Mm(36), Mm(32), Mm(32), Mm(33), Mm(28))
    for column, width in zip(table.columns, widths):
        column.width = width  # the grid: LibreOffice reads this, Word the cells
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width
    doc.add_paragraph()
    doc.add_paragraph("Место (адрес) хранения протокола и решений собственников: {{ archive_place or '____________________' }}"
                      "{% if not (archive_place or '_').endswith('.') %}.{% endif %} Подлинники решений и протокола "
                      "направляются в орган государственного жилищного надзора (ЖК РФ ст. 46 ч. 1.1).")
    doc.add_paragraph().add_run("Приложения:").bold = True
    doc.add_paragraph("{%p for a in attachments %}")
    doc.add_paragraph("{{ a.number }}. {{ a.title }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph()
    doc.add_paragraph("Председатель общего собрания: ______________ / {{ chair }} / «___» ________ 20__ г.")
    doc.add_paragraph("Секретарь общего собрания: ______________ / {{ secretary }} / «___» ________ 20__ г.")
    doc.add_paragraph("{%p for c in counters %}")
    doc.add_paragraph("Лицо, проводившее подсчёт голосов: ______________ / {{ c }} / «___» ________ 20__ г.")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p if initiator_signs %}")
    doc.add_paragraph("Инициатор общего собрания (подсчёт голосов): ______________ / {{ initiator }} / "
                      "«___» ________ 20__ г.")
    doc.add_paragraph("{%p endif %}")
    doc.save(TEMPLATES / "protocol.docx")


if __name__ == "__main__":
    TEMPLATES.mkdir(exist_ok=True)
    notice_paper()
    decision()
    protocol()
    print("templates/notice_paper.docx, templates/decision.docx, templates/protocol.docx")
