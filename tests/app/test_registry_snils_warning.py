"""«Реестр собственников» warns how many persons lack a valid СНИЛС (issue 15, item 6): since
01.09.2025 a person's written decision carries it (ЖК РФ ст. 48 ч. 5.1)."""
from __future__ import annotations

import pytest

from pagekit import assert_ran_cleanly, registry_xlsx, texts
from services.registry import import_registry
from ui.state import PAGE_REGISTRY

HEADER = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника", "СНИЛС"]
GOOD = "112-233-445 95"
LAW = "нет СНИЛС или он неверен: с 01.09.2025 СНИЛС указывается в решении (ЖК РФ ст. 48 ч. 5.1)."


def rows(missing: int, valid: int = 1) -> list[list]:
    """`missing` persons without a СНИЛС (every other one with a wrong one, stored without it),
    `valid` persons with one, and a legal entity without one, which is never counted."""
    body = [[str(n), 40.0, f"Собственник {n}", "1", "112-233-445 96" if n % 2 else ""] for n in range(1, missing + 1)]
    body += [[str(100 + n), 40.0, f"Владелец {n}", "1", GOOD] for n in range(valid)]
    return [*body, ["200", 70.0, "ООО «Ромашка»", "1", ""]]


def snils_warnings(at) -> list[str]:
    return [w for w in texts(at.warning) if "СНИЛС" in w]


@pytest.mark.parametrize("missing,who", [
    (1, "У 1 собственника — физического лица"),
    (3, "У 3 собственников — физических лиц"),
    (5, "У 5 собственников — физических лиц"),
    (21, "У 21 собственника — физического лица"),
])
def test_the_registry_page_warns_how_many_persons_lack_a_valid_snils(open_page, session_factory, meeting_id,
                                                                     missing, who):
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(rows(missing), HEADER),
                    filename="реестр.xlsx", replace=True)
    at = open_page(PAGE_REGISTRY, meeting_id)
    assert_ran_cleanly(at)
    assert snils_warnings(at) == [f"{who} {LAW}"]


def test_no_warning_when_every_person_has_a_valid_snils(open_page, session_factory, meeting_id):
    import_registry(session_factory, meeting_id=meeting_id, data=registry_xlsx(rows(0, valid=3), HEADER),
                    filename="реестр.xlsx", replace=True)
    at = open_page(PAGE_REGISTRY, meeting_id)
    assert_ran_cleanly(at)
    assert snils_warnings(at) == []


def test_no_warning_on_an_empty_registry(open_page, meeting_id):
    at = open_page(PAGE_REGISTRY, meeting_id)
    assert_ran_cleanly(at)
    assert snils_warnings(at) == []
