"""Creating a replay, or finding the one to resume: every refusal happens here, before
anything is written or published (`agents.errors.ReplayError`)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from agents.errors import EmptySelection, OffsetsNotInLedger, ReplayMismatch
from agents.replay_drive import ReplayStore
from schemas.replay import Mode, ReplayOptions, ReplaySelection

CRITERIA = (
    "a time range (--since/--until), offsets (--topic/--partition/--from/--to), "
    "--document, --vendor, --outcome or --kind"
)


def new_replay_id(mode: Mode, now: datetime | None = None) -> str:
    when = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{mode}-{when}-{secrets.token_hex(3)}"


async def _check_offsets(store: ReplayStore, sel: ReplaySelection) -> None:
    if sel.topic is None or sel.partition is None:
        raise OffsetsNotInLedger("offsets need --topic and --partition (and --from/--to)")
    if sel.from_offset is not None and sel.to_offset is not None and sel.from_offset > sel.to_offset:
        raise EmptySelection(f"empty offset range: --from {sel.from_offset} is after --to {sel.to_offset}")
    span = await store.ledger_offsets(topic=sel.topic, partition=sel.partition, epoch=sel.epoch)
    where = f"{sel.topic}[{sel.partition}]" + (f" (epoch {sel.epoch!r})" if sel.epoch is not None else "")
    if span is None:
        raise OffsetsNotInLedger(f"the ingest ledger has no messages of {where}")
    low, high = span
    asked = (
        sel.from_offset if sel.from_offset is not None else low,
        sel.to_offset if sel.to_offset is not None else high,
    )
    if not (low <= asked[0] <= high and low <= asked[1] <= high):
        raise OffsetsNotInLedger(
            f"the ingest ledger has offsets {low}..{high} of {where}; asked for {asked[0]}..{asked[1]}"
        )


async def plan(
    store: ReplayStore,
    *,
    mode: Mode,
    selection: ReplaySelection,
    options: ReplayOptions,
    replay_id: str | None = None,
) -> tuple[str, ReplaySelection, ReplayOptions]:
    """The replay to run: an existing one by id (resumed as it was created), or a new
    one over the documents `selection` matches now."""
    if replay_id is not None and (found := await store.replay(replay_id=replay_id)) is not None:
        old_mode, old_selection, old_options, _ = found
        if old_mode != mode:
            raise ReplayMismatch(f"replay {replay_id} is a {old_mode} replay; it cannot resume as {mode}")
        if not selection.is_empty() and selection != old_selection:
            raise ReplayMismatch(f"replay {replay_id} exists with another selection; resume it without one")
        return replay_id, old_selection, old_options
    if selection.is_empty():
        raise EmptySelection(f"say which documents to replay: {CRITERIA}")
    if selection.since and selection.until and selection.since >= selection.until:
        raise EmptySelection(
            f"empty time range: --since {selection.since} is not before --until {selection.until}"
        )
    if selection.by_offsets():
        await _check_offsets(store, selection)
    ids = await store.select(selection=selection)
    if selection.document_ids and (unknown := sorted(set(selection.document_ids) - set(ids))):
        raise EmptySelection(
            f"no such document (or not matching the other criteria): {', '.join(unknown[:10])}"
        )
    if not ids:
        raise EmptySelection("no document matched the selection; nothing to replay")
    replay_id = replay_id or new_replay_id(mode)
    await store.create(replay_id=replay_id, mode=mode, selection=selection, options=options, ids=ids)
    return replay_id, selection, options
