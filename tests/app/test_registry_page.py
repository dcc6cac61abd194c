"""«Реестр собственников»: the summary line, upload with a preview, import, the table, «Удалить всех»."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pagekit import (
    SEED_HEADER,
    SEED_OWNERS,
    SEED_PREMISES,
    SEED_ROWS,
    XLSX_MIME,
    assert_ran_cleanly,
    button,
    registry_xlsx,
    texts,
)
from services.models import OwnerRecord
from services.registry import import_registry, registry_summary
from ui.state import PAGE_REGISTRY, md

SEED_LINE = f"Сведения о {SEED_OWNERS} собственниках / {SEED_PREMISES} помещениях"
# 4 owners, 3 premises: CLDR's «few», not «4 собственников, 3 помещений»
SEED_OWNERS_TEXT, SEED_PREMISES_TEXT = f"{SEED_OWNERS} собственника", f"{SEED_PREMISES} помещения"


def owners_in_db(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(OwnerRecord))


@pytest.fixture
def registry_page(open_page, meeting_id):
    return open_page(PAGE_REGISTRY, meeting_id)


@pytest.fixture
def loaded_page(open_page, session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(), filename="реестр.xlsx", replace=True)
    return open_page(PAGE_REGISTRY, meeting_id)


def upload(at, data: bytes, name="реестр.xlsx", mime=XLSX_MIME):
    [uploader] = at.file_uploader
    return uploader.set_value((name, data, mime)).run()


def preview_lines(at) -> list[str]:
    return [m for m in texts(at.markdown) if m.startswith("**Прочитано из")]


def test_an_empty_registry_shows_zero_and_opens_the_upload(registry_page):
    at = registry_page
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Реестр собственников"]
    assert texts(at.subheader) == ["Сведения о 0 собственниках / 0 помещениях"]
    [expander] = [e for e in at.expander if e.label == "Загрузить реестр из файла"]
    assert expander.proto.expanded
    # with nothing to add to, the only choice is to load
    assert at.radio(key="registry_mode").disabled
    assert not [b for b in at.button if b.label.startswith("Удалить всех")]


def test_an_upload_shows_a_preview_and_stores_nothing(registry_page, session_factory):
    at = upload(registry_page, registry_xlsx())
    assert_ran_cleanly(at)
    # areas 50 + 45.5 + 64.1; every owner votes with area × share, so votes equal the area here
    assert preview_lines(at) == [
        f"**Прочитано из «{md('реестр.xlsx')}»** (лист «Реестр», строка заголовков 1): принято "
        f"**{SEED_OWNERS_TEXT}**, **{SEED_PREMISES_TEXT}**, площадь **159,60\u00a0м²**, голосов **159,60**"
    ]
    recognised = [c for c in texts(at.caption) if c.startswith("Столбцы: ")]
    assert len(recognised) == 1 and all(f"«{h}»" in recognised[0] for h in SEED_HEADER[:4])
    assert button(at, "Импортировать")
    assert not at.error
    [status] = at.get("status")
    assert (status.label, status.state, status.proto.expanded) == ("Файл «реестр.xlsx» проверен", "complete", False)
    assert not at.get("progress")
    assert owners_in_db(session_factory) == 0
    assert texts(at.subheader) == ["Сведения о 0 собственниках / 0 помещениях"]
    assert at.session_state["registry_preview"][1] is True  # (digest, replace, report)


def test_import_stores_the_registry_and_shows_the_summary_and_table(registry_page, session_factory, meeting_id):
    at = upload(registry_page, registry_xlsx())
    at = button(at, "Импортировать").click().run()
    assert_ran_cleanly(at)
    assert texts(at.subheader) == [SEED_LINE]
    assert texts(at.success) == [
        f"Реестр заменён: импортировано {SEED_OWNERS_TEXT}, {SEED_PREMISES_TEXT}."
    ]
    assert registry_summary(session_factory, meeting_id=meeting_id).line == SEED_LINE
    # the uploader is emptied and the preview gone, so a second click cannot import twice
    assert at.session_state["registry_preview"] is None
    assert at.file_uploader[0].value is None
    assert not [b for b in at.button if b.label.startswith("Импортировать")]

    [table] = at.data_editor
    frame = table.value
    assert list(frame.columns)[:len(SEED_HEADER)] == SEED_HEADER
    assert list(frame["ФИО/Наименование собственника"]) == [r[2] for r in SEED_ROWS]
    assert list(frame["Номер помещения"]) == ["1", "2", "2", "3"]
    assert list(frame["Доля собственника"])[1:3] == ["1/2", "1/2"]
    assert frame["Общая площадь"].iloc[0] == "50,00\u00a0м²"
    assert frame["Дата документа"].iloc[0] == "04.02.2020"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Помещений"] == str(SEED_PREMISES)
    assert metrics["Общая площадь помещений"] == "159,60\u00a0м²"
    assert metrics["Голосов у собственников в реестре"] == "159,60"


def test_rows_with_errors_are_listed_and_left_out(registry_page, session_factory):
    rows = [*SEED_ROWS, ["4", "много", "Без Площади", "1", "", "", ""]]
    at = upload(registry_page, registry_xlsx(rows))
    assert [e for e in texts(at.error) if e.startswith("Отклонено строк: 1.")]
    [rejected] = [d for d in at.dataframe if d.editing_mode == "read_only"]
    assert list(rejected.value.columns) == ["Строка", "Столбец", "Причина"]
    assert list(rejected.value["Строка"]) == [6]  # the header is row 1
    assert "«много»" in rejected.value["Причина"].iloc[0]
    assert [d.label for d in at.download_button] == ["Скачать отклонённые строки (.xlsx)"]
    at = button(at, "Импортировать").click().run()
    assert texts(at.subheader) == [SEED_LINE]
    assert texts(at.success) == [
        f"Реестр заменён: импортировано {SEED_OWNERS_TEXT}, {SEED_PREMISES_TEXT}. Отклонено строк: 1."
    ]


def test_a_file_without_the_registry_columns_cannot_be_imported(registry_page, session_factory):
    at = upload(registry_page, registry_xlsx(rows=[["a", "b"]], header=["Что-то", "Другое"]))
    assert at.error
    # the check's box says so and folds up, without a half-filled progress bar in it
    [status] = at.get("status")
    assert (status.label, status.state, status.proto.expanded) == ("Файл «реестр.xlsx» не прочитан", "error", False)
    assert not at.get("progress")
    assert not [b for b in at.button if b.label.startswith("Импортировать")]
    assert owners_in_db(session_factory) == 0


def test_a_loaded_registry_offers_replace_or_add(loaded_page):
    at = loaded_page
    assert texts(at.subheader) == [SEED_LINE]
    [expander] = [e for e in at.expander if e.label == "Загрузить реестр из файла"]
    assert not expander.proto.expanded
    mode = at.radio(key="registry_mode")
    assert not mode.disabled and mode.options == ["Заменить реестр", "Добавить к реестру"]
    at = upload(at, registry_xlsx(rows=SEED_ROWS[:1]))
    assert button(at, "Импортировать (заменить реестр)")


def test_adding_to_the_registry_keeps_the_owners_already_there(loaded_page, session_factory, meeting_id):
    at = loaded_page
    at.radio(key="registry_mode").set_value("Добавить к реестру")
    new_owner = ["5", 30.0, "Новиков Николай Николаевич", "1", "77-01/005", None, ""]
    at = upload(at.run(), registry_xlsx(rows=[new_owner]))
    at = button(at, "Импортировать").click().run()
    assert not at.get("dialog")  # an addition deletes nothing: no question asked
    assert texts(at.subheader) == [f"Сведения о {SEED_OWNERS + 1} собственниках / {SEED_PREMISES + 1} помещениях"]
    assert texts(at.success)[0].startswith("Реестр дополнен: импортировано 1 собственник, 1 помещение")


def test_search_narrows_the_table(loaded_page):
    at = loaded_page
    at.text_input(key="registry_search").input("петров").run()
    assert list(at.data_editor[0].value["ФИО/Наименование собственника"]) == [
        "Петров Пётр Петрович", "Петрова Анна Сергеевна",
    ]
    at.text_input(key="registry_search").input("Сидоров").run()
    assert at.data_editor[0].value.empty
    assert texts(at.info) == ["Никто не найден."]


def big_csv(owners: int) -> bytes:
    lines = ["Номер помещения;Общая площадь;ФИО/Наименование собственника;Доля собственника"]
    lines += [f"{(i + 1) // 2};{40 + (i + 1) // 2 % 9},5;Собственник {i:04d};1/2" for i in range(1, owners + 1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_large_file_is_imported_by_a_process_of_its_own(registry_page, session_factory, monkeypatch):
    """Issue 14, item 3: a large registry is stored by a lower-priority import process; the page
    says the same as for an in-process import (the threshold is lowered to take that road here)."""
    from services import registry_job

    started = []
    real_run = registry_job.subprocess.run
    monkeypatch.setattr(registry_job, "CHILD_IMPORT_OWNERS", 10)
    monkeypatch.setattr(registry_job.subprocess, "run", lambda *a, **k: started.append(a[0]) or real_run(*a, **k))
    at = upload(registry_page, big_csv(30), name="большой.csv", mime="text/csv")
    at = button(at, "Импортировать").click().run()
    assert_ran_cleanly(at)
    assert texts(at.success) == ["Реестр заменён: импортировано 30 собственников, 15 помещений."]
    assert owners_in_db(session_factory) == 30 and len(started) == 1
    at = at.run()  # a rerun after the import imports nothing again
    assert owners_in_db(session_factory) == 30 and len(started) == 1


def test_a_large_registry_is_shown_a_page_at_a_time(open_page, session_factory, meeting_id):
    from services.registry import REGISTRY_PAGE_ROWS

    n = REGISTRY_PAGE_ROWS + 30
    import_registry(session_factory, meeting_id=meeting_id, data=big_csv(n), filename="r.csv", replace=True)
    at = open_page(PAGE_REGISTRY, meeting_id)
    assert_ran_cleanly(at)
    assert len(at.data_editor[0].value) == REGISTRY_PAGE_ROWS
    assert f"Показаны строки 1–{REGISTRY_PAGE_ROWS} из {n}." in " ".join(texts(at.caption))
    at.number_input(key="registry_page_no").set_value(2).run()
    assert_ran_cleanly(at)
    frame = at.data_editor[0].value
    assert len(frame) == 30 and f"Показаны строки {REGISTRY_PAGE_ROWS + 1}–{n} из {n}." in " ".join(texts(at.caption))
    # an edit's row positions map to this page's owners (AppTest cannot type into cells: the edit
    # itself is tests/e2e/test_registry_flow.py's)
    from services.registry import registry_page

    assert at.session_state["registry_editor_ids"] == list(
        registry_page(session_factory, meeting_id=meeting_id, page=2).frame.index)
    # a search starts again on page 1
    at.text_input(key="registry_search").input("Собственник 01").run()  # 0100..0130: 31 owners, one page
    assert at.session_state["registry_page_no"] == 1 and len(at.data_editor[0].value) == 31
    assert not [w for w in at.number_input if w.key == "registry_page_no"]


def open_dialog(at, opener: str):
    """Press the page's button `opener` and return (the app, the one dialog it opened)."""
    outer = [b for b in at.button if b.label == opener]
    assert len(outer) == 1
    at = outer[0].click().run()
    dialogs = at.get("dialog")
    assert len(dialogs) == 1, "the button must open one dialog"
    return at, dialogs[0]


def click_in_dialog(at, dialog, opener: str, label: str):
    """Click `label` inside the dialog that `opener` opened.

    In a browser a click in a dialog reruns only the dialog function (a fragment). AppTest
    always reruns the whole script, where the dialog function runs only while its opening
    button is pressed, so both are pressed in one run to replay what the browser does.
    """
    [inside] = [b for b in dialog.button if b.label == label]
    in_dialog = {b.id for b in dialog.button}
    [outer] = [b for b in at.button if b.label == opener and b.id not in in_dialog]
    outer.click()
    return inside.click().run()


def test_delete_all_asks_for_confirmation_first(loaded_page, session_factory):
    at, dialog = open_dialog(loaded_page, "Удалить всех")
    assert_ran_cleanly(at)
    assert dialog.proto.dialog.title == "Удалить всех собственников?"
    assert texts(dialog.markdown) == [
        f"Из реестра будут удалены все собственники ({SEED_OWNERS}) и их помещения. Это действие не отменить."
    ]
    assert sorted(b.label for b in dialog.button) == ["Отмена", "Удалить всех"]
    assert owners_in_db(session_factory) == SEED_OWNERS
    assert texts(at.subheader) == [SEED_LINE]


def test_confirming_delete_all_empties_the_registry(loaded_page, session_factory):
    at, dialog = open_dialog(loaded_page, "Удалить всех")
    at = click_in_dialog(at, dialog, "Удалить всех", "Удалить всех")
    assert_ran_cleanly(at)
    assert owners_in_db(session_factory) == 0
    assert texts(at.subheader) == ["Сведения о 0 собственниках / 0 помещениях"]
    assert texts(at.success) == [f"Удалено собственников: {SEED_OWNERS}."]
    assert not at.get("dialog")


def test_cancelling_delete_all_keeps_the_registry(loaded_page, session_factory):
    at, dialog = open_dialog(loaded_page, "Удалить всех")
    at = click_in_dialog(at, dialog, "Удалить всех", "Отмена")
    assert_ran_cleanly(at)
    assert owners_in_db(session_factory) == SEED_OWNERS
    assert texts(at.subheader) == [SEED_LINE]
    assert not at.get("dialog")


# ---------- replacing a loaded registry asks first ----------
REPLACE = "Импортировать (заменить реестр)"
#: one owner accepted, two rows refused (an area that is no number)
SMALLER = [SEED_ROWS[0], ["4", "много", "Без Площади", "1", "", "", ""], ["5", "?", "Без Площади Тоже", "1", "", "", ""]]


def replacing(loaded_page):
    at = upload(loaded_page, registry_xlsx(SMALLER))
    assert at.radio(key="registry_mode").value == "Заменить реестр"
    return at


def test_replacing_the_registry_asks_first_with_the_counts_and_stores_nothing(loaded_page, session_factory):
    at, dialog = open_dialog(replacing(loaded_page), REPLACE)
    assert_ran_cleanly(at)
    assert dialog.proto.dialog.title == "Заменить реестр?"
    assert texts(dialog.markdown) == [
        "Заменить реестр: сейчас 4 собственника / 3 помещения, после замены — 1 собственник / 1 помещение; "
        "отклонено строк: 2. Заменить?"
    ]
    assert sorted(b.label for b in dialog.button) == ["Да, заменить реестр", "Отмена"]
    assert owners_in_db(session_factory) == SEED_OWNERS
    assert texts(at.subheader) == [SEED_LINE]
    assert at.session_state["registry_preview"] is not None  # the checked file waits for the answer


def test_cancelling_the_replacement_keeps_the_registry(loaded_page, session_factory):
    at, dialog = open_dialog(replacing(loaded_page), REPLACE)
    at = click_in_dialog(at, dialog, REPLACE, "Отмена")
    assert_ran_cleanly(at)
    assert owners_in_db(session_factory) == SEED_OWNERS
    assert texts(at.subheader) == [SEED_LINE]
    assert not at.get("dialog") and not at.success
    assert button(at, REPLACE)  # the file is still there: the analyst may add it instead


def test_confirming_the_replacement_replaces_the_registry_once(loaded_page, session_factory, meeting_id):
    from services.audit import audit_frame

    at, dialog = open_dialog(replacing(loaded_page), REPLACE)
    at = click_in_dialog(at, dialog, REPLACE, "Да, заменить реестр")
    assert_ran_cleanly(at)
    assert owners_in_db(session_factory) == 1
    assert texts(at.subheader) == [registry_summary(session_factory, meeting_id=meeting_id).line]
    assert texts(at.success)[0].startswith("Реестр заменён: импортировано 1 ")
    assert not at.get("dialog")
    assert at.session_state["registry_preview"] is None
    assert not [b for b in at.button if b.label.startswith("Импортировать")]
    at.run()  # a rerun (or a second click that arrives late) imports nothing again
    assert list(audit_frame(session_factory)["Действие"]).count("Импорт реестра") == 1
