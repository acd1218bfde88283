"""Tables for `autoclerk eval --model`: one per model, then the side-by-side differences."""

from __future__ import annotations

from rich.table import Table

from feedback.compare import ComparisonReport, ModelEvaluation, PairedComparison
from feedback.evaluation import EvalReport
from feedback.paired import Difference


def report_table(report: EvalReport, *, title: str) -> Table:
    t = Table(title=title)
    for col in ("field", "exact match", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "field" else "right")
    for name, m in report.fields.items():
        t.add_row(name, f"{m.accuracy:.3f}", f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")
    t.caption = (
        f"{report.documents} documents · document accuracy {report.document_accuracy:.3f} · "
        f"ECE {report.ece:.4f} · straight-through {report.straight_through_rate:.1%} at "
        f"≤{report.target_error:.0%} error (oracle threshold {report.straight_through_threshold})"
    )
    return t


def usage_line(m: ModelEvaluation) -> str:
    parts = [f"latency per document p50 {m.latency_ms_p50:.1f} ms, p95 {m.latency_ms_p95:.1f} ms"]
    if m.prompt_tokens is not None:
        parts.append(f"tokens {m.prompt_tokens} in / {m.completion_tokens} out")
    if m.cost_usd is not None and m.cost_usd_per_document is not None:
        parts.append(f"cost ${m.cost_usd:.4f} (${m.cost_usd_per_document:.6f} per document)")
    elif m.source == "llm":
        parts.append("cost unknown (no usage, or the model is not in the price table)")
    if m.failures:
        parts.append(f"{m.failures} failed extractions")
    return " · ".join(parts)


def model_tables(m: ModelEvaluation) -> list[Table]:
    tables = [report_table(r, title=f"{m.ref} = {m.version}: {r.kind}") for r in m.reports]
    if tables:
        tables[-1].caption = f"{tables[-1].caption}\n{usage_line(m)}"
    return tables


def _delta(d: Difference) -> str:
    mark = "" if not d.clear else (" ▲" if d.difference > 0 else " ▼")
    return f"{d.difference:+.3f} [{d.low:+.3f}, {d.high:+.3f}]{mark}"


def comparison_tables(c: PairedComparison) -> list[Table]:
    out = []
    for k in c.kinds:
        t = Table(title=f"{c.candidate} vs {c.baseline}: {k.kind}, {k.documents} documents")
        for col in ("field", "EM base", "EM cand", "Δ EM [95% CI]", "F1 base", "F1 cand", "Δ F1 [95% CI]"):
            t.add_column(col, justify="left" if col == "field" else "right")
        for f in k.fields:
            em, f1 = f.exact_match, f.f1
            t.add_row(
                f.field,
                f"{em.baseline:.3f}",
                f"{em.candidate:.3f}",
                _delta(em),
                f"{f1.baseline:.3f}",
                f"{f1.candidate:.3f}",
                _delta(f1),
            )
        d = k.document_accuracy
        t.add_row("(document)", f"{d.baseline:.3f}", f"{d.candidate:.3f}", _delta(d), "", "", "")
        t.caption = f"{c.method}, {c.resamples} resamples, seed {c.seed}; ▲/▼: the interval excludes 0"
        out.append(t)
    return out


def all_tables(report: ComparisonReport) -> list[Table]:
    tables = [t for m in report.models for t in model_tables(m)]
    return tables + [t for c in report.comparisons for t in comparison_tables(c)]
