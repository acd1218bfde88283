"""review_submissions/review_opinions.reject_kind; canonical (lowercase) reason codes

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on every answer before this: the export then treats a reject as one whose
    # fields nobody vouched for (only corrected fields are gold).
    for table in ('review_submissions', 'review_opinions'):
        with op.batch_alter_table(table, schema=None) as b:
            b.add_column(sa.Column('reject_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    # One reason vocabulary (schemas/reasons.py): the graphs emitted upper case before.
    op.execute(sa.text('UPDATE review_tasks SET primary_reason = lower(primary_reason)'))


def downgrade() -> None:
    for table in ('review_opinions', 'review_submissions'):
        with op.batch_alter_table(table, schema=None) as b:
            b.drop_column('reject_kind')
