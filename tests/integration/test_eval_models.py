"""`autoclerk eval FILE --model REF …`: given models scored without training, side by side."""

from __future__ import annotations

import asyncio
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.extract.local import LocalExtractor
from agents.extract.train import train_local_extractor
from agents.model_store import current
from autoclerk.cli import app as cli
from feedback.datasets import write_labelled_jsonl
from feedback.evaluation import evaluate, predict
from schemas.document import LabelledDocument
from tests.llm_server import Reply, ScriptedLlmServer
from tests.support import small_corpus


@pytest.fixture(scope="module")
def setup(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(models dir, labelled test file, older version): champion plus an older extractor
    trained on a fifth of the training documents."""
    root = tmp_path_factory.mktemp("eval")
    models = root / "models"
    shutil.copytree(trained_models, models)
    train, test = small_corpus()
    older = train_local_extractor(documents=train[::5], out_dir=root / "older")
    shutil.copytree(older, models / "extractor" / older.name)
    data = root / "test.jsonl"
    write_labelled_jsonl(test, data)
    return models, data, older.name


def _run(models: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        cli,
        ["eval", *args],
        env={"AUTOCLERK_MODELS__DIR": str(models), "COLUMNS": "200", **(env or {})},
        terminal_width=200,
    )


def test_two_refs_side_by_side_as_json(setup: tuple[Path, Path, str]) -> None:
    models, data, older = setup
    result = _run(
        models, str(data), "--model", "extractor@champion", "--model", f"extractor/{older}", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # nothing but the report on stdout
    champion, old = report["models"]
    live = current(models, "extractor")
    assert live is not None and champion["version"] == live.name and old["version"] == older

    # the champion's figures are those of scoring it directly, no training involved
    docs = [LabelledDocument.model_validate_json(line) for line in data.read_text().splitlines()]
    preds = asyncio.run(predict(extractor=LocalExtractor.load(live), documents=docs))
    for scored in champion["reports"]:
        direct = evaluate(predictions=preds, gold=docs, kind=scored["kind"])
        assert scored["document_accuracy"] == pytest.approx(direct.document_accuracy)
        assert {f: m["accuracy"] for f, m in scored["fields"].items()} == pytest.approx(
            {f: m.accuracy for f, m in direct.fields.items()}
        )
        assert scored["straight_through_rate"] == pytest.approx(direct.straight_through_rate)

    (comparison,) = report["comparisons"]
    assert comparison["baseline"] == "extractor@champion" and "bootstrap" in comparison["method"]
    by_kind = {r["kind"]: r for r in champion["reports"]}
    for kind in comparison["kinds"]:
        for row in kind["fields"]:
            em = row["exact_match"]
            assert em["low"] <= em["difference"] <= em["high"]
            assert em["difference"] == pytest.approx(em["candidate"] - em["baseline"])
            assert em["baseline"] == pytest.approx(by_kind[kind["kind"]]["fields"][row["field"]]["accuracy"])
            assert row["f1"]["baseline"] == pytest.approx(by_kind[kind["kind"]]["fields"][row["field"]]["f1"])
    # seeded: the same intervals on a second run
    again = _run(
        models, str(data), "--model", "extractor@champion", "--model", f"extractor/{older}", "--json"
    )
    assert json.loads(again.stdout)["comparisons"] == report["comparisons"]


def test_tables_and_report_files(setup: tuple[Path, Path, str], tmp_path: Path) -> None:
    models, data, older = setup
    out = tmp_path / "reports"
    result = _run(
        models,
        str(data),
        "--model",
        "extractor@champion",
        "--model",
        f"extractor/{older}",
        "--report",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "vs extractor@champion" in result.stdout and "Δ EM [95% CI]" in result.stdout
    assert "(document)" in result.stdout and "latency per document p50" in result.stdout
    assert json.loads((out / "test-comparison.json").read_text())["comparisons"]


def test_unknown_refs_fail_clearly(setup: tuple[Path, Path, str]) -> None:
    models, data, _ = setup
    for ref, words in [
        ("extractor/no-such", "no version 'no-such'"),
        ("extractor@challenger", "no alias 'challenger'"),
        ("triage@champion", "only extractor versions"),
        ("gibberish", "a model ref is"),
        ("llm:", "llm:MODEL"),
    ]:
        result = _run(models, str(data), "--model", ref, "--json")
        assert result.exit_code == 2, (ref, result.output)
        assert words in result.stderr and result.stdout == ""


def test_a_version_that_cannot_load_fails_clearly(setup: tuple[Path, Path, str]) -> None:
    models, data, older = setup
    broken = models / "extractor" / "broken"
    shutil.copytree(models / "extractor" / older, broken)
    (broken / "model.joblib").write_bytes(b"not a pickle")
    stale = models / "extractor" / "stale"
    shutil.copytree(models / "extractor" / older, stale)
    meta = json.loads((stale / "metadata.json").read_text())
    (stale / "metadata.json").write_text(json.dumps({**meta, "feature_version": "0"}))
    for name, words in [("broken", "cannot load broken"), ("stale", "cannot serve stale")]:
        result = _run(models, str(data), "--model", "extractor@champion", "--model", f"extractor/{name}")
        assert result.exit_code == 2 and words in result.stderr, result.output


def test_bad_options_and_files(setup: tuple[Path, Path, str], tmp_path: Path) -> None:
    models, data, _ = setup
    both = _run(models, str(data), "--model", "extractor@champion", "--cv", "3")
    assert both.exit_code == 2 and "choose one" in both.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert "empty file" in _run(models, str(empty), "--model", "extractor@champion").stderr
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text("{not json\n")
    assert "not JSON" in _run(models, str(garbled), "--model", "extractor@champion").stderr


def test_an_llm_spec_reports_cost_and_latency(setup: tuple[Path, Path, str]) -> None:
    models, data, _ = setup
    reply = Reply(fields={"total": "10.00", "currency": "EUR"}, delay_s=0.01)
    with ScriptedLlmServer(default=reply) as server:
        result = _run(
            models,
            str(data),
            "--model",
            "extractor@champion",
            "--model",
            f"llm:gpt-4o-mini@{server.url}",
            "--json",
            env={
                "AUTOCLERK_LLM__API_KEY": "sk-never-printed",
                "AUTOCLERK_LLM__BASE_URL": "http://127.0.0.1:9/v1",
            },
        )
        requests = len(server.requests)
    assert result.exit_code == 0, result.stderr
    assert "sk-never-printed" not in result.output
    report = json.loads(result.stdout)
    llm = report["models"][1]
    assert llm["source"] == "llm" and llm["version"].startswith("llm:gpt-4o-mini:")
    assert llm["documents"] == requests - _duplicates(data) and llm["failures"] == 0
    assert 10 <= llm["latency_ms_p50"] <= llm["latency_ms_p95"]
    price_in, price_out = Decimal("0.15"), Decimal("0.60")  # gpt-4o-mini, agents/extract/pricing.py
    expected = (llm["prompt_tokens"] * price_in + llm["completion_tokens"] * price_out) / 1_000_000
    assert llm["prompt_tokens"] > 0 and llm["cost_usd"] == pytest.approx(float(expected))
    assert llm["cost_usd_per_document"] == pytest.approx(llm["cost_usd"] / llm["documents"])
    assert report["models"][0]["cost_usd"] is None  # a local model reports no cost


def _duplicates(data: Path) -> int:
    """Documents whose text another document already had: the LLM cache answers them."""
    docs = [LabelledDocument.model_validate_json(line) for line in data.read_text().splitlines()]
    texts = [(d.kind, tuple(line.text for line in d.lines)) for d in docs]
    return len(texts) - len(set(texts))
