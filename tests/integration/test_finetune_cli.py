"""`autoclerk finetune` against the local OpenAI-compatible fine-tuning server.

Real HTTP (the `openai` client), real database (SQLite; PostgreSQL for the restart
test), the real registry and the real side-by-side evaluation. The server's "models"
are scripted (tests/finetune_support.py): these tests check the flow, not a model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from autoclerk.cli import app as cli
from feedback.datasets import load_labelled_jsonl
from infra.settings import Settings
from tests.finetune_support import BASE, answers, receipts, write_eval, write_training
from tests.ft_server import FineTuningServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(training file, labelled held-out file): the same 40 receipts (the held-out file's
    declared test split is what scores; the training file is split by content hash)."""
    folder = tmp_path_factory.mktemp("ftdata")
    docs = receipts(40)
    return write_training(folder / "export.jsonl", docs), write_eval(folder / "labelled.jsonl", docs)


@pytest.fixture
def server(files: tuple[Path, Path]) -> Iterator[FineTuningServer]:
    with FineTuningServer() as srv:
        srv.responder = answers(load_labelled_jsonl(files[1]))
        yield srv


def _env(
    server: FineTuningServer, tmp_path: Path, files: tuple[Path, Path], db_url: str | None = None
) -> dict:
    return {
        "AUTOCLERK_DB__URL": db_url or f"sqlite:///{tmp_path / 'autoclerk.db'}",
        "AUTOCLERK_LLM__BASE_URL": server.url,
        "AUTOCLERK_LLM__MODEL": BASE,  # the active extractor is the base model
        "AUTOCLERK_LLM__TIMEOUT_S": "5",
        "AUTOCLERK_MODELS__DIR": str(tmp_path / "models"),
        "AUTOCLERK_FINETUNE__POLL_INITIAL_S": "0.01",
        "AUTOCLERK_FINETUNE__POLL_MAX_S": "0.05",
        "AUTOCLERK_FINETUNE__RETRY_FOR_S": "10",
        "AUTOCLERK_FINETUNE__EVAL_DATA": str(files[1]),
    }


def _run(args: list[str], env: dict) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env={**env, "COLUMNS": "300"}, terminal_width=300)
    return result.exit_code, " ".join(result.output.split())  # rich wraps long paths


def _candidates(env: dict) -> list:
    from autoclerk.registry import registry_session

    with registry_session(Settings(**_settings_kwargs(env))) as registry:
        return [v for v in registry.versions("extractor") if v.lineage.get("source") == "finetune"]


def _settings_kwargs(env: dict) -> dict:
    return {
        "db": {"url": env["AUTOCLERK_DB__URL"]},
        "models": {"dir": env["AUTOCLERK_MODELS__DIR"]},
        "llm": {"base_url": env["AUTOCLERK_LLM__BASE_URL"], "model": env["AUTOCLERK_LLM__MODEL"]},
    }


def test_a_job_runs_to_a_registered_candidate_scored_beside_the_base(
    server: FineTuningServer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    env = _env(server, tmp_path, files)
    server.faults.append(429)  # the upload meets a rate limit, and is retried
    start = ["finetune", "start", "--base", BASE, "--data", str(files[0]), "--suffix", "t1", "--no-wait"]
    code, out = _run(start, env)
    assert code == 0, out
    [job] = server.jobs.values()
    assert job.validation_file is not None  # the declared hash split held some examples back
    assert server.calls.count("POST /v1/files") == 3  # the 429, then train and validation
    server.faults.extend([429, 500])  # polling meets both, and goes on
    code, out = _run(["finetune", "status", job.id, "--wait"], env)
    assert code == 0, out
    assert server.calls.count(f"GET /v1/fine_tuning/jobs/{job.id}") >= 6
    assert "succeeded" in out and "registered as candidate extractor/" in out

    [version] = _candidates(env)
    assert version.status == "candidate"
    assert version.params["model"].startswith(f"ft:{BASE}:autoclerk:t1:")
    assert version.lineage["finetune_job"] == job.id and version.lineage["base_model"] == BASE
    assert version.lineage["trained_tokens"] == job.tokens > 0
    assert len(version.lineage["training_sha256"]) == 64
    side = version.metrics["side_by_side"]
    assert side["baseline"]["ref"] == f"llm:{BASE}" and side["candidate"]["ref"].startswith("llm:ft:")
    # scripted: the base misreads every third vendor, the tuned model none
    assert side["candidate"]["document_accuracy"] > side["baseline"]["document_accuracy"]
    held_out = [d for d in load_labelled_jsonl(files[1]) if d.split == "test"]
    assert side["candidate"]["prompt_tokens"] > 0 and side["documents"] == len(held_out)
    assert "document accuracy" in out  # the side-by-side figures are printed
    assert version.metrics["document_accuracy"] == side["candidate"]["document_accuracy"]
    assert version.metrics["baseline_document_accuracy"] == side["baseline"]["document_accuracy"]
    assert version.metrics["report"]["comparisons"][0]["baseline"] == f"llm:{BASE}"

    code, out = _run(["finetune", "list"], env)
    assert code == 0 and job.id in out and version.ref in out
    code, out = _run(["models", "list", "extractor"], env)  # the registry's listing shows it
    assert code == 0 and "candidate" in out and "document_accuracy=1.0" in out and job.id in out


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"messages": [{"role": "user", "content": "x"}, {"role": "bot", "content": "y"}]}', "role 'bot'"),
        (
            '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": '
            '"{\\"fields\\": {\\"colour\\": \\"red\\"}}"}]}',
            "unknown field 'colour'",
        ),
        (
            '{"messages": [{"role": "user", "content": "' + "x" * 300_000 + '"}, '
            '{"role": "assistant", "content": "{}"}]}',
            "token limit per example",
        ),
    ],
)
def test_an_invalid_file_is_refused_before_any_upload(
    server: FineTuningServer, files: tuple[Path, Path], tmp_path: Path, line: str, reason: str
) -> None:
    rows = files[0].read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*rows[:4], line, *rows[4:]]) + "\n")
    code, out = _run(["finetune", "start", "--base", BASE, "--data", str(bad)], _env(server, tmp_path, files))
    assert code == 2 and f"refused before upload: {bad}:5:" in out and reason in out
    code, out = _run(
        ["finetune", "start", "--base", BASE, "--data", str(files[0]), "--validation", str(bad)],
        _env(server, tmp_path, files),
    )
    assert code == 2 and f"{bad}:5:" in out  # a bad validation file is refused the same way
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(rows[:3]) + "\n")
    code, out = _run(["finetune", "start", "--base", BASE, "--data", str(few)], _env(server, tmp_path, files))
    assert code == 2 and "3 example(s); fine-tuning needs at least 10" in out
    assert server.calls == [] and server.files == {}  # nothing reached the provider


def test_a_failed_job_shows_the_error_and_registers_nothing(
    server: FineTuningServer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    server.outcome = "failed"
    env = _env(server, tmp_path, files)
    code, out = _run(["finetune", "start", "--base", BASE, "--data", str(files[0])], env)
    assert code == 1, out
    assert "failed: invalid_training_file: Training file has too many bad lines" in out
    assert "nothing was registered" in out
    assert _candidates(env) == []
    code, out = _run(["finetune", "status"], env)  # the row keeps the error
    assert code == 0 and "failed" in out and "too many bad lines" in out


def test_cancel_stops_the_job_and_a_cancelled_job_registers_nothing(
    server: FineTuningServer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    env = _env(server, tmp_path, files)
    code, out = _run(["finetune", "start", "--base", BASE, "--data", str(files[0]), "--no-wait"], env)
    assert code == 0, out
    [job_id] = server.jobs
    server.faults.append(500)  # the cancel meets a 500 first
    code, out = _run(["finetune", "cancel", job_id], env)
    assert code == 0 and f"{job_id}: cancelled" in out
    code, out = _run(["finetune", "status", job_id, "--events", "5"], env)
    assert code == 0 and "Created fine-tuning job" in out and out.endswith("Job cancelled")
    code, out = _run(["finetune", "status", job_id, "--wait"], env)
    assert code == 1 and "cancelled" in out and "nothing was registered" in out
    assert _candidates(env) == []
    code, out = _run(["finetune", "cancel", "ftjob-nope"], env)
    assert code == 2 and "no fine-tuning job 'ftjob-nope'" in out


def test_polling_gives_up_with_the_job_kept_when_the_api_keeps_failing(
    server: FineTuningServer, files: tuple[Path, Path], tmp_path: Path
) -> None:
    env = {**_env(server, tmp_path, files), "AUTOCLERK_FINETUNE__RETRY_FOR_S": "0.3"}
    code, _ = _run(["finetune", "start", "--base", BASE, "--data", str(files[0]), "--no-wait"], env)
    assert code == 0
    [job_id] = server.jobs
    server.faults.extend([503] * 1000)
    code, out = _run(["finetune", "status", job_id, "--wait"], env)
    assert code == 3 and "kept failing" in out and "finetune status --wait JOB" in out
    server.faults.clear()
    code, out = _run(["finetune", "status", job_id, "--wait"], env)  # later: it goes on
    assert code == 0 and "registered as candidate" in out


def _subprocess_env(env: dict) -> dict:
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def test_a_killed_cli_resumes_polling_from_the_database(
    server: FineTuningServer, files: tuple[Path, Path], tmp_path: Path, db: tuple[str, str | None]
) -> None:
    url, schema = db
    db_url = f"{url}?options=-csearch_path%3D{schema}" if schema else url
    env = {**_env(server, tmp_path, files, db_url), "AUTOCLERK_FINETUNE__POLL_MAX_S": "0.2"}
    server.statuses = ("validating_files", "queued", *(["running"] * 10_000), "succeeded")
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoclerk", "finetune", "start", "--base", BASE, "--data", str(files[0])],
        env=_subprocess_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(j.polls >= 3 for j in server.jobs.values()):
            assert proc.poll() is None and time.monotonic() < deadline, "the CLI never polled"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    [job] = server.jobs.values()
    engine = create_engine(db_url)
    with engine.connect() as c:
        [(status, registered)] = c.execute(
            text("select status, registered_version from finetune_jobs where job_id = :j"), {"j": job.id}
        ).all()
    engine.dispose()
    assert status == "running" and registered is None  # the row, not memory, holds the job
    job.steps = ("running", "succeeded")  # the provider finished while nobody watched
    code, out = _run(["finetune", "resume"], env)
    assert code == 0, out
    assert f"{job.id}: succeeded" in out and "registered as candidate" in out
    [version] = _candidates(env)
    assert version.lineage["finetune_job"] == job.id
    code, out = _run(["finetune", "resume"], env)  # nothing left: never registered twice
    assert code == 0 and "no job to resume" in out and len(_candidates(env)) == 1
