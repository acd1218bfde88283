"""What an export holds, written beside it: `<export>.manifest.json`.

A fine-tuning job records the manifest as lineage of the model it trains, so a
registered version says which reviews taught it: counts, the file's sha256, the date
range of the reviews, how often each field was labelled, the declared split of every
document, how many were double-reviewed or reconciled by a lead, and whether personal
data was scrubbed (the mapping file is named, its contents never copied here).

Also the dedup: two reviews of the same content (the same scan sent twice, or a
document re-sent after a fix) would teach the same example twice and, split apart by
their ids, leak a test document into training. The newest review of a content wins.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedback.evaluation import same_content
from schemas.document import LabelledDocument

SPLIT_RULE = "sha256(document_id) first 8 hex digits mod 100 < 20 → test, else train"


def manifest_path(export: Path) -> Path:
    return export.with_name(export.name + ".manifest.json")


def pii_map_path(export: Path) -> Path:
    return export.with_name(export.name + ".pii-map.json")


def dedup(documents: Sequence[LabelledDocument]) -> tuple[list[LabelledDocument], list[str]]:
    """(one document per content hash, the newest review winning; the ids dropped)."""
    newest: dict[str, LabelledDocument] = {}
    for doc in documents:  # the source yields reviews oldest first
        newest[same_content(doc)] = doc
    kept = {id(d) for d in newest.values()}
    return [d for d in documents if id(d) in kept], [d.document_id for d in documents if id(d) not in kept]


def _coverage(documents: Sequence[LabelledDocument]) -> dict[str, dict[str, int]]:
    labelled: Counter[str] = Counter()
    filled: Counter[str] = Counter()
    for doc in documents:
        labelled.update(doc.gold.keys())
        filled.update(k for k, v in doc.gold.items() if v is not None)
    return {name: {"labelled": labelled[name], "non_null": filled[name]} for name in sorted(labelled)}


def build_manifest(
    *,
    export: Path,
    fmt: str,
    documents: Sequence[LabelledDocument],
    written: int,
    duplicates: Sequence[str],
    skipped: Sequence[tuple[str, str]],
    rounds: dict[str, int],
    pii_map: Path | None,
    placeholders: int,
) -> dict[str, Any]:
    times = sorted(d.provenance.reviewed_at for d in documents if d.provenance and d.provenance.reviewed_at)
    return {
        "file": export.name,
        "format": fmt,
        "sha256": hashlib.sha256(export.read_bytes()).hexdigest(),
        "created_at": datetime.now(UTC).isoformat(),
        "counts": {
            "documents": len(documents),
            "lines": written,
            "by_kind": dict(Counter(d.kind for d in documents)),
            "by_split": dict(Counter(d.split or "unknown" for d in documents)),
            "duplicates_dropped": len(duplicates),
            "skipped": len(skipped),
            "double_reviewed": sum(1 for d in documents if rounds.get(d.document_id, 1) >= 2),
            "reconciled_by_lead": sum(1 for d in documents if rounds.get(d.document_id, 1) >= 3),
        },
        "reviewed_from": times[0].isoformat() if times else None,
        "reviewed_to": times[-1].isoformat() if times else None,
        "field_coverage": _coverage(documents),
        "split_rule": SPLIT_RULE,
        "splits": {d.document_id: d.split for d in documents},
        "duplicates": list(duplicates),
        "pii": {
            "scrubbed": pii_map is not None,
            "placeholders": placeholders,
            "mapping_file": pii_map.name if pii_map else None,
        },
    }


def write_json(path: Path, data: dict[str, Any], *, private: bool = False) -> None:
    """Atomically; `private`: readable by the owner only (the PII mapping)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if private:
        tmp.chmod(0o600)
    tmp.replace(path)
