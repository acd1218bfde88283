"""A fine-tuning file checked against the API's rules before upload (feedback.finetune_file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedback.errors import TrainingFileError
from feedback.finetune_file import FileLimits, check_file, estimate_tokens, split_examples
from tests.finetune_support import receipts, write_training


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("ft") / "train.jsonl", receipts(30))


def _rewrite(src: Path, dst: Path, line: int, change: object) -> Path:
    rows = src.read_text(encoding="utf-8").splitlines()
    record = json.loads(rows[line - 1])
    rows[line - 1] = json.dumps(change(record) if callable(change) else change)
    dst.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return dst


def test_an_export_passes_with_its_hash_and_token_estimate(good: Path) -> None:
    checked = check_file(good)
    assert len(checked.examples) == 30 and len(checked.sha256) == 64
    # the estimate over-counts: never below a quarter of the bytes (4 bytes a token)
    assert all(t >= len(line.encode()) / 4 for t, line in zip(checked.tokens, checked.lines, strict=True))
    assert checked.total_tokens == sum(estimate_tokens(e) for e in checked.examples)


def _assistant_fields(update: dict[str, object]) -> object:
    def change(record: dict) -> dict:  # type: ignore[type-arg]
        answer = json.loads(record["messages"][-1]["content"])
        answer["fields"].update(update)
        record["messages"][-1]["content"] = json.dumps(answer)
        return record

    return change


def _set_role(i: int, role: str) -> object:
    def change(record: dict) -> dict:  # type: ignore[type-arg]
        record["messages"][i]["role"] = role
        return record

    return change


def _drop_last(record: dict) -> dict:  # type: ignore[type-arg]
    record["messages"] = record["messages"][:-1]
    return record


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set_role(1, "tool"), "message 1: role 'tool' is not one of system, user, assistant"),
        (_drop_last, "the last message is 'user'; it must be the assistant's answer"),
        (_assistant_fields({"colour": "red"}), "unknown field 'colour'"),
        (_assistant_fields({"total": 12}), "assistant answer does not fit the schema: fields.total"),
        ({"prompt": "x", "completion": "y"}, 'no "messages" list'),
    ],
)
def test_a_bad_line_is_refused_with_its_number_and_reason(
    good: Path, tmp_path: Path, change: object, reason: str
) -> None:
    bad = _rewrite(good, tmp_path / "bad.jsonl", 7, change)
    with pytest.raises(TrainingFileError) as err:
        check_file(bad)
    assert err.value.line == 7 and reason in err.value.reason


def test_an_oversize_example_is_refused(good: Path, tmp_path: Path) -> None:
    def pad(record: dict) -> dict:  # type: ignore[type-arg]
        record["messages"][1]["content"] += " " * 5000
        return record

    bad = _rewrite(good, tmp_path / "big.jsonl", 3, pad)
    with pytest.raises(TrainingFileError) as err:
        check_file(bad, limits=FileLimits(max_example_tokens=2048))
    assert err.value.line == 3 and "over the 2048-token limit" in err.value.reason


def test_too_few_examples_and_too_many_bytes_are_refused(good: Path, tmp_path: Path) -> None:
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(good.read_text().splitlines()[:9]) + "\n")
    with pytest.raises(TrainingFileError, match=r"9 example.*at least 10"):
        check_file(few)
    with pytest.raises(TrainingFileError, match="over the 1000-byte limit"):
        check_file(good, limits=FileLimits(max_file_bytes=1000))
    with pytest.raises(TrainingFileError, match="no such file"):
        check_file(tmp_path / "missing.jsonl")


def test_the_split_is_declared_by_content_and_stable(good: Path) -> None:
    train, valid = split_examples(check_file(good))
    assert len(train) + len(valid) == 30 and valid and train
    assert not set(train) & set(valid)
    assert split_examples(check_file(good)) == (train, valid)  # same file, same split
