"""Issue 14 §6: a document that cannot be made says why on «Итоги и протокол», instead of the
download failing with no word (Streamlit makes it on the click, outside the script run)."""
from __future__ import annotations

import pytest
import streamlit as st

from pagekit import assert_ran_cleanly
from services import documents
from tests.integration.test_tally import EXAMPLE, build
from ui.state import PAGE_RESULTS

LABEL = "Протокол (.docx)"


@pytest.fixture
def data_functions(monkeypatch) -> dict:
    """The data function the page gives each download button, by label: what Streamlit calls when
    the button is clicked in a browser (AppTest has no server to call it)."""
    given: dict = {}
    original = st.download_button

    def recording(label, data=None, *args, **kwargs):
        given[label] = data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    return given


def _click(data_functions: dict, label: str) -> None:
    try:
        data_functions[label]()
    except Exception:  # noqa: BLE001 - the browser gets Streamlit's own «failed to generate»
        pass


def test_a_document_that_cannot_be_made_shows_its_reason_on_the_page(open_page, session_factory, tmp_path,
                                                                     monkeypatch, data_functions):
    m, _ids, _q = build(session_factory, EXAMPLE)
    at = open_page(PAGE_RESULTS, m)
    assert_ran_cleanly(at)
    assert not [e.value for e in at.error]
    # a management company replaced the protocol's template with a file that is not a Word document
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "protocol.docx").write_bytes(b"not a word document")
    monkeypatch.setattr(documents, "TEMPLATES_DIR", tmp_path / "templates")
    _click(data_functions, LABEL)
    at.run()
    assert_ran_cleanly(at)
    [error] = [e.value for e in at.error]
    assert error.startswith(f"Не удалось сформировать «{LABEL}»: шаблон документа повреждён"), error

    # the template put right: the document is made, and the message goes
    monkeypatch.setattr(documents, "TEMPLATES_DIR", documents.PROJECT_ROOT / "templates")
    _click(data_functions, LABEL)
    at.run()
    assert not [e.value for e in at.error]
