"""Issue 17: Kvorum's own ballots read back from scans — found by their QR code (a forged, foreign or
outdated one refused), marks read, doubtful pages sent to review, bad files told in Russian, the
batch stored, confirmed pages registered as sealed paper decisions with the images' hashes, counted
once — on SQLite and PostgreSQL, with real PDF/TIFF/JPEG files made by the generator.

The building (tests/integration/test_closing.py): flats 1 (Андреев), 2 (Борисова), 3 (Власов and
Власова, 1/2 each); two questions; voting ended two days before TODAY."""
from __future__ import annotations

import dataclasses
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from services.ballot_sheet import ballots_pdf, parse_token, sheets_pdf
from services.models import Decision, OwnerRecord, ScanBatch, ScanPage
from services.scan_batches import batch_pages, batches, confirm_page, dismiss_page, read_scans, register_batch
from services.scan_reader import owner_sheets
from services.tally import live_tally
from services.voting import _agenda, _ballots, owner_ids_of, verify_decisions
from tests.integration.test_closing import END, KEY, TODAY, details, meeting_with_registry, owners

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import scangen  # noqa: E402

DPI = 150


def sheets(session_factory, mid, secret_key=KEY):
    """(the PDF of every owner's blank sheet, [(owner id, layout page)] in its page order)."""
    ids = owner_ids_of(session_factory, meeting_id=mid)
    layouts = owner_sheets(session_factory, meeting_id=mid)
    with session_factory() as s:
        order = [i for i, _b in _ballots(s, mid, ids)]
    pdf = ballots_pdf(session_factory, secret_key=secret_key, meeting_id=mid, owner_ids=ids)
    return pdf, [(oid, page) for oid in order for page in layouts[oid].pages]


def marked(pdf, meta, choices, *, kind="scanner", seed=1, signed=True):
    """The stack marked with `choices` (owner id -> {question number: [options]}) and scanned."""
    rng = np.random.default_rng(seed)
    out = []
    for img, (owner_id, page) in zip(scangen.render_pdf_pages(pdf, DPI), meta):
        img, truth = scangen.mark_page(img, page, DPI, rng, choices=choices.get(owner_id, {}), signed=signed,
                                       owner_id=owner_id, styles="cross")
        if kind == "scanner":
            img = scangen.degrade_scan(img, rng, dpi=DPI, rotation=float(rng.uniform(-4, 4)), quality=75)
        out.append((img, truth))
    return out


def write(tmp_path, images, name="сканы.pdf"):
    path = tmp_path / name
    scangen.write_pdf(images, path, dpi=DPI, quality=80)
    return [(str(path), name)]


@pytest.fixture
def meeting(session_factory):
    return meeting_with_registry(session_factory)


CHOICES_FOR = {1: ["for"], 2: ["against"]}


def test_a_scanned_stack_is_read_exactly_and_nothing_is_stored_on_a_dry_run(session_factory, meeting, tmp_path):
    pdf, meta = sheets(session_factory, meeting)
    o = owners(session_factory, meeting)
    choices = {o["Андреев"]: CHOICES_FOR, o["Борисова"]: {1: ["abstain"], 2: []},
               o["Власов"]: {1: ["for", "against"], 2: ["for"]}}
    stack = marked(pdf, meta, choices)
    stack[0] = (np.ascontiguousarray(np.rot90(stack[0][0], 2)), stack[0][1])  # one page upside down
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=write(tmp_path, [i for i, _t in stack]),
                        user="t", dry_run=True, workers=0)
    assert report.batch_id is None and report.pages == len(meta)
    reads = {(r.owner_id, r.sheet): r for r in report.items}
    for img, truth in stack:
        r = reads[(truth.owner_id, truth.page)]
        assert r.answers == truth.answers, (truth.owner_id, r.reasons)
        if r.signed is not None:
            assert r.signed is True
    assert reads[(o["Борисова"], 1)].answers == {1: "abstain", 2: "blank"}
    assert reads[(o["Власов"], 1)].answers[1] == "invalid"
    assert all(r.status == "accepted" for r in report.items), [r.reasons for r in report.items]
    with session_factory() as s:
        assert s.scalar(select(ScanBatch.id)) is None and s.scalar(select(ScanPage.id)) is None


def test_tiff_and_jpeg_files_are_read_too(session_factory, meeting, tmp_path):
    pdf, meta = sheets(session_factory, meeting)
    o = owners(session_factory, meeting)
    stack = marked(pdf, meta, {oid: CHOICES_FOR for oid in o.values()})
    tiff = scangen.write_tiff([i for i, _t in stack[:2]], tmp_path / "stack.tif")
    jpegs = scangen.write_jpegs([i for i, _t in stack[2:]], tmp_path, prefix="photo")
    files = [(str(tiff), "stack.tif")] + [(str(p), p.name) for p in jpegs]
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=files, user="t", dry_run=True,
                        workers=0)
    assert report.pages == len(meta) and not report.file_errors
    assert {r.file for r in report.items} == {name for _p, name in files}
    for r in report.items:
        if r.sheet == 1:
            assert r.answers == {1: "for", 2: "against"}


def test_forged_foreign_and_outdated_sheets_go_to_manual_entry(session_factory, meeting, tmp_path):
    from services.meetings import create_meeting, update_meeting

    o = owners(session_factory, meeting)
    other = create_meeting(session_factory, data=details(address="г. Тверь, ул. Другая, д. 9"))
    from services.registry import import_registry
    from tests.integration.test_closing import REGISTRY

    import_registry(session_factory, meeting_id=other, data=REGISTRY, filename="реестр.csv", replace=True)
    forged_pdf, forged_meta = sheets(session_factory, meeting, secret_key="not-this-instance-key-0123456789")
    foreign_pdf, foreign_meta = sheets(session_factory, other)
    own_pdf, own_meta = sheets(session_factory, meeting)
    pages = (marked(forged_pdf, forged_meta, {})[:1] + marked(foreign_pdf, foreign_meta, {})[:1]
             + marked(own_pdf, own_meta, {})[:1])
    blank = np.full_like(pages[0][0], 255)  # a page without any code
    # the agenda edited after the sheets were printed: question 1's text is longer now
    data = details()
    data = dataclasses.replace(data, questions=[dataclasses.replace(data.questions[0], text="Выбор совета дома " * 30),
                                                data.questions[1]])
    update_meeting(session_factory, meeting_id=meeting, data=data)
    images = [i for i, _t in pages] + [blank]
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=write(tmp_path, images),
                        user="t", dry_run=True, workers=0)
    by_page = {r.page: r for r in report.items}
    assert by_page[1].status == "manual" and "Код бланка не подтверждён" in by_page[1].reasons[0]
    assert by_page[1].owner_id is None
    assert by_page[2].status == "manual" and f"другого собрания (№ {other})" in by_page[2].reasons[0]
    assert by_page[3].status == "manual" and "до изменения повестки" in by_page[3].reasons[0]
    assert by_page[4].status == "manual" and "QR-код бланка Kvorum не найден" in by_page[4].reasons[0]
    assert all(not r.answers for r in report.items)
    assert o  # the meeting's owners were there all along


def test_a_token_is_bound_to_its_key_and_fields():
    from services.ballot_sheet import SheetPage, make_token, token_valid

    page = SheetPage(1, 2, [], [], digest="ABCD")
    token = make_token("key-1", 5, 77, page)
    parsed = parse_token(token.text())
    assert parsed == token and token_valid("key-1", parsed)
    assert not token_valid("key-2", parsed)
    for changed in (dataclasses.replace(parsed, owner_id=78), dataclasses.replace(parsed, meeting_id=6),
                    dataclasses.replace(parsed, page=2), dataclasses.replace(parsed, digest="ABCE")):
        assert not token_valid("key-1", changed)
    for text in ("", "hello", "KV1:1:2:3", "KV1:a:b:1:1:ABCD:0123456789", "KV1:1:2:3:2:ABCD:0123456789"):
        assert parse_token(text) is None


def test_bad_files_are_told_in_russian_and_the_batch_goes_on(session_factory, meeting, tmp_path):
    from reportlab.pdfgen import canvas

    pdf, meta = sheets(session_factory, meeting)
    good = write(tmp_path, [i for i, _t in marked(pdf, meta, {})[:1]], "хороший.pdf")
    text = tmp_path / "реестр.xlsx"
    text.write_bytes(b"PK\x03\x04 not a scan")
    locked = tmp_path / "пароль.pdf"
    c = canvas.Canvas(str(locked), encrypt="secret")
    c.drawString(100, 100, "x")
    c.save()
    broken = tmp_path / "обрыв.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj\n<<")
    bomb = tmp_path / "огромный.png"
    import zlib
    import struct

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    huge = tmp_path / "архив.pdf"  # more pages than one file may hold: refused whole, told why
    c = canvas.Canvas(str(huge))
    for _ in range(1001):
        c.showPage()
    c.save()
    files = good + [(str(text), text.name), (str(locked), locked.name), (str(broken), broken.name),
                    (str(bomb), bomb.name), (str(huge), huge.name)]
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=files, user="t", workers=0)
    messages = "\n".join(report.file_errors)
    assert "реестр.xlsx: не изображение и не PDF" in messages
    assert "пароль.pdf: PDF защищён паролем" in messages
    assert "обрыв.pdf: файл PDF повреждён" in messages
    assert "огромный.png: изображение слишком велико" in messages
    assert "архив.pdf: 1\xa0001 страница — больше 1\xa0000 в одном файле; разделите файл." in messages
    assert report.pages == 2  # the good page, and the picture too big to read (a page in review)
    pages = batch_pages(session_factory, meeting_id=meeting, batch_id=report.batch_id)
    assert {p.file_name for p in pages} == {"хороший.pdf", "огромный.png"}
    assert [b.status for b in batches(session_factory, meeting_id=meeting)] == ["read"]


def test_a_batch_is_reviewed_registered_sealed_with_its_scans_and_counted_once(session_factory, meeting, tmp_path):
    pdf, meta = sheets(session_factory, meeting)
    o = owners(session_factory, meeting)
    andreev, borisova, vlasov = o["Андреев"], o["Борисова"], o["Власов"]
    choices = {andreev: CHOICES_FOR, borisova: {1: ["abstain"], 2: ["for"]}, vlasov: CHOICES_FOR}
    stack = marked(pdf, meta, choices)
    by_owner = {}
    for img, truth in stack:
        by_owner.setdefault(truth.owner_id, []).append(img)
    # Борисова's sheet unsigned: it waits for review; Власова's sheet is not in the stack
    rng = np.random.default_rng(5)
    unsigned = []
    for img, (owner_id, page) in zip(scangen.render_pdf_pages(pdf, DPI), meta):
        if owner_id == borisova:
            unsigned.append(scangen.mark_page(img, page, DPI, rng, choices=choices[borisova], signed=False,
                                              styles="tick")[0])
    images = by_owner[andreev] + unsigned + by_owner[vlasov]
    files = write(tmp_path, images)
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=files, user="анна", workers=0)
    assert report.batch_id and report.pages == len(images)
    queue = batch_pages(session_factory, meeting_id=meeting, batch_id=report.batch_id,
                        statuses=("review", "manual", "error"))
    assert [p.owner_id for p in queue] == [borisova]
    assert any("Нет подписи" in r for r in queue[0].reasons)

    # the first registration: Андреев and Власов (whole, signed sheets); Борисова waits
    result = register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report.batch_id,
                            received_on=END, user="анна", today=TODAY)
    assert (result.registered, result.counted) == (2, 2)
    assert any("Борисова" in w and "ждёт проверки" in w for w in result.waiting)
    again = register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report.batch_id,
                           received_on=END, user="анна", today=TODAY)
    assert again.registered == 0  # a second click registers nothing twice

    # the analyst looks at Борисова's sheet: the signature is there after all on paper? No — set aside
    page = queue[0]
    with pytest.raises(Exception, match="Не выбрана отметка"):
        confirm_page(session_factory, meeting_id=meeting, page_id=page.id, answers={1: "abstain"}, signed=True,
                     user="анна")
    confirm_page(session_factory, meeting_id=meeting, page_id=page.id, answers={1: "abstain", 2: "for"},
                 signed=True, user="анна")
    result = register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report.batch_id,
                            received_on=END, user="анна", today=TODAY)
    assert (result.registered, result.counted, result.waiting) == (1, 1, [])

    with session_factory() as s:
        decisions = s.scalars(select(Decision).where(Decision.meeting_id == meeting)).all()
        assert sorted(d.owner_id for d in decisions) == sorted([andreev, borisova, vlasov])
        for d in decisions:
            content = json.loads(d.canonical)
            stored = s.scalars(select(ScanPage).where(ScanPage.decision_id == d.id)).all()
            assert content["scans"] == [{"sheet": p.sheet, "sha256": p.image_sha256} for p in stored]
            assert stored and all(p.status == "registered" for p in stored)
            assert d.kind == "paper" and d.source.startswith("скан: сканы.pdf, стр.")
    assert verify_decisions(session_factory, secret_key=KEY, meeting_id=meeting).problems == []
    tally = live_tally(session_factory, meeting_id=meeting)
    assert (tally.participants, tally.participant_records) == (100, 3)  # 40 + 40 + Власов's half of 40

    # a scan's image swapped in the database: the seal check says so
    with session_factory.begin() as s:
        s.execute(update(ScanPage).where(ScanPage.batch_id == report.batch_id, ScanPage.owner_id == andreev)
                  .values(image_sha256="0" * 64))
    problems = verify_decisions(session_factory, secret_key=KEY, meeting_id=meeting).problems
    assert any("сканы бланка" in p for p in problems), problems


def test_a_second_scanned_ballot_of_an_owner_is_a_conflict_and_rereading_skips_stored_pages(
        session_factory, meeting, tmp_path):
    pdf, meta = sheets(session_factory, meeting)
    o = owners(session_factory, meeting)
    stack = marked(pdf, meta, {o["Андреев"]: CHOICES_FOR})
    first = [img for img, t in stack if t.owner_id == o["Андреев"]]
    files = write(tmp_path, first, "первый.pdf")
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=files, user="t", workers=0)
    assert register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report.batch_id,
                          received_on=END, user="t", today=TODAY).counted == 1
    # the same file uploaded again: nothing is read twice
    again = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=files, user="t", workers=0)
    assert (again.pages, again.skipped) == (0, len(first))
    # another scan of the same sheet (rescanned): a second decision of the owner, kept as a conflict
    rescan = marked(pdf, meta, {o["Андреев"]: {1: ["against"], 2: ["against"]}}, seed=9)
    second = [img for img, t in rescan if t.owner_id == o["Андреев"]]
    report2 = read_scans(session_factory, secret_key=KEY, meeting_id=meeting,
                         files=write(tmp_path, second, "второй.pdf"), user="t", workers=0)
    result = register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report2.batch_id,
                            received_on=END, user="t", today=TODAY)
    assert (result.registered, result.counted, result.conflicts) == (1, 0, 1)


def test_a_dismissed_page_is_never_registered_and_a_future_date_is_refused(session_factory, meeting, tmp_path):
    import datetime as dt

    from services.errors import ValidationError

    pdf, meta = sheets(session_factory, meeting)
    o = owners(session_factory, meeting)
    stack = marked(pdf, meta, {o["Андреев"]: CHOICES_FOR}, signed=False)
    images = [img for img, t in stack if t.owner_id == o["Андреев"]]
    report = read_scans(session_factory, secret_key=KEY, meeting_id=meeting, files=write(tmp_path, images),
                        user="t", workers=0)
    [page] = batch_pages(session_factory, meeting_id=meeting, batch_id=report.batch_id, statuses=("review",))
    dismiss_page(session_factory, meeting_id=meeting, page_id=page.id, user="t")
    with pytest.raises(ValidationError, match="позже сегодняшней"):
        register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report.batch_id,
                       received_on=TODAY + dt.timedelta(days=1), user="t", today=TODAY)
    result = register_batch(session_factory, secret_key=KEY, meeting_id=meeting, batch_id=report.batch_id,
                            received_on=END, user="t", today=TODAY)
    assert result.registered == 0
    with session_factory() as s:
        assert s.scalar(select(Decision.id).where(Decision.meeting_id == meeting)) is None
