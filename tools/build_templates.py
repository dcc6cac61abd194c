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
    doc.add_paragraph("Форма проведения: {{ meeting.form }} голосование. Голосование проводится с "
                      "{{ meeting.start_date }} по {{ meeting.end_date }}.")
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
        ("СНИЛС (для физического лица)", "{{ b.owner.snils }}"),
        ("Помещение №", "{{ b.owner.premise }}"),
        ("Общая площадь помещения, м²", "{{ b.owner.area }}"),
        ("Доля в праве собственности", "{{ b.owner.share }}"),
        ("Количество голосов", "{{ b.owner.votes }}"),
        ("Документ о праве собственности (номер, дата)", "{{ b.owner.doc_number }}{% if b.owner.doc_date %} от {{ b.owner.doc_date }}{% endif %}"),
    ):
        cells = info.add_row().cells
        cells[0].text, cells[1].text = label, value
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
    doc.add_paragraph("Подпись собственника (представителя): ______________________ / ______________________ /")
    doc.add_paragraph("Дата заполнения: «____» ______________ 20____ г.")
    doc.add_paragraph("{%p if not loop.last %}")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("{%p endfor %}")
    doc.save(TEMPLATES / "decision.docx")


if __name__ == "__main__":
    TEMPLATES.mkdir(exist_ok=True)
    notice_paper()
    decision()
    print("templates/notice_paper.docx, templates/decision.docx")
