"""Load and run the local extractor (training: `agents.extract.train`).

An artifact is a directory named by its version, holding `model.joblib` (one
`FieldModel` per kind and field) and `metadata.json` (version, training-data hash,
document counts, out-of-fold metrics). The version is derived from the feature
version and the training data, so retraining on the same data gives the same name.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
from threadpoolctl import ThreadpoolController

from agents.extract.errors import ModelArtifactError
from agents.extract.features import Layout
from agents.extract.ranker import FieldModel, Prepared, prepare
from schemas.catalogue import Shape
from schemas.document import Document
from schemas.fields import DocumentKind, ExtractedField, Extraction, FieldSource

# Bump when candidates or features change: artifacts from another version are refused.
FEATURE_VERSION = "8"


def read_metadata(path: Path) -> dict[str, object]:
    """The artifact's metadata, checked against this code without unpickling the model:
    the first thing `LocalExtractor.load` does, and the cheap check the model registry
    (`agents.model_store`) applies before a worker starts."""
    meta_path, model_path = path / "metadata.json", path / "model.joblib"
    if not meta_path.is_file() or not model_path.is_file():
        raise ModelArtifactError(f"{path} is not a local extractor artifact")
    metadata: dict[str, object] = json.loads(meta_path.read_text())
    if metadata.get("feature_version") != FEATURE_VERSION:
        raise ModelArtifactError(
            f"{path}: feature version {metadata.get('feature_version')!r}, "
            f"this code needs {FEATURE_VERSION!r}; retrain"
        )
    return metadata


class LocalExtractor:
    """Implements `agents.ports.Extractor` with trained per-field rankers."""

    def __init__(
        self, *, models: dict[str, dict[str, FieldModel]], version: str, metadata: dict[str, object]
    ) -> None:
        self._models = models
        self._version = version
        self.metadata = metadata
        self._threads = ThreadpoolController()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def version(self) -> str:
        return self._version

    def fields(self, kind: DocumentKind) -> tuple[str, ...]:
        return tuple(self._models.get(kind, {}))

    @classmethod
    def load(cls, path: Path) -> LocalExtractor:
        metadata = read_metadata(path)
        try:
            models = joblib.load(path / "model.joblib")
        except (AttributeError, ImportError, pickle.UnpicklingError, EOFError) as exc:
            # classes moved or changed under an unchanged version: unusable, so retrain
            raise ModelArtifactError(f"{path}: cannot unpickle ({exc}); retrain") from exc
        return cls(models=models, version=str(metadata["version"]), metadata=metadata)

    async def extract(self, document: Document) -> Extraction:
        # CPU work of a few milliseconds: off the event loop of stream workers, and on
        # one thread of its own. With asyncio's default pool, sixteen documents in
        # flight ran on several threads that fought over the GIL: each document's
        # extraction cost 31 ms of CPU instead of 19 (bench/service.py --concurrency 16).
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), self.extract_sync, document)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extractor")
        return self._pool

    def extract_sync(self, document: Document) -> Extraction:
        """Synchronous extraction, for batch jobs and benchmarks."""
        models = self._models.get(document.kind)
        if not models:
            return self._failed(document, f"no trained fields for kind {document.kind!r}")
        if not document.lines:
            return self._failed(document, "document has no text lines")
        try:
            layout = Layout(document)
            # one OpenMP thread: per-call thread start-up costs more than a receipt's
            # few hundred rows take to score
            shared: dict[Shape, Prepared] = {}
            # assume_finite: our features are finite by construction, and the check
            # is a measurable share of scoring a few hundred rows
            # scikit-learn, imported here: the rankers are its estimators, already loaded
            # with the artifact, and importing this module must not cost its start-up
            import sklearn

            with self._threads.limit(limits=1, user_api="openmp"), sklearn.config_context(assume_finite=True):
                fields = {}
                for name, model in models.items():
                    if model.shape not in shared:
                        shared[model.shape] = prepare(model.shape, document, layout)
                    fields[name] = _extract_field(model, document, layout, shared[model.shape])
        except Exception as exc:  # a malformed document must route to review, not crash
            return self._failed(document, f"extraction failed: {exc!r}")
        return Extraction(kind=document.kind, fields=fields, model_version=self._version)

    def _failed(self, document: Document, reason: str) -> Extraction:
        return Extraction(kind=document.kind, model_version=self._version, failure=reason)


def _extract_field(
    model: FieldModel, document: Document, layout: Layout, prepared: Prepared
) -> ExtractedField:
    pick, confidence = model.pick_from(document, layout, prepared)
    c = pick.candidate
    if c is None:
        return ExtractedField(value=None, confidence=confidence)
    bbox = _union_bbox(document, c.line, c.line_end)
    source = FieldSource(
        page=document.lines[c.line].page,
        line=c.line,
        start=c.start,
        end=c.end if c.line == c.line_end else None,
        bbox=bbox,
    )
    return ExtractedField(value=pick.value, raw=c.raw, confidence=confidence, source=source)


def _union_bbox(document: Document, first: int, last: int) -> tuple[float, float, float, float] | None:
    boxes = [line.bbox for line in document.lines[first : last + 1]]
    if any(b is None for b in boxes):
        return None
    return (
        min(b[0] for b in boxes if b),
        min(b[1] for b in boxes if b),
        max(b[2] for b in boxes if b),
        max(b[3] for b in boxes if b),
    )
