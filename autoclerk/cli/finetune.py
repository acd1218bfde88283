"""`autoclerk finetune`: fine-tuning jobs for the LLM extractor at an OpenAI-compatible API.

Thin: parse options, call `feedback.finetune_jobs` through `autoclerk.finetune`, print.
Exit codes: 0 done (or still running when not waiting), 1 the job failed or was
cancelled, 2 bad input (a refused file, an unknown job), 3 the API kept failing
(the job is recorded: `finetune status --wait JOB` goes on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from feedback.errors import FineTuneApiUnavailable, FineTuneJobFailed, JobNotFound, TrainingFileError
from infra.errors import FineTuneRejected
from infra.settings import Settings
from schemas.finetune import TERMINAL, JobRecord

finetune_app = typer.Typer(
    no_args_is_help=True, help="Fine-tune the LLM extractor through the fine-tuning API."
)
console = Console()


def _show(record: JobRecord) -> None:
    tail = f" → {record.fine_tuned_model}" if record.fine_tuned_model else ""
    tokens = f", {record.trained_tokens} trained tokens" if record.trained_tokens else ""
    console.print(f"{record.job_id}: {record.status}{tail}{tokens}")
    if record.error:
        console.print(f"  [red]error: {record.error}")
    if record.registered_version:
        console.print(f"  registered as candidate {record.registered_version}")


def _guarded(work: Callable[[], Any]) -> Any:
    """Run `work`, turning the flow's errors into a message and an exit code."""
    try:
        return work()
    except TrainingFileError as exc:
        console.print(f"[red]refused before upload: {exc}")
        raise typer.Exit(2) from exc
    except JobNotFound as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    except FineTuneRejected as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    except FineTuneJobFailed as exc:
        console.print(f"[red]{exc}; nothing was registered")
        raise typer.Exit(1) from exc
    except FineTuneApiUnavailable as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(3) from exc


def _wait(settings: Settings, job_id: str, *, timeout_s: float | None, eval_data: Path | None) -> JobRecord:
    from autoclerk.finetune import RETRY_ON, RegistrySink, open_runtime, polling
    from feedback.finetune_jobs import wait

    sink = RegistrySink(settings=settings, eval_data=eval_data)
    with open_runtime(settings) as rt:
        record: JobRecord = wait(
            job_id=job_id,
            api=rt.api,
            store=rt.store,
            sink=sink,
            retry_on=RETRY_ON,
            polling=polling(settings, timeout_s=timeout_s),
            on_status=_show,
        )
    if record.registered_version:
        console.print(f"{record.job_id}: registered as candidate {record.registered_version}")
    if sink.last:
        _side_by_side(sink.last)
    elif record.status not in TERMINAL:
        console.print(f"{record.job_id}: still {record.status}; `finetune status --wait JOB` goes on")
    return record


def _side_by_side(figures: dict[str, Any]) -> None:
    where = f"the held-out split of {figures['dataset']} ({figures['documents']} documents)"
    console.print(f"side by side on {where}:")
    for role in ("baseline", "candidate"):
        m = figures.get(role) or {}
        acc, cost = m.get("document_accuracy"), m.get("cost_usd")
        console.print(
            f"  {role} {m.get('ref')}: document accuracy {'-' if acc is None else f'{acc:.3f}'}, "
            f"{m.get('failures')} failure(s), {m.get('prompt_tokens')} prompt + {m.get('completion_tokens')} "
            f"completion tokens, cost {'-' if cost is None else f'${cost:.4f}'}"
        )
    console.print("  per-field differences with 95% intervals are recorded on the version (metrics.report)")


@finetune_app.command("start")
def start_cmd(
    base: Annotated[str, typer.Option(help="model to fine-tune, e.g. gpt-4o-mini-2024-07-18")],
    data: Annotated[
        Path, typer.Option(dir_okay=False, help="chat JSONL (`feedback export --format openai`)")
    ],
    validation: Annotated[
        Path | None, typer.Option(dir_okay=False, help="validation JSONL; default: the declared hash split")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=50, help="n_epochs; default: the API's")] = None,
    suffix: Annotated[str | None, typer.Option(max=40, help="added to the ft: model id")] = None,
    wait_: Annotated[bool, typer.Option("--wait/--no-wait", help="poll until the job ends")] = True,
    eval_data: Annotated[
        Path | None, typer.Option(dir_okay=False, help="labelled JSONL whose test split scores the result")
    ] = None,
) -> None:
    """Check the file, upload it, create the job, record it; then poll to a registered candidate."""
    from autoclerk.finetune import RETRY_ON, file_limits, open_runtime, polling, read_manifest
    from feedback.finetune_file import check_file
    from feedback.finetune_jobs import start

    settings = Settings()
    limits = file_limits(settings)

    def begin() -> JobRecord:
        checked = check_file(data, limits=limits)
        valid = check_file(validation, limits=replace(limits, min_examples=1)) if validation else None
        with open_runtime(settings) as rt:
            record: JobRecord = start(
                checked=checked,
                validation=valid,
                base_model=base,
                epochs=epochs,
                suffix=suffix,
                manifest=read_manifest(data, sha256=checked.sha256),
                api=rt.api,
                store=rt.store,
                retry_on=RETRY_ON,
                polling=polling(settings),
            )
        counts = record.manifest["examples"]
        console.print(
            f"job {record.job_id} created on {base}: {counts['train']} training and {counts['validation']} "
            f"validation examples (file {record.training_file}, "
            f"about {record.manifest['estimated_tokens']} tokens)"
        )
        return record

    record = _guarded(begin)
    if wait_:
        _guarded(lambda: _wait(settings, record.job_id, timeout_s=None, eval_data=eval_data))


@finetune_app.command("status")
def status_cmd(
    job_id: Annotated[str | None, typer.Argument(help="a job id; default: the latest job")] = None,
    wait_: Annotated[
        bool, typer.Option("--wait", help="poll until it ends (resumes after a restart)")
    ] = False,
    timeout: Annotated[float | None, typer.Option(min=0, help="stop waiting after this many seconds")] = None,
    events: Annotated[int, typer.Option(min=0, max=100, help="show the provider's last events")] = 0,
    eval_data: Annotated[Path | None, typer.Option(dir_okay=False, help="see `finetune start`")] = None,
) -> None:
    """What the provider says about a job now (and its candidate once registered)."""
    from autoclerk.finetune import RETRY_ON, open_runtime, polling
    from feedback.finetune_jobs import refresh

    settings = Settings()

    def latest() -> str:
        with open_runtime(settings) as rt:
            jobs = rt.store.recent(limit=1)
        if not jobs:
            raise JobNotFound("no fine-tuning job recorded yet (`autoclerk finetune start`)")
        return jobs[0].job_id

    job = job_id or _guarded(latest)
    if wait_:
        _guarded(lambda: _wait(settings, job, timeout_s=timeout, eval_data=eval_data))
        return

    def show() -> None:
        with open_runtime(settings) as rt:
            _show(
                refresh(job_id=job, api=rt.api, store=rt.store, retry_on=RETRY_ON, polling=polling(settings))
            )
            for line in rt.api.events(job, limit=events) if events else []:
                console.print(f"  {line}")

    _guarded(show)


@finetune_app.command("resume")
def resume_cmd(
    eval_data: Annotated[Path | None, typer.Option(dir_okay=False, help="see `finetune start`")] = None,
) -> None:
    """Poll every recorded job that has not ended or whose model is not registered yet."""
    from autoclerk.finetune import open_runtime

    settings = Settings()
    with open_runtime(settings) as rt:
        pending = [
            r.job_id
            for r in rt.store.recent(limit=1000)
            if r.status not in TERMINAL or (r.status == "succeeded" and not r.registered_version)
        ]
    if not pending:
        console.print("no job to resume")
    for job in pending:
        _guarded(lambda job=job: _wait(settings, job, timeout_s=None, eval_data=eval_data))  # type: ignore[misc]


@finetune_app.command("list")
def list_cmd(limit: Annotated[int, typer.Option(min=1, max=1000)] = 50) -> None:
    """Recorded jobs, newest first (as last polled; `status JOB` asks the provider)."""
    from autoclerk.finetune import open_runtime

    with open_runtime(Settings()) as rt:
        jobs = rt.store.recent(limit=limit)
    table = Table(title="fine-tuning jobs")
    for col in ("job", "created", "base", "status", "model", "trained tokens", "candidate"):
        table.add_column(col)
    for r in jobs:
        table.add_row(
            r.job_id,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.base_model,
            r.status,
            r.fine_tuned_model or "",
            str(r.trained_tokens or ""),
            r.registered_version or "",
        )
    console.print(table)


@finetune_app.command("cancel")
def cancel_cmd(job_id: Annotated[str, typer.Argument(help="a job id from `finetune list`")]) -> None:
    """Ask the provider to cancel a job; nothing is registered for it."""
    from autoclerk.finetune import RETRY_ON, open_runtime, polling
    from feedback.finetune_jobs import cancel

    settings = Settings()

    def run() -> None:
        with open_runtime(settings) as rt:
            _show(
                cancel(
                    job_id=job_id, api=rt.api, store=rt.store, retry_on=RETRY_ON, polling=polling(settings)
                )
            )

    _guarded(run)
