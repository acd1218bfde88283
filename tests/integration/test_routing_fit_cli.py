"""The routing fit scores only a model that did not train on the scored documents, and
writes a thresholds file the runtime's loader reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.extract.local import train_local_extractor
from agents.routing import RoutingPolicy
from autoclerk.models import promote
from autoclerk.routing_cli import UnverifiedModelError, fit_routing, held_out_extractor, labelled_documents
from feedback.datasets import split_documents
from feedback.routing_fit import NEVER_AUTO, write_json_atomic

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
