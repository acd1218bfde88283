"""The `autoclerk` command line: thin commands over the composition root."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from autoclerk.feedback_cli import feedback_app
from autoclerk.models_cli import models_app
from autoclerk.review_cli import review_app, users_app
from autoclerk.routing_cli import routing_app
from infra.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
schemas_app = typer.Typer(no_args_is_help=True, help="Event schemas for upstream producers.")
train_app = typer.Typer(no_args_is_help=True, help="Train models from labelled documents.")
reference_app = typer.Typer(no_args_is_help=True, help="Reference (master) data the rules read.")
app.add_typer(schemas_app, name="schemas")
app.add_typer(train_app, name="train")
app.add_typer(reference_app, name="reference")
app.add_typer(review_app, name="review")
app.add_typer(users_app, name="users")
app.add_typer(routing_app, name="routing")
app.add_typer(feedback_app, name="feedback")
app.add_typer(models_app, name="models")
console = Console()


@app.callback()
def _main() -> None:
    # scikit-learn's OpenMP pools spin-wait; with concurrent documents (threads) on a
    # small machine they oversubscribe the cores and training ran 40x slower. One
    # thread per pool, parallelism from documents in flight instead.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")


@app.command()
def run(
    limit: Annotated[int | None, typer.Option(help="publish only the first N sample documents")] = None,
    fresh: Annotated[bool, typer.Option(help="start from an empty SQLite database")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for all outcomes")] = 900.0,
    serve: Annotated[
        bool | None, typer.Option(help="then serve the review UI until Ctrl-C (default: on a terminal)")
    ] = None,
    workers: Annotated[int, typer.Option(min=0, max=16, help="worker processes; 0: one per core")] = 0,
) -> None:
    """Main job: embedded broker + worker, publish the shipped sample, print the summary."""
    from autoclerk.demo import demo_run

    settings = Settings()
    serve = sys.stdout.isatty() if serve is None else serve
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            demo_run(
                settings=settings,
                limit=limit,
                fresh=fresh,
                console=console,
                timeout_s=timeout,
                serve=serve,
                n_workers=workers or min(os.cpu_count() or 1, settings.kafka.partitions),
            )
        )


@app.command()
def worker() -> None:
    """Consume documents and review completions until SIGTERM (needs a broker)."""
    from autoclerk.worker import run_worker_process

    settings = Settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP (or start one: autoclerk broker)")
        raise typer.Exit(2)
    raise typer.Exit(run_worker_process(settings))


@app.command()
def broker(
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1; default: a free one")] = None,
) -> None:
    """Run the embedded tansu broker in the foreground, with our topics created."""
    from autoclerk.worker import serve_broker

    serve_broker(Settings(), port=port, console=console)


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option(help="document kind for PDFs")] = "invoice",
) -> None:
    """Publish documents from JSON, JSONL or PDF files to documents.received."""
    from autoclerk.publish import events_from_files, publish_events
    from schemas.messages import Topics

    settings = Settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP")
        raise typer.Exit(2)
    if kind not in ("invoice", "claim"):
        raise typer.BadParameter("kind must be invoice or claim")
    topic = Topics.with_prefix(settings.kafka.topic_prefix).received
    events = list(events_from_files(files, kind=kind))  # type: ignore[arg-type]
    sent = asyncio.run(publish_events(bootstrap=settings.kafka.bootstrap, topic=topic, events=events))
    console.print(f"published {sent} document(s) to {topic}")


@app.command("eval")
def eval_(
    dataset: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="labelled JSONL")],
    cv: Annotated[
        int | None, typer.Option(help="K-fold cross-validation instead of the declared split")
    ] = None,
    target_error: Annotated[float, typer.Option(help="document error allowed straight through")] = 0.01,
    field: Annotated[list[str] | None, typer.Option(help="score only these fields")] = None,
    report: Annotated[Path | None, typer.Option(help="write JSON reports to this folder")] = None,
    seed: int = 0,
) -> None:
    """Extraction quality (per-field accuracy, F1, ECE, straight-through) on held-out documents."""
    from autoclerk.eval_cli import eval_command

    eval_command(dataset, cv=cv, target_error=target_error, field=field, report=report, seed=seed)


@app.command()
def summary() -> None:
    """Print the summary of what the configured database holds."""
    from autoclerk.summary import collect_summary, summary_table
    from infra.db.engine import make_engine

    engine = make_engine(Settings().db.url)
    console.print(summary_table(collect_summary(engine)))


@schemas_app.command("export")
def schemas_export(
    out: Annotated[Path, typer.Option(help="folder for one JSON Schema per event type")] = Path(
        "schemas/json"
    ),
) -> None:
    """Write JSON Schemas of every event envelope."""
    from schemas.events import envelope_json_schemas

    out.mkdir(parents=True, exist_ok=True)
    for name, schema in envelope_json_schemas().items():
        (out / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {len(envelope_json_schemas())} schemas to {out}")


@train_app.command("extractor")
def train_extractor(
    data: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="labelled JSONL to add (e.g. `feedback export`)"),
    ] = None,
    force: Annotated[bool, typer.Option(help="promote even if worse than the current model")] = False,
    tolerance: Annotated[float, typer.Option(help="document accuracy the candidate may lose")] = 0.005,
) -> None:
    """Train the local extractor on the training split (shipped + --data); promote through the gate."""
    from autoclerk.retrain import retrain_extractor

    s = Settings()
    done = retrain_extractor(
        models_dir=s.models.dir,
        data_dir=s.data_dir,
        extra=data or [],
        force=force,
        tolerance=tolerance,
        log=console.print,
    )
    console.print(f"extractor: {done.artifact}")
    if not done.promoted:
        raise typer.Exit(1)


@train_app.command("triage")
def train_triage_cmd(
    data: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="labelled JSONL to add (e.g. `feedback export`)"),
    ] = None,
    exceptions_cv: Annotated[
        int, typer.Option(help="label exceptions by K-fold out-of-fold extraction (0: exported labels only)")
    ] = 0,
) -> None:
    """Train the triage classifier (kind, and risk where labelled), export it to ONNX, promote it."""
    from agents.triage.train import train_triage
    from autoclerk.models import train_and_promote
    from autoclerk.triage_train import triage_documents

    s = Settings()
    docs = triage_documents(
        data_dir=s.data_dir, models_dir=s.models.dir, extra=data or [], exceptions_cv=exceptions_cv,
        log=console.print,
    )  # fmt: skip
    path = train_and_promote(models_dir=s.models.dir, name="triage", trainer=train_triage, documents=docs)
    console.print(f"triage: {path}")
    console.print_json(json.dumps(json.loads((path / "metadata.json").read_text()).get("risk")))


@train_app.command("claims-risk")
def train_claims_risk_cmd(
    csv: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="auto claims with fraud_reported")],
) -> None:
    """Train the auto-claim fraud model (5-fold CV metrics in its metadata) and promote it."""
    from agents.triage import train_claims_risk
    from autoclerk.models import promote

    s = Settings()
    out = s.models.dir / "claims_risk"
    out.mkdir(parents=True, exist_ok=True)
    path = train_claims_risk(csv_path=csv, out_dir=out)
    promote(s.models.dir, "claims_risk", path)
    console.print(f"claims risk: {path}")
    console.print_json((path / "metadata.json").read_text())


@reference_app.command("load")
def reference_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    table: Annotated[str, typer.Option(help="policies, vendors or purchase_orders")],
) -> None:
    """Upsert reference rows from a CSV file."""
    from autoclerk.reference import load_reference
    from infra.db.engine import make_engine, migrate

    s = Settings()
    migrate(s.db.url)
    n = load_reference(engine=make_engine(s.db.url), path=path, table=table)
    console.print(f"{table}: {n} rows loaded")
