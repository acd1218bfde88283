"""`autoclerk models list` / `use`: rollback by moving CURRENT, refused for unservable artifacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from agents.model_store import current
from autoclerk.cli import app as cli


def _models(trained_models: Path, tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models)
    return models


def test_use_moves_current_to_an_older_version_and_back(trained_models: Path, tmp_path: Path) -> None:
    models = _models(trained_models, tmp_path)
    first = current(models, "extractor")
    assert first is not None
    older = models / "extractor" / "local-older"
    shutil.copytree(first, older)
    env = {"AUTOCLERK_MODELS__DIR": str(models)}
    runner = CliRunner()

    listed = runner.invoke(cli, ["models", "list", "extractor"], env=env, terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert first.name in listed.output and "local-older" in listed.output

    moved = runner.invoke(cli, ["models", "use", "extractor", "local-older"], env=env, terminal_width=200)
    assert moved.exit_code == 0, moved.output
    assert current(models, "extractor") == older
    assert f"{first.name} → local-older" in moved.output

    back = runner.invoke(cli, ["models", "use", "extractor", first.name], env=env)
    assert back.exit_code == 0 and current(models, "extractor") == first


def test_use_refuses_a_version_this_code_cannot_serve(trained_models: Path, tmp_path: Path) -> None:
    models = _models(trained_models, tmp_path)
    live = current(models, "extractor")
    assert live is not None
    stale = models / "extractor" / "local-stale"
    shutil.copytree(live, stale)
    meta = json.loads((stale / "metadata.json").read_text())
    (stale / "metadata.json").write_text(json.dumps({**meta, "feature_version": "0"}))
    env = {"AUTOCLERK_MODELS__DIR": str(models)}
    runner = CliRunner()

    refused = runner.invoke(cli, ["models", "use", "extractor", "local-stale"], env=env, terminal_width=200)
    assert refused.exit_code == 2 and "cannot be served" in refused.output
    missing = runner.invoke(cli, ["models", "use", "triage", "no-such"], env=env, terminal_width=200)
    assert missing.exit_code == 2 and "no version" in missing.output
    assert current(models, "extractor") == live  # nothing moved
