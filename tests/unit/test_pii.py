"""Personal data replaced by stable placeholders (feedback.pii)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from autoclerk.cli import app as cli
from feedback.pii import Scrubber
from schemas.document import LabelledDocument, Line


def test_each_value_gets_one_placeholder_across_documents_and_labels() -> None:
    s = Scrubber()
    claim = LabelledDocument(
        document_id="c1",
        kind="claim",
        lines=[Line(text="Claimant: Jane Roe"), Line(text="Tel +44 20 7946 0958 / jane@roe.example")],
        gold={"claimant_name": "Jane Roe", "policy_number": "4155552671"},
    )
    again = claim.model_copy(update={"document_id": "c2", "lines": [Line(text="JANE ROE called again")]})
    first, second = s.document(claim), s.document(again)
    assert [ln.text for ln in first.lines] == ["Claimant: <PERSON_1>", "Tel <PHONE_1> / <EMAIL_1>"]
    assert first.gold == {"claimant_name": "<PERSON_1>", "policy_number": "4155552671"}  # a label stays
    assert second.lines[0].text == "<PERSON_1> called again"  # the same person, the same placeholder
    assert s.mapping == {
        "<PERSON_1>": "Jane Roe",
        "<PHONE_1>": "+44 20 7946 0958",
        "<EMAIL_1>": "jane@roe.example",
    }


def test_amounts_dates_and_invalid_ibans_stay() -> None:
    s = Scrubber()
    text = "TOTAL 1,234.56 on 2019-01-09 ref GB00 WEST 1234 5698 7654 32 Dr. A. Lee"
    assert s.scrub(text) == "TOTAL 1,234.56 on 2019-01-09 ref GB00 WEST 1234 5698 7654 32 <PERSON_1>"


def test_a_mapping_file_without_scrubbing_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(
        cli, ["feedback", "export", "--out", str(out), "--pii-map", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "--pii-map needs --scrub-pii" in result.output
    assert not out.exists()
