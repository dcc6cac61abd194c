"""A large registry stored by a lower-priority process of its own (services/registry_job.py), and
the registry table read a page at a time (issue 14, item 3): on SQLite and PostgreSQL.

The threshold is lowered here so that a small file takes the large file's road: what is stored
must be exactly what store_registry stores in-process, seals included."""
from __future__ import annotations

import datetime as dt

import pytest

from services import registry_job
from services.errors import DomainError, ValidationError
from services.meetings import MeetingData, QuestionData, create_meeting
from services.registry import (
    REGISTRY_PAGE_ROWS,
    check_registry,
    registry_frame,
    registry_page,
    registry_summary,
    store_registry,
)
from services.seals import check_registry_seal
from services.registry_job import CHANGED, store_checked_registry

SECRET = "registry-job-secret"
HEADER = "Номер помещения;Общая площадь;ФИО/Наименование собственника;Доля собственника"


def csv_of(owners: int, *, offset: int = 0) -> bytes:
    lines = [HEADER]
    for i in range(1, owners + 1):
        flat = (i + 1) // 2
        lines.append(f"{flat + offset}{'а' if flat % 7 == 0 else ''};{30 + flat % 40},5;Собственник {i:05d};1/2")
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def keyed(session_factory):
    session_factory.configure(info={"secret_key": SECRET})  # as build_runtime does: the seals need it
    return session_factory


def _meeting(sf) -> int:
    return create_meeting(sf, data=MeetingData(
        address="г. Москва, ул. Садовая, д. 10", initiator="ООО «УК»", start_date=dt.date.today(),
        end_date=dt.date.today() + dt.timedelta(10), questions=[QuestionData("Выбор председателя")]))


def test_the_import_process_stores_what_the_server_would(keyed, monkeypatch):
    monkeypatch.setattr(registry_job, "CHILD_IMPORT_OWNERS", 0)
    data = csv_of(300)
    by_child, in_process = _meeting(keyed), _meeting(keyed)
    report = check_registry(keyed, data=data, filename="r.csv", meeting_id=by_child, replace=True)
    result = store_checked_registry(keyed, meeting_id=by_child, report=report, data=data, replace=True)
    expected = store_registry(keyed, meeting_id=in_process, report=report, replace=True)
    assert (result.owners, result.premises, result.total_area, result.votes) == \
        (expected.owners, expected.premises, expected.total_area, expected.votes) == (300, 150, result.total_area,
                                                                                     result.votes)
    assert registry_summary(keyed, meeting_id=by_child) == registry_summary(keyed, meeting_id=in_process)
    assert registry_frame(keyed, meeting_id=by_child).reset_index(drop=True).equals(
        registry_frame(keyed, meeting_id=in_process).reset_index(drop=True))
    # sealed with the instance key the server's sessions carry: the check finds the registry whole
    with keyed() as s:
        assert check_registry_seal(s, SECRET, by_child, has_decisions=True) == []
        from services.models import Meeting

        assert s.get(Meeting, by_child).registry_seal is not None


def test_a_registry_changed_since_the_preview_is_not_imported(keyed, monkeypatch):
    """«Добавить к реестру»: the preview was checked against the registry as it was; someone added
    the same flats meanwhile, so the file now reads differently — refused, nothing stored."""
    monkeypatch.setattr(registry_job, "CHILD_IMPORT_OWNERS", 0)
    meeting = _meeting(keyed)
    store_registry(keyed, meeting_id=meeting, replace=True,
                   report=check_registry(keyed, data=csv_of(10, offset=1000), filename="a.csv",
                                         meeting_id=meeting, replace=True))
    data = csv_of(40)
    report = check_registry(keyed, data=data, filename="b.csv", meeting_id=meeting, replace=False)
    store_registry(keyed, meeting_id=meeting, replace=False,
                   report=check_registry(keyed, data=csv_of(4), filename="c.csv", meeting_id=meeting, replace=False))
    before = registry_summary(keyed, meeting_id=meeting)
    with pytest.raises(ValidationError, match="изменился реестр"):
        store_checked_registry(keyed, meeting_id=meeting, report=report, data=data, replace=False)
    assert CHANGED.startswith("Файл не импортирован")
    assert registry_summary(keyed, meeting_id=meeting) == before


def test_a_refusal_in_the_import_process_comes_back_in_russian(keyed, monkeypatch):
    monkeypatch.setattr(registry_job, "CHILD_IMPORT_OWNERS", 0)
    meeting = _meeting(keyed)
    data = csv_of(20)
    report = check_registry(keyed, data=data, filename="r.csv", meeting_id=meeting, replace=True)
    with pytest.raises(DomainError) as caught:  # the meeting is gone: the child's NotFound, as the server's
        store_checked_registry(keyed, meeting_id=meeting + 999, report=report, data=data, replace=True)
    assert any("а" <= ch <= "я" for ch in caught.value.message.lower())


def test_the_registry_table_is_read_a_page_at_a_time(keyed):
    meeting = _meeting(keyed)
    n = 2 * REGISTRY_PAGE_ROWS + 17
    data = csv_of(n)
    store_registry(keyed, meeting_id=meeting, replace=True,
                   report=check_registry(keyed, data=data, filename="r.csv", meeting_id=meeting, replace=True))
    whole = registry_frame(keyed, meeting_id=meeting)
    pages = [registry_page(keyed, meeting_id=meeting, page=p) for p in (1, 2, 3)]
    assert [(p.page, p.pages, p.total, len(p.frame)) for p in pages] == \
        [(1, 3, n, REGISTRY_PAGE_ROWS), (2, 3, n, REGISTRY_PAGE_ROWS), (3, 3, n, 17)]
    import pandas as pd

    assert pd.concat([p.frame for p in pages]).equals(whole)  # the same rows, in the same natural order
    assert registry_page(keyed, meeting_id=meeting, page=99).page == 3  # clamped to the last page
    assert registry_page(keyed, meeting_id=meeting, page=0).page == 1
    found = registry_page(keyed, meeting_id=meeting, search="Собственник 00007")
    assert (found.total, found.pages, list(found.frame["ФИО/Наименование собственника"])) == \
        (1, 1, ["Собственник 00007"])


def test_the_kept_order_follows_every_change_of_the_registry(keyed):
    """The table's order is kept per registry state: the same file stored again (new ids), a renamed
    owner and a deleted one each show at once."""
    from services.registry import OwnerInput, apply_registry_changes

    meeting = _meeting(keyed)
    data = csv_of(6)

    def store_again():
        store_registry(keyed, meeting_id=meeting, replace=True,
                       report=check_registry(keyed, data=data, filename="r.csv", meeting_id=meeting, replace=True))

    store_again()
    first = registry_page(keyed, meeting_id=meeting).frame
    data = csv_of(6).replace(b"\n", b"\r\n")  # the same owners in another order: the same seal
    lines = data.split(b"\r\n")
    data = b"\r\n".join([lines[0], *reversed(lines[1:-1]), b""])
    store_again()  # SQLite gives the new rows the old ids: only the kept order's key can tell
    second = registry_page(keyed, meeting_id=meeting).frame
    assert list(first.iloc[:, 2]) == list(second.iloc[:, 2])  # the same table, in the same order
    assert list(first.index) != list(second.index)  # of other rows
    rid = second.index[0]
    row = second.loc[rid]
    apply_registry_changes(keyed, meeting_id=meeting, added=[], deleted=[second.index[1]], edited={rid: OwnerInput(
        premise=row.iloc[0], area=row.iloc[1].replace("\u00a0м²", ""), name="Яковлев Яков", share=row.iloc[3])})
    third = registry_page(keyed, meeting_id=meeting).frame
    assert second.index[1] not in third.index and len(third) == 5
    names = list(third.iloc[:, 2])
    assert "Яковлев Яков" in names and second.iloc[0, 2] not in names


def test_a_large_files_preview_keeps_its_figures_not_its_rows(keyed, monkeypatch):
    """The app server keeps a large file's preview compact; the import process reads the rows again
    from the file and stores them all."""
    monkeypatch.setattr(registry_job, "CHILD_IMPORT_OWNERS", 50)
    meeting = _meeting(keyed)
    data = csv_of(120)
    full = check_registry(keyed, data=data, filename="r.csv", meeting_id=meeting, replace=True)
    kept = registry_job.check_for_preview(keyed, data=data, filename="r.csv", meeting_id=meeting, replace=True)
    assert kept.owners == [] and kept.figures is not None
    assert (kept.owner_count, kept.premises, kept.total_area, kept.votes) == \
        (120, full.premises, full.total_area, full.votes)
    assert kept.summary()["owners"] == 120
    assert registry_job.check_for_preview(keyed, data=csv_of(10), filename="s.csv", meeting_id=meeting,
                                          replace=True).owners  # a small file is kept whole
    result = store_checked_registry(keyed, meeting_id=meeting, report=kept, data=data, replace=True)
    assert result.owners == 120 and registry_summary(keyed, meeting_id=meeting).owners == 120


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_preview_check_sends_only_figures_from_the_threshold(keyed, monkeypatch, fmt):
    """check_for_preview: a large file's rows stay in the reading process (CSV) or are dropped once
    counted (workbooks); the figures are exactly those of the full check, joint holdings counted once,
    also when the file is added to a registry already there; a small file comes back whole."""
    from tests.filemakers import make_table

    monkeypatch.setattr(registry_job, "CHILD_IMPORT_OWNERS", 30)
    meeting = _meeting(keyed)
    store_registry(keyed, meeting_id=meeting, replace=True,
                   report=check_registry(keyed, data=csv_of(6, offset=5000), filename="a.csv",
                                         meeting_id=meeting, replace=True))
    rows = [["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника"]]
    for i in range(1, 41):
        flat = (i + 1) // 2
        share = "совместная" if flat % 3 == 0 else "1/2"
        rows.append([str(flat), f"{40 + flat},3", f"Собственник {i:03d}", share])
    rows.append(["", "50", "Без номера", "1"])  # a rejected row travels as before
    data = make_table(rows, fmt)
    for replace in (True, False):
        full = check_registry(keyed, data=data, filename=f"r.{fmt}", meeting_id=meeting, replace=replace)
        kept = registry_job.check_for_preview(keyed, data=data, filename=f"r.{fmt}", meeting_id=meeting,
                                              replace=replace)
        assert full.owners and full.figures is None
        assert kept.owners == [] and kept.figures is not None
        assert (kept.owner_count, kept.premises, kept.total_area, kept.votes) == \
            (40, full.premises, full.total_area, full.votes) == (40, 20, full.total_area, full.votes)
        assert full.votes < sum((o.votes for o in full.owners), 0)  # joint rows counted once, not per row
        assert [r[0] for r in kept.rejected_rows] == [r[0] for r in full.rejected_rows] and kept.rejected_rows
        assert kept.summary() == full.summary()
    small = registry_job.check_for_preview(keyed, data=make_table(rows[:21], fmt), filename=f"s.{fmt}",
                                           meeting_id=meeting, replace=True)
    assert len(small.owners) == 20 and small.figures is None
