"""Figures as the law counts them and as people read them: one computation, one rounding, one format.

Votes of an owner record are the premise's area × the owner's share, kept exact (DOMAIN.md rule 8,
ЖК РФ ст. 48 ч. 3). They are rounded once, to the hundredth, half up, only when shown — on every
page, document, export, e-mail and command — so a figure reads the same everywhere: 10.01 m² × 1/2
is 5.005 and shows as «5,01» on the ballot, the vote page and in the protocol alike. Readers get
the Russian way of writing numbers: a decimal comma and a no-break space between thousands
(«2 236,50», «58,50 %»), by Babel's CLDR data for ru_RU; machine outputs (JSON, spreadsheet
cells) keep numbers, rounded by the same `round2`.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from babel import Locale
from babel.numbers import parse_pattern

LOCALE = Locale.parse("ru_RU")
HUNDREDTH = Decimal("0.01")
# Patterns compiled once: babel.numbers.format_decimal parses its pattern on every call, 4× the
# cost of applying it, and a registry table formats an area per row.
TWO_PLACES = parse_pattern("#,##0.00")  # thousands grouped, exactly two decimals
AREA_PLACES = parse_pattern("#,##0.00##")  # an area as stored: two decimals at least, up to 1/10000 m²
WHOLE = parse_pattern("#,##0")  # a count: «199 000»
PERCENT_SIGN = "\u00a0%"  # a no-break space holds the sign to its number
SQUARE_METRES = "\u00a0м²"

Number = Fraction | Decimal | int


def record_votes(area: Decimal | Fraction | int, share: Fraction) -> Fraction:
    """Голоса собственника: the premise's area × the owner's share, exact (ЖК РФ ст. 48 ч. 3)."""
    return Fraction(area) * share


def round2(value: Number) -> Decimal:
    """A figure rounded to the hundredth, half up, from its exact value: the one rounding of
    votes, areas and percentages (5.005 → 5.01, never 5.00 as a float or half-even would give)."""
    value = Fraction(value)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(HUNDREDTH, ROUND_HALF_UP)


def percent2(share: Number) -> Decimal:
    """A part of a whole (0..1) in percent, rounded like votes: Fraction(117, 200) → 58.50."""
    return round2(Fraction(share) * 100)


def ru_number(value: Number) -> str:
    """«2 236,50»: rounded by `round2`, with a decimal comma and no-break spaces between thousands."""
    return TWO_PLACES.apply(round2(value), LOCALE)


def format_count(value: int) -> str:
    """A count for people: «199 000» (no-break spaces between thousands)."""
    return WHOLE.apply(int(value), LOCALE)


def plural(value: int, one: str, few: str, many: str) -> str:
    """The word that goes with a count, by CLDR's Russian plural rules (Babel): 1 собственник,
    2 собственника, 5 собственников, 21 собственник."""
    form = LOCALE.plural_form(abs(int(value)))
    return one if form == "one" else few if form == "few" else many


def count_of(value: int, one: str, few: str, many: str) -> str:
    """«48 собственников», «1 помещение», «1 234 решения»: the count and its word."""
    return f"{format_count(value)} {plural(value, one, few, many)}"


def format_votes(value: Number) -> str:
    """Votes for people: «5,01», «2 236,50»."""
    return ru_number(value)


def format_percent(share: Number, *, sign: bool = True) -> str:
    """A part of a whole (0..1) for people: «58,50 %» (`sign=False`: «58,50», for a template that
    writes the sign itself)."""
    text = ru_number(percent2(share))
    return text + PERCENT_SIGN if sign else text


def format_area(area: Number, *, unit: bool = True, exact: bool = False) -> str:
    """An area for people: «1 234,50 м²». `exact` keeps the digits stored up to 1/10000 m² («10,0125
    м²») where the text is edited and read back, so showing an area never changes it."""
    if exact:
        if isinstance(area, Fraction):  # an area summed or read exactly: its decimal digits, all of them
            area = Decimal(area.numerator) / Decimal(area.denominator)
        text = AREA_PLACES.apply(Decimal(area), LOCALE)
    else:
        text = ru_number(area)
    return text + SQUARE_METRES if unit else text


def company_zone():
    """The company's time zone (KVORUM_TIME_ZONE, default Europe/Moscow): times are stored in UTC."""
    import os
    from zoneinfo import ZoneInfo

    return ZoneInfo(os.environ.get("KVORUM_TIME_ZONE", "Europe/Moscow"))


def format_local(value, *, seconds: bool = False, zone: bool = False) -> str:
    """A stored UTC time as people read it: «01.12.2026 09:44» in the company's time zone (Babel).
    `seconds` for the journal («09:44:05»); `zone` where the text leaves the company — an owner's
    receipt, a document — and names the zone: «01.12.2026 12:44 (Москва, стандартное время)»."""
    import datetime as dt

    from babel.dates import format_datetime

    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    pattern = "dd.MM.yyyy HH:mm" + (":ss" if seconds else "") + (" (zzzz)" if zone else "")
    return format_datetime(value, pattern, tzinfo=company_zone(), locale=LOCALE)


def local_day_start(day):
    """The stored (UTC, naive) time at which a day of the company's calendar begins: a filter «from
    01.12.2026» shown in local times must start at local midnight, not at UTC's."""
    import datetime as dt

    start = dt.datetime.combine(day, dt.time(), tzinfo=company_zone())
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


def chart_locale() -> dict:
    """Vega's number and time locale (d3-format, d3-time-format) for ru_RU, from Babel's CLDR data: chart
    axes read «1 400», «2 236,5» and Russian month and day names, as the pages write figures."""
    from babel.dates import get_day_names, get_month_names

    symbols = LOCALE.number_symbols["latn"]
    week = [6, 0, 1, 2, 3, 4, 5]  # d3 starts the week on Sunday, Babel numbers Monday 0
    return {
        "number": {"decimal": symbols["decimal"], "thousands": symbols["group"], "grouping": [3],
                   "currency": ["", "\u00a0₽"], "minus": "−", "percent": PERCENT_SIGN},
        "time": {"dateTime": "%d.%m.%Y %H:%M:%S", "date": "%d.%m.%Y", "time": "%H:%M:%S", "periods": ["", ""],
                 "days": [get_day_names("wide", "stand-alone", LOCALE)[d] for d in week],
                 "shortDays": [get_day_names("abbreviated", "stand-alone", LOCALE)[d] for d in week],
                 "months": [get_month_names("wide", "stand-alone", LOCALE)[m] for m in range(1, 13)],
                 "shortMonths": [get_month_names("abbreviated", "stand-alone", LOCALE)[m] for m in range(1, 13)]},
    }

