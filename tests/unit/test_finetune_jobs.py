"""The fine-tuning flow over fakes of its own ports (feedback.finetune_jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedback.errors import FineTuneApiUnavailable, FineTuneJobFailed
from feedback.finetune_file import check_file
from feedback.finetune_jobs import Polling, start, wait
from schemas.finetune import JobRecord
from tests.fakes import FakeFineTuningApi, FakeJobStore
from tests.finetune_support import receipts, write_training

FAST = Polling(initial_s=0.001, max_s=0.002, retry_for_s=1.0, retry_initial_s=0.001)


class Flaky(Exception):
    """Stands in for the adapter's transient error (the caller names it in `retry_on`)."""


class Sink:
    def __init__(self, *, fail_first: bool = False) -> None:
        self.calls: list[str] = []
        self.fail_first = fail_first

    def register(self, record: JobRecord) -> str:
        self.calls.append(record.job_id)
        if self.fail_first and len(self.calls) == 1:
            raise RuntimeError("evaluation server went away")
        return f"extractor/{len(self.calls)}"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("jobs") / "train.jsonl", receipts(20))


def _started(api: FakeFineTuningApi, store: FakeJobStore, data: Path) -> JobRecord:
    checked = check_file(data)
    return start(
        checked=checked, validation=None, base_model="base", epochs=2, suffix=None, manifest={},
        api=api, store=store, retry_on=(Flaky,), polling=FAST,
    )  # fmt: skip


def test_a_crash_while_registering_leaves_the_job_unregistered_and_resume_registers_once(data: Path) -> None:
    api = FakeFineTuningApi(statuses=["queued", "running", "succeeded"], fail=[Flaky("429")])
    store, sink = FakeJobStore(), Sink(fail_first=True)
    record = _started(api, store, data)  # the first upload met a 429 and was retried
    assert api.uploads == ["train.train.jsonl", "train.validation.jsonl"]
    assert record.hyperparameters == {"n_epochs": 2} and record.manifest["examples"]["train"] > 0
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="evaluation server went away"):
        wait(job_id=record.job_id, api=api, store=store, sink=sink, retry_on=(Flaky,), polling=FAST,
             on_status=lambda r: seen.append(r.status), sleep=lambda _: None)  # fmt: skip
    assert seen == ["queued", "running", "succeeded"]
    row = store.get(record.job_id)
    assert row is not None and row.status == "succeeded" and row.registered_version is None
    done = wait(job_id=record.job_id, api=api, store=store, sink=sink, polling=FAST)
    assert done.registered_version == "extractor/2" and done.trained_tokens == 100
    again = wait(job_id=record.job_id, api=api, store=store, sink=sink, polling=FAST)
    assert again.registered_version == "extractor/2" and len(sink.calls) == 2  # never a third time


def test_polls_back_off_exponentially_up_to_the_cap(data: Path) -> None:
    api = FakeFineTuningApi(statuses=["running"] * 6 + ["failed"])
    store = FakeJobStore()
    record = _started(api, store, data)
    slept: list[float] = []
    polling = Polling(initial_s=1.0, max_s=4.0, retry_for_s=1.0)
    with pytest.raises(FineTuneJobFailed, match="failed"):
        wait(job_id=record.job_id, api=api, store=store, sink=Sink(), polling=polling, sleep=slept.append)
    assert slept == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]  # one wait after each of the 6 "running" answers


def test_a_provider_that_keeps_failing_gives_up_with_the_row_intact(data: Path) -> None:
    api = FakeFineTuningApi(statuses=["running"])
    store = FakeJobStore()
    record = _started(api, store, data)
    api.fail = [Flaky("500")] * 1000
    short = Polling(initial_s=0.001, max_s=0.002, retry_for_s=0.05, retry_initial_s=0.001)
    with pytest.raises(FineTuneApiUnavailable, match="kept failing"):
        wait(job_id=record.job_id, api=api, store=store, sink=Sink(), retry_on=(Flaky,), polling=short)
    assert store.get(record.job_id) == record
