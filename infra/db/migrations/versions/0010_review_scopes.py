"""review scopes: review_scopes, and the task attributes they match on

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ('vendor', 'claim_type', 'amount', 'queue')


def upgrade() -> None:
    op.create_table('review_scopes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('vendor', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('claim_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('amount_min', sa.Float(), nullable=True),
    sa.Column('amount_max', sa.Float(), nullable=True),
    sa.Column('queue', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['username'], ['review_users.username'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_scopes', schema=None) as b:
        b.create_index(b.f('ix_review_scopes_username'), ['username'], unique=False)
    with op.batch_alter_table('review_tasks', schema=None) as b:
        b.add_column(sa.Column('vendor', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        b.add_column(sa.Column('claim_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        b.add_column(sa.Column('amount', sa.Float(), nullable=True))
        b.add_column(sa.Column('queue', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    _backfill()


def _backfill() -> None:
    """Open tasks get their vendor, claim type and amount from the stored extraction, so
    scopes match them as they match new tasks; closed tasks are never listed again."""
    from schemas.fields import Extraction
    from schemas.scope import scope_attributes

    bind = op.get_bind()
    tasks = sa.table('review_tasks', sa.column('task_id'), sa.column('document_id'), sa.column('status'),
                     *(sa.column(n) for n in _COLUMNS[:3]))
    docs = sa.table('documents', sa.column('document_id'), sa.column('claim_type'))
    extractions = sa.table('extractions', sa.column('document_id'), sa.column('result', sa.JSON()))
    q = (
        sa.select(tasks.c.task_id, docs.c.claim_type, extractions.c.result)
        .select_from(tasks.join(docs, docs.c.document_id == tasks.c.document_id)
                     .outerjoin(extractions, extractions.c.document_id == tasks.c.document_id))
        .where(tasks.c.status == 'open')
    )
    for task_id, claim_type, result in bind.execute(q).all():
        try:
            extraction = Extraction.model_validate(result) if result else None
        except ValueError:
            extraction = None
        found = scope_attributes(claim_type=claim_type, extraction=extraction)
        bind.execute(
            tasks.update().where(tasks.c.task_id == task_id)
            .values(vendor=found.vendor, claim_type=found.claim_type, amount=found.amount)
        )


def downgrade() -> None:
    with op.batch_alter_table('review_tasks', schema=None) as b:
        for name in reversed(_COLUMNS):
            b.drop_column(name)
    with op.batch_alter_table('review_scopes', schema=None) as b:
        b.drop_index(b.f('ix_review_scopes_username'))
    op.drop_table('review_scopes')
