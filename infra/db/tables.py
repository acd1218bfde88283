"""Table models: the only `table=True` classes.

SQLModel tables do not validate on construction, so they are built from already
validated domain objects (schemas/). Unique constraints carry idempotency: a
redelivered event or a retried stage hits a unique key and becomes a no-op.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class IngestLedger(SQLModel, table=True):
    """Every consumed message of an input topic, in order; replay finds offsets here
    because tansu's offsets_for_times cannot be trusted."""

    __tablename__ = "ingest_ledger"
    # A message is its bytes at a position of one broker incarnation: after a broker
    # reset, offsets start again at 0, and a new message at a known offset must be
    # seen as new, never acknowledged as a redelivery.
    __table_args__ = (
        UniqueConstraint(
            "epoch", "topic", "partition", "offset", "content_hash", name="uq_ingest_ledger_message"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    epoch: str = Field(default="", description="broker incarnation (infra.kafka epoch marker)")
    topic: str = Field(index=True)
    partition: int
    offset: int = Field(sa_column=Column(BigInteger, nullable=False))
    timestamp_ms: int | None = Field(
        default=None, sa_column=Column(BigInteger), description="broker time, ms"
    )
    content_hash: str = Field(index=True, description="SHA-256 of the message bytes")
    event_id: str | None = Field(default=None, index=True)
    document_id: str | None = Field(default=None, index=True)
    status: str = Field(description="accepted | duplicate | deadletter")
    detail: str | None = None
    received_at: datetime = Field(default_factory=utcnow, index=True)


class DocumentRow(SQLModel, table=True):
    __tablename__ = "documents"

    document_id: str = Field(primary_key=True)
    event_id: str = Field(unique=True)
    kind: str = Field(index=True)
    claim_type: str | None = None
    content_hash: str = Field(index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    layout: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    pages: list[Any] | None = Field(
        default=None, sa_column=Column(JSON), description="page sizes, which scale the layout features"
    )
    doc_metadata: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    original_pdf: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary), description="the PDF as received, for page images"
    )
    source: str
    correlation_id: str | None = None
    status: str = Field(default="processing", index=True, description="processing|review|decided")
    received_at: datetime = Field(default_factory=utcnow, index=True)


class LlmExtractionRow(SQLModel, table=True):
    """Successful LLM extractions by content hash (extractor version, kind, line texts),
    so a replay, a restarted worker or another worker process does not pay the API
    again for content already answered. The first answer stored for a key wins."""

    __tablename__ = "llm_extractions"

    key: str = Field(primary_key=True, description="the extractor's cache_key (a content hash)")
    model_version: str = Field(index=True, description="the extractor version that answered")
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False), description="Extraction JSON")
    created_at: datetime = Field(default_factory=utcnow)


class TriageRow(SQLModel, table=True):
    __tablename__ = "triage_results"

    document_id: str = Field(primary_key=True, foreign_key="documents.document_id")
    model_version: str
    predicted_kind: str
    risk: float
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ExtractionRow(SQLModel, table=True):
    __tablename__ = "extractions"

    document_id: str = Field(primary_key=True, foreign_key="documents.document_id")
    model_version: str
    failure: str | None = None
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class RuleResultRow(SQLModel, table=True):
    __tablename__ = "rule_results"

    document_id: str = Field(primary_key=True, foreign_key="documents.document_id")
    rules_version: str
    outcome: str
    reasons: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    trace: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class DecisionRow(SQLModel, table=True):
    """Exactly one per document: the primary key is the document id."""

    __tablename__ = "decisions"

    document_id: str = Field(primary_key=True, foreign_key="documents.document_id")
    outcome: str = Field(index=True)
    decided_by: str = Field(description="auto | human")
    reviewer: str | None = None
    reasons: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    fields: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_versions: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_refs: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="registry versions that made it ({'extractor': 'extractor/3', …}); NULL before 0014",
    )
    rules_version: str | None = None
    latency_ms: float | None = Field(default=None, description="received → decided")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    supersedes_id: int | None = Field(
        default=None, description="the decision_history row this decision replaced (a live replay)"
    )
    replay_id: str | None = Field(default=None, description="the replay that made this decision")


class ReviewTaskRow(SQLModel, table=True):
    __tablename__ = "review_tasks"

    task_id: str = Field(primary_key=True)
    # At most one *open* task per document (partial unique index below): a live replay
    # that sends a reviewed document back to review opens a new task, because the old
    # one's submission, opinions and corrections are keyed by its task id for good.
    document_id: str = Field(foreign_key="documents.document_id")
    kind: str = Field(index=True)
    status: str = Field(
        default="open",
        index=True,
        description="open | completed | superseded (decided by an LLM retry or a live replay)",
    )
    priority: int = Field(index=True)
    due_at: datetime = Field(index=True)
    reasons: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    primary_reason: str = Field(index=True)
    assignee: str | None = Field(default=None, index=True)
    lease_expires_at: datetime | None = None
    outcome: str | None = None
    reviewer: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    completed_at: datetime | None = None
    thread_id: str | None = Field(
        default=None, description="workflow thread waiting for the answer; None = the document id"
    )
    # What review scopes match on (schemas/scope.py, review/scopes.py), set at routing.
    # Not indexed: they are read per row by the scope filter's EXISTS, after the queue index.
    vendor: str | None = Field(default=None, description="extracted vendor name, vendor_key()")
    claim_type: str | None = None
    amount: float | None = Field(default=None, description="the sizing amount routing read")
    queue: str | None = Field(default=None, description="the named queue upstream asked for")


class CorrectionRow(SQLModel, table=True):
    __tablename__ = "corrections"
    __table_args__ = (UniqueConstraint("task_id", "field"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(index=True, foreign_key="documents.document_id")
    task_id: str = Field(index=True)
    field: str
    old_value: str | None = None
    new_value: str | None = None
    old_confidence: float | None = None
    reviewer: str
    created_at: datetime = Field(default_factory=utcnow)


class OutboxRow(SQLModel, table=True):
    """Messages to publish, written in the same transaction as the state they
    announce; a redelivery re-sends what a crash left unsent. A message the broker
    can never accept is marked failed (`failed_at`, `failure`) and not re-sent."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True)
    document_id: str | None = Field(default=None, index=True)
    topic: str
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    emitted_at: datetime | None = Field(default=None, index=True)
    failed_at: datetime | None = Field(
        default=None, index=True, description="the broker can never accept it (too large, invalid)"
    )
    failure: str | None = Field(default=None, sa_column=Column(Text), description="why it cannot be sent")


class DeadLetterRow(SQLModel, table=True):
    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint(
            "epoch", "topic", "partition", "offset", "content_hash", name="uq_dead_letters_message"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    epoch: str = ""
    topic: str
    partition: int
    offset: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_hash: str = Field(default="", description="SHA-256 of the original bytes")
    reason: str
    error_type: str = Field(index=True)
    original: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    status: str = Field(default="open", index=True, description="open | retried | discarded")
    retry_of: int | None = Field(
        default=None, index=True, description="the dead letter whose retry failed again as this one"
    )


class DeadLetterActionRow(SQLModel, table=True):
    """What an operator did with a dead letter: a retry (the bytes re-published and where
    they landed, so the worker can link a retry that fails again) or a discard."""

    __tablename__ = "dead_letter_actions"

    id: int | None = Field(default=None, primary_key=True)
    dead_letter_id: int = Field(index=True, foreign_key="dead_letters.id")
    action: str = Field(description="retry | discard")
    actor: str
    at: datetime = Field(default_factory=utcnow)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    edited: bool = False
    event_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = Field(default=None, sa_column=Column(BigInteger))
    content_hash: str | None = Field(default=None, index=True, description="SHA-256 of the bytes sent")
    status: str = Field(description="published | discarded")


class IngestRequestRow(SQLModel, table=True):
    """An HTTP ingest answered under an Idempotency-Key: the same key with the same body
    gets the same answer again, with another body a refusal."""

    __tablename__ = "ingest_requests"
    __table_args__ = (UniqueConstraint("username", "idempotency_key", name="uq_ingest_requests_key"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str
    idempotency_key: str
    body_sha256: str
    event_id: str
    document_id: str
    topic: str
    partition: int | None = None
    offset: int | None = Field(default=None, sa_column=Column(BigInteger))
    status: str = Field(default="pending", description="pending | published")
    created_at: datetime = Field(default_factory=utcnow)


class PolicyRow(SQLModel, table=True):
    __tablename__ = "policies"

    policy_number: str = Field(primary_key=True)
    holder: str
    active_from: str
    active_to: str
    coverage_limit: float
    deductible: float
    currency: str = "USD"


class VendorRow(SQLModel, table=True):
    __tablename__ = "vendors"

    name: str = Field(primary_key=True)
    allowed_currencies: str = Field(description="comma separated ISO 4217 codes")
    approval_threshold: float


class PurchaseOrderRow(SQLModel, table=True):
    __tablename__ = "purchase_orders"

    po_number: str = Field(primary_key=True)
    vendor: str
    amount: float
    currency: str


class BusinessKeyRow(SQLModel, table=True):
    """Business identity of each processed document, for duplicate checks.
    Not unique: two duplicates in flight at once must both still get an outcome."""

    __tablename__ = "business_keys"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)
    document_id: str = Field(index=True, unique=True)


# --- review UI (review/) -------------------------------------------------------------
# The review UI never writes decisions: it publishes `review.completed` and the worker
# decides. These tables hold only the UI's own state: who may log in, machine tokens,
# what each reviewer submitted (once per task), and an append-only audit of actions.


class ReviewUserRow(SQLModel, table=True):
    __tablename__ = "review_users"

    username: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(description="argon2id; never the password")
    role: str = Field(description="reviewer | lead | admin")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ApiTokenRow(SQLModel, table=True):
    """Machine credentials. Only a SHA-256 of the token is kept: tokens are 256-bit
    random strings, so a fast hash is enough and keeps per-request checks cheap."""

    __tablename__ = "review_api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    username: str = Field(index=True, foreign_key="review_users.username")
    name: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    expires_at: datetime | None = Field(default=None, description="None: tokens made before expiry existed")
    scope: str = Field(
        default="review", description="review (the review API) | ingest (POST /api/documents only)"
    )


class ReviewSessionRow(SQLModel, table=True):
    """A browser login, server side: the signed cookie carries only the session's random
    id, and only a SHA-256 of it is kept here, so logging out, an admin's revoke or
    disabling the user ends it at once, and a copy of this table logs nobody in."""

    __tablename__ = "review_sessions"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 hex of the 256-bit session id")
    username: str = Field(index=True, foreign_key="review_users.username", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    user_agent: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=64, description="client address at login")


class ReviewScopeRow(SQLModel, table=True):
    """Part of the queue one reviewer may see (review/scopes.py). A row matches a task
    when every condition it sets holds (unset ones match anything); a reviewer sees the
    tasks any of their rows match. Leads and admins see every task."""

    __tablename__ = "review_scopes"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, foreign_key="review_users.username")
    kind: str | None = None
    vendor: str | None = Field(default=None, description="vendor_key() of the vendor name")
    claim_type: str | None = None
    amount_min: float | None = Field(default=None, description="inclusive")
    amount_max: float | None = Field(default=None, description="exclusive")
    queue: str | None = None
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)


class ReviewSubmissionRow(SQLModel, table=True):
    """One per task, ever: the primary key makes a second submission (same or another
    reviewer, a double click, a retried request) fail instead of publishing twice.
    Kept apart from `review_tasks.status`, which the worker owns and requires 'open'."""

    __tablename__ = "review_submissions"

    task_id: str = Field(primary_key=True, foreign_key="review_tasks.task_id")
    document_id: str = Field(index=True)
    reviewer: str = Field(index=True)
    outcome: str
    reason: str = ""
    corrections: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    reject_kind: str | None = Field(default=None, description="business | fields, on a reject")
    event_id: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ReviewEventRow(SQLModel, table=True):
    """Append-only audit of reviewer actions (leased, released, escalated, submitted)."""

    __tablename__ = "review_events"

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(index=True)
    document_id: str = Field(index=True)
    actor: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)


# The queue reads open tasks by priority (highest first) then due date; one index
# serves that order so the first page never sorts the whole backlog.
Index(
    "ix_review_tasks_queue",
    ReviewTaskRow.__table__.c.status,  # type: ignore[attr-defined]
    ReviewTaskRow.__table__.c.priority.desc(),  # type: ignore[attr-defined]
    ReviewTaskRow.__table__.c.due_at,  # type: ignore[attr-defined]
)
Index(
    "uq_review_tasks_open_document",
    ReviewTaskRow.__table__.c.document_id,  # type: ignore[attr-defined]
    unique=True,
    sqlite_where=ReviewTaskRow.__table__.c.status == "open",  # type: ignore[attr-defined]
    postgresql_where=ReviewTaskRow.__table__.c.status == "open",  # type: ignore[attr-defined]
)
Index(
    "ix_review_tasks_document",
    ReviewTaskRow.__table__.c.document_id,  # type: ignore[attr-defined]
)
Index(
    "ix_decisions_by_created",
    DecisionRow.__table__.c.created_at,  # type: ignore[attr-defined]
    DecisionRow.__table__.c.decided_by,  # type: ignore[attr-defined]
)


class ReviewOpinionRow(SQLModel, table=True):
    """Each answer on a task that needs two reviewers: round 1 (first), 2 (second,
    given blind) and 3 (a lead reconciling a disagreement). Only the final answer
    reaches `review_submissions` and Kafka. The two unique keys carry the rules: one
    answer per round, and nobody answers the same task twice (so the second reviewer
    and the reconciler are always someone else)."""

    __tablename__ = "review_opinions"
    __table_args__ = (UniqueConstraint("task_id", "round"), UniqueConstraint("task_id", "reviewer"))

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(index=True, foreign_key="review_tasks.task_id")
    document_id: str = Field(index=True)
    kind: str
    round: int = Field(description="1 first | 2 second | 3 reconcile")
    reviewer: str
    outcome: str
    reason: str = ""
    corrections: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    reject_kind: str | None = Field(default=None, description="business | fields, on a reject")
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ShadowPredictionRow(SQLModel, table=True):
    """A candidate extractor's reading of a live document beside the active one's
    (agents/shadow.py): never acted on, kept for `autoclerk models shadow-report`. One
    row per (document, shadow version): a redelivery finds it and does nothing."""

    __tablename__ = "shadow_predictions"
    __table_args__ = (UniqueConstraint("document_id", "model_version", name="uq_shadow_document_version"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(index=True)
    shadow_ref: str = Field(index=True)
    model_version: str = Field(index=True)
    active_version: str
    kind: str
    active: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False), description="Extraction JSON")
    shadow: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    failure: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    active_straight_through: bool
    shadow_straight_through: bool
    cost_usd: float | None = None
    latency_ms: float
    created_at: datetime = Field(default_factory=utcnow, index=True)


class FinetuneJobRow(SQLModel, table=True):
    """One fine-tuning job at the provider, from upload to registered candidate. The job
    id is the key: a restarted CLI resumes polling from this row, never from memory."""

    __tablename__ = "finetune_jobs"

    job_id: str = Field(primary_key=True, max_length=128)
    base_model: str
    suffix: str | None = None
    training_file: str = Field(description="provider file id")
    validation_file: str | None = None
    training_sha256: str
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    hyperparameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(
        index=True, description="the provider's: validating_files … succeeded/failed/cancelled"
    )
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    registered_version: str | None = Field(default=None, description="registry ref of the candidate")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ModelVersionRow(SQLModel, table=True):
    """One registered version of a served model (schemas/registry.py)."""

    __tablename__ = "model_versions"
    # Two workers importing the same trained folder (or registering the same configured
    # LLM) at once: the second insert hits this key and takes the first one's version.
    __table_args__ = (UniqueConstraint("name", "source_key", name="uq_model_versions_source"),)

    name: str = Field(primary_key=True)
    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    status: str = Field(description="candidate | shadow | active | retired")
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    lineage: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    metrics: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    artifact_uri: str | None = None
    artifact_sha256: str | None = None
    source_key: str | None = Field(default=None, description="what it was registered from, when idempotent")
    created_at: datetime = Field(default_factory=utcnow)


class ModelAliasRow(SQLModel, table=True):
    __tablename__ = "model_aliases"

    name: str = Field(primary_key=True)
    alias: str = Field(primary_key=True)
    version: int


class ModelEventRow(SQLModel, table=True):
    """Every registry change in order; workers poll max(id) to notice a promotion."""

    __tablename__ = "model_events"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    action: str
    version: int | None = None
    previous: int | None = None
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


# --- replay (agents/replay.py, infra/replay_store.py) ------------------------------------


class DecisionHistoryRow(SQLModel, table=True):
    """A decision a live replay replaced: `decisions` keeps exactly one current outcome
    per document, and the new row's `supersedes_id` points here."""

    __tablename__ = "decision_history"

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(index=True, foreign_key="documents.document_id")
    outcome: str
    decided_by: str
    reviewer: str | None = None
    reasons: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    fields: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_versions: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_refs: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="the registry versions that made the replaced decision",
    )
    rules_version: str | None = None
    decided_at: datetime
    supersedes_id: int | None = Field(default=None, description="the chain goes on")
    replay_id: str | None = Field(default=None, description="the replay that made the replaced decision")
    superseded_at: datetime = Field(default_factory=utcnow)
    superseded_by_replay: str = Field(index=True)


class ReplayRow(SQLModel, table=True):
    """One replay: what it selected and how it runs; the key of every effect it has."""

    __tablename__ = "replays"

    replay_id: str = Field(primary_key=True, max_length=64)
    mode: str = Field(description="live | shadow")
    selection: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    options: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="running", description="running | cancelled | done")
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReplayItemRow(SQLModel, table=True):
    """A document a replay selected; `done_at` is set in the transaction of its effect,
    so a resumed replay skips exactly the documents whose effect committed."""

    __tablename__ = "replay_items"

    replay_id: str = Field(primary_key=True, foreign_key="replays.replay_id", max_length=64)
    document_id: str = Field(primary_key=True)
    seq: int = Field(description="order of selection")
    result: str | None = Field(
        default=None, description="superseded | rerouted | unchanged | skipped:… | failed"
    )
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    done_at: datetime | None = None
