"""A local OpenAI-compatible chat-completions server with scripted behaviours.

A real HTTP server (Starlette under uvicorn, in a thread, on 127.0.0.1 and a free
port) so tests and benchmarks exercise the `openai` client, its timeouts and its
error mapping exactly as against OpenAI or vLLM. Each request takes the next
`Reply` from the script, else the `responder`'s reply to the request body when one
is set (answers that depend on the document), else the default one; every request
body is recorded.

A `Reply` answers with the fields it names (the rest of the request's schema is
null), tokenised into small chunks whose logprobs make each value's probability
exactly `probs[name]` (default 0.99), so tests can assert confidences.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_CHUNK = re.compile(r"\w{1,4}|\s+|[^\w\s]")


@dataclass
class Reply:
    status: int = 200
    fields: dict[str, str | None] = field(default_factory=dict)
    probs: dict[str, float] = field(default_factory=dict)
    reasoning: str = "All mandatory fields are printed in the header."
    content: str | None = None  # verbatim content (malformed output), no logprobs
    extra: dict[str, Any] = field(default_factory=dict)  # keys outside the schema
    refusal: str | None = None
    logprobs: bool = True
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"


def _field_names(body: dict[str, Any]) -> tuple[list[str], bool]:
    schema = body["response_format"]["json_schema"]["schema"]
    ref = schema["properties"]["fields"].get("$ref", "")
    values = schema["$defs"][ref.rsplit("/", 1)[-1]] if ref else schema["properties"]["fields"]
    return list(values["properties"]), "reasoning" in schema["properties"]


def _tokens(text: str, logprob: float) -> list[dict[str, Any]]:
    chunks = _CHUNK.findall(text)
    assert "".join(chunks) == text
    each = logprob / len(chunks)
    return [{"token": c, "logprob": each, "bytes": list(c.encode()), "top_logprobs": []} for c in chunks]


def answer(body: dict[str, Any], reply: Reply) -> tuple[str, list[dict[str, Any]]]:
    """The content and its token logprobs for a structured answer."""
    names, reasoning = _field_names(body)
    pieces: list[tuple[str, float]] = [("{", 0.0)]
    if reasoning:
        pieces += [('"reasoning": ', 0.0), (json.dumps(reply.reasoning), math.log(0.9)), (", ", 0.0)]
    pieces.append(('"fields": {', 0.0))
    for i, name in enumerate(names):
        value = reply.fields.get(name)
        pieces.append(((", " if i else "") + json.dumps(name) + ": ", 0.0))
        pieces.append((json.dumps(value, ensure_ascii=False), math.log(reply.probs.get(name, 0.99))))
    pieces.append(("}", 0.0))
    for key, value in reply.extra.items():
        pieces.append((f", {json.dumps(key)}: {json.dumps(value)}", math.log(0.9)))
    pieces.append(("}", 0.0))
    tokens = [t for text, lp in pieces for t in _tokens(text, lp)]
    return "".join(text for text, _ in pieces), tokens


class ScriptedLlmServer:
    """`with ScriptedLlmServer() as server:` → `server.url` is an OpenAI base URL."""

    def __init__(self, *, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if self.script:
            reply = self.script.popleft()
        else:
            reply = self.responder(body) if self.responder is not None else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            error = {"error": {"message": f"scripted {reply.status}", "type": "scripted", "code": None}}
            return JSONResponse(error, status_code=reply.status, headers=reply.headers)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": reply.refusal}
        logprobs = None
        if reply.refusal is None:
            if reply.content is not None:
                message["content"] = reply.content
            else:
                message["content"], tokens = answer(body, reply)
                logprobs = (
                    {"content": tokens, "refusal": None} if reply.logprobs and body.get("logprobs") else None
                )
        prompt = sum(len(m["content"]) for m in body["messages"]) // 4
        completion = len(message["content"] or reply.refusal or "") // 4
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": logprobs,
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    def routes(self) -> list[Route]:
        """The endpoints served; a subclass adds its own (tests/ft_server.py)."""
        return [Route("/v1/chat/completions", self._chat, methods=["POST"])]

    def __enter__(self) -> Self:
        app = Starlette(routes=self.routes())
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=1,
            backlog=1024,
            limit_concurrency=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("scripted LLM server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)


def main() -> None:
    """Serve in a process of its own (benchmarks): prints the base URL, runs until
    stdin closes, answers every request after --latency-ms with a fixed invoice."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--fields", default="{}", help="JSON object of field values to answer")
    parser.add_argument(
        "--answers",
        default=None,
        help="JSON file {document id: {field: value}}: a document whose text names one of these ids "
        "(the benchmarks' 'bench copy <prefix>-<id>' line) is answered with its values",
    )
    args = parser.parse_args()
    delay = args.latency_ms / 1000
    reply = Reply(fields=json.loads(args.fields), delay_s=delay)
    with ScriptedLlmServer(default=reply) as server:
        if args.answers:
            server.responder = answers_responder(json.loads(Path(args.answers).read_text()), reply)
        print(server.url, flush=True)
        sys.stdin.read()


_MARKER = re.compile(r"bench copy ([\w.:-]+)")  # the line sits in a JSON string


def answers_responder(
    answers: dict[str, dict[str, str | None]], default: Reply
) -> Callable[[dict[str, Any]], Reply]:
    """Answers a document with the values filed under the id its marker line ends with:
    an LLM as good as the labels, so the benchmark's documents take the same routes
    (straight through or review) as real ones would, not all to review."""

    def respond(body: dict[str, Any]) -> Reply:
        text = " ".join(str(m.get("content") or "") for m in body["messages"])
        found = _MARKER.search(text)
        if found is not None:
            marked = found.group(1)
            # The marker is "<prefix><i>-<id>" and ids may hold "-": try each suffix.
            for i, c in enumerate(marked):
                if c == "-" and marked[i + 1 :] in answers:
                    return Reply(fields=answers[marked[i + 1 :]], delay_s=default.delay_s)
        return default

    return respond


if __name__ == "__main__":
    main()
