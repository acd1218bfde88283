"""A shadow replay's diff report as a table (rich), JSON or a standalone HTML page."""

from __future__ import annotations

import json
from typing import Literal

from jinja2 import Environment
from rich.console import Group
from rich.table import Table

from schemas.replay import ErrorEstimate, ShadowReport

Format = Literal["table", "json", "html"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _error(e: ErrorEstimate) -> str:
    if not e.labelled:
        return "no reviewer labels among these documents"
    return (
        f"{e.wrong_straight_through} wrong of {e.straight_through} straight through "
        f"({_pct(e.rate)}); {e.field_wrong} of {e.labelled} with a mandatory field off the label"
    )


def summary_rows(r: ShadowReport) -> list[tuple[str, str, str]]:
    return [
        ("documents", str(r.documents), f"{r.failed} failed in the candidate"),
        ("straight through", _pct(r.straight_through_before), _pct(r.straight_through_after)),
        ("estimated error (reviewer labels)", _error(r.error_before), _error(r.error_after)),
        ("decisions that would change", "", str(len(r.decisions_changed))),
        ("documents whose fields would change", "", str(len(r.fields_changed))),
        ("LLM cost of the candidate", "", f"${r.cost_usd:.4f}"),
    ]


def as_table(r: ShadowReport) -> Group:
    head = Table(
        title=f"shadow replay {r.replay_id}: " + ", ".join(f"{k} {v}" for k, v in r.candidate.items())
    )
    for col in ("", "before", "after (candidate)"):
        head.add_column(col)
    for row in summary_rows(r):
        head.add_row(*row)
    docs = Table(title="documents that would change")
    for col in ("document", "kind", "before", "after", "label", "fields changed (before → after)"):
        docs.add_column(col)
    for d in {x.document_id: x for x in r.decisions_changed + r.fields_changed}.values():
        changes = "; ".join(f"{c.field}: {c.before!r} → {c.after!r}" for c in d.field_changes)
        docs.add_row(d.document_id, d.kind, d.before, d.after, d.label or "", changes)
    return Group(head, docs)


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shadow replay {{ r.replay_id }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#eee}</style></head><body>
<h1>Shadow replay {{ r.replay_id }}</h1>
<p>Candidate:
{% for k, v in r.candidate.items() %}{{ k }} <code>{{ v }}</code>{% if not loop.last %}, {% endif %}
{% endfor %}</p>
<table><tr><th></th><th>before</th><th>after (candidate)</th></tr>
{% for name, before, after in summary %}
<tr><th>{{ name }}</th><td>{{ before }}</td><td>{{ after }}</td></tr>
{% endfor %}</table>
<h2>Documents that would change</h2>
<table><tr><th>document</th><th>kind</th><th>before</th><th>after</th><th>label</th>
<th>fields (before → after)</th></tr>
{% for d in changed %}<tr><td>{{ d.document_id }}</td><td>{{ d.kind }}</td>
<td>{{ d.before }}</td><td>{{ d.after }}</td><td>{{ d.label or "" }}</td>
<td>{% for c in d.field_changes %}{{ c.field }}: {{ c.before }} → {{ c.after }}<br>{% endfor %}</td></tr>
{% endfor %}</table></body></html>
"""


def as_html(r: ShadowReport) -> str:
    # autoescape: document ids and field values are upstream text
    template = Environment(autoescape=True).from_string(_HTML)
    changed = {x.document_id: x for x in r.decisions_changed + r.fields_changed}.values()
    return template.render(r=r, summary=summary_rows(r), changed=list(changed))


def as_json(r: ShadowReport) -> str:
    data = r.model_dump(mode="json")
    for key in ("error_before", "error_after"):
        data[key]["rate"] = getattr(r, key).rate
    return json.dumps(data, indent=2)
