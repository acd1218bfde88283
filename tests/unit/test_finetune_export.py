"""Reviewed documents as OpenAI chat fine-tuning examples (feedback.finetune)."""

from __future__ import annotations

import io
import json

from agents.extract.llm_schema import answer_model
from agents.extract.normalize import comparison_key, normalize
from agents.extract.prompts import messages
from feedback.finetune import fine_tuning_set, printed_value, write_jsonl
from schemas.document import LabelledDocument, Line
from schemas.fields import field_names

RECEIPT_LINES = ["ABC HO TRADING", "NO.2&4 TAMAN DESA", "DATE : 09/01/2019 8:01 PM", "TOTAL : 31.00"]


def _receipt(**gold: str | None) -> LabelledDocument:
    return LabelledDocument(
        document_id="r1", kind="invoice", lines=[Line(text=t) for t in RECEIPT_LINES], gold=dict(gold)
    )


def _full_invoice_gold() -> dict[str, str | None]:
    gold: dict[str, str | None] = dict.fromkeys(field_names("invoice"))
    gold.update(vendor_name="ABC HO TRADING", issue_date="2019-01-09", total="31.00")
    return gold


def test_partly_labelled_document_is_skipped_with_the_fields_nobody_checked() -> None:
    out = fine_tuning_set([_receipt(vendor_name="ABC HO TRADING", issue_date="2019-01-09", total="31.00")])
    assert out.records == []
    [(doc_id, why)] = out.skipped
    assert doc_id == "r1" and "invoice_number" in why and "vendor_name" not in why


def test_record_is_the_serving_prompt_plus_an_answer_the_extractor_parses_back() -> None:
    doc = _receipt(**_full_invoice_gold())
    [record] = fine_tuning_set([doc]).records
    system, user, assistant = record["messages"]
    assert [system, user] == messages(doc, reasoning=False)
    assert assistant["role"] == "assistant"
    answer = answer_model("invoice", reasoning=False).model_validate_json(assistant["content"])
    values = answer.model_dump()["fields"]
    assert values["issue_date"] == "09/01/2019"  # as printed, not the ISO gold
    for name, gold in doc.gold.items():
        assert comparison_key(normalize(name, values[name])) == comparison_key(gold), name


def test_a_value_not_in_print_is_given_as_the_reviewer_wrote_it() -> None:
    doc = _receipt(total="13.00")
    assert printed_value(doc, "total", "13.00") == "13.00"
    assert printed_value(doc, "vendor_name", "ABC HO TRADING") == "ABC HO TRADING"
    assert printed_value(doc, "total", None) is None


def test_fields_of_another_claim_type_count_as_null_not_unlabelled() -> None:
    gold = {"claimant_name": "Eura Parisian", "policy_number": "P-1", "incident_date": "2026-04-29",
            "claim_type": "health", "claimed_amount": "234.71", "currency": "USD",
            "diagnosis_codes": "E78.5", "procedure_codes": None, "provider_name": "BROCKTON"}  # fmt: skip
    doc = LabelledDocument(
        document_id="c1", kind="claim", claim_type="health", lines=[Line(text="CLAIM")], gold=gold
    )
    out = fine_tuning_set([doc])
    assert out.skipped == []
    fields = json.loads(out.records[0]["messages"][2]["content"])["fields"]
    assert fields["vin"] is None and fields["vehicle"] is None and fields["diagnosis_codes"] == "E78.5"
    buffer = io.StringIO()
    assert write_jsonl(out.records, buffer) == 1
    assert json.loads(buffer.getvalue())["messages"][0]["role"] == "system"
