"""The whole fine-tuning flow through the real CLI against the local fine-tuning server.

    .venv/bin/python -m bench.finetune_flow [--train 200] [--step-s 0.5] [--out DIR]

Writes a chat fine-tuning file from the first `--train` shipped SROIE receipts (through
the export's own `fine_tuning_record`; test-split receipts kept out, as the export
does), then runs, each as its own process, exactly what an operator types:

    autoclerk finetune start --base gpt-4o-mini-2024-07-18 --data DIR/export.jsonl --suffix bench
    autoclerk finetune list

with the provider at the local server (tests/ft_server.py, in a thread here; its jobs
advance one status every `--step-s` seconds) and the held-out file the shipped SROIE
sample (its declared test split). Prints one JSON object: the side-by-side figures the
flow registered on the candidate, the job's trained tokens, and the wall time of each
command.

The server's models are scripted (tests/finetune_support.py): the tuned model answers
the labels, the base model misreads every third vendor. So the accuracies measure the
pipeline — scoring, pairing, token and cost accounting, registration — and not a model;
the wall times are what the flow itself costs around a provider that answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from feedback.datasets import SHIPPED_SROIE, load_sroie
from tests.finetune_support import BASE, answers, receipts, write_training
from tests.ft_server import FineTuningServer

ROOT = Path(__file__).resolve().parent.parent


def _cli(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "autoclerk", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"autoclerk {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=200, help="receipts offered to the export")
    parser.add_argument("--step-s", type=float, default=0.5, help="seconds per job status at the server")
    parser.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temp dir)")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="ft-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    docs = [d for d in receipts(args.train) if d.split != "test"]
    data = write_training(folder / "export.jsonl", docs)
    with FineTuningServer(step_s=args.step_s) as server:
        server.responder = answers(load_sroie())
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "200",
            "AUTOCLERK_DB__URL": f"sqlite:///{folder / 'autoclerk.db'}",
            "AUTOCLERK_MODELS__DIR": str(folder / "models"),
            "AUTOCLERK_LLM__BASE_URL": server.url,
            "AUTOCLERK_LLM__MODEL": BASE,
            "AUTOCLERK_FINETUNE__POLL_INITIAL_S": str(args.step_s / 2),
            "AUTOCLERK_FINETUNE__POLL_MAX_S": str(args.step_s * 2),
            "AUTOCLERK_FINETUNE__EVAL_DATA": str(SHIPPED_SROIE),
        }
        start = ["finetune", "start", "--base", BASE, "--data", str(data), "--suffix", "bench"]
        start_s, start_out = _cli(start, env)
        list_s, _ = _cli(["finetune", "list"], env)
        [job] = server.jobs.values()
    from autoclerk.registry import registry_session
    from infra.settings import Settings

    settings = Settings(db={"url": env["AUTOCLERK_DB__URL"]}, models={"dir": env["AUTOCLERK_MODELS__DIR"]})
    with registry_session(settings) as registry:
        [version] = [v for v in registry.versions("extractor") if v.lineage.get("finetune_job") == job.id]
    report: dict[str, Any] = version.metrics["report"]
    keys = ("baseline", "candidate", "difference", "low", "high")
    fields = {
        c["field"]: {k: round(c["exact_match"][k], 4) for k in keys}
        for kind in report["comparisons"][0]["kinds"]
        for c in kind["fields"]
    }
    print(
        json.dumps(
            {
                "commands": [" ".join(["autoclerk", *start]), "autoclerk finetune list"],
                "examples": len(docs),
                "job": job.id,
                "status_steps": len(server.statuses),
                "step_s": args.step_s,
                "wall_s": {
                    "finetune start (to registered candidate)": round(start_s, 2),
                    "finetune list": round(list_s, 2),
                },
                "candidate": version.ref,
                "side_by_side": version.metrics["side_by_side"],
                "exact_match_by_field": fields,
                "printed": start_out.splitlines()[-6:],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
