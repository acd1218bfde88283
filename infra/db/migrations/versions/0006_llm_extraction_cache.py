"""llm extraction cache

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # LLM answers by content hash, durable so a replay after a restart, or the same
    # content on another worker process, is not paid for twice (infra/llm_cache.py).
    op.create_table('llm_extractions',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('llm_extractions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_llm_extractions_model_version'), ['model_version'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('llm_extractions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_llm_extractions_model_version'))

    op.drop_table('llm_extractions')
