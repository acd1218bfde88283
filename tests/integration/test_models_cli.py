"""`autoclerk models list / use / promote / rollback / status` over the registry: the
folder layout is imported on first use; promotion runs the gate (refused with both
scores when worse) and the servability check; rollback goes back or says why not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from agents.model_store import current
from autoclerk.cli import app as cli


def _env(trained_models: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models, ignore=shutil.ignore_patterns("registry"))
    return models, {
        "AUTOCLERK_MODELS__DIR": str(models),
        "AUTOCLERK_DB__URL": f"sqlite:///{tmp_path / 'autoclerk.db'}",
        "COLUMNS": "250",
    }


def _copy(models: Path, name: str, folder: str, **meta: object) -> Path:
    live = current(models, name)
    assert live is not None
    copy = models / name / folder
    shutil.copytree(live, copy)
    data = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps({**data, "version": folder, **meta}))
    return copy


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["models", *args], env=env, terminal_width=250)
    return result.exit_code, result.output


def test_use_moves_the_active_version_and_current(trained_models: Path, tmp_path: Path) -> None:
    models, env = _env(trained_models, tmp_path)
    first = current(models, "extractor")
    assert first is not None
    older = _copy(models, "extractor", "local-older")

    code, listed = _run(env, "list")
    assert code == 0, listed
    assert "extractor/1" in listed and "extractor/2" in listed and "triage/1" in listed
    assert "champion" in listed and "active" in listed and "legacy_folder" in listed

    code, out = _run(env, "use", "extractor", "local-older")
    assert code == 0 and "extractor/1 → extractor/2" in out, out
    assert current(models, "extractor") == older  # the folder layout follows, for training
    code, out = _run(env, "use", "extractor", "1")
    assert code == 0 and current(models, "extractor") == first, out


def test_refusals_exit_2_with_the_reason(trained_models: Path, tmp_path: Path) -> None:
    models, env = _env(trained_models, tmp_path)
    _copy(models, "extractor", "local-stale", feature_version="0")
    live = current(models, "triage")
    assert live is not None
    accuracy = json.loads((live / "metadata.json").read_text())["cv_metrics"]["accuracy"]
    _copy(models, "triage", "triage-worse", cv_metrics={"accuracy": accuracy - 0.25})

    cases = [
        (("use", "extractor", "local-stale"), "cannot be served"),
        (("promote", "extractor/2"), "cannot be served"),
        (("use", "triage", "no-such"), "no version 'no-such'"),
        (("promote", "triage/2"), f"{accuracy - 0.25:.3f} vs {accuracy:.3f}"),
        (("promote", "extractor@challenger"), "no alias 'challenger'"),
        (("promote", "nosuch/1"), "no model named 'nosuch'"),
        (("promote", "extractor/../1"), "not a model reference"),
        (("rollback", "triage"), "nothing to roll back to"),
        (("status", "triage/2", "live"), "unknown status"),
        (("list", "nosuch"), "no model named"),
    ]
    for args, reason in cases:
        code, out = _run(env, *args)
        assert code == 2 and reason in out, (args, out)
    code, out = _run(env, "list")
    assert "extractor/1 │ active" in out and "triage/1 │ active" in out, out  # nothing moved


def test_promote_runs_the_held_out_gate_and_rollback_returns(trained_models: Path, tmp_path: Path) -> None:
    models, env = _env(trained_models, tmp_path)
    _copy(models, "extractor", "local-same")

    code, out = _run(env, "status", "extractor/2", "shadow")
    assert code == 0 and "challenger" in out, out
    code, out = _run(env, "promote", "extractor@challenger")
    assert code == 0, out
    assert "held-out documents" in out and "extractor/1 → extractor/2" in out
    code, out = _run(env, "rollback", "extractor")
    assert code == 0 and "extractor/2 → extractor/1" in out, out
    code, out = _run(env, "list", "extractor")
    assert "history: 1" in out and "retired" in out, out
