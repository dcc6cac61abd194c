"""Realistic marked and scanned paper decisions for the scan reader's tests and benchmark (issue 17).

Kvorum's own sheets (services.ballot_sheet) are rendered from their PDF, marked with varied pens as
owners mark them (tick, cross, scribbled fill, a circle around the box; pen colour, pressure and
stroke width; a signature scribble) and degraded like flatbed scans (150/200/300 dpi, rotation up to
±5° and upside down, blur, noise, paper tint, JPEG 40–90) or phone photos (perspective, a darker
background, uneven light, motion blur, a phone's resolution, JPEG 50–90). Each page comes with its
Truth: what the owner meant, whether it is signed and whether a deliberately ambiguous ("sloppy")
mark was drawn.

Drawing and degradation are OpenCV/numpy only. Marks are drawn as an ink coverage map (supersampled,
anti-aliased polylines) and laid on the page subtractively, so ink over the printed box stays dark.

Used by tests/unit/test_scangen.py and by bench/ scripts (`sys.path.insert(0, <repo>/tests)`).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from services.ballot_sheet import OPTIONS, PAGE_H, PAGE_W, Box, SheetPage

MARK_STYLES = ("tick", "cross", "fill", "circle")
SLOPPY_KINDS = ("dot", "short", "straddle", "outside")
SS = 4  # supersampling of the ink patches


# ---------- truth ----------

@dataclass
class Truth:
    """What a generated page holds.

    answers: question number -> "for" | "against" | "abstain" | "blank" (no mark) | "invalid"
    (several marks). For a question in `sloppy_kinds` it is the owner's most likely meaning (a dot or a
    short stroke in a box, or a tick mostly outside its box: that box's option; a mark straddling two
    boxes: "invalid"); a reader must send such a question to review or read exactly this, never
    another answer. signed: a signature was drawn (False on a page without signature boxes).
    """

    owner_id: int
    page: int
    pages: int
    answers: dict[int, str]
    signed: bool
    sloppy: bool
    sloppy_kinds: dict[int, str] = field(default_factory=dict)  # question number -> SLOPPY_KINDS item
    styles: dict[int, list[str]] = field(default_factory=dict)  # question number -> mark styles drawn
    signers_signed: list[int] = field(default_factory=list)  # indexes of the signature boxes signed
    degradation: dict = field(default_factory=dict)  # what degrade_scan/degrade_phone did


# ---------- rendering ----------

def render_pdf_pages(pdf_bytes: bytes, dpi: float) -> list[np.ndarray]:
    """Every page of the PDF as a BGR uint8 image at `dpi`."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_bytes)
    out = []
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            bitmap = page.render(scale=dpi / 72.0)
            arr = np.asarray(bitmap.to_numpy())
            mode = getattr(bitmap, "mode", "BGR")
            if arr.ndim == 2:
                arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
            elif arr.shape[2] == 4:
                arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGR if mode.startswith("RGB") else cv2.COLOR_BGRA2BGR)
            elif mode.startswith("RGB"):
                arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
            out.append(np.ascontiguousarray(arr, dtype=np.uint8))
            bitmap.close()
            page.close()
    finally:
        pdf.close()
    return out


def sheet_tokens(pdf_bytes: bytes) -> list:
    """The Kvorum code of each page of a PDF, as the office's scanner would see it: the page drawn
    at 150 dpi and its QR code decoded (services.ballot_sheet.Token; None for a page without one)."""
    import pypdfium2 as pdfium
    import zxingcpp

    from services.ballot_sheet import parse_token

    assert pdf_bytes.startswith(b"%PDF"), pdf_bytes[:20]
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        tokens = []
        for i in range(len(doc)):
            image = np.asarray(doc[i].render(scale=150 / 72, grayscale=True).to_pil())
            codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            tokens.append(parse_token(codes[0].text) if codes else None)
        return tokens
    finally:
        doc.close()


def px_per_mm(img: np.ndarray) -> tuple[float, float]:
    """Pixels per millimetre of a clean rendered A4 page (x, y)."""
    h, w = img.shape[:2]
    return w / PAGE_W, h / PAGE_H


def box_px(img: np.ndarray, box: Box, inset_mm: float = 0.0) -> tuple[int, int, int, int]:
    """A box (mm) as pixel bounds (x0, y0, x1, y1) on a clean rendered page, shrunk by inset_mm
    (negative: grown)."""
    sx, sy = px_per_mm(img)
    return (int(round((box.x + inset_mm) * sx)), int(round((box.y + inset_mm) * sy)),
            int(round((box.x + box.w - inset_mm) * sx)), int(round((box.y + box.h - inset_mm) * sy)))


# ---------- pen strokes (in millimetres, page coordinates) ----------

def _chaikin(pts: np.ndarray, rounds: int = 3) -> np.ndarray:
    for _ in range(rounds):
        if len(pts) < 3:
            break
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.vstack([pts[:1], mid, pts[-1:]])
    return pts


def _bow(a, b, rng, bow: float, n: int = 12) -> np.ndarray:
    """A slightly curved stroke from a to b (a quadratic bezier bowed by up to `bow` mm)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
    ctrl = (a + b) / 2 + normal * rng.uniform(-bow, bow)
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * ctrl + t ** 2 * b


def _tremor(pts: np.ndarray, rng, amount: float) -> np.ndarray:
    """Hand tremor: smooth random displacement of up to about `amount` mm."""
    if len(pts) < 3 or amount <= 0:
        return pts
    noise = rng.normal(0, amount, (len(pts), 2))
    k = np.ones(min(5, len(pts))) / min(5, len(pts))
    noise = np.column_stack([np.convolve(noise[:, 0], k, "same"), np.convolve(noise[:, 1], k, "same")])
    return pts + noise


def _rot(pts: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]])


def _tick(center, rng, scale=None, offset=0.7) -> list[np.ndarray]:
    s = scale if scale is not None else rng.uniform(0.7, 1.15)
    a = np.array([-2.3, -0.2]) + rng.normal(0, 0.3, 2)
    b = np.array([-0.7, 2.0]) + rng.normal(0, 0.25, 2)
    c = np.array([2.6, -2.9]) + rng.normal(0, 0.35, 2)
    if rng.random() < 0.3:  # a long upstroke, past the box's edge
        c = c * rng.uniform(1.1, 1.35)
    path = np.vstack([_bow(a, b, rng, 0.3, 8), _bow(b, c, rng, 0.6, 14)[1:]])
    path = _rot(path * s, rng.normal(0, 0.2)) + np.asarray(center) + rng.uniform(-offset, offset, 2)
    return [_tremor(path, rng, 0.04)]


def _cross(center, rng, offset=0.7) -> list[np.ndarray]:
    h = rng.uniform(1.8, 3.0)
    o = np.asarray(center) + rng.uniform(-offset, offset, 2)
    rot = rng.normal(0, 0.15)
    strokes = []
    for a, b in (((-h, -h), (h, h)), ((h, -h), (-h, h))):
        a = np.array(a) * rng.uniform(0.85, 1.2) + rng.normal(0, 0.3, 2)
        b = np.array(b) * rng.uniform(0.85, 1.2) + rng.normal(0, 0.3, 2)
        strokes.append(_tremor(_rot(_bow(a, b, rng, 0.5), rot) + o, rng, 0.04))
    return strokes


def _fill(box: Box, rng, width: float) -> list[np.ndarray]:
    """A scribbled fill: a zigzag over the box's inside, as dense as the pen allows."""
    x0, y0 = box.x + rng.uniform(0.2, 0.8), box.y + rng.uniform(0.2, 0.8)
    x1, y1 = box.x + box.w - rng.uniform(0.2, 0.8), box.y + box.h - rng.uniform(0.2, 0.8)
    step = width * rng.uniform(0.8, 1.6)
    n = max(4, int((y1 - y0) / step))
    ys = np.linspace(y0, y1, n) + rng.normal(0, step * 0.15, n)
    xs = np.where(np.arange(n) % 2 == 0, x0, x1) + rng.normal(0, 0.35, n)
    pts = np.column_stack([xs, ys])
    if rng.random() < 0.5:  # scribbled across the other way
        c = np.array(box.center)
        pts = _rot(pts - c, math.pi / 2 + rng.normal(0, 0.2)) + c
    return [_tremor(pts, rng, 0.05)]


def _circle(center, rng) -> list[np.ndarray]:
    rx, ry = rng.uniform(5.3, 6.0), rng.uniform(5.3, 6.0)  # within ROW_MIN / 2 of the box's centre
    start = rng.uniform(0, 2 * math.pi)
    sweep = 2 * math.pi * rng.uniform(0.97, 1.15) * (1 if rng.random() < 0.7 else -1)
    t = np.linspace(0, 1, 80)
    th = start + sweep * t
    wob = 1 + 0.02 * np.sin(3 * th + rng.uniform(0, 6.3))
    drift = 1 + rng.uniform(-0.03, 0.03) * t
    pts = np.column_stack([rx * np.cos(th), ry * np.sin(th)]) * (wob * drift)[:, None]
    pts = _rot(pts, rng.uniform(0, math.pi)) + np.asarray(center) + rng.uniform(-0.3, 0.3, 2)
    return [_tremor(pts, rng, 0.05)]


def _mark(style: str, box: Box, rng, width: float) -> list[np.ndarray]:
    if style == "tick":
        return _tick(box.center, rng)
    if style == "cross":
        return _cross(box.center, rng)
    if style == "fill":
        return _fill(box, rng, width)
    if style == "circle":
        return _circle(box.center, rng)
    raise ValueError(f"unknown mark style {style!r}")


def _sloppy(kind: str, boxes: dict[str, Box], option: str, rng) -> tuple[list[np.ndarray], str]:
    """A deliberately ambiguous mark; returns its strokes and the answer it most likely means."""
    box = boxes[option]
    cx, cy = box.center
    if kind == "dot":
        p = np.array([cx, cy]) + rng.uniform(-1.5, 1.5, 2)
        return [np.vstack([p, p + rng.normal(0, 0.15, 2)])], option
    if kind == "short":
        p = np.array([cx, cy]) + rng.uniform(-1.5, 1.5, 2)
        ang, ln = rng.uniform(0, math.pi), rng.uniform(1.0, 1.8)
        return [_bow(p, p + ln * np.array([math.cos(ang), math.sin(ang)]), rng, 0.1, 5)], option
    if kind == "straddle":
        i = OPTIONS.index(option)
        other = boxes[OPTIONS[i + 1 if i + 1 < len(OPTIONS) else i - 1]]
        a, b = np.array(box.center), np.array(other.center)
        if rng.random() < 0.5:  # a long stroke from one box into the next
            return [_tremor(_bow(a + rng.normal(0, 0.8, 2), b + rng.normal(0, 0.8, 2), rng, 1.0, 20), rng, 0.05)], \
                "invalid"
        # a cross drawn halfway between, its arms reaching into both boxes
        mid, half = (a + b) / 2, abs(b[0] - a[0]) / 2 + rng.uniform(-0.5, 1.5)
        strokes = [_bow(mid + (-half, -2.5), mid + (half, 2.5), rng, 0.5),
                   _bow(mid + (half, -2.5), mid + (-half, 2.5), rng, 0.5)]
        return [_tremor(s, rng, 0.05) for s in strokes], "invalid"
    if kind == "outside":
        ang = rng.uniform(0, 2 * math.pi)
        off = rng.uniform(4.5, 6.0) * np.array([math.cos(ang), math.sin(ang)])
        return _tick((cx + off[0], cy + off[1]), rng, scale=rng.uniform(0.9, 1.2), offset=0.0), option
    raise ValueError(f"unknown sloppy kind {kind!r}")


def _signature(box: Box, rng) -> list[np.ndarray]:
    """A random cursive scribble (trochoid loops of varying size, a capital, sometimes a flourish)
    of one to three strokes inside a signature box, mostly."""
    strokes = []
    width = rng.uniform(28, min(62, box.w - 8))
    height = rng.uniform(6, min(13, box.h - 4))
    x = box.x + rng.uniform(3, box.w - width - 3)
    x_end = x + width
    base = box.y + box.h * rng.uniform(0.6, 0.75)
    slant = rng.uniform(-0.1, 0.45)
    for word in range(int(rng.integers(1, 4))):
        loops = int(rng.integers(3, 9))
        t = np.linspace(0, 2 * math.pi * loops, loops * 24)
        speed = (x_end - x) / (t[-1] + 1e-9) * rng.uniform(0.5, 1.0) if word == 0 else \
            (x_end - x) / (t[-1] + 1e-9) * rng.uniform(0.6, 1.0)
        knots = rng.uniform(0.3, 1.0, loops + 2)
        knots[0] = rng.uniform(1.0, 1.6) if word == 0 else knots[0]  # a capital
        amp = np.interp(t, np.linspace(0, t[-1], loops + 2), knots) * height / 2
        rx = amp * rng.uniform(0.3, 0.9)
        xs = x + speed * t - rx * np.sin(t)
        ys = base - amp * (1 - np.cos(t)) * rng.uniform(0.8, 1.1)
        xs = xs + slant * (base - ys)
        pts = _tremor(np.column_stack([xs, ys]), rng, 0.05)
        strokes.append(pts)
        x = float(xs.max()) + rng.uniform(1.5, 4)
        if x > x_end - 5:
            break
    if rng.random() < 0.5:  # a flourish / underline
        a = np.array([box.x + rng.uniform(3, 15), base + rng.uniform(0.5, 3)])
        b = np.array([min(x + rng.uniform(0, 8), box.x + box.w - 2), base + rng.uniform(-4, 2)])
        strokes.append(_tremor(_bow(a, b, rng, 2.0, 20), rng, 0.05))
    return strokes


# ---------- ink ----------

@dataclass
class Pen:
    color: tuple[float, float, float]  # BGR of full-pressure ink
    width_mm: float
    pressure: float  # 0.5..1: how much of the ink's colour is laid down

    @staticmethod
    def random(rng) -> "Pen":
        if rng.random() < 0.6:  # blue ballpoint / gel
            color = (rng.uniform(100, 170), rng.uniform(25, 60), rng.uniform(0, 35))
        else:  # black
            v = rng.uniform(10, 50)
            color = (v + rng.uniform(0, 10), v, v)
        return Pen(color, float(rng.uniform(0.3, 0.8)), float(rng.uniform(0.55, 1.0)))


def _ink(alpha: np.ndarray, strokes: list[np.ndarray], width_mm: float, strength: float, rng) -> None:
    """Adds anti-aliased strokes (mm) to the page's ink coverage map `alpha` (float32, 0..1)."""
    h, w = alpha.shape
    sx, sy = w / PAGE_W, h / PAGE_H
    pts_px = [np.column_stack([s[:, 0] * sx, s[:, 1] * sy]) for s in strokes if len(s)]
    if not pts_px:
        return
    allp = np.vstack(pts_px)
    wpx = width_mm * sx
    pad = int(math.ceil(wpx)) + 3
    x0, y0 = max(0, int(allp[:, 0].min()) - pad), max(0, int(allp[:, 1].min()) - pad)
    x1, y1 = min(w, int(allp[:, 0].max()) + pad + 1), min(h, int(allp[:, 1].max()) + pad + 1)
    if x1 <= x0 or y1 <= y0:
        return
    patch = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), np.uint8)
    thick = max(1, int(round(wpx * SS)))
    for p in pts_px:
        q = np.round((p - (x0, y0)) * SS * 16).astype(np.int32).reshape(-1, 1, 2)
        if len(q) == 1 or np.all(q == q[0]):  # a dot
            cv2.circle(patch, tuple(int(v) for v in q[0, 0]), max(1, thick // 2) * 16, 255, -1, cv2.LINE_AA, 4)
        else:
            cv2.polylines(patch, [q], False, 255, thick, cv2.LINE_AA, 4)
    cover = cv2.resize(patch, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # ballpoint texture: the ink is laid unevenly (pressure along the stroke, skips)
    gh, gw = max(2, (y1 - y0) // 3), max(2, (x1 - x0) // 3)
    texture = cv2.resize(rng.normal(0, 1, (gh, gw)).astype(np.float32), (x1 - x0, y1 - y0),
                         interpolation=cv2.INTER_LINEAR)
    cover *= np.clip(1.0 - 0.12 * np.abs(texture), 0.55, 1.0) * strength
    region = alpha[y0:y1, x0:x1]
    np.maximum(region, cover, out=region)


def _apply_ink(img: np.ndarray, alpha: np.ndarray, color) -> np.ndarray:
    """Subtractive ink: paper * (1 - a) + paper * ink/255 * a."""
    col = np.asarray(color, np.float32) / 255.0
    a = alpha[..., None]
    out = img.astype(np.float32) * (1.0 - a + a * col)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ---------- marking ----------

def random_choice(rng) -> list[str]:
    """~90 %: one option; ~5 %: none; ~5 %: two options."""
    r = rng.random()
    if r < 0.05:
        return []
    if r < 0.10:
        return list(rng.choice(OPTIONS, 2, replace=False))
    return [str(rng.choice(OPTIONS))]


def _answer(options: list[str]) -> str:
    return "blank" if not options else options[0] if len(options) == 1 else "invalid"


def mark_page(img: np.ndarray, page: SheetPage, dpi: float, rng: np.random.Generator, *,
              choices: dict[int, list[str]] | None = None, signed: bool | None = None,
              sloppy_rate: float = 0.0, styles: dict[int, str] | str | None = None,
              pen: Pen | None = None, owner_id: int = 0) -> tuple[np.ndarray, Truth]:
    """Draws an owner's pen marks onto a clean rendered page (any dpi: the page's own size says its
    scale; `dpi` is kept for the callers' symmetry).

    choices: question number -> options marked; when given it is the whole answer (a question
    absent from it stays blank); None: a random choice per question (see random_choice).
    signed: whether the signature boxes get a signature (None: ~97 % of pages with boxes); a joint
    holding's sheet is signed by one signer or by all. sloppy_rate: per question, the chance of a
    deliberately ambiguous mark instead (not applied where `choices` gives none or several options).
    styles: a mark style for every mark, or per question number (None: random among MARK_STYLES).
    """
    pen = pen or Pen.random(rng)
    alpha = np.zeros(img.shape[:2], np.float32)
    answers, drawn, sloppy_kinds = {}, {}, {}
    for q in page.questions:
        options = random_choice(rng) if choices is None else list(choices.get(q.number, []))
        answers[q.number] = _answer(options)
        if len(options) == 1 and sloppy_rate > 0 and rng.random() < sloppy_rate:
            kind = str(rng.choice(SLOPPY_KINDS))
            strokes, meant = _sloppy(kind, q.boxes, options[0], rng)
            _ink(alpha, strokes, pen.width_mm, pen.pressure * rng.uniform(0.85, 1.0), rng)
            answers[q.number], sloppy_kinds[q.number], drawn[q.number] = meant, kind, [kind]
            continue
        drawn[q.number] = []
        for option in options:
            style = styles.get(q.number) if isinstance(styles, dict) else styles
            style = style or str(rng.choice(MARK_STYLES, p=(0.35, 0.35, 0.12, 0.18)))
            strokes = _mark(style, q.boxes[option], rng, pen.width_mm)
            _ink(alpha, strokes, pen.width_mm, pen.pressure * rng.uniform(0.85, 1.0), rng)
            drawn[q.number].append(style)
    signers_signed: list[int] = []
    if page.signatures:
        if signed is None:
            signed = bool(rng.random() < 0.97)
        if signed:
            n = len(page.signatures)
            signers_signed = list(range(n)) if n == 1 or rng.random() < 0.5 else [int(rng.integers(n))]
            for i in signers_signed:
                _ink(alpha, _signature(page.signatures[i], rng), pen.width_mm, pen.pressure, rng)
    else:
        signed = False
    out = _apply_ink(img, alpha, pen.color)
    return out, Truth(owner_id=owner_id, page=page.page, pages=page.pages, answers=answers, signed=bool(signed),
                      sloppy=bool(sloppy_kinds), sloppy_kinds=sloppy_kinds, styles=drawn,
                      signers_signed=signers_signed)


# ---------- degradation ----------

def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _noise(img: np.ndarray, rng, sd: float) -> np.ndarray:
    n = rng.normal(0, sd, img.shape[:2]).astype(np.float32)[..., None]
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def degrade_scan(img: np.ndarray, rng: np.random.Generator, *, dpi: float, info: dict | None = None,
                 rotation: float | None = None, upside_down: bool | None = None,
                 quality: int | None = None, grayscale: bool | None = None) -> np.ndarray:
    """A flatbed scan of the page at `dpi` (the page image is taken to be at that dpi already):
    sometimes upside down (~15 %), rotated by up to ±5° on a slightly larger white bed (the page is
    never clipped), paper tint and brightness, slight blur, noise, sometimes grayscale (~25 %), JPEG
    40–90. The keyword overrides fix a parameter; `info` receives what was done."""
    info = {} if info is None else info
    upside_down = bool(rng.random() < 0.15) if upside_down is None else upside_down
    rotation = float(rng.uniform(-5, 5)) if rotation is None else float(rotation)
    quality = int(rng.integers(40, 91)) if quality is None else int(quality)
    grayscale = bool(rng.random() < 0.25) if grayscale is None else grayscale
    out = img.astype(np.float32)
    # paper tint and exposure
    tint = np.array([rng.uniform(0.90, 1.0), rng.uniform(0.93, 1.0), rng.uniform(0.95, 1.0)], np.float32)
    gain, lift = rng.uniform(0.9, 1.05), rng.uniform(-8, 10)
    out = np.clip(out * tint * gain + lift, 0, 255).astype(np.uint8)
    if upside_down:
        out = cv2.rotate(out, cv2.ROTATE_180)
    h, w = out.shape[:2]
    bed = tuple(float(v) for v in rng.uniform(238, 255, 3))
    a = math.radians(rotation)
    nw = int(math.ceil(w * abs(math.cos(a)) + h * abs(math.sin(a)))) + int(rng.integers(0, dpi * 0.1 + 1))
    nh = int(math.ceil(w * abs(math.sin(a)) + h * abs(math.cos(a)))) + int(rng.integers(0, dpi * 0.1 + 1))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rotation, 1.0)
    m[0, 2] += (nw - w) / 2 + rng.uniform(-2, 2)
    m[1, 2] += (nh - h) / 2 + rng.uniform(-2, 2)
    out = cv2.warpAffine(out, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=bed)
    sigma = rng.uniform(0.3, 1.0) * dpi / 300.0 + 0.2
    out = cv2.GaussianBlur(out, (0, 0), sigma)
    sd = rng.uniform(2, 8)
    out = _noise(out, rng, sd)
    if grayscale:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = _jpeg(out, quality)
    info.update(kind="scanner", dpi=dpi, rotation=rotation, upside_down=upside_down, quality=quality,
                grayscale=grayscale, blur_sigma=sigma, noise_sd=sd)
    return out


def _background(h: int, w: int, rng) -> np.ndarray:
    base = np.array(rng.choice([(40, 60, 90), (60, 70, 80), (30, 30, 35), (80, 110, 140), (110, 105, 100)]),
                    np.float32) * rng.uniform(0.7, 1.3)
    tex = cv2.resize(rng.normal(0, 1, (max(2, h // 40), max(2, w // 40))).astype(np.float32), (w, h))
    grain = cv2.resize(rng.normal(0, 1, (max(2, h // 4), max(2, w // 200))).astype(np.float32), (w, h))  # wood-ish
    bg = base[None, None, :] + (12 * tex + 8 * grain)[..., None]
    return bg


def _lighting(h: int, w: int, rng) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    g = (xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang)
    light = 1.0 + rng.uniform(0.1, 0.35) * g
    r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
    light *= 1.0 - rng.uniform(0.05, 0.25) * r2  # vignette
    if rng.random() < 0.3:  # a soft shadow of the phone or a hand
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rad = rng.uniform(0.2, 0.5) * max(h, w)
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / rad
        light *= 1.0 - rng.uniform(0.1, 0.3) * np.clip(1 - d, 0, 1)
    return light * rng.uniform(0.85, 1.05)


def degrade_phone(img: np.ndarray, rng: np.random.Generator, *, info: dict | None = None,
                  long_side: int | None = None, upside_down: bool | None = None,
                  quality: int | None = None) -> np.ndarray:
    """A phone photo of the page: a 4:3 portrait frame of 2000–3000 px on the long side, the page
    filling 78–92 % of it on a darker background, its corners moved by up to ~6 % of the size
    (perspective) and turned a little, sometimes upside down (~10 %), uneven light and a colour
    cast, motion or gaussian blur, noise, JPEG 50–90."""
    info = {} if info is None else info
    long_side = int(rng.choice([2000, 2400, 3000])) if long_side is None else int(long_side)
    upside_down = bool(rng.random() < 0.1) if upside_down is None else upside_down
    quality = int(rng.integers(50, 91)) if quality is None else int(quality)
    H, W = long_side, int(round(long_side * 0.75))
    if upside_down:
        img = cv2.rotate(img, cv2.ROTATE_180)
    h, w = img.shape[:2]
    fill = rng.uniform(0.78, 0.92)
    ph = fill * H
    pw = ph * w / h
    if pw > 0.92 * W:
        pw = 0.92 * W
        ph = pw * h / w
    cx, cy = W / 2 + rng.uniform(-0.03, 0.03) * W, H / 2 + rng.uniform(-0.03, 0.03) * H
    corners = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
    corners = _rot(corners, math.radians(rng.uniform(-4, 4)))
    corners += rng.uniform(-0.06, 0.06, (4, 2)) * (pw, ph) * 0.5 + rng.uniform(-0.03, 0.03, (4, 2)) * (pw, ph)
    dst = (corners + (cx, cy)).astype(np.float32)
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    m = cv2.getPerspectiveTransform(src, dst)
    page = cv2.warpPerspective(img, m, (W, H), flags=cv2.INTER_AREA if pw < w else cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)).astype(np.float32)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (W, H), flags=cv2.INTER_LINEAR)
    a = (mask.astype(np.float32) / 255.0)[..., None]
    out = page * a + _background(H, W, rng) * (1 - a)
    cast = np.array([rng.uniform(0.88, 1.05), rng.uniform(0.95, 1.02), rng.uniform(0.92, 1.08)], np.float32)
    out = out * _lighting(H, W, rng)[..., None] * cast
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        n = int(rng.integers(3, 10))
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0
        k = cv2.warpAffine(k, cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), rng.uniform(0, 180), 1.0), (n, n))
        out = cv2.filter2D(out, -1, k / max(k.sum(), 1e-6))
        blur = f"motion {n}px"
    else:
        sigma = rng.uniform(0.5, 1.6)
        out = cv2.GaussianBlur(out, (0, 0), sigma)
        blur = f"gaussian {sigma:.2f}"
    sd = rng.uniform(3, 10)
    out = _noise(out, rng, sd)
    out = _jpeg(out, quality)
    info.update(kind="phone", long_side=long_side, upside_down=upside_down, quality=quality, corners=dst.tolist(),
                blur=blur, noise_sd=sd)
    return out


# ---------- stacks and files ----------

def make_stack(pdf_bytes: bytes, pages_meta: list[tuple[int, SheetPage]], *, dpi: float, kind: str = "scanner",
               seed: int = 0, sloppy_rate: float = 0.0, choices: dict[int, dict[int, list[str]]] | None = None
               ) -> list[tuple[np.ndarray, Truth]]:
    """Page i of the PDF is pages_meta[i] (owner record id, its layout page): rendered at `dpi`,
    marked (one pen per owner), and kept clean, scanned at `dpi` or photographed. `choices`
    optionally fixes the marks per owner id (see mark_page)."""
    if kind not in ("clean", "scanner", "phone"):
        raise ValueError(f"unknown kind {kind!r}")
    rng = np.random.default_rng(seed)
    images = render_pdf_pages(pdf_bytes, dpi)
    if len(images) != len(pages_meta):
        raise ValueError(f"the PDF has {len(images)} pages, pages_meta {len(pages_meta)}")
    pens: dict[int, Pen] = {}
    out = []
    for img, (owner_id, page) in zip(images, pages_meta):
        pen = pens.setdefault(owner_id, Pen.random(rng))
        marked, truth = mark_page(img, page, dpi, rng, choices=(choices or {}).get(owner_id) if choices else None,
                                  sloppy_rate=sloppy_rate, pen=pen, owner_id=owner_id)
        info: dict = {"kind": kind}
        if kind == "scanner":
            marked = degrade_scan(marked, rng, dpi=dpi, info=info)
        elif kind == "phone":
            marked = degrade_phone(marked, rng, info=info)
        truth.degradation = info
        out.append((marked, truth))
    return out


def write_pdf(images: list[np.ndarray], path, *, dpi: float, quality: int = 75) -> Path:
    """A multi-page PDF of JPEG page images, as a scanner writes it (page size from `dpi`)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from reportlab import rl_config

    path = Path(path)
    a85, rl_config.useA85 = rl_config.useA85, 0  # binary JPEG streams (DCTDecode), as scanners write
    try:
        c = canvas.Canvas(str(path))
        c.setCreator("scangen")
        for img in images:
            h, w = img.shape[:2]
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
            assert ok
            pw, ph = w * 72.0 / dpi, h * 72.0 / dpi
            c.setPageSize((pw, ph))
            c.drawImage(ImageReader(io.BytesIO(buf.tobytes())), 0, 0, pw, ph)
            c.showPage()
        c.save()
    finally:
        rl_config.useA85 = a85
    return path


def write_tiff(images: list[np.ndarray], path) -> Path:
    """A multi-page TIFF (LZW), as a document scanner or fax software writes it."""
    path = Path(path)
    ok = cv2.imwritemulti(str(path), list(images), [cv2.IMWRITE_TIFF_COMPRESSION, 5])
    if not ok:
        raise OSError(f"could not write {path}")
    return path


def write_jpegs(images: list[np.ndarray], directory, quality: int = 85, prefix: str = "page") -> list[Path]:
    """One JPEG per page, as a phone's gallery holds them."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images, start=1):
        p = directory / f"{prefix}-{i:03d}.jpg"
        if not cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
            raise OSError(f"could not write {p}")
        paths.append(p)
    return paths
