"""`autoclerk deadletter list|show|retry|discard` against a SQLite file and the real
embedded broker: the operator's walk-through (show the payload, fix it, retry it from a
file or in $EDITOR), the refusals (a still-broken fix, a second retry without --force,
a discard without a reason) exit nonzero and publish nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from autoclerk.cli import app
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DeadLetterRow
from tests.ops_support import fresh_topics, read_topic
from tests.review_support import PASSWORD


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def _bad(doc_id: str) -> bytes:
    payload = {"document_id": doc_id, "kind": "reciept", "text": "INVOICE\nACME\nTotal 9.00"}
    return json.dumps({"event_id": f"ev-{doc_id}", "type": "document.received", "payload": payload}).encode()


def test_operator_fixes_and_retries_and_discards(
    bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = asyncio.run(fresh_topics(bootstrap))
    url = f"sqlite:///{tmp_path / 'ac.db'}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as s:
        for i, doc in enumerate(("d-file", "d-editor", "d-drop")):
            s.add(
                DeadLetterRow(
                    topic=topics.received,
                    partition=0,
                    offset=i,
                    content_hash=f"h{i}",
                    reason="invalid document.received event: payload.kind: Input should be 'invoice'",
                    error_type="UndecodableEvent",
                    original=_bad(doc),
                )
            )
        s.commit()
    engine.dispose()
    monkeypatch.setenv("AUTOCLERK_DB__URL", url)
    monkeypatch.setenv("AUTOCLERK_KAFKA__BOOTSTRAP", bootstrap)
    monkeypatch.setenv("AUTOCLERK_KAFKA__TOPIC_PREFIX", topics.received.removesuffix(".documents.received"))
    cli = CliRunner()

    listed = cli.invoke(app, ["deadletter", "list", "--error-type", "UndecodableEvent", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [3, 2, 1] and {r["status"] for r in rows} == {"open"}
    assert cli.invoke(app, ["deadletter", "list", "--reason", "no such words"]).stdout == ""
    assert cli.invoke(app, ["deadletter", "list", "--status", "gone"]).exit_code != 0

    shown = cli.invoke(app, ["deadletter", "show", "1", "--payload"])
    assert shown.exit_code == 0 and '"reciept"' in shown.stdout
    still_bad = tmp_path / "bad.json"
    still_bad.write_text(shown.stdout.replace('"reciept"', '"recipe"'))
    refused = cli.invoke(app, ["deadletter", "retry", "1", "--from-file", str(still_bad)])
    assert (
        refused.exit_code == 1
        and "UndecodableEvent" in refused.output
        and "nothing published" in refused.output
    )
    fixed = tmp_path / "fixed.json"
    fixed.write_text(shown.stdout.replace('"reciept"', '"invoice"'))
    done = cli.invoke(app, ["deadletter", "retry", "1", "--from-file", str(fixed), "--reason", "kind typo"])
    assert done.exit_code == 0, done.output
    assert "fixed payload published" in done.output and "ev-d-file" in done.output
    again = cli.invoke(app, ["deadletter", "retry", "1"])
    assert again.exit_code == 1 and "already retried" in again.output and "force" in again.output

    editor = tmp_path / "fix-kind"
    editor.write_text('#!/bin/sh\nsed -i \'s/"reciept"/"claim"/\' "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    edited = cli.invoke(app, ["deadletter", "retry", "2", "--edit"])
    assert edited.exit_code == 0, edited.output

    assert cli.invoke(app, ["deadletter", "discard", "3"]).exit_code != 0  # --reason is required
    assert cli.invoke(app, ["deadletter", "discard", "3", "--reason", "  "]).exit_code == 1
    assert cli.invoke(app, ["deadletter", "discard", "3", "--reason", "sandbox data"]).exit_code == 0
    assert cli.invoke(app, ["deadletter", "show", "99"]).exit_code == 1
    history = json.loads(
        cli.invoke(app, ["deadletter", "list", "--json", "--status", "retried"]).stdout.splitlines()[0]
    )
    assert history["status"] == "retried"
    info = cli.invoke(app, ["deadletter", "show", "1"]).stdout
    assert '"actor": "autoclerk-cli"' in info and '"reason": "kind typo"' in info

    records = asyncio.run(read_topic(bootstrap, topics.received, count=2, extra_s=1.5))
    kinds = [(m.key, json.loads(m.value)["payload"]["kind"]) for m in records]
    assert kinds == [(b"d-file", "invoice"), (b"d-editor", "claim")]


def test_create_token_takes_a_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLERK_DB__URL", f"sqlite:///{tmp_path / 'ac.db'}")
    cli = CliRunner()
    made = cli.invoke(
        app, ["users", "create", "--username", "erp", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert made.exit_code == 0, made.output
    token = cli.invoke(app, ["users", "create-token", "--username", "erp", "--scope", "ingest"])
    assert token.exit_code == 0 and token.stdout.strip().startswith("ac_")
    assert (
        cli.invoke(app, ["users", "create-token", "--username", "erp", "--scope", "everything"]).exit_code
        == 1
    )
    [row] = cli.invoke(app, ["users", "tokens", "list"]).stdout.splitlines()
    assert row.endswith("\tlive\tingest")
