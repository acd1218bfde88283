"""Time, peak memory and outgoing message sizes for one large, valid document.

    .venv/bin/python -m bench.large_document --mb 4 [--shape lines|line|wide] [--models DIR]

Runs the real service (ONNX triage, local extractor, zen rules, SQLite store and
checkpointer, as `autoclerk worker` opens them) on one claim padded to the given
size: `lines` repeats service lines (a long claim), `line` puts the padding in one
line (a notes field pasted into the form), `wide` in lines of 9,900 characters (the
worst case under the default limits: extraction work grows with the square of a
line's length). Each run is its own process, so the
peak RSS is this document's. Prints JSON: seconds, peak RSS before and after the
document, the outcome topic and the size of every outgoing message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from autoclerk.bootstrap import open_runtime
from feedback.datasets import load_labelled_jsonl
from feedback.models import ensure_models
from infra.settings import Settings
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta


def padded_claim(*, data_dir: Path, target_bytes: int, shape: str) -> Envelope[DocumentReceived]:
    """A shipped health claim grown to `target_bytes` of text."""
    claim = load_labelled_jsonl(data_dir / "samples" / "claims.jsonl")[0]
    head = claim.text
    filler = "NOTES " + ("patient reports mild discomfort after the procedure; " * (target_bytes // 50))
    if shape == "line":
        text = head + "\n" + filler[: max(0, target_bytes - len(head))]
    elif shape == "wide":
        width = 9_900
        rows = [filler[i : i + width] for i in range(0, max(0, target_bytes - len(head)), width)]
        text = "\n".join([head, *rows])
    else:
        row = "{n}  04 29 26  04 29 26  11  390906007  A  85 55  1  NPI 1364346179"
        rows, size, n = [head], len(head), 0
        while size < target_bytes:
            n += 1
            rows.append(row.format(n=n))
            size += len(rows[-1]) + 1
        text = "\n".join(rows)
    payload = DocumentReceived(
        document_id=f"large-{shape}-{target_bytes}", kind="claim", claim_type=claim.claim_type, text=text
    )
    return Envelope[DocumentReceived](type="document.received", source="bench", payload=payload)


def _reasons(payload: dict[str, object]) -> object:
    if "reason" in payload:  # a dead letter
        return payload["reason"]
    return [str(r["message"])[:120] for r in payload.get("reasons", [])]  # type: ignore[attr-defined]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def run(*, mb: float, shape: str, models: Path | None) -> dict[str, object]:
    base = Settings()
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-large-"))
    settings = base.model_copy(
        update={
            "db": base.db.model_copy(update={"url": f"sqlite:///{tmp / 'large.db'}"}),
            "models": base.models.model_copy(update={"dir": models or base.models.dir}),
        }
    )
    env = padded_claim(data_dir=settings.data_dir, target_bytes=int(mb * 1_000_000), shape=shape)
    raw = env.model_dump_json().encode()
    meta = MessageMeta(topic="bench.documents.received", partition=0, offset=0)
    ensure_models(models_dir=settings.models.dir, data_dir=settings.data_dir)
    async with open_runtime(settings) as rt:
        before = _peak_rss_mb()
        t0 = time.perf_counter()
        out = await rt.service.on_received(raw=raw, meta=meta)
        seconds = time.perf_counter() - t0
    return {
        "event_bytes": len(raw),
        "shape": shape,
        "seconds": round(seconds, 2),
        "peak_rss_mb_before": round(before, 1),
        "peak_rss_mb_after": round(_peak_rss_mb(), 1),
        "outgoing": [{"topic": m.topic, "bytes": len(m.value)} for m in out],
        "reasons": [_reasons(json.loads(m.value)["payload"]) for m in out],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=4.0)
    parser.add_argument("--shape", choices=("lines", "line", "wide"), default="lines")
    parser.add_argument("--models", type=Path, default=None)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="openmp")
    print(json.dumps(asyncio.run(run(mb=args.mb, shape=args.shape, models=args.models)), indent=2))


if __name__ == "__main__":
    main()
