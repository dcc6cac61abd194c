"""The demonstration meeting: a new user sees every page with data at once."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from services.law import AGENDA_TEMPLATES
from services.meetings import MeetingData, QuestionData, create_meeting
from services.registry import import_registry
from services.settings import PROJECT_ROOT

DEMO_REGISTRY = PROJECT_ROOT / "data" / "samples" / "registry_demo.xlsx"
DEMO_ADDRESS = "г. Москва, ул. Садовая, д. 10"


def create_demo_meeting(session_factory: sessionmaker[Session], *, today: dt.date | None = None) -> int:
    """A meeting that starts in 12 days (so notices can still go out in time) with the sample registry."""
    today = today or dt.date.today()
    chosen = [t for t in AGENDA_TEMPLATES if t.title in (
        "Председатель, секретарь и счётная комиссия", "Выбор управляющей организации",
        "Капитальный ремонт", "Совет дома и его председатель", "Пользование общим имуществом иными лицами",
    )]
    data = MeetingData(
        address=DEMO_ADDRESS,
        initiator="ООО «УК Пример»",
        initiator_details="ОГРН 1027700000000, ИНН 7700000000; 125000, г. Москва, ул. Садовая, д. 1, офис 5",
        start_date=today + dt.timedelta(days=12),
        end_date=today + dt.timedelta(days=42),
        decisions_place="г. Москва, ул. Садовая, д. 1, офис 5 (управляющая организация), пн–пт 9:00–18:00; "
        "почтовый ящик в холле 1-го подъезда",
        materials_place="офис управляющей организации: г. Москва, ул. Садовая, д. 1, офис 5; сайт uk-primer.example",
        questions=[QuestionData(t.text, t.majority) for t in chosen],
    )
    meeting_id = create_meeting(session_factory, data=data)
    import_registry(
        session_factory, meeting_id=meeting_id, data=DEMO_REGISTRY.read_bytes(), filename=DEMO_REGISTRY.name,
        replace=True,
    )
    return meeting_id
