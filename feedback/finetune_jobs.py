"""Fine-tuning jobs at an OpenAI-compatible provider, from a checked file to a candidate.

    check file ─► split ─► upload train (+ validation) ─► create job ─► row in finetune_jobs
                                                                          │
         poll (exponential backoff; 429/5xx/timeouts retried) ◄───────────┘
           ├─ succeeded ─► evaluate beside the active model ─► register candidate ─► row notes version
           ├─ failed / cancelled ─► row keeps the provider's error; nothing registered
           └─ the process dies ─► `finetune status --wait JOB` polls again from the row

The job id lives in the database, never only in memory, so any process resumes a job.
The provider is reached through `FineTuningApi`, the table through `JobStore`, and the
registry plus evaluation through `CandidateSink` (implemented in `autoclerk.finetune`,
since this package may not import adapters). Which exceptions are transient is the
caller's to say (`retry_on`), as for the LLM extractor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from feedback.errors import FineTuneApiUnavailable, FineTuneJobFailed, JobNotFound
from feedback.finetune_file import CheckedFile, split_examples
from schemas.finetune import TERMINAL, JobRecord, ProviderJob


class FineTuningApi(Protocol):
    def upload(self, *, name: str, content: bytes) -> str: ...

    def create(
        self,
        *,
        base_model: str,
        training_file: str,
        validation_file: str | None,
        hyperparameters: dict[str, Any],
        suffix: str | None,
    ) -> ProviderJob: ...

    def retrieve(self, job_id: str) -> ProviderJob: ...

    def cancel(self, job_id: str) -> ProviderJob: ...

    def events(self, job_id: str, *, limit: int = 20) -> list[str]: ...


class JobStore(Protocol):
    def add(self, record: JobRecord) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def save(self, record: JobRecord) -> None: ...

    def recent(self, *, limit: int = 50) -> list[JobRecord]: ...


class CandidateSink(Protocol):
    def register(self, record: JobRecord) -> str:
        """Evaluate the tuned model and register it as a candidate; returns its ref."""
        ...


class Polling(BaseModel):
    """How often to ask, and how long to keep asking through transient failures."""

    initial_s: float = 1.0
    max_s: float = 60.0
    retry_for_s: float = 300.0
    retry_initial_s: float = 0.5
    timeout_s: float | None = None  # stop waiting (the job goes on); None: until it ends


def _call(fn: Callable[[], Any], *, retry_on: tuple[type[BaseException], ...], polling: Polling) -> Any:
    """`fn()`, retried with exponential backoff on `retry_on` for `retry_for_s`."""
    retrying = Retrying(
        retry=retry_if_exception_type(retry_on),
        wait=wait_exponential(multiplier=polling.retry_initial_s, max=polling.max_s),
        stop=stop_after_delay(polling.retry_for_s),
        reraise=False,
    )
    try:
        return retrying(fn)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise FineTuneApiUnavailable(
            f"the fine-tuning API kept failing for {polling.retry_for_s:.0f}s ({last}); the job is "
            "recorded, run `autoclerk finetune status --wait JOB` to go on"
        ) from last


def start(
    *,
    checked: CheckedFile,
    validation: CheckedFile | None,
    base_model: str,
    epochs: int | None,
    suffix: str | None,
    manifest: dict[str, Any],
    api: FineTuningApi,
    store: JobStore,
    retry_on: tuple[type[BaseException], ...] = (),
    polling: Polling | None = None,
) -> JobRecord:
    """Upload the checked file(s), create the job and record it (before any polling)."""
    polling = polling or Polling()
    if validation is not None:
        train_lines, valid_lines = checked.lines, validation.lines
    else:
        train_lines, valid_lines = split_examples(checked)
    stem = checked.path.stem

    def upload(name: str, lines: list[str]) -> str:
        content = ("\n".join(lines) + "\n").encode()
        return str(_call(lambda: api.upload(name=name, content=content), retry_on=retry_on, polling=polling))

    training_file = upload(f"{stem}.train.jsonl", train_lines)
    validation_file = upload(f"{stem}.validation.jsonl", valid_lines) if valid_lines else None
    hyper: dict[str, Any] = {"n_epochs": epochs} if epochs else {}
    job: ProviderJob = _call(
        lambda: api.create(
            base_model=base_model,
            training_file=training_file,
            validation_file=validation_file,
            hyperparameters=hyper,
            suffix=suffix,
        ),
        retry_on=retry_on,
        polling=polling,
    )
    record = JobRecord(
        job_id=job.job_id,
        base_model=base_model,
        suffix=suffix,
        training_file=training_file,
        validation_file=validation_file,
        training_sha256=checked.sha256,
        manifest={
            **manifest,
            "examples": {"train": len(train_lines), "validation": len(valid_lines)},
            "estimated_tokens": checked.total_tokens,
        },
        hyperparameters=hyper,
        status=job.status,
    )
    store.add(record)
    return record


def _merge(record: JobRecord, job: ProviderJob) -> JobRecord:
    return record.model_copy(
        update={
            "status": job.status,
            "fine_tuned_model": job.fine_tuned_model or record.fine_tuned_model,
            "trained_tokens": job.trained_tokens if job.trained_tokens is not None else record.trained_tokens,
            "error": job.error or record.error,
            "finished_at": job.finished_at or record.finished_at,
        }
    )


def _row(store: JobStore, job_id: str) -> JobRecord:
    record = store.get(job_id)
    if record is None:
        raise JobNotFound(f"no fine-tuning job {job_id!r} in this database (see `autoclerk finetune list`)")
    return record


def refresh(
    *,
    job_id: str,
    api: FineTuningApi,
    store: JobStore,
    retry_on: tuple[type[BaseException], ...] = (),
    polling: Polling | None = None,
) -> JobRecord:
    """The row, updated with what the provider says now."""
    return _update(store, job_id, lambda: api.retrieve(job_id), retry_on=retry_on, polling=polling)


def _update(
    store: JobStore,
    job_id: str,
    call: Callable[[], ProviderJob],
    *,
    retry_on: tuple[type[BaseException], ...],
    polling: Polling | None,
) -> JobRecord:
    """Ask the provider (`call`) about a job not yet ended and keep its answer in the row."""
    record = _row(store, job_id)
    if record.status in TERMINAL:
        return record
    updated = _merge(record, _call(call, retry_on=retry_on, polling=polling or Polling()))
    store.save(updated)
    return updated


def wait(
    *,
    job_id: str,
    api: FineTuningApi,
    store: JobStore,
    sink: CandidateSink,
    retry_on: tuple[type[BaseException], ...] = (),
    polling: Polling | None = None,
    on_status: Callable[[JobRecord], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
) -> JobRecord:
    """Poll until the job ends, then register a succeeded job's model (once). Raises
    `FineTuneJobFailed` for a failed or cancelled job; returns the row otherwise (still
    running when `polling.timeout_s` ran out)."""
    polling = polling or Polling()
    started, interval, last = time.monotonic(), polling.initial_s, ""
    while True:
        record = refresh(job_id=job_id, api=api, store=store, retry_on=retry_on, polling=polling)
        if record.status != last:
            on_status(record)
            last, interval = record.status, polling.initial_s  # news: look again soon
        if record.status in TERMINAL:
            break
        if polling.timeout_s is not None and time.monotonic() - started >= polling.timeout_s:
            return record
        sleep(interval)
        interval = min(interval * 2, polling.max_s)
    if record.status != "succeeded":
        raise FineTuneJobFailed(f"job {job_id} {record.status}: {record.error or 'no reason given'}")
    if record.registered_version is None:
        if not record.fine_tuned_model:
            raise FineTuneJobFailed(f"job {job_id} succeeded without a fine_tuned_model id")
        # Evaluation and registration come first and the row is written last: a crash in
        # between leaves the row unregistered, and the next `--wait` registers it again.
        record = record.model_copy(update={"registered_version": sink.register(record)})
        store.save(record)
    return record


def cancel(
    *,
    job_id: str,
    api: FineTuningApi,
    store: JobStore,
    retry_on: tuple[type[BaseException], ...] = (),
    polling: Polling | None = None,
) -> JobRecord:
    return _update(store, job_id, lambda: api.cancel(job_id), retry_on=retry_on, polling=polling)
