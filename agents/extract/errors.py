"""Errors raised by the local extractor.

    ExtractError
    ├── ModelArtifactError   permanent: the artifact dir is missing, incomplete or
    │                        from an incompatible feature version (retrain it)
    ├── TrainingDataError    permanent: too few labelled documents to train on
    └── StrictSchemaError    permanent: a Pydantic model cannot be expressed as a strict
                             JSON schema for structured outputs (a free-form map)

`LocalExtractor.extract` and `LlmExtractor.extract` raise none of these for a bad document: it returns an
`Extraction` with `failure` set, which routes the document to review.
"""

from __future__ import annotations


class ExtractError(Exception):
    """Base of every error raised by `agents.extract`."""


class ModelArtifactError(ExtractError):
    """A trained artifact cannot be loaded."""


class TrainingDataError(ExtractError):
    """The labelled documents cannot train a model."""


class StrictSchemaError(ExtractError):
    """A model's JSON schema has a shape strict structured outputs cannot express."""
