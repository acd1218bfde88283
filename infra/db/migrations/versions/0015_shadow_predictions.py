"""shadow_predictions: a candidate extractor's readings of live documents

Revision ID: 0015
Revises: 0018
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0015'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row per (document, shadow version): a redelivered document is not shadowed
    # (nor paid for) twice (agents/shadow.py, infra/shadow_store.py).
    op.create_table('shadow_predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('shadow_ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('active_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('active', sa.JSON(), nullable=False),
    sa.Column('shadow', sa.JSON(), nullable=True),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('active_straight_through', sa.Boolean(), nullable=False),
    sa.Column('shadow_straight_through', sa.Boolean(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'model_version', name='uq_shadow_document_version')
    )
    with op.batch_alter_table('shadow_predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shadow_predictions_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shadow_predictions_shadow_ref'), ['shadow_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_shadow_predictions_model_version'), ['model_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_shadow_predictions_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shadow_predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shadow_predictions_created_at'))
        batch_op.drop_index(batch_op.f('ix_shadow_predictions_model_version'))
        batch_op.drop_index(batch_op.f('ix_shadow_predictions_shadow_ref'))
        batch_op.drop_index(batch_op.f('ix_shadow_predictions_document_id'))

    op.drop_table('shadow_predictions')
