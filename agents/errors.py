"""Errors of the workflow and service layer.

    AgentError
    ├── InvalidEvent           permanent: the event can never be processed; dead-lettered
    │   ├── UndecodableEvent   bytes are not JSON / not an envelope
    │   ├── UnsupportedVersion schema_version we do not speak
    │   ├── EventTooLarge      over `kafka.max_event_bytes`
    │   ├── EmptyDocument      no text to work on
    │   ├── DocumentTooLarge   parsed text over a work limit (characters, lines, line length)
    │   ├── UnreadableDocument PDF or base64 that cannot be parsed
    │   ├── ContentConflict    a known document_id with different content
    │   └── ReviewRefused      unknown task, duplicate or late completion
    ├── WorkflowError          permanent: the graph could not run or resume this document
    └── ReplayError            a replay refused before it changed or published anything
        ├── EmptySelection     no criterion, or no document matched
        ├── OffsetsNotInLedger the ingest ledger has no such topic, partition or offsets
        ├── CandidateUnavailable  a shadow candidate (extractor, rules, thresholds) cannot load
        └── ReplayMismatch     an existing replay id asked for with another mode or selection

    ModelRefError              permanent: a model ref (`extractor@champion`, `extractor/3`,
    │                          `llm:MODEL[@URL]`) cannot be served; raised by commands and
    │                          at worker start, never while a document is in flight
    ├── UnknownModelRef        no such model, version or alias, or a malformed ref
    └── ModelUnloadable        the version exists but this code cannot load it

Retryable infrastructure failures (database down, broker unreachable) are not
ours: they propagate as their library's exceptions and the stream edge retries.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of the workflow layer's errors."""


class InvalidEvent(AgentError):
    """The event is bad input: dead-letter it with this message as the reason."""


class UndecodableEvent(InvalidEvent):
    pass


class UnsupportedVersion(InvalidEvent):
    pass


class EventTooLarge(InvalidEvent):
    pass


class EmptyDocument(InvalidEvent):
    pass


class DocumentTooLarge(InvalidEvent):
    """Parsed text over `DocumentLimits`: refused before any model runs on it."""


class UnreadableDocument(InvalidEvent):
    pass


class ContentConflict(InvalidEvent):
    pass


class ReviewRefused(InvalidEvent):
    pass


class WorkflowError(AgentError):
    pass


class ModelRefError(Exception):
    """A model ref names nothing servable; the message says which ref and why."""


class RegistryError(Exception):
    """Base of the model registry's refusals (agents/registry.py); the CLI prints the
    message and exits 2.

        RegistryError
        ├── UnknownModelRef     a reference that is malformed or names nothing registered
        ├── BadStatus           a status the registry does not know, or `active` by set_status
        ├── PromotionRefused    the version stays where it is
        │   ├── GateRefused     worse than the active version on the held-out split (both scores)
        │   └── Unservable      this code cannot serve it (feature version, missing file, server)
        └── NoPreviousVersion   a rollback with nothing to go back to
    """


class UnknownModelRef(RegistryError, ModelRefError):  # both trees: the merge of registry and eval
    pass


class BadStatus(RegistryError):
    pass


class PromotionRefused(RegistryError):
    pass


class GateRefused(PromotionRefused):
    pass


class Unservable(PromotionRefused):
    pass


class NoPreviousVersion(RegistryError):
    pass


class ModelUnloadable(ModelRefError):
    pass


class ReplayError(AgentError):
    """A replay refused to start: the message says why; nothing was published."""


class EmptySelection(ReplayError):
    pass


class OffsetsNotInLedger(ReplayError):
    pass


class CandidateUnavailable(ReplayError):
    pass


class ReplayMismatch(ReplayError):
    pass
