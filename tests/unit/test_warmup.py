"""ui/warmup.py: what serve.py imports before the server answers is read from the scripts themselves."""
from __future__ import annotations

import sys

from ui import warmup


def test_the_pages_imports_are_found_in_their_own_import_statements():
    first = warmup.imported_modules(warmup.FIRST_PAGE_SCRIPTS)
    pages = warmup.imported_modules(warmup.PAGE_SCRIPTS)
    assert "streamlit" in first and "services.auth" in first and "ui.state" in first
    # what the staff pages use is found for them
    assert "pandas" in pages and "services.voting" in pages and "services.results" in pages
    assert "__future__" not in first + pages


def test_import_all_goes_past_names_that_are_not_modules_and_imports_the_rest(monkeypatch):
    monkeypatch.delitem(sys.modules, "json.decoder", raising=False)
    warmup.import_all(["services.auth.authenticate", "no_such_module_kvorum", "json.decoder"])
    assert "json.decoder" in sys.modules


def test_the_preloaded_frontend_modules_exist_in_this_streamlit():
    """A Streamlit upgrade that renames its element modules makes the preload silently useless: fail here."""
    from ui.state import PRELOADED_ELEMENTS, preloaded_files

    found = {name.split(".")[0] for name in preloaded_files()}
    for element in ("DataFrame", "DateInput", "Radio", "Selectbox", "TextInput", "FileUploader", "ArrowVegaLiteChart"):
        assert element in found, element
    assert found <= set(PRELOADED_ELEMENTS)
