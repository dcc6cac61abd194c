"""exact votes: joint holdings, the shares of a premise at most 1, representatives of decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:30:00

- owner_records.joint_group: the records of one premise with the same number are one joint
  holding (совместная собственность): its votes count once, any one joint owner's decision speaks
  for it (ГК РФ ст. 253 ч. 2). NULL: the record is a holding of its own.
- The database refuses a premise whose holdings' shares add up to more than 1 (a joint holding is
  one share; ЖК ст. 48 ч. 3: a premise never carries more votes than its area). The services check
  it exactly with fractions first; this trigger is the backstop for any other writer, so it may
  compare in floating point with a tolerance far below any real share's difference.
- decisions.representative_*: who signed for the owner (ЖК ст. 48 ч. 2): the representative's
  name and either a power of attorney (number, date, who certified it) or, for a legal entity's
  head, the office.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Σ over the holdings of NEW's premise: each record without a group once, each joint group once.
_SUM = """(SELECT COALESCE(SUM(s), 0) FROM (
      SELECT CAST(share_num AS {real}) / share_den AS s FROM owner_records
       WHERE premise_id = NEW.premise_id AND joint_group IS NULL
      UNION ALL
      SELECT MAX(CAST(share_num AS {real}) / share_den) AS s FROM owner_records
       WHERE premise_id = NEW.premise_id AND joint_group IS NOT NULL GROUP BY joint_group) AS holdings)"""
_TOLERANCE = "1.000000001"
MESSAGE = "shares of one premise add up to more than 1"


def upgrade() -> None:
    with op.batch_alter_table('owner_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joint_group', sa.Integer(), nullable=True))
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('representative_name', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('representative_office', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('poa_number', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('poa_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('poa_certified_by', sa.String(length=500), nullable=False, server_default=''))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION owner_shares_at_most_one() RETURNS trigger AS $$
            BEGIN
              -- a record alone in its premise holds at most 1 (ck_share): only then is the sum needed
              IF EXISTS (SELECT 1 FROM owner_records WHERE premise_id = NEW.premise_id AND id <> NEW.id) THEN
                IF {_SUM.format(real='double precision')} > {_TOLERANCE} THEN
                  RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
              END IF;
              RETURN NULL;
            END $$ LANGUAGE plpgsql
        """)
        op.execute("""CREATE TRIGGER owner_shares_at_most_one AFTER INSERT OR UPDATE OF share_num, share_den,
                      premise_id, joint_group ON owner_records
                      FOR EACH ROW EXECUTE FUNCTION owner_shares_at_most_one()""")
    else:
        for event in ("INSERT", "UPDATE OF share_num, share_den, premise_id, joint_group"):
            name = "owner_shares_at_most_one_" + event.split()[0].lower()
            # the cheap test first: a premise's first record (most rows of a bulk import) is alone
            op.execute(f"""CREATE TRIGGER {name} AFTER {event} ON owner_records
                           WHEN EXISTS (SELECT 1 FROM owner_records WHERE premise_id = NEW.premise_id
                                                                       AND id <> NEW.id)
                            AND {_SUM.format(real='REAL')} > {_TOLERANCE}
                           BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS owner_shares_at_most_one ON owner_records")
        op.execute("DROP FUNCTION IF EXISTS owner_shares_at_most_one()")
    else:
        op.execute("DROP TRIGGER IF EXISTS owner_shares_at_most_one_insert")
        op.execute("DROP TRIGGER IF EXISTS owner_shares_at_most_one_update")
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        for column in ('poa_certified_by', 'poa_date', 'poa_number', 'representative_office', 'representative_name'):
            batch_op.drop_column(column)
    with op.batch_alter_table('owner_records', schema=None) as batch_op:
        batch_op.drop_column('joint_group')
