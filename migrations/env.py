"""Alembic environment: uses the connection handed in by services.db.upgrade_schema,
or DATABASE_URL / the default SQLite file when run as `alembic upgrade head`."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from services.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from services.settings import load_settings

        url = load_settings().database_url
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.begin() as conn:
        run_with(conn)
