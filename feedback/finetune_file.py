"""A chat fine-tuning file checked against the provider's format rules, before any upload.

The OpenAI fine-tuning API validates a file only after it was uploaded and a job
created, then fails the job minutes later with a terse message. We refuse the same
file here, with the line and the reason, so nothing is uploaded or paid for:

- every line a JSON object with a non-empty `messages` list;
- roles only system, user, assistant; at least one user turn; an assistant turn last;
- every content a string;
- the assistant's answer a JSON object that our answer model for the document's kind
  accepts (`fields` whose names the field schema knows): a file that teaches a key the
  extractor cannot parse back would train a model we cannot serve;
- each example within the per-example token limit, the file within the byte limit,
  at least `min_examples` examples.

Tokens are *estimated*: `tiktoken` would count exactly, but it downloads its BPE
tables at run time, which this project may not do. The estimate is 1 token per 2 bytes
of UTF-8 content plus 4 per message and 3 per example (OpenAI's chat overhead): BPE
tokens of the o200k/cl100k encodings average about 4 bytes on our documents (digits
group by 3), so the estimate over-counts by about two and refuses only examples within
a factor of two of the limit — never one the provider would take as too long.

`split_examples` divides a file into train and validation by the declared hash split
of each example's user turn (the document as the model sees it), so the same document
lands on the same side on every machine and every run.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agents.extract.llm_schema import answer_model
from feedback.datasets import declared_split
from feedback.errors import TrainingFileError
from schemas.catalogue import DocumentKind, field_names

ROLES = frozenset({"system", "user", "assistant"})
KINDS: tuple[DocumentKind, ...] = ("invoice", "claim")
BYTES_PER_TOKEN = 2
TOKENS_PER_MESSAGE = 4
TOKENS_PER_EXAMPLE = 3


@dataclass(frozen=True)
class FileLimits:
    min_examples: int = 10  # the API's own minimum
    max_example_tokens: int = 65_536  # gpt-4o-mini's training context; others are larger
    max_file_bytes: int = 512 * 1024 * 1024  # the Files API's limit for one file


@dataclass
class CheckedFile:
    path: Path
    examples: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # each example's JSON line, as read
    tokens: list[int] = field(default_factory=list)  # estimated tokens per example
    sha256: str = ""
    size: int = 0

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens)


def estimate_tokens(example: dict[str, Any]) -> int:
    """Estimated tokens of one example (an over-estimate, see the module)."""
    messages = example["messages"]
    content = sum(math.ceil(len(m["content"].encode()) / BYTES_PER_TOKEN) for m in messages)
    return content + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_EXAMPLE


def _kind_of(user: str) -> DocumentKind | None:
    # Our prompts send the document as JSON with its kind; another producer's user
    # turn is plain text, and its answer must then fit one of our kinds.
    try:
        kind = json.loads(user).get("kind")
    except (ValueError, AttributeError):
        return None
    return kind if kind in KINDS else None


def check_answer(content: str, *, kind: DocumentKind | None) -> str | None:
    """Why the assistant's answer is not one our extractor parses (None when it is)."""
    try:
        answer = json.loads(content)
    except ValueError:
        return "assistant content is not JSON"
    if not isinstance(answer, dict) or not isinstance(answer.get("fields"), dict):
        return 'assistant content must be a JSON object with a "fields" object'
    kinds = (kind,) if kind else KINDS
    known = {name for k in kinds for name in field_names(k)}
    unknown = sorted(set(answer["fields"]) - known)
    if unknown:
        return f"unknown field {unknown[0]!r} (the {'/'.join(kinds)} schema knows {', '.join(sorted(known))})"
    errors: list[str] = []
    for k in kinds:
        try:
            answer_model(k, reasoning="reasoning" in answer).model_validate(answer)
            return None
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return f"assistant answer does not fit the schema: {errors[0]}"


def check_example(record: Any, *, limits: FileLimits) -> tuple[str | None, int]:
    """(why the example is refused or None, its estimated tokens)."""
    if not isinstance(record, dict):
        return "not a JSON object", 0
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return 'no "messages" list', 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            role = m.get("role") if isinstance(m, dict) else None
            return f"message {i}: role {role!r} is not one of system, user, assistant", 0
        if not isinstance(m.get("content"), str):
            return f"message {i} ({m['role']}): content must be a string", 0
    if not any(m["role"] == "user" for m in messages):
        return "no user message", 0
    if messages[-1]["role"] != "assistant":
        return f"the last message is {messages[-1]['role']!r}; it must be the assistant's answer", 0
    tokens = estimate_tokens(record)
    if tokens > limits.max_example_tokens:
        return f"about {tokens} tokens, over the {limits.max_example_tokens}-token limit per example", tokens
    user = next(m["content"] for m in messages if m["role"] == "user")
    return check_answer(messages[-1]["content"], kind=_kind_of(user)), tokens


def check_file(path: Path, *, limits: FileLimits | None = None) -> CheckedFile:
    """Every example of `path`, checked; raises `TrainingFileError` at the first bad one."""
    limits = limits or FileLimits()
    if not path.is_file():
        raise TrainingFileError(path=str(path), line=None, reason="no such file")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise TrainingFileError(
            path=str(path), line=None, reason=f"{size} bytes, over the {limits.max_file_bytes}-byte limit"
        )
    out = CheckedFile(path=path, size=size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                raise TrainingFileError(path=str(path), line=number, reason=f"not JSON: {exc}") from exc
            why, tokens = check_example(record, limits=limits)
            if why:
                raise TrainingFileError(path=str(path), line=number, reason=why)
            out.examples.append(record)
            out.lines.append(raw.rstrip("\n"))
            out.tokens.append(tokens)
    if len(out.examples) < limits.min_examples:
        raise TrainingFileError(
            path=str(path),
            line=None,
            reason=f"{len(out.examples)} example(s); fine-tuning needs at least {limits.min_examples}",
        )
    return out


def example_key(example: dict[str, Any]) -> str:
    """The document an example teaches: the hash of its user turn(s)."""
    users = [m["content"] for m in example["messages"] if m["role"] == "user"]
    return hashlib.sha256("\n".join(users).encode()).hexdigest()


def split_examples(checked: CheckedFile, *, validation_percent: int = 20) -> tuple[list[str], list[str]]:
    """(train lines, validation lines) by the declared hash split of each example."""
    train: list[str] = []
    validation: list[str] = []
    for example, line in zip(checked.examples, checked.lines, strict=True):
        side = declared_split(example_key(example), test_percent=validation_percent)
        (validation if side == "test" else train).append(line)
    return train, validation
