"""review UI: users, API tokens, submissions (one per task), audit events, queue index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:33:42.697718
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('review_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('document_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_events_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_events_task_id'), ['task_id'], unique=False)

    op.create_table('review_users',
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('review_api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['username'], ['review_users.username'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('review_api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_api_tokens_username'), ['username'], unique=False)

    op.create_table('review_submissions',
    sa.Column('task_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('document_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('corrections', sa.JSON(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['review_tasks.task_id'], ),
    sa.PrimaryKeyConstraint('task_id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('review_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_submissions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_submissions_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_submissions_reviewer'), ['reviewer'], unique=False)

    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_by_created', ['created_at', 'decided_by'], unique=False)

    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_review_tasks_queue', ['status', sa.literal_column('priority DESC'), 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_review_tasks_queue')

    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_by_created')

    with op.batch_alter_table('review_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_submissions_reviewer'))
        batch_op.drop_index(batch_op.f('ix_review_submissions_document_id'))
        batch_op.drop_index(batch_op.f('ix_review_submissions_created_at'))

    op.drop_table('review_submissions')
    with op.batch_alter_table('review_api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_api_tokens_username'))

    op.drop_table('review_api_tokens')
    op.drop_table('review_users')
    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_events_task_id'))
        batch_op.drop_index(batch_op.f('ix_review_events_document_id'))
        batch_op.drop_index(batch_op.f('ix_review_events_created_at'))

    op.drop_table('review_events')
