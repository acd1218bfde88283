"""`autoclerk routing fit`: routing thresholds fitted to a target error on held-out data.

Default (`--cv 5`): cross-fitted out-of-fold predictions over every labelled document
(shipped plus `--data` files), see `feedback.crossfit`: fold models that never trained
on the document they predict, thresholds fitted on all those predictions, and a
held-out report in which each half of the documents is judged by the other half's fit.

`--cv 0`: the declared split. The extractor scored must not have seen the documents it
is scored on: we use the promoted (CURRENT) local extractor only when its metadata
shows it trained on exactly the declared train split, and train one on that split when
none exists yet. Its predictions on the declared test split are cut in two by hash:
thresholds are fitted on one half, and the straight-through rate and error are
reported on the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from autoclerk.models import all_documents, labelled_documents
from autoclerk.routing_cv import fit_routing_cv
from feedback.routing_fit import (
    NEVER_AUTO,
    fit_thresholds,
    heldout_report,
    split_in_two,
    thresholds_file,
    write_json_atomic,
)
from infra.settings import Settings
from schemas.catalogue import MANDATORY
from schemas.document import LabelledDocument

if TYPE_CHECKING:
    from agents.extract.local import LocalExtractor

routing_app = typer.Typer(no_args_is_help=True, help="Routing thresholds.")
console = Console()


class UnverifiedModelError(Exception):
    """The promoted extractor may have trained on the documents we would score it on."""


def training_hash(documents: Sequence[LabelledDocument]) -> str:
    # Mirrors the hash `train_local_extractor` records as `training_data_sha256`; if the
    # two ever drift, the check below refuses the model rather than trusting it.
    h = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.document_id):
        h.update(doc.model_dump_json(exclude={"split"}).encode())
    return h.hexdigest()


def held_out_extractor(
    *, models_dir: Path, train: Sequence[LabelledDocument], log: Any = print
) -> LocalExtractor:
    """The CURRENT extractor if it trained on exactly `train`; a new one if none exists."""
    # imported here: scikit-learn and friends cost a second at every CLI start
    from agents.extract.local import LocalExtractor, train_local_extractor
    from autoclerk.models import current, train_and_promote

    path = current(models_dir, "extractor")
    if path is None:
        log(f"no extractor yet: training on the {len(train)} documents of the train split …")
        path = train_and_promote(
            models_dir=models_dir, name="extractor", trainer=train_local_extractor, documents=train
        )
    extractor = LocalExtractor.load(path)
    if extractor.metadata.get("training_data_sha256") != training_hash(train):
        raise UnverifiedModelError(
            f"{path.name} did not train on exactly the declared train split "
            f"({extractor.metadata.get('documents')} vs {len(train)} documents): its test "
            "scores would not be held out; run `autoclerk train extractor` first"
        )
    return extractor


def fit_routing(
    *,
    models_dir: Path,
    data_dir: Path,
    target_error: float,
    max_risk: float,
    min_support: int = 30,
    confidence: float = 0.95,
    log: Any = print,
) -> dict[str, object]:
    """Fit on one half of the test split, report on the other; returns the file's JSON."""
    from feedback.datasets import split_documents
    from feedback.evaluation import predict

    train, test = split_documents(labelled_documents(data_dir))
    extractor = held_out_extractor(models_dir=models_dir, train=train, log=log)
    mandatory = dict(MANDATORY)
    fit_docs, report_docs = split_in_two(test)
    predictions = asyncio.run(predict(extractor=extractor, documents=test))
    fitted = fit_thresholds(
        predictions=[predictions[d.document_id] for d in fit_docs],
        gold=fit_docs,
        target_error=target_error,
        mandatory=mandatory,
        min_support=min_support,
        confidence=confidence,
    )
    heldout = heldout_report(
        thresholds=fitted.thresholds(),
        predictions=[predictions[d.document_id] for d in report_docs],
        gold=report_docs,
        mandatory=mandatory,
        confidence=confidence,
    )
    protocol = (
        f"extractor trained on the declared train split ({len(train)} documents); its "
        f"predictions on the test split ({len(test)}) cut in two by hash: thresholds fitted "
        f"on {len(fit_docs)}, straight-through measured on the other {len(report_docs)}"
    )
    return thresholds_file(
        fitted=fitted,
        heldout=heldout,
        model_version=extractor.version,
        max_risk=max_risk,
        protocol=protocol,
    )


def _threshold_text(t: float) -> str:
    return "never" if t >= NEVER_AUTO else f"{t:.3f}"


def render(data: dict[str, Any]) -> list[Table]:
    report = data["report"]
    fields = Table(
        title=f"fitted thresholds ({report['model_version']}, target error "
        f"{report['fit']['target_error']} per {report['fit'].get('budget', 'field')}, "
        f"{report['fit']['confidence']:.0%} bound)",
        caption=report["protocol"],
    )
    columns = ("candidates", "support at threshold", "errors", "error bound", "note")
    for col in ("kind", "field", "threshold", *columns):
        fields.add_column(col)
    for f in report["fit"]["fields"]:
        bound = "" if f["error_bound"] is None else f"{f['error_bound']:.4f}"
        fields.add_row(
            f["kind"],
            f["field"],
            _threshold_text(f["threshold"]),
            str(f["candidates"]),
            str(f["support"]),
            str(f["errors"]),
            bound,
            f["fallback"] or "",
        )
    pooled = " (pooled: each half judged by the other half's thresholds)" if "halves" in report else ""
    held = Table(title=f"held-out documents, all thresholds together, extraction only{pooled}")
    for col in ("kind", "documents", "straight through", "STP rate", "errors", "error rate", "error bound"):
        held.add_column(col)
    for k in report["heldout"]["kinds"]:
        bound = "" if k["error_bound"] is None else f"{k['error_bound']:.4f}"
        held.add_row(
            k["kind"],
            str(k["documents"]),
            str(k["straight_through"]),
            f"{k['straight_through_rate']:.1%}",
            str(k["errors"]),
            f"{k['error_rate']:.2%}",
            bound,
        )
    return [fields, held]


@routing_app.command("fit")
def fit_cmd(
    target_error: Annotated[
        float | None, typer.Option(help="largest error rate of what goes straight through [settings: 0.01]")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="default: <models.dir>/routing/thresholds.json")] = None,
    min_support: Annotated[int, typer.Option(help="fewest accepted predictions to fit a threshold")] = 30,
    cv: Annotated[
        int, typer.Option(min=0, help="K-fold cross-fitting over all labelled documents; 0: declared split")
    ] = 5,
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="more labelled JSONL (repeatable; with --cv)")
    ] = None,
    shipped: Annotated[bool, typer.Option(help="include the shipped labelled documents (with --cv)")] = True,
    group_by: Annotated[
        str, typer.Option(help="fold groups: document (identical documents) or vendor (with --cv)")
    ] = "document",
    seed: Annotated[int, typer.Option(help="fold shuffle and training seed (with --cv)")] = 0,
    reuse: Annotated[
        bool, typer.Option(help="reuse out-of-fold predictions kept in <models.dir>/routing/oof")
    ] = True,
    budget: Annotated[
        str,
        typer.Option(
            help="field: each field meets the target; document: the target is split over a kind's "
            "mandatory fields, so a straight-through document is wrong at most at the target (with --cv)"
        ),
    ] = "field",
) -> None:
    """Fit per-field confidence thresholds on held-out predictions and write them."""
    from feedback.errors import FeedbackError

    s = Settings()
    target = s.routing.target_error if target_error is None else target_error
    if not 0 < target < 1:
        raise typer.BadParameter("target error must be between 0 and 1")
    if budget not in ("field", "document"):
        raise typer.BadParameter("--budget is field or document")
    if cv == 1:
        raise typer.BadParameter("--cv needs at least 2 folds (or 0 for the declared split)")
    if not cv and (data or not shipped):
        raise typer.BadParameter("--data and --no-shipped need cross-fitting (--cv 2 or more)")
    started = time.perf_counter()
    try:
        if cv:
            docs = all_documents(data_dir=s.data_dir, extra=data or [], shipped=shipped, log=console.print)
            result = fit_routing_cv(
                documents=docs,
                folds=cv,
                target_error=target,
                max_risk=s.routing.max_risk,
                grouping=group_by,
                seed=seed,
                min_support=min_support,
                cache_dir=s.models.dir / "routing" / "oof",
                reuse=reuse,
                budget="document" if budget == "document" else "field",
                log=console.print,
            )
        else:
            result = fit_routing(
                models_dir=s.models.dir,
                data_dir=s.data_dir,
                target_error=target,
                max_risk=s.routing.max_risk,
                min_support=min_support,
                log=console.print,
            )
    except (UnverifiedModelError, FeedbackError) as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    path = out or s.models.dir / "routing" / "thresholds.json"
    write_json_atomic(result, path)
    for table in render(result):
        console.print(table)
    console.print(f"wrote {path} (version {result['version']}) in {time.perf_counter() - started:.0f} s")
    if s.llm.enabled:
        console.print("[yellow]an LLM extractor is configured: these thresholds are the local model's")
