"""infra/deploy/ as far as this machine can check it: every file parses, every
AUTOCLERK_* variable it sets is a real Settings field, every command it runs is a real
CLI command, and every metric the Grafana dashboard queries is one we export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml
from pydantic import BaseModel

from agents.telemetry import Telemetry
from autoclerk.cli import app as cli_app
from autoclerk.observe import add_worker_metrics
from infra.settings import Settings
from review.ops import ReviewOps

DEPLOY = Path(__file__).resolve().parents[2] / "infra" / "deploy"
YAMLS = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def documents() -> Iterator[tuple[Path, Any]]:
    for path in YAMLS:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                yield path, doc


def walk(node: Any) -> Iterator[tuple[str | None, Any]]:
    """Every (key, value) pair in a parsed YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield None, v
            yield from walk(v)


def env_names(doc: Any) -> set[str]:
    names: set[str] = set()
    for key, value in walk(doc):
        if isinstance(key, str) and key.startswith("AUTOCLERK_"):
            names.add(key)  # compose `environment:` maps and ConfigMap / Secret data
        if (
            isinstance(value, dict)
            and isinstance(value.get("name"), str)
            and value["name"].startswith("AUTOCLERK_")
        ):
            names.add(value["name"])  # a Kubernetes env list entry
    return names


def is_setting(name: str) -> bool:
    model: type[BaseModel] = Settings
    parts = name.removeprefix("AUTOCLERK_").lower().split("__")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_every_file_parses_and_the_expected_ones_exist() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAMLS}
    assert {
        "compose.yaml",
        "k8s/worker.yaml",
        "k8s/review.yaml",
        "k8s/migrate-job.yaml",
        "k8s/config.yaml",
    } <= names
    kinds = {doc.get("kind") for _, doc in documents()}
    assert {"Deployment", "Service", "Job", "ConfigMap", "Secret", "ScaledObject"} <= kinds
    json.loads((DEPLOY / "grafana" / "autoclerk.json").read_text(encoding="utf-8"))


def test_every_autoclerk_variable_is_a_settings_field() -> None:
    seen: dict[str, str] = {}
    for path, doc in documents():
        for name in env_names(doc):
            seen[name] = path.name
    assert len(seen) >= 8, seen  # the walk found the variables at all
    wrong = {name: where for name, where in seen.items() if not is_setting(name)}
    assert not wrong, f"not Settings fields: {wrong}"
    assert is_setting("AUTOCLERK_KAFKA__HEALTH_PORT") and not is_setting("AUTOCLERK_KAFKA__HEALTH_PROT")


def cli_commands() -> set[tuple[str, ...]]:
    root = typer.main.get_command(cli_app)
    out: set[tuple[str, ...]] = set()

    def visit(cmd: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                visit(sub, (*path, name))
        else:
            out.add(path)

    visit(root, ())
    return out


def invocations() -> Iterator[tuple[str, list[str]]]:
    """What each autoclerk container runs: the image's entrypoint is `autoclerk`."""
    for path, doc in documents():
        for key, value in walk(doc):
            if key in ("command", "args") and isinstance(value, list) and value and isinstance(value[0], str):
                yield path.name, value


def test_every_container_runs_a_real_cli_command() -> None:
    known = cli_commands()
    found = list(invocations())
    assert len(found) >= 6, found
    for where, argv in found:
        words = tuple(a for a in argv if not a.startswith("-"))
        assert any(words[: len(c)] == c for c in known), f"{where}: autoclerk {' '.join(argv)} is no command"


def exported_names() -> set[str]:
    """Every sample name our registries can produce (worker and review service)."""
    telemetry = Telemetry()
    add_worker_metrics(telemetry, app=None)  # type: ignore[arg-type]  # lag reads nothing without an app
    registries = [telemetry.registry, ReviewOps(engine=None, bootstrap=None, clock=None).registry]  # type: ignore[arg-type]
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    return {
        family.name + suffix
        for registry in registries
        for family in registry.collect()
        for suffix in suffixes[family.type]
    }


def test_every_metric_on_the_dashboard_is_exported() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "autoclerk.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queried = {m for e in exprs for m in re.findall(r"\bautoclerk_[a-z_]+", e)}
    exported = exported_names()
    assert len(queried) >= 12
    assert queried <= exported, f"queried but not exported: {sorted(queried - exported)}"
    # and the other way: a metric nobody can see on the dashboard is worth a second look
    assert {n.removesuffix("_total") for n in exported if n.endswith("_total")} <= {
        q.removesuffix("_total") for q in queried
    }


def test_prometheus_scrapes_the_worker_port_the_compose_file_sets() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    port = compose["services"]["worker"]["environment"]["AUTOCLERK_KAFKA__HEALTH_PORT"]
    worker_job = next(j for j in prom["scrape_configs"] if j["job_name"] == "autoclerk-worker")
    assert str(worker_job["dns_sd_configs"][0]["port"]) == port


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed here")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"docker has no compose plugin here: {probe.stderr.strip()[:120]}")
    env = {"POSTGRES_PASSWORD": "x", "AUTOCLERK_REVIEW__SECRET_KEY": "y" * 48, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
