"""The ledger check every fault test ends with.

Each published message is followed by its bytes (SHA-256, the ledger's and the
dead-letter table's `content_hash`) to what the database holds:

- dead_lettered: a `dead_letters` row has these bytes;
- decided / in_review: the ingest ledger accepted them for a document that has a
  decision, or an open review task (never both: that is a `double`);
- duplicate: the ledger recorded them as a re-send of a document already received
  (it re-announces that document's outcome instead of making a second one);
- lost: none of the above. Must be 0.

So published = decided + in_review + dead_lettered + duplicate + lost.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session, col

from infra.db.engine import make_engine
from infra.db.tables import DeadLetterRow, DecisionRow, IngestLedger, ReviewTaskRow


@dataclass
class Ledger:
    published: int = 0
    decided: int = 0
    in_review: int = 0
    dead_lettered: int = 0
    duplicate: int = 0
    lost: int = 0
    double: int = 0
    lost_examples: list[str] = field(default_factory=list)

    def row(self, scenario: str) -> str:
        """One line of the scenario table; also appended to the file named by
        $AUTOCLERK_FAULT_LEDGER, so a run of the suite leaves the whole table."""
        line = (
            f"| {scenario} | {self.published} | {self.decided} | {self.in_review} | "
            f"{self.dead_lettered} | {self.duplicate} | {self.lost} |"
        )
        if report := os.environ.get("AUTOCLERK_FAULT_LEDGER"):
            with open(report, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        return line

    def assert_nothing_lost(self) -> None:
        total = self.decided + self.in_review + self.dead_lettered + self.duplicate + self.lost
        assert total == self.published, self
        assert self.lost == 0, f"lost {self.lost}: {self.lost_examples[:5]} ({self})"
        assert self.double == 0, f"{self.double} documents with both a decision and an open task"


def check_ledger(*, db_url: str, published: Sequence[bytes], schema: str | None = None) -> Ledger:
    engine = make_engine(db_url, schema=schema)
    try:
        with Session(engine) as s:
            dead = set(s.execute(select(DeadLetterRow.content_hash)).scalars())
            ledger: dict[str, list[tuple[str, str | None]]] = {}
            for h, status, doc in s.execute(
                select(IngestLedger.content_hash, IngestLedger.status, IngestLedger.document_id)
            ):
                ledger.setdefault(h, []).append((status, doc))
            decided = set(s.execute(select(DecisionRow.document_id)).scalars())
            is_open = col(ReviewTaskRow.status) == "open"
            open_tasks = set(s.execute(select(ReviewTaskRow.document_id).where(is_open)).scalars())
    finally:
        engine.dispose()
    out = Ledger(published=len(published), double=len(decided & open_tasks))
    for raw in published:
        h = hashlib.sha256(raw).hexdigest()
        rows = ledger.get(h, [])
        statuses = Counter(status for status, _ in rows)
        docs = {doc for status, doc in rows if status == "accepted" and doc}
        if h in dead:
            out.dead_lettered += 1
        elif docs and docs <= decided:
            out.decided += 1
        elif docs and docs <= open_tasks:
            out.in_review += 1
        elif statuses["duplicate"] and not docs:
            out.duplicate += 1
        else:
            out.lost += 1
            out.lost_examples.append(f"{h[:12]} ledger={dict(statuses)} docs={sorted(docs)}")
    return out
