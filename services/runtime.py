"""Building the running application's parts once from settings (used by app.py and manage.py)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.codes import load_or_create_secret_key
from services.db import make_engine, make_session_factory, upgrade_schema
from services.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    secret_key: str


def build_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade_schema(engine)
    secret_key = load_or_create_secret_key(settings.secret_key, settings.data_dir)
    session_factory = make_session_factory(engine)
    # The instance key travels with the sessions: the journal and the registry seal with it
    # (services/audit.py, services/seals.py) without every caller passing it.
    session_factory.configure(info={"secret_key": secret_key})
    if migrate:
        from services.seals import seal_upgraded_data

        seal_upgraded_data(session_factory, secret_key=secret_key)  # once, after migration 0007
    return Runtime(settings, engine, session_factory, secret_key)
