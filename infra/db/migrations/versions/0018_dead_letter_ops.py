"""dead letter retry/discard (status, links, actions); API token scope; HTTP ingest keys

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # Every dead letter before this was untouched: 'open'. Tokens made before scopes
    # existed were review tokens.
    with op.batch_alter_table('dead_letters', schema=None) as b:
        b.add_column(sa.Column('status', S(), nullable=False, server_default='open'))
        b.add_column(sa.Column('retry_of', sa.Integer(), nullable=True))
        b.create_index('ix_dead_letters_status', ['status'], unique=False)
        b.create_index('ix_dead_letters_retry_of', ['retry_of'], unique=False)
        b.create_index('ix_dead_letters_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('review_api_tokens', schema=None) as b:
        b.add_column(sa.Column('scope', S(), nullable=False, server_default='review'))
    op.create_table(
        'dead_letter_actions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dead_letter_id', sa.Integer(), nullable=False),
        sa.Column('action', S(), nullable=False),
        sa.Column('actor', S(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('edited', sa.Boolean(), nullable=False),
        sa.Column('event_id', S(), nullable=True),
        sa.Column('topic', S(), nullable=True),
        sa.Column('partition', sa.Integer(), nullable=True),
        sa.Column('offset', sa.BigInteger(), nullable=True),
        sa.Column('content_hash', S(), nullable=True),
        sa.Column('status', S(), nullable=False),
        sa.ForeignKeyConstraint(['dead_letter_id'], ['dead_letters.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('dead_letter_actions', schema=None) as b:
        b.create_index('ix_dead_letter_actions_dead_letter_id', ['dead_letter_id'], unique=False)
        b.create_index('ix_dead_letter_actions_content_hash', ['content_hash'], unique=False)
    op.create_table(
        'ingest_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', S(), nullable=False),
        sa.Column('idempotency_key', S(), nullable=False),
        sa.Column('body_sha256', S(), nullable=False),
        sa.Column('event_id', S(), nullable=False),
        sa.Column('document_id', S(), nullable=False),
        sa.Column('topic', S(), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=True),
        sa.Column('offset', sa.BigInteger(), nullable=True),
        sa.Column('status', S(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username', 'idempotency_key', name='uq_ingest_requests_key'),
    )


def downgrade() -> None:
    op.drop_table('ingest_requests')
    op.drop_table('dead_letter_actions')
    with op.batch_alter_table('review_api_tokens', schema=None) as b:
        b.drop_column('scope')
    with op.batch_alter_table('dead_letters', schema=None) as b:
        b.drop_index('ix_dead_letters_created_at')
        b.drop_index('ix_dead_letters_retry_of')
        b.drop_index('ix_dead_letters_status')
        b.drop_column('retry_of')
        b.drop_column('status')
