"""model registry (model_versions, model_aliases, model_events); decisions.model_refs

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model_versions',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('lineage', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('artifact_uri', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('artifact_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'version'),
    sa.UniqueConstraint('name', 'source_key', name='uq_model_versions_source')
    )
    op.create_table('model_aliases',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('alias', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'alias')
    )
    op.create_table('model_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('previous', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('model_events', schema=None) as b:
        b.create_index(b.f('ix_model_events_name'), ['name'], unique=False)
    # NULL for decisions made before the registry: their model_versions still say which
    # artifact versions made them.
    with op.batch_alter_table('decisions', schema=None) as b:
        b.add_column(sa.Column('model_refs', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as b:
        b.drop_column('model_refs')
    with op.batch_alter_table('model_events', schema=None) as b:
        b.drop_index(b.f('ix_model_events_name'))
    op.drop_table('model_events')
    op.drop_table('model_aliases')
    op.drop_table('model_versions')
