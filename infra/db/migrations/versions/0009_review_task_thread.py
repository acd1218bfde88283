"""review_tasks.thread_id: the workflow thread a task waits on after an LLM retry

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for every task before this: their workflow waits on the document id's thread.
    # An LLM retry that still needs a person points the task at the thread it ran on.
    with op.batch_alter_table('review_tasks', schema=None) as b:
        b.add_column(sa.Column('thread_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_tasks', schema=None) as b:
        b.drop_column('thread_id')
