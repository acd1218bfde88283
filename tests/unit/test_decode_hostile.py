"""Hostile bytes become a clear `InvalidEvent`, never an unexpected error that would
bypass the dead-letter record (deep nesting, unpaired surrogates, NUL)."""

from __future__ import annotations

import json

import pytest

from agents.decode import decode_envelope
from agents.errors import EventTooLarge, UndecodableEvent
from schemas.events import DocumentReceived, Envelope


def _event(text: str) -> bytes:
    env = Envelope[DocumentReceived](
        type="document.received",
        source="t",
        payload=DocumentReceived(document_id="d1", kind="invoice", text="placeholder"),
    )
    data = json.loads(env.model_dump_json())
    data["payload"]["text"] = text
    return json.dumps(data).encode()


def decode(raw: bytes) -> Envelope[DocumentReceived]:
    return decode_envelope(raw, payload=DocumentReceived, event_type="document.received", max_bytes=10**7)


def test_valid_text_with_a_surrogate_pair_passes() -> None:
    assert decode(_event("Total 12.00 \U0001f600")).payload.text == "Total 12.00 \U0001f600"


@pytest.mark.parametrize("text", ["Total \ud800 12.00", "\udfff", "a\ud83d"])
def test_unpaired_surrogate_is_refused(text: str) -> None:
    with pytest.raises(UndecodableEvent, match="unpaired surrogate"):
        decode(_event(text))


def test_surrogate_in_a_metadata_key_is_refused() -> None:
    raw = _event("ok").replace(b'"metadata": {}', b'"metadata": {"\\ud800": 1}')
    assert b"\\ud800" in raw
    with pytest.raises(UndecodableEvent, match="unpaired surrogate"):
        decode(raw)


def test_nul_is_refused() -> None:
    with pytest.raises(UndecodableEvent, match="NUL"):
        decode(_event("Total\x0012.00"))


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_json_is_refused(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    with pytest.raises(UndecodableEvent):
        decode(raw)


def test_deep_metadata_is_refused_not_crashing() -> None:
    nested = "[" * 3000 + "]" * 3000
    raw = _event("ok").replace(b'"metadata": {}', f'"metadata": {{"x": {nested}}}'.encode())
    with pytest.raises(UndecodableEvent):
        decode(raw)


def test_size_limit_comes_first() -> None:
    with pytest.raises(EventTooLarge):
        decode_envelope(b"x" * 2000, payload=DocumentReceived, event_type="document.received", max_bytes=1024)
