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
INNER_EMPTY, INNER_MARKED = 0.03, 0.09
RING_EMPTY, RING_MARKED = 0.025, 0.07
SIGN_EMPTY, SIGN_MARKED = 0.004, 0.012
INNER_MARGIN = 1.0  # mm inside the box's printed edge
RING_INNER, RING_OUTER = BOX / 2 + 1.2, 7.0  # mm from the box's centre
SIGN_MARGIN = 1.5
MARK_TOLERANCE = 1.5  # mm: the marks and the QR code must agree this well, else the page is reviewed

ANSWER_RU = {"for": "за", "against": "против", "abstain": "воздержался", "blank": "нет отметки",
             "invalid": "несколько отметок"}
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
            raise ScanFileError(f"{self.name}: {n} страниц — больше {MAX_PAGES} в одном файле; разделите файл.")
        return self.doc

    def __exit__(self, *exc):
        self.doc.close()


def _tiff_pages(name: str, data: bytes) -> list[np.ndarray]:
    import cv2

    ok, pages = cv2.imdecodemulti(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if not ok or not pages:
        raise ScanFileError(f"{name}: файл TIFF повреждён или не читается.")
    if len(pages) > MAX_PAGES:
        raise ScanFileError(f"{name}: {len(pages)} страниц — больше {MAX_PAGES} в одном файле; разделите файл.")
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
    for attempt in (gray, None):
        if attempt is None:  # a faint or blurred code: once more, sharpened and binarised
            attempt = cv2.adaptiveThreshold(cv2.GaussianBlur(gray, (3, 3), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                            cv2.THRESH_BINARY, 31, 10)
        for code in zxingcpp.read_barcodes(attempt, formats=zxingcpp.BarcodeFormat.QRCode):
            token = parse_token(code.text)
            if token is not None:
                return code, token
            other = other or code
    return other, None


def _corner_pts(code) -> np.ndarray:
    p = code.position
    return np.float32([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                       [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]])


def _find_marks(gray: np.ndarray, H0: np.ndarray) -> list[np.ndarray | None]:
    """The image positions of the four corner marks, searched where the code's corners predict them."""
    import cv2

    inv = np.linalg.inv(H0)
    scale = float(np.sqrt(abs(np.linalg.det(inv[:2, :2]))))  # image pixels per template pixel
    px_mm = scale * PX
    found: list[np.ndarray | None] = []
    area = (MARK * px_mm) ** 2
    for cx, cy in MARK_CENTERS:
        guess = cv2.perspectiveTransform(np.float32([[[cx * PX, cy * PX]]]), inv)[0, 0]
        r = int(22 * px_mm)  # the prediction from a small code is rough far from it
        x0, y0 = max(int(guess[0]) - r, 0), max(int(guess[1]) - r, 0)
        x1, y1 = min(int(guess[0]) + r, gray.shape[1]), min(int(guess[1]) + r, gray.shape[0])
        if x1 - x0 < 8 or y1 - y0 < 8:
            found.append(None)
            continue
        win = gray[y0:y1, x0:x1]
        _t, binary = cv2.threshold(win, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        n, _labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
        best, best_d = None, None
        for i in range(1, n):
            x, y, w, h, a = stats[i]
            if not (0.45 * area <= a <= 1.8 * area):
                continue
            if not (0.6 <= w / max(h, 1) <= 1.6) or a < 0.7 * w * h * 0.9:
                continue
            c = centroids[i] + (x0, y0)
            d = float(np.hypot(*(c - guess)))
            if best_d is None or d < best_d:
                best, best_d = c, d
        found.append(None if best is None else np.float32(best))
    return found


def _ink(warped: np.ndarray) -> np.ndarray:
    """The pen's ink on the straightened page (bool): darker than the paper around it by a margin."""
    import cv2

    # paper: the brightest level nearby (a grey dilation wider than a pen's stroke and a filled box)
    paper = cv2.dilate(warped, cv2.getStructuringElement(cv2.MORPH_RECT, (61, 61)))
    paper = cv2.blur(paper, (31, 31))
    dark = paper.astype(np.int16) - warped.astype(np.int16)
    ink = (dark > np.maximum(45, paper.astype(np.int16) * 0.3)).astype(np.uint8)
    return cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # lone noise pixels go


def _share(ink: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int]:
    a, b = int(round(x0 * PX)), int(round(y0 * PX))
    c, d = int(round(x1 * PX)), int(round(y1 * PX))
    import cv2

    region = ink[max(b, 0):max(d, 0), max(a, 0):max(c, 0)]
    return (cv2.countNonZero(region) if region.size else 0), int(region.size)


def _measure_box(ink: np.ndarray, box) -> tuple[float, float]:
    cx, cy = box.center
    h = box.w / 2 - INNER_MARGIN
    n_in, a_in = _share(ink, cx - h, cy - h, cx + h, cy + h)
    n_out, a_out = _share(ink, cx - RING_OUTER, cy - RING_OUTER, cx + RING_OUTER, cy + RING_OUTER)
    n_mid, a_mid = _share(ink, cx - RING_INNER, cy - RING_INNER, cx + RING_INNER, cy + RING_INNER)
    ring_area = max(a_out - a_mid, 1)
    return n_in / max(a_in, 1), (n_out - n_mid) / ring_area


def _state(inner: float, ring: float) -> str:
    if inner >= INNER_MARKED or ring >= RING_MARKED:
        return "marked"
    if inner < INNER_EMPTY and ring < RING_EMPTY:
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
    marks = _find_marks(gray, H0)
    template_marks = np.float32(MARK_CENTERS) * PX
    found = [i for i, m in enumerate(marks) if m is not None]
    H = H0
    if len(found) == 4:
        H = cv2.getPerspectiveTransform(np.float32([marks[i] for i in found]), template_marks[found])
        qr_back = cv2.perspectiveTransform(_corner_pts(code)[None], H)[0]
        if float(np.abs(qr_back - _template_pts_qr()).max()) > MARK_TOLERANCE * PX:
            result.reasons.append("Метки по углам и QR-код не совпадают: проверьте отметки по изображению.")
            result.doubtful.append((0, "alignment"))
    else:
        result.reasons.append(f"Найдено меток по углам: {len(found)} из 4 — лист выровнен по QR-коду; "
                              "проверьте отметки по изображению.")
        result.doubtful.append((0, "alignment"))
        if len(found) == 3:
            H = np.vstack([cv2.getAffineTransform(np.float32([marks[i] for i in found]), template_marks[found]),
                           [0, 0, 1]])
    result.homography = H.tolist()

    # the ink: the darkest channel, so a blue pen reads as dark as a black one
    if img.ndim == 3:
        b, g, r = cv2.split(img)
        low = cv2.min(cv2.min(b, g), r)
    else:
        low = img
    warped = cv2.warpPerspective(low, H, (int(PAGE_W * PX), int(PAGE_H * PX)), flags=cv2.INTER_LINEAR,
                                 borderValue=255)
    ink = _ink(cv2.medianBlur(warped, 3))

    for q in layout.questions:
        marked, doubtful = [], []
        for option in OPTIONS:
            inner, ring = _measure_box(ink, q.boxes[option])
            state = _state(inner, ring)
            result.measures.append(BoxMeasure(q.number, option, round(inner, 4), round(ring, 4), state))
            if state == "marked":
                marked.append(option)
            elif state == "doubtful":
                doubtful.append(option)
        result.answers[q.number] = "blank" if not marked else marked[0] if len(marked) == 1 else "invalid"
        for option in doubtful:
            result.doubtful.append((q.number, option))
        if doubtful:
            result.reasons.append(f"Вопрос {q.number}: неясная отметка в квадрате "
                                  f"{', '.join(OPTION_RU[o] for o in doubtful)}.")
    if layout.signatures:
        states = []
        for box in layout.signatures:
            n, a = _share(ink, box.x + SIGN_MARGIN, box.y + SIGN_MARGIN, box.x + box.w - SIGN_MARGIN,
                          box.y + box.h - SIGN_MARGIN)
            share = n / max(a, 1)
            states.append("marked" if share >= SIGN_MARKED else "empty" if share < SIGN_EMPTY else "doubtful")
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
