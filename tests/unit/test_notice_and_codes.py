"""Access codes, the notice's content and its safety as an e-mail, owner search/sort/filter."""
from __future__ import annotations

import datetime as dt
import math
import re
from email import policy
from email.parser import BytesParser

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.codes import ALPHABET, CODE_LENGTH, format_code, generate_code, hash_code, load_or_create_secret_key, normalize_code
from services.notice import (
    MeetingView,
    NoticeError,
    NoticeRenderer,
    QuestionView,
    build_message,
    check_email,
    header_safe,
    owner_view,
    sender_address,
)
from services.notify import SORT_DATE, SORT_NAME, SORT_PREMISE, filter_owners, notice_deadline

MEETING = MeetingView(
    id=1, address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК»", initiator_details="ОГРН 1027700000000",
    form="заочное", start_date=dt.date(2026, 12, 10), end_date=dt.date(2026, 12, 30),
    decisions_place="ул. Ленина, д. 1, офис 2", materials_place="сайт uk.example",
    gis_id="", questions=(QuestionView(1, "Выбор совета дома"), QuestionView(2, "Капитальный ремонт крыши")),
)


def test_a_code_has_at_least_fifty_bits_and_reads_back():
    code = generate_code()
    raw = code.replace("-", "")
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert set(raw) <= set(ALPHABET) and CODE_LENGTH * math.log2(len(ALPHABET)) >= 50
    assert normalize_code(code.lower()) == raw == normalize_code(" ".join(raw))


def test_codes_do_not_repeat():
    assert len({generate_code() for _ in range(5000)}) == 5000


@pytest.mark.parametrize("typed", ["", "1234", "<script>alert(1)</script>", "x" * 100_000, "7KQ3-M9XD-2PWU",
                                   "7KQ3-M9XD-2PW", "7KQ3\nM9XD\x002PWA", None])
def test_garbage_is_not_a_code(typed):
    assert normalize_code(typed) is None


@given(st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH))
def test_any_code_matches_itself_in_any_case_and_grouping(raw):
    assert hash_code("k", format_code(raw).lower()) == hash_code("k", raw) == hash_code("k", f" {raw[:6]} {raw[6:]} ")


def test_the_hash_depends_on_the_secret_key():
    assert hash_code("a", "7KQ3-M9XD-2PWA") != hash_code("b", "7KQ3-M9XD-2PWA")
    assert "7KQ3" not in hash_code("a", "7KQ3-M9XD-2PWA").upper()


def test_a_generated_secret_key_is_kept_with_owner_only_permissions(tmp_path):
    key = load_or_create_secret_key(None, tmp_path)
    assert load_or_create_secret_key(None, tmp_path) == key and len(key) >= 40
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret_key("configured", tmp_path) == "configured"


def render(owner_name="Иванов Иван Иванович", meeting=MEETING, code="7KQ3-M9XD-2PWA"):
    from fractions import Fraction
    from decimal import Decimal

    owner = owner_view(name=owner_name, premise="12а", area=Decimal("50.5"), share=Fraction(1, 2))
    return NoticeRenderer().render(meeting=meeting, owner=owner, code=code, public_url="https://kvorum.example/")


def test_the_notice_holds_everything_article_45_part_5_requires():
    text = render().text
    for needed in ("ООО «УК»", "ОГРН 1027700000000", "заочное голосование", "с 10.12.2026 по 30.12.2026",
                   "до 30.12.2026", "ул. Ленина, д. 1, офис 2", "1. Выбор совета дома", "2. Капитальный ремонт крыши",
                   "сайт uk.example", "Помещение № 12а", "доля 1/2", "площадь 50,50 м²", "количество голосов 25,25", "7KQ3-M9XD-2PWA",
                   "https://kvorum.example/vote"):
        assert needed in text, needed


def test_user_text_is_escaped_in_the_html_part():
    nasty = "<script>alert('x')</script> Иванов"
    meeting = MeetingView(**{**MEETING.__dict__, "questions": (QuestionView(1, "<b>жирный</b> & <img src=x>"),)})
    html = render(owner_name=nasty, meeting=meeting).html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x>" not in html and "&lt;b&gt;жирный&lt;/b&gt; &amp;" in html


def test_the_message_is_utf8_multipart_with_a_russian_subject_and_sender():
    msg = build_message(rendered=render(), to=["owner@example.ru"], sender=sender_address(None, "ООО «УК Пример»"))
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert parsed["Subject"] == "Сообщение о проведении общего собрания собственников помещений: г. Тверь, ул. Ленина, д. 5"
    assert parsed["From"].addresses[0].display_name == "ООО «УК Пример»"
    assert parsed.get_content_type() == "multipart/alternative"
    assert "7KQ3-M9XD-2PWA" in parsed.get_body(("plain",)).get_content()
    assert all(len(line) <= 998 for line in msg.as_bytes().split(b"\r\n"))


@pytest.mark.parametrize("address", ["a@b.ru\r\nBcc: victim@x.ru", "a@b.ru\nX: y", "Иван <a@b.ru>", "a b@c.ru",
                                     "noat.example.ru", "a@b", ""])
def test_an_unsafe_address_is_refused_with_a_reason(address):
    with pytest.raises(NoticeError, match="адрес"):
        check_email(address)


def test_a_name_or_address_with_a_line_break_cannot_add_a_header():
    meeting = MeetingView(**{**MEETING.__dict__, "address": "ул. Ленина\r\nBcc: victim@example.com"})
    msg = build_message(rendered=render(meeting=meeting), to=["owner@example.ru"],
                        sender=sender_address("Спам\r\nBcc: x@y.ru <uk@uk.example>", "УК"))
    head = msg.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in head
    assert BytesParser(policy=policy.default).parsebytes(msg.as_bytes())["Bcc"] is None
    assert header_safe("a\r\nb\x00c\u2028d") == "a b c d"


def test_the_last_day_to_notify_is_ten_days_before_the_start():
    d = notice_deadline(dt.date(2026, 12, 10), today=dt.date(2026, 11, 25))
    assert d.last_day == dt.date(2026, 11, 30) and d.days_left == 5 and not d.passed
    assert notice_deadline(dt.date(2026, 12, 10), today=dt.date(2026, 12, 1)).passed


def index_of(rows):
    from services.owner_fields import name_key, text_key
    from services.registry import natural_key

    df = pd.DataFrame(rows, columns=["id", "premise", "name", "last_notice"])
    df["last_notice"] = pd.to_datetime(df["last_notice"])
    order = sorted(set(df["premise"]), key=natural_key)
    df["premise_rank"] = [order.index(p) for p in df["premise"]]
    df["name_key"] = [name_key(n) for n in df["name"]]
    df["search_key"] = [f"{name_key(n)}\x00{text_key(p)}" for n, p in zip(df["name"], df["premise"])]
    return df


OWNERS = index_of([
    (1, "10", "Фёдоров Пётр", "2026-11-20"),
    (2, "2", "Алексеева Анна", None),
    (3, "12а", "Борисов Борис", "2026-11-21"),
    (4, "Н-1", "ООО «Ёлка»", None),
    (5, "12", "Власова Вера", "2026-11-19"),
])


@pytest.mark.parametrize("search, expected", [
    ("федоров", {1}), ("ФЁДОРОВ", {1}), ("елка", {4}), ("12а", {3}), ("12", {3, 5}), ("н-1", {4}), ("", {1, 2, 3, 4, 5}),
    ("нет такого", set()),
])
def test_search_finds_by_name_or_premise_ignoring_case_and_yo(search, expected):
    assert set(filter_owners(OWNERS, search=search)["id"]) == expected


def test_premises_sort_in_natural_order():
    assert list(filter_owners(OWNERS, sort=SORT_PREMISE, descending=False)["premise"]) == ["2", "10", "12", "12а", "Н-1"]


def test_sort_by_date_keeps_the_never_notified_last_both_ways():
    assert list(filter_owners(OWNERS, sort=SORT_DATE, descending=True)["id"])[:3] == [3, 1, 5]
    assert list(filter_owners(OWNERS, sort=SORT_DATE, descending=False)["id"])[:3] == [5, 1, 3]
    assert set(filter_owners(OWNERS, sort=SORT_DATE)["id"].iloc[3:]) == {2, 4}


def test_sort_by_name_and_filter_unnotified():
    assert list(filter_owners(OWNERS, sort=SORT_NAME, descending=False)["id"]) == [2, 3, 5, 4, 1]
    assert set(filter_owners(OWNERS, only_unnotified=True)["id"]) == {2, 4}
