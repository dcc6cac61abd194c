"""Schema changes go through Alembic: the migrated schema equals the models, and upgrading keeps data."""
from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.db import upgrade_schema
from services.meetings import MeetingData, QuestionData, create_meeting, list_meetings
from services.models import Base


def test_migrations_produce_exactly_the_models_schema(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ — write an Alembic revision: {diff}"


def test_upgrading_again_keeps_the_data(engine, session_factory):
    create_meeting(session_factory, data=MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК»", start_date=dt.date(2026, 12, 10),
        end_date=dt.date(2026, 12, 30), questions=[QuestionData("Вопрос 1")],
    ))
    upgrade_schema(engine)
    assert [m.address for m in list_meetings(session_factory)] == ["г. Тверь, ул. Ленина, д. 5"]
