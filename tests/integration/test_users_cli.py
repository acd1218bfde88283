"""`autoclerk users ...` against SQLite and a PostgreSQL schema, through typer's CliRunner:
create, tokens with expiry, list and revoke, disable (revokes), enable, set-password."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner

from autoclerk.cli import app as cli
from infra.db.engine import make_async_engine
from infra.db.tables import ReviewUserRow
from review.auth import token_principal
from review.passwords import Hashing


def _cli_url(url: str, schema: str | None) -> str:
    # the command line has no schema option: PostgreSQL's search_path goes in the URL
    return f"{url}?options=-csearch_path%3D{schema}" if schema else url


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["users", *args], env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def _fails(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["users", *args], env=env, input=stdin)
    assert result.exit_code == 1, result.output
    return result.output


async def _state(url: str, schema: str | None, token: str, username: str) -> tuple[bool, bool, str]:
    """(token accepted, user active, password hash)."""
    engine = make_async_engine(url, schema=schema)
    try:
        async with async_sessionmaker(engine)() as s:
            who = await token_principal(s, token=token, now=datetime.now(UTC))
            user = await s.get(ReviewUserRow, username)
            assert user is not None
            return who is not None, user.active, user.password_hash
    finally:
        await engine.dispose()


def test_users_commands(db: tuple[str, str | None]) -> None:
    url, schema = db
    env = {"AUTOCLERK_DB__URL": _cli_url(url, schema), "AUTOCLERK_ADMIN_PASSWORD": ""}
    _run(env, "create", "--username", "ana", "--password-stdin", stdin="plum-ladder-91-sky\n")
    assert "common" in _fails(env, "create", "--username", "bo", "--password-stdin", stdin="password123!\n")

    out = _run(env, "create-token", "--username", "ana", "--name", "ci", "--days", "30")
    token = out.strip().splitlines()[-1]
    assert token.startswith("ac_") and "expires" in out
    [row] = [line.split("\t") for line in _run(env, "tokens", "list").strip().splitlines()]
    token_id, user, name, _, expires, state, scope = row
    assert (user, name, state, scope) == ("ana", "ci", "live", "review") and expires != "never"
    assert asyncio.run(_state(url, schema, token, "ana"))[:2] == (True, True)

    _run(env, "disable", "--username", "ana")
    assert asyncio.run(_state(url, schema, token, "ana"))[:2] == (False, False)
    assert _run(env, "tokens", "list", "--username", "ana").strip().endswith("revoked\treview")
    _run(env, "enable", "--username", "ana")
    assert asyncio.run(_state(url, schema, token, "ana"))[:2] == (False, True)  # revoked stays revoked

    second = _run(env, "create-token", "--username", "ana").strip().splitlines()[-1]
    newest = _run(env, "tokens", "list").strip().splitlines()[0].split("\t")[0]
    assert newest != token_id
    _run(env, "tokens", "revoke", newest)
    assert not asyncio.run(_state(url, schema, second, "ana"))[0]
    assert "no live token" in _fails(env, "tokens", "revoke", newest)

    before = asyncio.run(_state(url, schema, token, "ana"))[2]
    assert "at least" in _fails(env, "set-password", "--username", "ana", "--password-stdin", stdin="short\n")
    _run(env, "set-password", "--username", "ana", "--password-stdin", stdin="new-granite-owl-77\n")
    after = asyncio.run(_state(url, schema, token, "ana"))[2]
    assert after != before and asyncio.run(Hashing().verify(after, "new-granite-owl-77"))
    assert "no user" in _fails(env, "disable", "--username", "nobody")
    assert _run(env, "sessions", "list").strip() == ""
    assert "no live session" in _fails(env, "sessions", "revoke", "0" * 64)
