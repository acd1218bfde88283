"""Migration 0018 on SQLite and PostgreSQL: dead letters and API tokens made before it
become `open` and `review`; it goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from infra.db.engine import _MIGRATIONS, make_engine, migrate


def test_migration_0018_keeps_old_rows_and_goes_down_and_up(db: tuple[str, str | None]) -> None:
    url, schema = db
    migrate(url, schema=schema, revision="0013")
    engine = make_engine(url, schema=schema)
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as c:
            c.execute(
                text(
                    'INSERT INTO dead_letters (epoch, topic, partition, "offset", content_hash, reason, '
                    "error_type, original, created_at) VALUES ('', 't', 0, 7, 'h', 'r', 'UndecodableEvent', "
                    ":raw, CURRENT_TIMESTAMP)"
                ),
                {"raw": b"{"},
            )
            c.execute(
                text(
                    "INSERT INTO review_users (username, password_hash, role, active, created_at) "
                    "VALUES ('u', 'x', 'reviewer', true, CURRENT_TIMESTAMP)"
                )
            )
            c.execute(
                text(
                    "INSERT INTO review_api_tokens (token_hash, username, name, created_at) "
                    "VALUES ('th', 'u', 'n', CURRENT_TIMESTAMP)"
                )
            )
        migrate(url, schema=schema)
        with engine.connect() as c:
            assert c.execute(text("SELECT status, retry_of FROM dead_letters")).one() == ("open", None)
            assert c.execute(text("SELECT scope FROM review_api_tokens")).scalar() == "review"
            assert c.execute(text("SELECT count(*) FROM dead_letter_actions")).scalar() == 0
            assert c.execute(text("SELECT count(*) FROM ingest_requests")).scalar() == 0
        for step in (lambda: command.downgrade(cfg, "0013"), lambda: command.upgrade(cfg, "head")):
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                step()
        with engine.connect() as c:
            assert c.execute(text("SELECT status FROM dead_letters")).scalar() == "open"
    finally:
        engine.dispose()
