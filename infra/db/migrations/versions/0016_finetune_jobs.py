"""finetune_jobs: fine-tuning jobs at the provider, resumable after a restart

Revision ID: 0016
Revises: 0014 (0013 on its own; chained after the registry's 0014 once merged)
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0016'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('finetune_jobs',
    sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('base_model', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('suffix', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('training_file', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('validation_file', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('training_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('hyperparameters', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('fine_tuned_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('trained_tokens', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('registered_version', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('job_id')
    )
    with op.batch_alter_table('finetune_jobs', schema=None) as b:
        b.create_index(b.f('ix_finetune_jobs_status'), ['status'], unique=False)
        b.create_index(b.f('ix_finetune_jobs_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('finetune_jobs', schema=None) as b:
        b.drop_index(b.f('ix_finetune_jobs_created_at'))
        b.drop_index(b.f('ix_finetune_jobs_status'))
    op.drop_table('finetune_jobs')
