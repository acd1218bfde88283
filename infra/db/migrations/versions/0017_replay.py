"""replay: decision_history, decisions.supersedes_id/replay_id, replays, replay_items;
at most one *open* review task per document (was: one task per document)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
# 0001 left the constraint unnamed: PostgreSQL named it itself; SQLite's batch copy
# finds it by this naming convention.
PG_UNIQUE = 'review_tasks_document_id_key'
NAMING = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}


def upgrade() -> None:
    op.create_table(
        'decision_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('model_versions', sa.JSON(), nullable=False),
        sa.Column('model_refs', sa.JSON(), nullable=True),
        sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=False),
        sa.Column('supersedes_id', sa.Integer(), nullable=True),
        sa.Column('replay_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('superseded_at', sa.DateTime(), nullable=False),
        sa.Column('superseded_by_replay', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['document_id'], ['documents.document_id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_decision_history_document_id', 'decision_history', ['document_id'])
    op.create_index('ix_decision_history_superseded_by_replay', 'decision_history', ['superseded_by_replay'])
    with op.batch_alter_table('decisions', schema=None) as b:
        b.add_column(sa.Column('supersedes_id', sa.Integer(), nullable=True))
        b.add_column(sa.Column('replay_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_table(
        'replays',
        sa.Column('replay_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('selection', sa.JSON(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('replay_id'),
    )
    op.create_table(
        'replay_items',
        sa.Column('replay_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('document_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('result', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('done_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['replay_id'], ['replays.replay_id']),
        sa.PrimaryKeyConstraint('replay_id', 'document_id'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(PG_UNIQUE, 'review_tasks', type_='unique')
    else:
        with op.batch_alter_table('review_tasks', naming_convention=NAMING) as b:
            b.drop_constraint('uq_review_tasks_document_id', type_='unique')
    op.create_index('ix_review_tasks_document', 'review_tasks', ['document_id'])
    op.create_index(
        'uq_review_tasks_open_document',
        'review_tasks',
        ['document_id'],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index('uq_review_tasks_open_document', table_name='review_tasks')
    op.drop_index('ix_review_tasks_document', table_name='review_tasks')
    if op.get_bind().dialect.name == 'postgresql':
        # the name PostgreSQL gave it at 0002, so an upgrade after this downgrade finds it
        op.create_unique_constraint(PG_UNIQUE, 'review_tasks', ['document_id'])
    else:
        with op.batch_alter_table('review_tasks', naming_convention=NAMING) as b:
            b.create_unique_constraint('uq_review_tasks_document_id', ['document_id'])
    op.drop_table('replay_items')
    op.drop_table('replays')
    with op.batch_alter_table('decisions', schema=None) as b:
        b.drop_column('replay_id')
        b.drop_column('supersedes_id')
    op.drop_table('decision_history')
