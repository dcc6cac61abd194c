"""Spreadsheet exports, safe against formula injection.

Every cell is written with an explicit type: text goes in as a string cell, so a value that
starts with «=», «+», «-» or «@» (an owner's name typed by anyone) is shown, never evaluated.
Figures (Decimal, Fraction) are number cells rounded by services/figures.py.
"""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Sequence

import xlsxwriter

from services.figures import round2
from services.owner_fields import has_controls, strip_controls

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Votes, areas and percentages stay numbers (a sheet sums them), shown with two decimals at least
# and every stored digit of an area; a Russian spreadsheet writes them «2 236,50», as the pages do.
FIGURE_FORMAT = "#,##0.00##"


def xml_text(value: str) -> str:
    """Text a .docx/.xlsx can hold: without control characters (XML 1.0 has no place for them;
    python-docx refuses the text, and the document is not made). Imports clean them already; this
    is the last guard for text that came in another way."""
    return strip_controls(value) if has_controls(value) else value


def csv_safe(value: str) -> str:
    """For CSV, where there are no cell types: neutralise a leading formula character."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]) -> bytes:
    """Write sheets of (name, header, rows) to .xlsx bytes."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {
        "in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
    })
    bold = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#EEF2F7", "border": 1})
    date_fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    figure_fmt = wb.add_format({"num_format": FIGURE_FORMAT})
    dtime_fmt = wb.add_format({"num_format": "dd.mm.yyyy hh:mm"})
    for name, header, rows in sheets:
        ws = wb.add_worksheet(xml_text(name)[:31])
        widths = [len(str(h)) for h in header]
        for c, h in enumerate(header):
            ws.write_string(0, c, xml_text(str(h)), bold)
        r = 0
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    ws.write_string(r, c, "Да" if value else "Нет")
                elif isinstance(value, dt.datetime):
                    ws.write_datetime(r, c, value, dtime_fmt)
                elif isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                elif isinstance(value, Fraction):
                    # an exact figure (votes): the one rounding, never float's
                    ws.write_number(r, c, float(round2(value)), figure_fmt)
                elif isinstance(value, Decimal):
                    ws.write_number(r, c, float(value), figure_fmt)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, c, float(value))
                else:
                    text = value if value.__class__ is str else str(value)
                    ws.write_string(r, c, xml_text(text))
                    if c < len(widths):
                        widths[c] = max(widths[c], min(len(text), 60))
        for c, w in enumerate(widths):
            ws.set_column(c, c, min(max(w + 2, 8), 62))
        ws.freeze_panes(1, 0)
        if header:
            ws.autofilter(0, 0, max(r, 1), len(header) - 1)
    wb.close()
    return buf.getvalue()
