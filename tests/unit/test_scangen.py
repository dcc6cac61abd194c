"""The generator of marked and scanned paper decisions (tests/scangen.py, issue 17) draws what its
Truth says: ink in the chosen boxes and nowhere near the others, a signature when signed, pages
turned when upside down, and files a reader opens."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scangen  # noqa: E402
from services.ballot_sheet import OPTIONS, layout, sheets_pdf  # noqa: E402
from services.documents import Ballot, BallotOwner  # noqa: E402

DPI = 150
MEETING = {"address": "г. Тверь, ул. Садовая, д. 5", "form": "очно-заочное", "start_date": "1 марта 2025 г.",
           "end_date": "20 марта 2025 г.", "initiator": "ТСЖ «Садовая, 5»", "decisions_place": ""}
QUESTIONS = tuple(SimpleNamespace(id=100 + n, number=n, text=f"Об утверждении вопроса № {n} повестки дня",
                                  proposal="Утвердить") for n in range(1, 5))
CHOICES = {1: ["for"], 2: ["against"], 3: ["abstain"], 4: []}


@pytest.fixture(scope="module")
def sheet():
    owner = BallotOwner(name="Петров Пётр Петрович", snils="", premise="7", area="48,2", share="1", votes="48,2",
                        doc_number="69-69/001", doc_date="02.02.2019", signers=["Петров П. П."])
    ballot = Ballot(owner=owner, answers={})
    pdf = sheets_pdf(secret_key="k", meeting_id=3, meeting=MEETING, questions=QUESTIONS, ballots=[(11, ballot)])
    pages = layout(MEETING, ballot, QUESTIONS)
    [clean] = scangen.render_pdf_pages(pdf, DPI)
    return pdf, pages, clean


def _around(img, box) -> tuple[int, int, int, int]:
    """The box with 5.5 mm to either side and 3 mm above and below: where its own marks go, short of
    the neighbouring rows' circles (rows are 14 mm apart)."""
    x0, _y0, x1, _y1 = scangen.box_px(img, box, -5.5)
    _x0, y0, _x1, y1 = scangen.box_px(img, box, -3.0)
    return x0, y0, x1, y1


def _ink(marked, clean, rect) -> int:
    """Pixels the pen changed inside rect (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = rect
    diff = np.abs(marked[y0:y1, x0:x1].astype(int) - clean[y0:y1, x0:x1].astype(int)).max(axis=2)
    return int((diff > 40).sum())


def test_a_page_renders_at_the_asked_resolution(sheet):
    pdf, pages, clean = sheet
    assert len(pages) == 1 and pages[0].signatures
    assert clean.dtype == np.uint8 and clean.shape[2] == 3
    assert abs(clean.shape[1] - 210 / 25.4 * DPI) < 2 and abs(clean.shape[0] - 297 / 25.4 * DPI) < 2


@pytest.mark.parametrize("style", scangen.MARK_STYLES)
def test_the_chosen_boxes_hold_ink_and_the_others_none(sheet, style):
    _pdf, [page], clean = sheet
    for seed in range(3):
        marked, truth = scangen.mark_page(clean, page, DPI, np.random.default_rng(seed), choices=CHOICES,
                                          styles=style, signed=False)
        assert truth.answers == {1: "for", 2: "against", 3: "abstain", 4: "blank"}
        assert not truth.sloppy and not truth.signed
        for q in page.questions:
            for option in OPTIONS:
                box = q.boxes[option]
                around = _ink(marked, clean, _around(clean, box))
                inside = _ink(marked, clean, scangen.box_px(clean, box, 1.0))  # inside the printed line
                if option in CHOICES[q.number]:
                    if style == "circle":  # drawn around the box, not in it
                        assert around > 40 and inside == 0, (seed, q.number, option)
                    else:
                        assert inside > 15, (seed, q.number, option, inside)
                else:
                    assert around == 0, (seed, q.number, option, around)


def test_random_marks_and_signature_follow_the_truth(sheet):
    _pdf, [page], clean = sheet
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(6):
        marked, truth = scangen.mark_page(clean, page, DPI, rng, signed=True)
        assert truth.signed and truth.signers_signed == [0]
        assert _ink(marked, clean, scangen.box_px(clean, page.signatures[0], 0)) > 50
        for q in page.questions:
            assert truth.answers[q.number] in (*OPTIONS, "blank", "invalid")
            seen.update(truth.styles[q.number])
        unsigned, t2 = scangen.mark_page(clean, page, DPI, rng, signed=False, choices={})
        assert not t2.signed and _ink(unsigned, clean, (0, 0, clean.shape[1], clean.shape[0])) == 0
    assert len(seen) >= 3


def test_sloppy_marks_are_flagged(sheet):
    _pdf, [page], clean = sheet
    marked, truth = scangen.mark_page(clean, page, DPI, np.random.default_rng(1), choices=CHOICES, sloppy_rate=1.0)
    assert truth.sloppy and set(truth.sloppy_kinds) == {1, 2, 3}
    assert set(truth.sloppy_kinds.values()) <= set(scangen.SLOPPY_KINDS)
    for n, kind in truth.sloppy_kinds.items():
        assert truth.answers[n] == ("invalid" if kind == "straddle" else CHOICES[n][0])
    assert truth.answers[4] == "blank"
    assert not np.array_equal(marked, clean)


def test_a_scan_is_a_plausible_page_and_upside_down_turns_it(sheet):
    _pdf, [page], clean = sheet
    marked, _truth = scangen.mark_page(clean, page, DPI, np.random.default_rng(2), choices=CHOICES)
    info = {}
    scan = scangen.degrade_scan(marked, np.random.default_rng(3), dpi=DPI, info=info)
    h, w = marked.shape[:2]
    assert scan.dtype == np.uint8 and scan.shape[2] == 3
    assert h <= scan.shape[0] <= h * 1.15 and w <= scan.shape[1] <= w * 1.25
    assert 40 <= info["quality"] <= 90 and abs(info["rotation"]) <= 5

    gray = cv2.cvtColor(marked, cv2.COLOR_BGR2GRAY).astype(np.float32)
    small = cv2.resize(gray, (w // 8, h // 8), interpolation=cv2.INTER_AREA)

    def score(img):  # correlation with the page as printed
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        g = cv2.resize(g, (w, h))
        g = cv2.resize(g, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
        return float(np.corrcoef(g.ravel(), small.ravel())[0, 1])
    upright = scangen.degrade_scan(marked, np.random.default_rng(4), dpi=DPI, rotation=0, upside_down=False)
    turned = scangen.degrade_scan(marked, np.random.default_rng(4), dpi=DPI, rotation=0, upside_down=True)
    assert score(upright) > 0.8 and score(turned) < 0.5
    assert score(cv2.rotate(turned, cv2.ROTATE_180)) > 0.8


def test_a_phone_photo_is_a_plausible_frame(sheet):
    _pdf, [page], clean = sheet
    marked, _truth = scangen.mark_page(clean, page, DPI, np.random.default_rng(5), choices=CHOICES)
    info = {}
    photo = scangen.degrade_phone(marked, np.random.default_rng(6), info=info, long_side=2000)
    assert photo.shape == (2000, 1500, 3) and photo.dtype == np.uint8
    assert 50 <= info["quality"] <= 90
    corners = np.array(info["corners"])
    assert (corners >= 0).all() and (corners[:, 0] < 1500).all() and (corners[:, 1] < 2000).all()
    # the page is lighter than the background around it
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    inside = cv2.fillConvexPoly(np.zeros_like(gray), corners.astype(np.int32), 1).astype(bool)
    assert gray[inside].mean() > gray[~inside].mean() + 40


def test_a_stack_is_written_as_pdf_tiff_and_jpegs(sheet, tmp_path):
    import pypdfium2 as pdfium

    pdf, pages, _clean = sheet
    meta = [(11, p) for p in pages] * 1
    stack = scangen.make_stack(pdf + b"", meta, dpi=DPI, kind="scanner", seed=1)
    clean_stack = scangen.make_stack(pdf, meta, dpi=DPI, kind="clean", seed=1)
    assert len(stack) == len(clean_stack) == 1
    img, truth = stack[0]
    assert truth.owner_id == 11 and truth.page == 1 and truth.pages == 1 and truth.degradation["kind"] == "scanner"
    assert clean_stack[0][1].answers == truth.answers  # one seed, one set of marks
    images = [img, stack[0][0][::-1, ::-1].copy(), clean_stack[0][0]]

    out = scangen.write_pdf(images, tmp_path / "scan.pdf", dpi=DPI)
    doc = pdfium.PdfDocument(str(out))
    assert len(doc) == 3
    w, h = doc[0].get_size()
    assert abs(w - img.shape[1] * 72 / DPI) < 1 and abs(h - img.shape[0] * 72 / DPI) < 1
    doc.close()
    back = scangen.render_pdf_pages(out.read_bytes(), DPI)
    assert len(back) == 3 and abs(back[0].shape[0] - img.shape[0]) <= 2

    ok, tiff = cv2.imreadmulti(str(scangen.write_tiff(images, tmp_path / "scan.tiff")))
    assert ok and len(tiff) == 3 and tiff[0].shape == img.shape

    paths = scangen.write_jpegs(images, tmp_path / "photos", quality=80)
    assert [p.name for p in paths] == ["page-001.jpg", "page-002.jpg", "page-003.jpg"]
    assert cv2.imread(str(paths[2])).shape == images[2].shape
