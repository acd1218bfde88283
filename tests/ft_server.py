"""A local OpenAI-compatible fine-tuning server: files, fine_tuning.jobs, and chat
completions for the `ft:` models its jobs produce.

It extends `ScriptedLlmServer` (same thread, same 127.0.0.1 socket), so the `openai`
client, its multipart upload and its error mapping run exactly as against OpenAI.

A job walks `statuses` (default validating_files → queued → running → running →
succeeded), one step per `retrieve` or per `step_s` seconds, whichever comes first —
time for a process that only sleeps, requests for tests that need no clock. `outcome`
"failed" ends the job with an error instead of a model. `faults` are HTTP statuses
answered (once each, in order) to the next fine-tuning calls, before any work is done:
a 429 or 500 in the middle of polling. Chat completions for an `ft:` id the server has
not produced answer 404 model_not_found, as OpenAI does.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.llm_server import ScriptedLlmServer

STEPS = ("validating_files", "queued", "running", "running", "succeeded")


@dataclass
class Job:
    id: str
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    hyperparameters: dict[str, Any]
    created: float
    steps: tuple[str, ...]
    outcome: str
    tokens: int
    polls: int = 0
    cancelled: bool = False
    events: list[tuple[float, str]] = field(default_factory=list)


class FineTuningServer(ScriptedLlmServer):
    def __init__(self, *, step_s: float = 3600.0, outcome: str = "succeeded", **kw: Any) -> None:
        super().__init__(**kw)
        self.step_s = step_s
        self.outcome = outcome
        self.statuses: tuple[str, ...] = STEPS
        self.faults: deque[int] = deque()
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, Job] = {}
        self.calls: list[str] = []  # "METHOD path" of every fine-tuning/files request

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self._chat_ft, methods=["POST"]),
            Route("/v1/files", self._upload, methods=["POST"]),
            Route("/v1/files/{file_id}", self._file, methods=["GET"]),
            Route("/v1/fine_tuning/jobs", self._create, methods=["POST"]),
            Route("/v1/fine_tuning/jobs", self._list, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id}", self._retrieve, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id}/cancel", self._cancel, methods=["POST"]),
            Route("/v1/fine_tuning/jobs/{job_id}/events", self._events, methods=["GET"]),
        ]

    @property
    def models(self) -> set[str]:
        return {self._view(j)["fine_tuned_model"] for j in self.jobs.values()} - {None}

    def _fault(self, request: Request) -> Response | None:
        self.calls.append(f"{request.method} {request.url.path}")
        if not self.faults:
            return None
        status = self.faults.popleft()
        return _error(
            status, "server_error" if status >= 500 else "rate_limit_exceeded", f"injected {status}"
        )

    async def _chat_ft(self, request: Request) -> Response:
        model = (await request.json()).get("model", "")
        if model.startswith("ft:") and model not in self.models:
            return _error(404, "model_not_found", f"The model {model} does not exist")
        return await self._chat(request)

    async def _upload(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        form = await request.form()
        upload = form["file"]
        if isinstance(upload, str) or form.get("purpose") != "fine-tune":
            return _error(400, "invalid_request_error", "a fine-tune file upload is expected")
        data = await upload.read()
        file_id = f"file-{len(self.files) + 1:04d}"
        self.contents[file_id] = data
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": upload.filename,
            "purpose": "fine-tune",
            "status": "processed",
        }
        return JSONResponse(self.files[file_id])

    async def _file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["file_id"])
        return JSONResponse(found) if found else _error(404, "not_found", "no such file")

    async def _create(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        body = await request.json()
        for key in ("training_file", "validation_file"):
            if body.get(key) and body[key] not in self.files:
                return _error(400, "invalid_request_error", f"{key} {body[key]} does not exist")
        lines = self.contents[body["training_file"]].decode().splitlines()
        epochs = (body.get("hyperparameters") or {}).get("n_epochs") or 3
        job = Job(
            id=f"ftjob-{len(self.jobs) + 1:04d}",
            model=body["model"],
            training_file=body["training_file"],
            validation_file=body.get("validation_file"),
            suffix=body.get("suffix"),
            hyperparameters={"n_epochs": epochs},
            created=time.time(),
            steps=self.statuses,
            outcome=self.outcome,
            # what OpenAI bills: tokens of the training file times the epochs
            tokens=sum(len(line) for line in lines) // 4 * epochs,
        )
        job.events.append((job.created, f"Created fine-tuning job: {job.id}"))
        self.jobs[job.id] = job
        return JSONResponse(self._view(job))

    def _step(self, job: Job) -> int:
        by_time = int((time.time() - job.created) / self.step_s)
        return min(max(by_time, job.polls), len(job.steps) - 1)

    def _view(self, job: Job) -> dict[str, Any]:
        status = "cancelled" if job.cancelled else job.steps[self._step(job)]
        error = None
        if status == "succeeded" and job.outcome == "failed":
            status = "failed"
            error = {
                "code": "invalid_training_file",
                "message": "Training file has too many bad lines",
                "param": None,
            }
        done = status in {"succeeded", "failed", "cancelled"}
        tag = job.suffix or "autoclerk"
        return {
            "id": job.id,
            "object": "fine_tuning.job",
            "created_at": int(job.created),
            "model": job.model,
            "fine_tuned_model": f"ft:{job.model}:autoclerk:{tag}:{job.id[-4:]}"
            if status == "succeeded"
            else None,
            "finished_at": int(time.time()) if done else None,
            "hyperparameters": job.hyperparameters,
            "organization_id": "org-local",
            "result_files": [],
            "seed": 0,
            "status": status,
            "trained_tokens": job.tokens if status == "succeeded" else None,
            "training_file": job.training_file,
            "validation_file": job.validation_file,
            "error": error,
        }

    def _job(self, request: Request) -> Job | None:
        return self.jobs.get(request.path_params["job_id"])

    async def _retrieve(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        job = self._job(request)
        if job is None:
            return _error(404, "not_found", "no such job")
        before = self._view(job)["status"]
        job.polls += 1
        after = self._view(job)["status"]
        if after != before:
            job.events.append((time.time(), f"Job status: {after}"))
        return JSONResponse(self._view(job))

    async def _list(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        data = [self._view(j) for j in reversed(self.jobs.values())]
        return JSONResponse({"object": "list", "data": data, "has_more": False})

    async def _cancel(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        job = self._job(request)
        if job is None:
            return _error(404, "not_found", "no such job")
        if self._view(job)["status"] in {"succeeded", "failed"}:
            return _error(400, "invalid_request_error", "the job has already finished")
        job.cancelled = True
        job.events.append((time.time(), "Job cancelled"))
        return JSONResponse(self._view(job))

    async def _events(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            return _error(404, "not_found", "no such job")
        data = [
            {
                "id": f"ev-{i}",
                "object": "fine_tuning.job.event",
                "created_at": int(at),
                "level": "info",
                "message": text,
                "type": "message",
            }
            for i, (at, text) in reversed(list(enumerate(job.events)))
        ]
        return JSONResponse({"object": "list", "data": data, "has_more": False})


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"message": message, "type": code, "code": code, "param": None}}
    return JSONResponse(body, status_code=status)


def main() -> None:
    """Serve in a process of its own (the README's walk-through and bench/finetune_flow.py):
    prints the base URL, runs until stdin closes."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--step-s", type=float, default=1.0, help="seconds per job status step")
    parser.add_argument("--outcome", default="succeeded", choices=["succeeded", "failed"])
    args = parser.parse_args()
    with FineTuningServer(step_s=args.step_s, outcome=args.outcome) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
