"""seals over what the count reads; the journal chained

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 19:10:00

- decisions.state / state_seal: the mutable state of a decision (status, counted and online slot)
  and its HMAC, re-sealed by every service that changes it (services/voting.py).
- premises.seal, owner_records.seal, meetings.registry_seal: keyed tags of the registry the
  meeting is counted on, and an HMAC over all of them with the counts and the passport area
  (services/seals.py).
- audit_events.seq / prev_seal / seal: the journal is a chain like the decisions; its head is the
  one row of integrity_state, locked by every append.
- The journal's time is the database's: a BEFORE INSERT trigger refuses an event whose time is not
  the database's clock (within 10 s back, 1 s ahead); PostgreSQL also fills a missing time.

The migration has no instance key, so it cannot seal what is already there. It marks the database
`upgrade_pending` when it holds data; the first start with the key (services/runtime.py →
services/seals.py `seal_upgraded_data`) seals the existing decisions' state, every meeting's
registry and the journal written so far (as one block), journals that it did so, and clears the
mark. Until then `verify-decisions` and `verify-journal` report the data as not yet sealed.
Existing journal rows get their position (seq) here, with the append-only triggers stood down for
that one statement.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BACK, AHEAD = 10, 1  # seconds of tolerance around the database's clock
MESSAGE = "audit_events.at must be the database time"


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('state_seal', sa.String(length=64), nullable=True))
    with op.batch_alter_table('premises', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seal', sa.String(length=40), nullable=True))
    with op.batch_alter_table('owner_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seal', sa.String(length=60), nullable=True))
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registry_seal', sa.String(length=120), nullable=True))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_seal', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))
    op.create_table(
        'integrity_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('journal_head', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('journal_count', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('legacy_events', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('legacy_seal', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('upgrade_pending', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint('id'),
    )

    # The journal kept so far: its positions, in the order it was written.
    events = bind.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() or 0
    has_data = events or bind.execute(sa.text("SELECT count(*) FROM meetings")).scalar()
    if events:
        if postgres:
            op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
        else:
            op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("""UPDATE audit_events SET seq = (SELECT count(*) FROM audit_events AS e
                                                     WHERE e.id <= audit_events.id)""")
        if postgres:
            op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
        else:
            op.execute("""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                          BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""")
    op.execute(sa.text("INSERT INTO integrity_state (id, journal_head, journal_count, legacy_events, legacy_seal, "
                       "upgrade_pending) VALUES (1, '', :n, :n, '', :pending)")
               .bindparams(n=int(events), pending=bool(has_data)))

    if postgres:
        op.execute("ALTER TABLE audit_events ALTER COLUMN at SET DEFAULT timezone('utc', clock_timestamp())")
        op.execute(f"""
            CREATE FUNCTION audit_events_database_time() RETURNS trigger AS $$
            DECLARE now_utc timestamp := timezone('utc', clock_timestamp());
            BEGIN
              IF NEW.at IS NULL THEN
                NEW.at := now_utc;
              ELSIF NEW.at < now_utc - interval '{BACK} seconds' OR NEW.at > now_utc + interval '{AHEAD} seconds' THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql
        """)
        op.execute("""CREATE TRIGGER audit_events_database_time BEFORE INSERT ON audit_events
                      FOR EACH ROW EXECUTE FUNCTION audit_events_database_time()""")
    else:
        op.execute(f"""CREATE TRIGGER audit_events_database_time BEFORE INSERT ON audit_events
                       WHEN NEW.at IS NULL OR julianday(NEW.at) IS NULL
                         OR julianday(NEW.at) < julianday('now') - {BACK}.0 / 86400
                         OR julianday(NEW.at) > julianday('now') + {AHEAD}.0 / 86400
                       BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_database_time ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_database_time()")
        op.execute("ALTER TABLE audit_events ALTER COLUMN at DROP DEFAULT")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_database_time")
    op.drop_table('integrity_state')
    # Dropped in place (SQLite 3.35+), not by copying the tables: their triggers stay.
    for table, columns in (('audit_events', ('seal', 'prev_seal', 'seq')), ('meetings', ('registry_seal',)),
                           ('owner_records', ('seal',)), ('premises', ('seal',)),
                           ('decisions', ('state_seal', 'state'))):
        for column in columns:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
