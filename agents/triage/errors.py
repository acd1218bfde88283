"""Errors raised by the triage classifier.

TriageError
├── ModelUnavailable      permanent for this artifact: missing files, unreadable
│                         metadata, an ONNX session that cannot be built. The
│                         classifier then answers every document with `failure` set
│                         and risk 1.0 (review) instead of raising into the worker.
├── InferenceFailed       retryable: one session run failed; the batch's documents get
│                         `failure` set, later batches try again
└── TrainingError         permanent: the labelled data cannot train a model (one class,
                          too few documents, a malformed CSV)
"""

from __future__ import annotations


class TriageError(Exception):
    """Base of every error raised by `agents.triage`."""


class ModelUnavailable(TriageError):
    """The model artifact cannot be loaded."""


class InferenceFailed(TriageError):
    """One inference call failed."""


class TrainingError(TriageError):
    """Training data cannot produce a model."""
