"""The routing fit scores only a model that did not train on the scored documents, and
writes a thresholds file the runtime's loader reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.extract.train import train_local_extractor
from agents.model_store import promote
from agents.routing import RoutingPolicy
from feedback.corpus import labelled_documents
from feedback.datasets import load_labelled_jsonl, load_sroie, split_documents, write_labelled_jsonl
from feedback.routing_fit import NEVER_AUTO, write_json_atomic
from feedback.routing_holdout import UnverifiedModelError, fit_routing, held_out_extractor

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the first 60 shipped receipts (both splits), no claims."""
    root = tmp_path_factory.mktemp("data")
    (root / "sroie").mkdir()
    lines = (DATA / "sroie" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    (root / "sroie" / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_a_model_trained_on_other_documents_is_refused(small_data: Path, tmp_path: Path) -> None:
    train, test = split_documents(labelled_documents(small_data))
    assert train and test
    artifact = train_local_extractor(documents=train + test[:1], out_dir=tmp_path / "extractor")
    promote(tmp_path, "extractor", artifact)
    with pytest.raises(UnverifiedModelError, match="did not train on exactly the declared train split"):
        held_out_extractor(models_dir=tmp_path, train=train)


def test_fit_trains_on_the_train_split_and_writes_a_loadable_file(small_data: Path, tmp_path: Path) -> None:
    data = fit_routing(
        models_dir=tmp_path, data_dir=small_data, target_error=0.01, max_risk=0.5, log=lambda _: None
    )
    extractor = held_out_extractor(
        models_dir=tmp_path, train=split_documents(labelled_documents(small_data))[0]
    )
    report = data["report"]
    assert isinstance(report, dict) and report["model_version"] == extractor.version
    # a dozen test receipts cannot certify 1 %: every field falls back, nothing goes through
    assert all(f["threshold"] == NEVER_AUTO for f in report["fit"]["fields"])
    assert all(k["straight_through"] == 0 for k in report["heldout"]["kinds"])
    path = tmp_path / "routing" / "thresholds.json"
    write_json_atomic(data, path)
    policy = RoutingPolicy.load(path=path, default_threshold=0.9, max_risk=0.5)
    assert policy.threshold("invoice", "total") == NEVER_AUTO
    assert policy.threshold("claim", "policy_number") == NEVER_AUTO


def _cli(*args: str, models: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOCLERK_MODELS__DIR": str(models), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "autoclerk", "routing", "fit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cross_fitted_fit_on_a_small_dataset(small_data: Path, tmp_path: Path) -> None:
    # 40 receipts and 20 claims as one `--data` file, the shipped documents left out
    docs = load_sroie(small_data / "sroie" / "train.jsonl")[:40]
    docs += load_labelled_jsonl(DATA / "samples" / "claims.jsonl")[:20]
    data = tmp_path / "labelled.jsonl"
    write_labelled_jsonl(docs, data)
    out = tmp_path / "thresholds.json"
    args = ("--cv", "2", "--no-shipped", "--data", str(data), "--out", str(out), "--min-support", "5")
    proc = _cli(*args, "--target-error", "0.2", models=tmp_path / "models")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "fold 2/2: training on" in proc.stdout and "support at threshold" in proc.stdout
    written = json.loads(out.read_text())
    report = written["report"]
    assert report["fit"]["documents"] == 60 and len(report["fold_models"]) == 2
    assert "2-fold cross-fitting over 60 labelled documents" in report["protocol"]
    assert "fitted on ALL 60 out-of-fold predictions" in report["protocol"]
    halves = report["halves"]
    assert sorted(h["fitted_on"] for h in halves) == sorted(h["reported_on"] for h in halves)
    assert sum(h["reported_on"] for h in halves) == 60
    assert {k["kind"]: k["documents"] for k in report["heldout"]["kinds"]} == {"invoice": 40, "claim": 20}
    policy = RoutingPolicy.load(path=out, default_threshold=0.9, max_risk=0.5)
    assert policy.version == written["version"] and set(policy.thresholds) == {"invoice", "claim"}
    # refitting at another target reuses the out-of-fold predictions instead of retraining
    again = _cli(*args, "--target-error", "0.01", models=tmp_path / "models")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "reusing out-of-fold predictions" in again.stdout and "fold 1/2" not in again.stdout
    assert json.loads(out.read_text())["report"]["fold_models"] == report["fold_models"]
    assert all(
        t == NEVER_AUTO
        for t in RoutingPolicy.load(path=out, default_threshold=0.9, max_risk=0.5)
        .thresholds["claim"]
        .values()
    )
    # the declared-split protocol takes no extra data
    refused = _cli("--cv", "0", "--data", str(data), models=tmp_path / "models")
    assert refused.returncode == 2 and "need cross-fitting" in refused.stdout + refused.stderr
