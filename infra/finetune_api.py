"""The OpenAI fine-tuning and files API (or any server that speaks it), for
`feedback.finetune_jobs.FineTuningApi`.

Synchronous: a CLI process runs one job at a time and sleeps between polls. The
client's own retries are off; the flow retries `FineTuneUnavailable` with its
backoff, and two retry layers would multiply the waits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import openai
from openai import OpenAI

from infra.errors import FineTuneRejected, FineTuneUnavailable
from infra.settings import LlmSettings
from schemas.finetune import ProviderJob

T = TypeVar("T")
_RETRYABLE_STATUS = frozenset({408, 409, 429})


def _guard(call: Callable[[], T]) -> T:
    """`call()`, with the SDK's errors mapped onto transient and permanent ones."""
    try:
        return call()
    except (openai.APITimeoutError, openai.APIConnectionError) as exc:
        raise FineTuneUnavailable(f"fine-tuning API unreachable: {exc}") from exc
    except openai.APIStatusError as exc:
        status = exc.status_code
        if status in _RETRYABLE_STATUS or status >= 500:
            raise FineTuneUnavailable(
                f"fine-tuning API answered {status}: {exc.message}", status=status
            ) from exc
        raise FineTuneRejected(f"fine-tuning API refused ({status}): {exc.message}", status=status) from exc


def _job(raw: Any) -> ProviderJob:
    error = getattr(raw, "error", None)
    message = None
    if error is not None and (getattr(error, "message", None) or getattr(error, "code", None)):
        message = f"{error.code}: {error.message}" if error.code else str(error.message)
    finished = getattr(raw, "finished_at", None)
    return ProviderJob(
        job_id=raw.id,
        status=raw.status,
        fine_tuned_model=raw.fine_tuned_model,
        trained_tokens=raw.trained_tokens,
        error=message,
        finished_at=datetime.fromtimestamp(finished, UTC) if finished else None,
    )


class OpenAiFineTuning:
    def __init__(self, *, base_url: str | None, api_key: str | None, timeout_s: float) -> None:
        # Local servers need no key, but the client refuses to start without one.
        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> OpenAiFineTuning:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(base_url=settings.base_url, api_key=key, timeout_s=settings.timeout_s)

    def close(self) -> None:
        self._client.close()

    def upload(self, *, name: str, content: bytes) -> str:
        return _guard(lambda: self._client.files.create(file=(name, content), purpose="fine-tune")).id

    def create(
        self,
        *,
        base_model: str,
        training_file: str,
        validation_file: str | None,
        hyperparameters: dict[str, Any],
        suffix: str | None,
    ) -> ProviderJob:
        kwargs: dict[str, Any] = {"model": base_model, "training_file": training_file}
        if validation_file:
            kwargs["validation_file"] = validation_file
        if hyperparameters:
            kwargs["hyperparameters"] = hyperparameters
        if suffix:
            kwargs["suffix"] = suffix
        return _job(_guard(lambda: self._client.fine_tuning.jobs.create(**kwargs)))

    def retrieve(self, job_id: str) -> ProviderJob:
        return _job(_guard(lambda: self._client.fine_tuning.jobs.retrieve(job_id)))

    def cancel(self, job_id: str) -> ProviderJob:
        return _job(_guard(lambda: self._client.fine_tuning.jobs.cancel(job_id)))

    def events(self, job_id: str, *, limit: int = 20) -> list[str]:
        page = _guard(lambda: self._client.fine_tuning.jobs.list_events(job_id, limit=limit))
        # the API lists newest first; a person reads oldest first
        return [
            f"{datetime.fromtimestamp(e.created_at, UTC):%H:%M:%S} {e.message}" for e in reversed(page.data)
        ]
