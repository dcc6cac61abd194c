"""Персональные коды доступа: drawing, reading and keyed hashing of the owners' voting codes.

A code is 12 characters of Crockford base32 (60 bits from `secrets`), shown in groups of four
(«7KQ3-M9XD-2PWA»). It is read case-insensitively with spaces and dashes ignored, and the letters
Crockford treats as look-alikes (O → 0, I and L → 1) are accepted. Only HMAC-SHA256 of the
normalised code under the instance secret key is ever stored.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 12  # 12 × 5 = 60 bits
GROUP = 4
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -\u2010\u2011\u2012\u2013\u2014\t\r\n\u00a0")
MAX_INPUT = 64  # anything longer is not a code; not even normalised


def generate_code() -> str:
    """A fresh code, formatted for reading: «7KQ3-M9XD-2PWA»."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def format_code(raw: str) -> str:
    return "-".join(raw[i:i + GROUP] for i in range(0, len(raw), GROUP))


def normalize_code(text: str) -> str | None:
    """The canonical 12 characters of what an owner typed, or None when it cannot be a code."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    raw = text.translate(_IGNORED).upper().translate(_LOOKALIKES)
    if len(raw) != CODE_LENGTH or any(c not in ALPHABET for c in raw):
        return None
    return raw


def hash_code(secret_key: str, code: str) -> str:
    """HMAC-SHA256 (hex) of the normalised code; raises ValueError for a malformed code."""
    raw = normalize_code(code)
    if raw is None:
        raise ValueError("not an access code")
    return hmac.new(secret_key.encode("utf-8"), b"access-code:" + raw.encode("ascii"), hashlib.sha256).hexdigest()


def load_or_create_secret_key(configured: str | None, data_dir: Path) -> str:
    """The instance secret key: from settings, or generated once into data/secret.key (mode 0600).

    Losing this file makes every code sent so far unusable and every decision seal unverifiable,
    so it is created atomically and never overwritten.
    """
    if configured:
        return configured
    path = Path(data_dir) / "secret.key"
    if path.is_file():
        key = path.read_text(encoding="ascii").strip()
        if key:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # a copy put back by hand, or an older version's file
            return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key
