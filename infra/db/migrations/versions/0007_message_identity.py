"""message identity survives a broker reset; 64-bit timestamps and offsets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 created these unique keys without names: PostgreSQL named them itself, and
# SQLite needs a naming convention in batch mode to find one it can drop.
_PG_OLD = {
    'ingest_ledger': 'ingest_ledger_topic_partition_offset_key',
    'dead_letters': 'dead_letters_topic_partition_offset_key',
}
_SQLITE_CONVENTION = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}
_NEW = {'ingest_ledger': 'uq_ingest_ledger_message', 'dead_letters': 'uq_dead_letters_message'}
_KEY = ['epoch', 'topic', 'partition', 'offset', 'content_hash']


def _rekey(table: str, *, timestamp: bool) -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    kw = {'naming_convention': _SQLITE_CONVENTION} if sqlite else {}
    with op.batch_alter_table(table, schema=None, **kw) as b:
        b.drop_constraint(f'uq_{table}_topic' if sqlite else _PG_OLD[table], type_='unique')
        # A Kafka offset and a millisecond timestamp are 64-bit; INTEGER overflowed on
        # PostgreSQL and dead-lettered every document that came from Kafka.
        b.alter_column('offset', type_=sa.BigInteger(), existing_nullable=False)
        if timestamp:
            b.alter_column('timestamp_ms', type_=sa.BigInteger(), existing_nullable=True)
        # Which broker incarnation the offset belongs to; '' for rows from before.
        b.add_column(sa.Column('epoch', sa.String(), nullable=False, server_default=''))
        if table == 'dead_letters':
            b.add_column(sa.Column('content_hash', sa.String(), nullable=False, server_default=''))
        b.create_unique_constraint(_NEW[table], _KEY)


def upgrade() -> None:
    _rekey('ingest_ledger', timestamp=True)
    _rekey('dead_letters', timestamp=False)


def downgrade() -> None:
    for table in ('dead_letters', 'ingest_ledger'):
        with op.batch_alter_table(table, schema=None) as b:
            b.drop_constraint(_NEW[table], type_='unique')
            b.drop_column('epoch')
            if table == 'dead_letters':
                b.drop_column('content_hash')
            b.create_unique_constraint(None, ['topic', 'partition', 'offset'])
