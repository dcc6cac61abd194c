"""Reading scanned paper decisions (issue 17): one page image in, the owner record and the marks out.

A page is found by its QR code (zxing-cpp, any rotation), placed on the sheet's layout first by the
code's corners and then exactly by the four corner marks (OpenCV), and each answer box is measured:
the share of ink inside the box (a tick, a cross, a fill) and in a ring around it (a circled box).
Every measure falls in one of three bands — clearly empty, clearly marked, or doubtful — and a page
is accepted without a person only when no measure on it is doubtful, the signature box holds ink
and the marks were found: whatever is not clear goes to review, so no mark is ever taken silently
on a guess. A question with no mark or with several is invalid for that question (ЖК РФ ст. 48 ч. 6).

Files: PDF (rendered with pypdfium2), TIFF (multi-page), JPEG, PNG, BMP, WebP. Work is per page, so a
batch reads in a process pool (`read_files`); a bad file or page becomes a Russian message and the
batch goes on.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from services.ballot_sheet import (BOX, MARK, MARK_CENTERS, OPTIONS, PAGE_H, PAGE_W, QR_LEFT, QR_MODULE, QR_TOP,
                                   SheetPage, Token, parse_token, token_valid)

PX = 6.0  # pixels per millimetre of the straightened page (about 152 dpi)
MAX_PAGES = 1000  # per file
MAX_PIXELS = 80_000_000  # per page image: a larger one is refused, not decoded
RENDER_LONG_SIDE = 2200  # a PDF page is rendered to this many pixels on its long side (A4: ~190 dpi)
WORK_LONG_SIDE = 2400  # a larger photo is scaled down to this before reading

# the bands (shares of ink); between «empty» and «marked» a box is doubtful and goes to review
INNER_EMPTY, INNER_MARKED = 0.012, 0.035
RING_EMPTY, RING_MARKED = 0.012, 0.05
FAINT_MARKED = 0.12  # a light pen: its faint ink over this share of the box is a stroke, not noise
FAINT_MARGIN = 0.6  # mm further from the printed edge for faint ink
DOT = 0.005  # clear ink over this share (a dot of a pen, about 0.2 mm²) keeps a box from «empty»
SIGN_EMPTY, SIGN_MARKED = 0.004, 0.012
# ink: darker than the paper by this share of the printed edges' darkness on the same page; faint
# ink, enough to make an «empty» box doubtful, by the smaller share
INK_SHARE, FAINT_SHARE = 0.4, 0.22
INNER_MARGIN = 1.0  # mm inside the box's printed edge
RING_INNER, RING_OUTER = BOX / 2 + 1.2, 7.0  # mm from the box's centre
SIGN_MARGIN = 1.5
MARK_TOLERANCE = 1.5  # mm: the marks and the QR code must agree this well, else the page is reviewed
SEARCH = 3.0  # mm around its place where a row's printed boxes are looked for
ROW_SCORE = 0.45  # a row's boxes matched less well than this are «not found»: the question goes to review
SIGN_SCORE = 0.3  # the same for a signature box (its long outline is distinct; a signature inside lowers the match)

OPTION_RU = {"for": "«За»", "against": "«Против»", "abstain": "«Воздержался»"}


class ScanFileError(Exception):
    """A file that cannot be read at all: its Russian message."""


@dataclass
class BoxMeasure:
    question: int
    option: str
    inner: float
    ring: float
    state: str  # empty | marked | doubtful
    faint_inner: float = 0.0
    faint_ring: float = 0.0


@dataclass
class PageRead:
    file: str
    page: int  # page of the file, from 1
    status: str  # accepted | review | manual | error
    reasons: list[str] = field(default_factory=list)
    token: str = ""
    meeting_id: int | None = None
    owner_id: int | None = None
    sheet: int | None = None  # page of the owner's sheet
    sheets: int | None = None
    answers: dict[int, str] = field(default_factory=dict)  # question number -> for|against|abstain|invalid|blank
    doubtful: list[tuple[int, str]] = field(default_factory=list)  # (question number or 0 for the signature, option)
    signed: bool | None = None  # None: the page has no signature box
    homography: list[list[float]] | None = None  # page image -> straightened page (PX per mm)
    measures: list[BoxMeasure] = field(default_factory=list)
    signature_shares: list[tuple[float, float]] = field(default_factory=list)  # (clear, faint) ink per box
    signature_scores: list[float] = field(default_factory=list)  # how well each box was found
    image: bytes = b""  # the page as read (JPEG), kept with the decision
    image_size: tuple[int, int] = (0, 0)  # width, height

    @property
    def review(self) -> bool:
        return self.status != "accepted"

    def as_json(self, premise: str | None = None) -> dict:
        return {"file": self.file, "page": self.page, "owner_id": self.owner_id, "premise": premise,
                "sheet": self.sheet, "sheets": self.sheets,
                "answers": {str(k): v for k, v in sorted(self.answers.items())}, "signed": bool(self.signed),
                "review": self.review, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class OwnerSheets:
    """What the reader needs of one owner record's sheet: its pages' layouts and the premise."""

    premise: str
    pages: tuple[SheetPage, ...]


# ---------- files to page images ----------

def _kind(data: bytes) -> str:
    head = data[:16]
    if head.startswith(b"%PDF") or b"%PDF" in data[:1024]:
        return "pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n" or head[:2] == b"BM" or \
            (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return ""


def page_count(name: str, data: bytes) -> int:
    """How many pages the file holds; raises ScanFileError with the reason when it cannot be read."""
    kind = _kind(data)
    if kind == "pdf":
        with _pdf(name, data) as doc:
            return len(doc)
    if kind == "tiff":
        return len(_tiff_pages(name, data))
    if kind == "image":
        return 1
    raise ScanFileError(f"{name}: не изображение и не PDF — принимаются PDF, TIFF, JPEG и PNG.")


def _pages(n: int) -> str:
    from services.figures import count_of

    return count_of(n, "страница", "страницы", "страниц")


def _limit() -> str:
    from services.figures import format_count

    return format_count(MAX_PAGES)


class _pdf:
    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data

    def __enter__(self):
        import pypdfium2 as pdfium

        try:
            self.doc = pdfium.PdfDocument(self.data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ScanFileError(f"{self.name}: PDF защищён паролем — сохраните его без пароля и загрузите "
                                    "снова.") from None
            raise ScanFileError(f"{self.name}: файл PDF повреждён или не читается ({exc}).") from None
        if len(self.doc) > MAX_PAGES:
            n = len(self.doc)
            self.doc.close()
            raise ScanFileError(f"{self.name}: {_pages(n)} — больше {_limit()} в одном файле; разделите файл.")
        return self.doc

    def __exit__(self, *exc):
        self.doc.close()


def _tiff_pages(name: str, data: bytes) -> list[np.ndarray]:
    import cv2

    ok, pages = cv2.imdecodemulti(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if not ok or not pages:
        raise ScanFileError(f"{name}: файл TIFF повреждён или не читается.")
    if len(pages) > MAX_PAGES:
        raise ScanFileError(f"{name}: {_pages(len(pages))} — больше {_limit()} в одном файле; разделите файл.")
    return list(pages)


def _checked(name: str, page: int, img: np.ndarray | None) -> np.ndarray:
    if img is None:
        raise ScanFileError(f"{name}, страница {page}: изображение повреждено или не читается.")
    if img.shape[0] * img.shape[1] > MAX_PIXELS:
        raise ScanFileError(f"{name}, страница {page}: изображение слишком велико "
                            f"({img.shape[1]}×{img.shape[0]} точек); сканируйте с разрешением 150–300 dpi.")
    return img


def _image_size_ok(name: str, data: bytes) -> None:
    """Refuses a decompression bomb before decoding it (the header's size)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise ScanFileError(f"{name}: изображение слишком велико; сканируйте с разрешением 150–300 dpi.") from None
    except Exception:
        raise ScanFileError(f"{name}: изображение повреждено или не читается.") from None
    if w * h > MAX_PIXELS:
        raise ScanFileError(f"{name}: изображение слишком велико ({w}×{h} точек); сканируйте с разрешением "
                            "150–300 dpi.")


def page_images(name: str, data: bytes, pages: Iterable[int] | None = None) -> Iterator[tuple[int, np.ndarray | ScanFileError]]:
    """(page number from 1, BGR image or the page's error) for the file's pages (or the ones given)."""
    import cv2

    kind = _kind(data)
    if kind == "pdf":
        with _pdf(name, data) as doc:
            for i in (pages or range(1, len(doc) + 1)):
                try:
                    pg = doc[i - 1]
                    w, h = pg.get_size()
                    scale = RENDER_LONG_SIDE / max(w, h, 1)
                    bitmap = pg.render(scale=scale, grayscale=False)
                    img = bitmap.to_numpy()
                    img = img[:, :, :3].copy() if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                    yield i, img
                except Exception as exc:  # one broken page: the others go on
                    yield i, ScanFileError(f"{name}, страница {i}: не удалось отрисовать страницу ({exc}).")
        return
    if kind == "tiff":
        all_pages = _tiff_pages(name, data)
        for i in (pages or range(1, len(all_pages) + 1)):
            try:
                yield i, _checked(name, i, all_pages[i - 1])
            except ScanFileError as exc:
                yield i, exc
        return
    if kind == "image":
        try:
            _image_size_ok(name, data)
            yield 1, _checked(name, 1, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
        except ScanFileError as exc:
            yield 1, exc
        return
    raise ScanFileError(f"{name}: не изображение и не PDF — принимаются PDF, TIFF, JPEG и PNG.")


# ---------- one page ----------

def _template_pts_qr() -> np.ndarray:
    side = 25 * QR_MODULE
    return np.float32([[QR_LEFT, QR_TOP], [QR_LEFT + side, QR_TOP], [QR_LEFT + side, QR_TOP + side],
                       [QR_LEFT, QR_TOP + side]]) * PX


def _find_code(gray: np.ndarray):
    """(barcode, its Token) of the first Kvorum code on the page, or (any barcode, None), or (None, None)."""
    import cv2
    import zxingcpp

    other = None
    for attempt in ("as is", "sharpened", "binarised"):
        if attempt == "as is":
            image = gray
        elif attempt == "sharpened":  # a blurred photo: an unsharp mask
            image = cv2.addWeighted(gray, 2.0, cv2.GaussianBlur(gray, (0, 0), 3), -1.0, 0)
        else:  # a faint code
            image = cv2.adaptiveThreshold(cv2.GaussianBlur(gray, (3, 3), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                          cv2.THRESH_BINARY, 31, 10)
        for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
            token = parse_token(code.text)
            if token is not None:
                return code, token
            other = other or code
    return other, None


def _corner_pts(code) -> np.ndarray:
    p = code.position
    return np.float32([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                       [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]])


def _match_mark(win: np.ndarray, px_mm: float, guess: tuple[float, float]) -> np.ndarray | None:
    """The centre of a corner mark in a window of the page (its pixels), or None: the best match of a
    black square in a white margin (robust to blur, a dark table around the page, uneven light),
    a little penalised by its distance from `guess` (the window's pixel where the fit expects it),
    then the centroid of the square's dark pixels for sub-pixel accuracy."""
    import cv2

    f = min(1.0, 4.0 / px_mm)  # match at about 4 px/mm: fast, and the square is still 24 px wide
    small = cv2.resize(win, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else win
    k, m = max(int(round(MARK * px_mm * f)), 6), max(int(round(2.0 * px_mm * f)), 3)
    if small.shape[0] < k + 2 * m or small.shape[1] < k + 2 * m:
        return None
    tpl = np.full((k + 2 * m, k + 2 * m), 255, np.uint8)
    tpl[m:m + k, m:m + k] = 0
    res = cv2.matchTemplate(small, tpl, cv2.TM_CCOEFF_NORMED)
    ys, xs = np.indices(res.shape, dtype=np.float32)
    half = (k + 2 * m) / 2
    dist_mm = np.hypot(xs + half - guess[0] * f, ys + half - guess[1] * f) / (px_mm * f)
    _mn, _mx, _mnl, (bx, by) = cv2.minMaxLoc(res - 0.004 * dist_mm)
    if res[by, bx] < 0.55:
        return None
    cx, cy = (bx + half) / f, (by + half) / f
    half = (MARK / 2 + 1.2) * px_mm
    x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    sub = win[y0:int(cy + half) + 1, x0:int(cx + half) + 1].astype(np.float32)
    if sub.size == 0:
        return None
    level = (float(sub.min()) + float(np.percentile(sub, 90))) / 2
    weight = np.clip(level - sub, 0, None)  # the square's dark pixels, weighted by how dark
    total = float(weight.sum())
    if total <= 0:
        return None
    ys, xs = np.indices(sub.shape)
    return np.float32([x0 + float((xs * weight).sum()) / total, y0 + float((ys * weight).sum()) / total])


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares affine map (2×3) of src points onto dst points: every point weighs, the far
    marks too (a robust estimator would drop them as outliers of the code's four corners)."""
    X = np.hstack([src.astype(np.float64), np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(X, dst.astype(np.float64), rcond=None)
    return sol.T


def _find_marks(gray: np.ndarray, qr_img: np.ndarray) -> list[np.ndarray | None]:
    """The image positions of the four corner marks. The code's corners place the page roughly (an
    affine fit: a perspective fitted to a 2 cm code would be wild 25 cm away); each mark found,
    nearest first, joins the fit before the next is searched."""
    import cv2

    anchors_t = list(_template_pts_qr())
    anchors_i = list(qr_img)
    found: list[np.ndarray | None] = [None] * 4
    qr_centre = np.float32([QR_LEFT, QR_TOP]) + 12.5 * QR_MODULE
    order = sorted(range(4), key=lambda i: np.hypot(*(np.float32(MARK_CENTERS[i]) - qr_centre)))
    for i in order:
        A = _affine(np.float32(anchors_t), np.float32(anchors_i))
        px_mm = float(np.sqrt(abs(np.linalg.det(A[:, :2])))) * PX
        area = (MARK * px_mm) ** 2
        cx, cy = MARK_CENTERS[i]
        guess = A @ np.float32([cx * PX, cy * PX, 1])
        # the first mark, next to the code, is predicted well; the far ones from a short baseline and
        # without the photo's perspective: searched wider
        r = int((20 if len(anchors_t) == 4 else 40) * px_mm)
        x0, y0 = max(int(guess[0]) - r, 0), max(int(guess[1]) - r, 0)
        x1, y1 = min(int(guess[0]) + r, gray.shape[1]), min(int(guess[1]) + r, gray.shape[0])
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        best = _match_mark(gray[y0:y1, x0:x1], px_mm, (guess[0] - x0, guess[1] - y0))
        if best is not None:
            best = best + (x0, y0)
        if best is not None:
            found[i] = np.float32(best)
            anchors_t.append(np.float32([cx * PX, cy * PX]))
            anchors_i.append(found[i])
    return found


def _darkness(warped: np.ndarray) -> np.ndarray:
    """How much darker than the paper around it each pixel of the straightened page is (int16)."""
    import cv2

    # paper: the brightest level nearby (a grey dilation wider than a pen's stroke and a filled box)
    paper = cv2.dilate(warped, cv2.getStructuringElement(cv2.MORPH_RECT, (61, 61)))
    paper = cv2.blur(paper, (31, 31))
    return paper.astype(np.int16) - warped.astype(np.int16)


def _print_contrast(dark: np.ndarray, boxes) -> float:
    """How dark the printed box edges came out on this page: the yardstick of a pen's ink, so a dim
    photo or a light scan is judged by its own contrast."""
    samples = []
    for box in boxes:
        for y in (box.y, box.y + box.h):  # the top and bottom edges, ±0.4 mm
            a, b = int(round((box.x + 1) * PX)), int(round((box.x + box.w - 1) * PX))
            r0, r1 = int(round((y - 0.4) * PX)), int(round((y + 0.4) * PX)) + 1
            strip = dark[r0:r1, a:b]
            if strip.size:
                samples.append(strip.max(axis=0))
    if not samples:
        return 120.0
    return float(np.percentile(np.concatenate(samples), 50))


def _ink(dark: np.ndarray, contrast: float, share: float, floor: int) -> np.ndarray:
    """Pixels darker than the paper by `share` of the print's contrast (at least `floor` levels)."""
    import cv2

    ink = (dark > max(floor, share * contrast)).astype(np.uint8)
    return cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # lone noise pixels go


def _share(ink: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int]:
    a, b = int(round(x0 * PX)), int(round(y0 * PX))
    c, d = int(round(x1 * PX)), int(round(y1 * PX))
    import cv2

    region = ink[max(b, 0):max(d, 0), max(a, 0):max(c, 0)]
    return (cv2.countNonZero(region) if region.size else 0), int(region.size)


def _locate(warped: np.ndarray, boxes) -> tuple[float, float, float]:
    """(dx, dy in mm, score): where a row's printed box outlines really are on the straightened page,
    searched ±SEARCH mm around their places. The page's fit is good to a millimetre or two; the boxes
    themselves put each question's measures exactly, and a row not found is not measured on a guess."""
    import cv2

    from services.ballot_sheet import Box

    pad = 1.0
    x0, y0 = min(b.x for b in boxes) - pad, min(b.y for b in boxes) - pad
    x1, y1 = max(b.x + b.w for b in boxes) + pad, max(b.y + b.h for b in boxes) + pad
    tw, th = int(round((x1 - x0) * PX)), int(round((y1 - y0) * PX))
    tpl = np.full((th, tw), 255, np.uint8)
    line = max(2, int(round(0.4 * PX)))
    for b in boxes:
        cv2.rectangle(tpl, (int(round((b.x - x0) * PX)), int(round((b.y - y0) * PX))),
                      (int(round((b.x + b.w - x0) * PX)), int(round((b.y + b.h - y0) * PX))), 0, line)
    s = int(round(SEARCH * PX))
    r0, c0 = int(round(y0 * PX)) - s, int(round(x0 * PX)) - s
    region = warped[max(r0, 0):r0 + th + 2 * s, max(c0, 0):c0 + tw + 2 * s]
    if r0 < 0 or c0 < 0 or region.shape[0] < th + 2 * s or region.shape[1] < tw + 2 * s:
        return 0.0, 0.0, 0.0
    res = cv2.matchTemplate(region, tpl, cv2.TM_CCOEFF_NORMED)
    _mn, score, _mnl, (bx, by) = cv2.minMaxLoc(res)
    return (bx - s) / PX, (by - s) / PX, float(score)


def _moved(box, dx: float, dy: float):
    from services.ballot_sheet import Box

    return Box(box.x + dx, box.y + dy, box.w, box.h)


def _measure_box(ink: np.ndarray, box, margin: float = 0.0) -> tuple[float, float]:
    """Shares of ink inside the box (INNER_MARGIN from its printed edge) and in the ring around it;
    `margin` keeps both that much further from the edge (a blurred photo smears the edge's grey)."""
    cx, cy = box.center
    h = box.w / 2 - INNER_MARGIN - margin
    n_in, a_in = _share(ink, cx - h, cy - h, cx + h, cy + h)
    n_out, a_out = _share(ink, cx - RING_OUTER, cy - RING_OUTER, cx + RING_OUTER, cy + RING_OUTER)
    ring_inner = RING_INNER + margin
    n_mid, a_mid = _share(ink, cx - ring_inner, cy - ring_inner, cx + ring_inner, cy + ring_inner)
    ring_area = max(a_out - a_mid, 1)
    return n_in / max(a_in, 1), (n_out - n_mid) / ring_area


def _baseline(values: list[tuple[float, ...]]) -> tuple[float, ...]:
    """What an empty box measures on this page (a blurred photo smears the printed edges inwards):
    the lower third of the page's boxes, most of which are empty (one mark a question in three
    boxes). A page whose owner marked most boxes gets a high baseline and goes to review — never
    the other way round. Fewer than six boxes: nothing is subtracted."""
    if len(values) < 6:
        return (0.0,) * (len(values[0]) if values else 4)
    return tuple(float(np.percentile(column, 30)) for column in zip(*values))


def _state(inner: float, ring: float, faint_inner: float, faint_ring: float) -> str:
    """marked: clear ink in or around the box (or a light pen's stroke covering much of it); empty:
    neither faint ink spread over the box nor a dark dot in it; anything between is doubtful."""
    if inner >= INNER_MARKED or ring >= RING_MARKED or faint_inner >= FAINT_MARKED or faint_ring >= FAINT_MARKED:
        return "marked"
    if faint_inner < INNER_EMPTY and faint_ring < RING_EMPTY and inner < DOT and ring < DOT:
        return "empty"
    return "doubtful"


def read_page(img: np.ndarray, *, file: str, page: int, secret_key: str, meeting_id: int,
              sheets: Callable[[int], OwnerSheets | None], keep_image: bool = True) -> PageRead:
    """Reads one page image (BGR). `sheets(owner_id)` gives the owner record's sheet as printed now
    (None: not in this meeting)."""
    import cv2

    result = PageRead(file=file, page=page, status="manual")
    h, w = img.shape[:2]
    if max(h, w) > WORK_LONG_SIDE:  # a phone's photo: the marks need no more
        f = WORK_LONG_SIDE / max(h, w)
        img = cv2.resize(img, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
    result.image_size = (img.shape[1], img.shape[0])
    if keep_image:
        result.image = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    code, token = _find_code(gray)
    if token is None:
        result.reasons.append("QR-код бланка Kvorum не найден" + (" (на странице чужой QR-код)" if code else "")
                              + ": внесите решение вручную по изображению.")
        return result
    result.token = token.text()
    if not token_valid(secret_key, token):
        result.reasons.append("Код бланка не подтверждён: бланк напечатан не этой программой или изменён. "
                              "Внесите решение вручную, если бланк подлинный.")
        return result
    result.meeting_id, result.owner_id = token.meeting_id, token.owner_id
    result.sheet, result.sheets = token.page, token.pages
    if token.meeting_id != meeting_id:
        result.reasons.append(f"Бланк другого собрания (№ {token.meeting_id}).")
        return result
    owner = sheets(token.owner_id)
    if owner is None:
        result.reasons.append("Собственника с этого бланка нет в реестре собрания.")
        return result
    if len(owner.pages) != token.pages or owner.pages[token.page - 1].digest != token.digest:
        result.reasons.append("Бланк напечатан до изменения повестки или данных собственника: места отметок "
                              "другие. Внесите решение вручную.")
        return result
    layout = owner.pages[token.page - 1]

    H0 = cv2.getPerspectiveTransform(_corner_pts(code), _template_pts_qr())
    marks = _find_marks(gray, _corner_pts(code))
    template_marks = np.float32(MARK_CENTERS) * PX
    found = [i for i, m in enumerate(marks) if m is not None]
    H = H0
    qr_img, qr_tmpl = _corner_pts(code), _template_pts_qr()
    if len(found) >= 3:
        # the marks span the page and the code's corners pin its top right: one perspective fitted to
        # all of them, checked by how well each point falls back on its place
        src = np.vstack([np.float32([marks[i] for i in found]), qr_img])
        dst = np.vstack([template_marks[found], qr_tmpl])
        H, _mask = cv2.findHomography(src, dst, 0)
        err = float(np.abs(cv2.perspectiveTransform(src[None], H)[0] - dst).max()) if H is not None else 1e9
        if H is None or err > MARK_TOLERANCE * PX:
            H = H if H is not None else H0
            result.reasons.append("Метки по углам и QR-код не совпадают: проверьте отметки по изображению.")
            result.doubtful.append((0, "alignment"))
    else:
        result.reasons.append(f"Найдено меток по углам: {len(found)} из 4 — лист выровнен по QR-коду; "
                              "проверьте отметки по изображению.")
        result.doubtful.append((0, "alignment"))
    result.homography = H.tolist()

    # the ink: the darkest channel, so a blue pen reads as dark as a black one
    if img.ndim == 3:
        b, g, r = cv2.split(img)
        low = cv2.min(cv2.min(b, g), r)
    else:
        low = img
    warped = cv2.warpPerspective(low, H, (int(PAGE_W * PX), int(PAGE_H * PX)), flags=cv2.INTER_LINEAR,
                                 borderValue=255)
    warped = cv2.medianBlur(warped, 3)
    dark = _darkness(warped)
    rows = []
    for q in layout.questions:
        dx, dy, score = _locate(warped, list(q.boxes.values()))
        rows.append((q, {o: _moved(b, dx, dy) for o, b in q.boxes.items()}, score))
    signatures = []
    for box in layout.signatures:
        dx, dy, score = _locate(warped, [box])
        signatures.append((_moved(box, dx, dy), score))
    contrast = _print_contrast(dark, [b for _q, boxes, score in rows if score >= ROW_SCORE for b in boxes.values()]
                               + [b for b, score in signatures if score >= SIGN_SCORE])
    ink = _ink(dark, contrast, INK_SHARE, 14)
    faint = _ink(dark, contrast, FAINT_SHARE, 12)

    shares = {(q.number, option): _measure_box(ink, boxes[option]) + _measure_box(faint, boxes[option], FAINT_MARGIN)
              for q, boxes, _score in rows for option in OPTIONS}
    base = _baseline(list(shares.values()))
    for q, boxes, score in rows:
        marked, doubtful = [], []
        for option in OPTIONS:
            values = shares[(q.number, option)]
            inner, ring, faint_inner, faint_ring = (max(v - b, 0.0) for v, b in zip(values, base))
            state = _state(inner, ring, faint_inner, faint_ring) if score >= ROW_SCORE else "doubtful"
            result.measures.append(BoxMeasure(q.number, option, round(inner, 4), round(ring, 4), state,
                                              round(faint_inner, 4), round(faint_ring, 4)))
            if state == "marked":
                marked.append(option)
            elif state == "doubtful":
                doubtful.append(option)
        result.answers[q.number] = "blank" if not marked else marked[0] if len(marked) == 1 else "invalid"
        for option in doubtful:
            result.doubtful.append((q.number, option))
        if score < ROW_SCORE:
            result.reasons.append(f"Вопрос {q.number}: квадраты не найдены на изображении — проверьте отметки.")
        elif doubtful:
            result.reasons.append(f"Вопрос {q.number}: неясная отметка в квадрате "
                                  f"{', '.join(OPTION_RU[o] for o in doubtful)}.")
    if layout.signatures:
        states = []
        for box, score in signatures:
            result.signature_scores.append(round(score, 3))
            if score < SIGN_SCORE:
                states.append("doubtful")
                continue
            region = (box.x + SIGN_MARGIN, box.y + SIGN_MARGIN, box.x + box.w - SIGN_MARGIN, box.y + box.h - SIGN_MARGIN)
            n, a = _share(ink, *region)
            n_faint, _a = _share(faint, *region)
            share, faint_share = n / max(a, 1), n_faint / max(a, 1)
            result.signature_shares.append((round(share, 4), round(faint_share, 4)))
            states.append("marked" if share >= SIGN_MARKED else "empty" if faint_share < SIGN_EMPTY else "doubtful")
        result.signed = "marked" in states
        if not result.signed:
            if "doubtful" in states:
                result.doubtful.append((0, "signature"))
                result.reasons.append("Подпись неясна: проверьте по изображению.")
            else:
                result.reasons.append("Нет подписи собственника (представителя) в поле «Подпись».")
    result.status = "review" if result.reasons else "accepted"
    return result


def crop(image_jpeg: bytes, homography, box_mm: tuple[float, float, float, float], *, pad: float = 3.0) -> bytes:
    """A PNG of a region of the straightened page (x, y, w, h in mm), from the stored page image."""
    import cv2

    img = cv2.imdecode(np.frombuffer(image_jpeg, np.uint8), cv2.IMREAD_COLOR)
    x, y, w, h = box_mm
    shift = np.float64([[1, 0, -(x - pad) * PX], [0, 1, -(y - pad) * PX], [0, 0, 1]])
    size = (int((w + 2 * pad) * PX), int((h + 2 * pad) * PX))
    out = cv2.warpPerspective(img, shift @ np.float64(homography), size, borderValue=(255, 255, 255))
    return cv2.imencode(".png", out)[1].tobytes()


def straightened(image_jpeg: bytes, homography, *, width: int = 900) -> bytes:
    """The whole page straightened (JPEG), as the reader saw it, for the review screen."""
    import cv2

    img = cv2.imdecode(np.frombuffer(image_jpeg, np.uint8), cv2.IMREAD_COLOR)
    if homography is None:
        f = width / img.shape[1]
        out = cv2.resize(img, (width, int(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
    else:
        f = width / (PAGE_W * PX)
        scale = np.float64([[f, 0, 0], [0, f, 0], [0, 0, 1]])
        out = cv2.warpPerspective(img, scale @ np.float64(homography), (width, int(PAGE_H * PX * f)),
                                  borderValue=(255, 255, 255))
    return cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


# ---------- a batch ----------

@dataclass
class FileError:
    file: str
    page: int | None
    message: str


_WORKER: dict = {}


def _init_worker(secret_key: str, meeting_id: int, owners: dict[int, OwnerSheets], keep_image: bool) -> None:
    import cv2

    cv2.setNumThreads(1)
    _WORKER.update(secret_key=secret_key, meeting_id=meeting_id, owners=owners, keep_image=keep_image)


def _read_task(path: str, name: str, pages: list[int]) -> list[PageRead | FileError]:
    with open(path, "rb") as fh:
        data = fh.read()
    out: list[PageRead | FileError] = []
    try:
        for page, img in page_images(name, data, pages):
            if isinstance(img, ScanFileError):
                out.append(FileError(name, page, str(img)))
                continue
            try:
                out.append(read_page(img, file=name, page=page, secret_key=_WORKER["secret_key"],
                                     meeting_id=_WORKER["meeting_id"], sheets=_WORKER["owners"].get,
                                     keep_image=_WORKER["keep_image"]))
            except Exception as exc:  # a page the reader chokes on goes to manual entry, the batch goes on
                out.append(FileError(name, page, f"{name}, страница {page}: не удалось прочитать ({exc})."))
    except ScanFileError as exc:
        out.append(FileError(name, None, str(exc)))
    return out


def plan(files: list[tuple[str, str]], chunk: int = 4, skip: dict[str, set[int]] | None = None
         ) -> tuple[list[tuple[str, str, list[int]]], list[FileError], int]:
    """(tasks (path, name, pages), files refused whole, pages to read) for files given as (path, name);
    `skip`: pages of a file (by name) not to read again."""
    tasks, errors, total = [], [], 0
    for path, name in files:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            n = page_count(name, data)
        except ScanFileError as exc:
            errors.append(FileError(name, None, str(exc)))
            continue
        except OSError as exc:
            errors.append(FileError(name, None, f"{name}: файл не открывается ({exc.strerror})."))
            continue
        todo = [i for i in range(1, n + 1) if i not in (skip or {}).get(name, ())]
        total += len(todo)
        for start in range(0, len(todo), chunk):
            tasks.append((path, name, todo[start:start + chunk]))
    return tasks, errors, total


def read_files(files: list[tuple[str, str]], *, secret_key: str, meeting_id: int, owners: dict[int, OwnerSheets],
               workers: int = 0, keep_image: bool = True, progress: Callable[[int, int], None] | None = None,
               skip: dict[str, set[int]] | None = None) -> Iterator[PageRead | FileError]:
    """Reads every page of the files ((path on disk, name shown)); yields each page's result as it
    is ready (not in order). `workers`: processes to read in (0: in this process)."""
    tasks, errors, total = plan(files, skip=skip)
    yield from errors
    done = 0
    if progress:
        progress(done, total)
    if workers <= 0:
        _init_worker(secret_key, meeting_id, owners, keep_image)
        for task in tasks:
            for item in _read_task(*task):
                done += 1
                if progress:
                    progress(min(done, total), total)
                yield item
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(secret_key, meeting_id, owners, keep_image)) as pool:
        futures = [pool.submit(_read_task, *task) for task in tasks]
        for future in as_completed(futures):
            for item in future.result():
                done += 1
                if progress:
                    progress(min(done, total), total)
                yield item


def owner_sheets(session_factory, *, meeting_id: int) -> dict[int, OwnerSheets]:
    """Every owner record's sheet layout as printed now, for a reading of this meeting's scans."""
    from services.ballot_sheet import layout, load_wording
    from services.documents import meeting_context
    from services.models import OwnerRecord
    from services.voting import _agenda, _ballots

    with session_factory() as s:
        from sqlalchemy import select

        ids = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))
        view, questions = _agenda(s, meeting_id)
        ballots = _ballots(s, meeting_id, ids) if ids else []
    meeting, wording = meeting_context(view), load_wording()
    out = {}
    for owner_id, ballot in ballots:
        pages = layout(meeting, ballot, questions, wording)
        out[owner_id] = OwnerSheets(ballot.owner.premise,
                                    tuple(dataclasses.replace(p, ops=[]) for p in pages))
    return out
