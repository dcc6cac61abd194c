"""One rounding (DOMAIN.md rule 8): votes = area × share kept exact, rounded once to the hundredth
half up, written the Russian way — the same figure the protocol prints, for any area and share.

The expected figures are worked out here by whole-number arithmetic, independently of Decimal and
Babel: hundredths = ⌊exact × 100 + 1/2⌋, then «thousands<NBSP>…,hundredths»."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.figures import (
    format_area,
    format_percent,
    format_votes,
    percent2,
    record_votes,
    round2,
    ru_number,
)
from services.models import OwnerRecord, Premise
from services.tally import percent2 as protocol_percent2
from services.tally import votes2 as protocol_votes2

NBSP = "\u00a0"


def half_up_text(exact: Fraction) -> str:
    """The protocol's figure written by hand: two decimals half up, «1 234,56»."""
    hundredths = (exact * 100 + Fraction(1, 2)).__floor__()
    whole, cents = divmod(hundredths, 100)
    return f"{whole:,}".replace(",", NBSP) + f",{cents:02d}"


# (area in m², share, exact votes, as shown): the ties and near-ties that floats and half-even get wrong
CASES = [
    ("10.01", "1/2", Fraction(1001, 200), "5,01"),  # 5.005: float says 5.00
    ("1.01", "1/2", Fraction(101, 200), "0,51"),  # 0.505
    ("2.01", "1/2", Fraction(201, 200), "1,01"),  # 1.005: float says 1.00
    ("5.35", "1/2", Fraction(107, 40), "2,68"),  # 2.675: float says 2.67
    ("0.25", "1/2", Fraction(1, 8), "0,13"),  # 0.125: half-even says 0,12
    ("10.05", "1/2", Fraction(201, 40), "5,03"),  # 5.025: half-even says 5,02
    ("40", "1/2", Fraction(20), "20,00"),
    ("40", "1/3", Fraction(40, 3), "13,33"),
    ("40", "2/3", Fraction(80, 3), "26,67"),
    ("50.5", "1/2", Fraction(101, 4), "25,25"),
    ("33.3", "1/7", Fraction(333, 70), "4,76"),
    ("100.01", "3/8", Fraction(30003, 800), "37,50"),  # 37.50375
    ("0.01", "1/2", Fraction(1, 200), "0,01"),  # 0.005, the smallest tie
    ("0.0001", "1/3", Fraction(1, 30000), "0,00"),
    ("2236.5", "1", Fraction(4473, 2), f"2{NBSP}236,50"),
    ("4472.99", "1/2", Fraction(447299, 200), f"2{NBSP}236,50"),  # 2236.495
    ("9053.1", "1", Fraction(90531, 10), f"9{NBSP}053,10"),
    ("999999.9999", "1", Fraction(9999999999, 10000), f"1{NBSP}000{NBSP}000,00"),
    ("12345.6789", "5/9", Fraction(13717421, 2000), f"6{NBSP}858,71"),  # 6858.7105
]


@pytest.mark.parametrize("area, share, exact, shown", CASES)
def test_votes_are_area_times_share_exact_and_shown_half_up_as_the_protocol_prints_them(area, share, exact, shown):
    votes = record_votes(Decimal(area), Fraction(share))
    assert votes == exact
    assert format_votes(votes) == shown == half_up_text(exact)
    # the protocol's own rounding gives the same figure, written the same way
    assert ru_number(protocol_votes2(votes)) == shown
    assert round2(votes) == protocol_votes2(votes) == Decimal(shown.replace(NBSP, "").replace(",", "."))


@pytest.mark.parametrize("area, share, exact, shown", CASES)
def test_an_owner_records_votes_are_the_same_exact_figure(area, share, exact, shown):
    owner = OwnerRecord(share_num=Fraction(share).numerator, share_den=Fraction(share).denominator,
                        premise=Premise(area=Decimal(area)))
    assert owner.votes == exact
    assert format_votes(owner.votes) == shown


@given(area_units=st.integers(min_value=1, max_value=10**10 - 1), num=st.integers(min_value=1, max_value=1000),
       extra=st.integers(min_value=0, max_value=1000))
def test_any_area_and_share_shows_the_protocols_half_up_figure(area_units, num, extra):
    area = Decimal(area_units) / 10_000  # areas are kept to 1/10000 m²
    share = Fraction(num, num + extra)
    votes = record_votes(area, share)
    assert format_votes(votes) == half_up_text(votes) == ru_number(protocol_votes2(votes))


@pytest.mark.parametrize("share, shown", [
    (Fraction(117, 200), f"58,50{NBSP}%"),
    (Fraction(529648, 905310), f"58,50{NBSP}%"),  # DOMAIN.md: 5 296,48 of 9 053,1 votes
    (Fraction(2, 3), f"66,67{NBSP}%"),
    (Fraction(1, 2), f"50,00{NBSP}%"),
    (Fraction(1), f"100,00{NBSP}%"),
    (Fraction(0), f"0,00{NBSP}%"),
    (Fraction(1, 80000), f"0,00{NBSP}%"),  # 0.00125 %
    (Fraction(1, 20000), f"0,01{NBSP}%"),  # 0.005 %: a tie, up
])
def test_percentages_round_half_up_and_keep_the_sign_on_the_line(share, shown):
    assert format_percent(share) == shown
    assert format_percent(share, sign=False) == shown.removesuffix(f"{NBSP}%")
    assert percent2(share) == protocol_percent2(share)


@pytest.mark.parametrize("area, rounded, exact", [
    (Decimal("50"), f"50,00{NBSP}м²", f"50,00{NBSP}м²"),
    (Decimal("10.01"), f"10,01{NBSP}м²", f"10,01{NBSP}м²"),
    (Decimal("10.005"), f"10,01{NBSP}м²", f"10,005{NBSP}м²"),
    (Decimal("10.0125"), f"10,01{NBSP}м²", f"10,0125{NBSP}м²"),
    (Decimal("2236.5"), f"2{NBSP}236,50{NBSP}м²", f"2{NBSP}236,50{NBSP}м²"),
    (Fraction(45271, 2), f"22{NBSP}635,50{NBSP}м²", f"22{NBSP}635,50{NBSP}м²"),
])
def test_areas_are_written_like_votes_and_exactly_where_they_are_edited(area, rounded, exact):
    assert format_area(area) == rounded
    assert format_area(area, exact=True) == exact
    assert format_area(area, unit=False) == rounded.removesuffix(f"{NBSP}м²")
