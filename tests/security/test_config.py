"""Streamlit's own protections stay on: XSRF protection for uploads and actions, and a hard upload
size limit (a registry is refused above 20 MB by the reader; the server stops far larger bodies)."""
from __future__ import annotations

import tomllib
from pathlib import Path

from services.spreadsheet import MAX_FILE_BYTES

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def server_config() -> dict:
    with CONFIG.open("rb") as fh:
        return tomllib.load(fh)["server"]


def test_xsrf_protection_is_on():
    assert server_config().get("enableXsrfProtection") is True


def test_upload_size_is_limited_to_at_most_100_mb_and_above_the_readers_own_limit():
    limit = server_config().get("maxUploadSize")
    assert isinstance(limit, int) and not isinstance(limit, bool)
    assert MAX_FILE_BYTES / 1024**2 <= limit <= 100


def test_error_details_are_not_shown_to_visitors():
    with CONFIG.open("rb") as fh:
        assert tomllib.load(fh)["client"].get("showErrorDetails") in ("none", False)
