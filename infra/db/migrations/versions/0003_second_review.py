"""second review: review_opinions (first, blind second and reconcile answers per task)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:51:04.672133
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('review_opinions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('document_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('corrections', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['review_tasks.task_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('task_id', 'reviewer'),
    sa.UniqueConstraint('task_id', 'round')
    )
    with op.batch_alter_table('review_opinions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_opinions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_opinions_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_opinions_task_id'), ['task_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_opinions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_opinions_task_id'))
        batch_op.drop_index(batch_op.f('ix_review_opinions_document_id'))
        batch_op.drop_index(batch_op.f('ix_review_opinions_created_at'))

    op.drop_table('review_opinions')
