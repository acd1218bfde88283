"""Corrections are read by their field's shape at the edge both pages and API share:
a value that is not of its shape is a 422 naming the field, and nothing is recorded
or published; a readable one is stored in the one spelling every stage uses. The
task's view carries where each value came from and the lines in reading order."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from infra.db.engine import make_engine
from infra.db.tables import ExtractionRow, ReviewTaskRow
from tests.review_support import RecordingPublisher, client, login, payloads, review_app, seed_tasks


def _with_source(url: str, task_id: str) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        task = s.get(ReviewTaskRow, task_id)
        assert task is not None
        fields = {
            "vendor_name": {"value": "ACME Ltd", "confidence": 0.97, "source": {"line": 1}},
            "total": {"value": "12.50", "raw": "12.50", "confidence": 0.41, "source": {"line": 2}},
        }
        s.execute(
            update(ExtractionRow)
            .where(ExtractionRow.document_id == task.document_id)  # type: ignore[arg-type]
            .values(result={"kind": "invoice", "model_version": "m", "fields": fields})
        )
        s.commit()
    engine.dispose()


async def test_a_correction_is_read_by_its_fields_shape(sqlite_url: str) -> None:
    [task_id] = seed_tasks(sqlite_url, None, n=1)
    _with_source(sqlite_url, task_id)
    pub = RecordingPublisher()
    async with review_app(sqlite_url, None, publisher=pub) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        headers = {"X-CSRF-Token": csrf}
        assert (await c.post("/api/tasks/next", headers=headers)).json()["task_id"] == task_id

        view = (await c.get(f"/api/tasks/{task_id}")).json()
        assert [ln["text"] for ln in view["lines"]] == ["INVOICE", "ACME Ltd", "Total 12.50"]
        by = {f["name"]: f for f in view["fields"]}
        assert by["total"]["source"]["line"] == 2 and by["total"]["low"] and by["total"]["shape"] == "amount"
        assert by["issue_date"]["missing"] and not by["issue_date"]["low"]
        assert not by["due_date"]["low"] and not by["due_date"]["missing"]  # empty and optional

        url = f"/api/tasks/{task_id}/complete"
        bad = await c.post(
            url, json={"outcome": "approve", "fields": {"issue_date": "2018-13-45"}}, headers=headers
        )
        assert bad.status_code == 422
        assert bad.json()["error"] == "InvalidValue" and bad.json()["field"] == "issue_date"
        assert "'2018-13-45' is not a valid date" in bad.json()["reason"]

        form = {"outcome": "approve", "f.total": "twelve"}
        page = await c.post(
            f"/tasks/{task_id}/complete", data=form, headers={**headers, "HX-Request": "true"}
        )
        assert page.status_code == 422 and 'data-field="total"' in page.text
        assert pub.sent == []

        fields = {"issue_date": "20180428", "total": "RM 1,234.5", "vendor_name": "ACME Ltd"}
        ok = await c.post(url, json={"outcome": "approve", "fields": fields}, headers=headers)
        assert ok.status_code == 202, ok.text
    [event] = payloads(pub)
    assert {c["field"]: c["new_value"] for c in event["payload"]["corrections"]} == {
        "issue_date": "2018-04-28",
        "total": "1234.50",
    }
