"""One settings object, built once at the composition root and passed down.

Environment variables use the prefix `AUTOCLERK_` and `__` for nesting, e.g.
`AUTOCLERK_KAFKA__BOOTSTRAP=broker:9092` or `AUTOCLERK_DB__URL=postgresql+psycopg://...`.
Nothing here is read at import time: call `Settings()` where the process starts.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    bootstrap: str | None = Field(
        default=None, description="host:port of any Kafka; None starts the embedded broker"
    )
    topic_prefix: str = "autoclerk"
    partitions: int = Field(default=4, ge=1, le=256)
    max_event_bytes: int = Field(default=5_000_000, ge=1024, description="larger → dead letter")
    max_message_bytes: int = Field(
        default=900_000,
        ge=65_536,
        description="budget of every outgoing message (key + value); larger parts are cut and "
        "referenced by their database row. Keep it under the broker's message.max.bytes",
    )
    concurrency: int = Field(default=16, ge=1, le=1024, description="documents in flight")
    retry_for_s: float = Field(
        default=300.0,
        gt=0,
        description="how long a message waits out a transient failure (database, broker) "
        "with its partition paused before the worker gives up and exits for a restart",
    )
    health_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="worker GET /healthz, /readyz and /metrics; None: no web server",
    )
    health_host: str = Field(
        default="127.0.0.1",
        description="address the worker's web server binds; 0.0.0.0 only inside a container or pod",
    )
    embedded_storage: Literal["durable", "memory"] = Field(
        default="durable",
        description="embedded broker only: keep topics and offsets in embedded_dir, or in memory",
    )
    embedded_dir: Path = Field(default=Path("var/broker"), description="embedded broker's durable storage")


class LimitSettings(BaseModel):
    """Work per document, checked after parsing and before any model runs (larger → dead letter)."""

    max_text_chars: int = Field(default=300_000, ge=1000, description="characters of text")
    max_lines: int = Field(default=2_000, ge=10, description="text, OCR or PDF lines")
    max_line_chars: int = Field(default=10_000, ge=100, description="characters in one line")
    max_pdf_pages: int = Field(default=50, ge=1, description="pages of a PDF (at ingest and when rendered)")
    max_pdf_page_area: float = Field(
        default=10_000_000.0,
        ge=1_000_000.0,
        description="square points of one PDF page (A0 is 8.0 million); larger pages are refused at "
        "ingest (dead letter page_too_large) and shrunk to review.max_page_pixels when rendered",
    )


class DbSettings(BaseModel):
    url: str = Field(
        default="sqlite:///var/autoclerk.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://...",
    )
    echo: bool = False
    reference_ttl_s: float = Field(
        default=30.0,
        ge=0,
        description="seconds a worker keeps a policy, vendor or purchase order it read (0: never cached)",
    )


class LlmSettings(BaseModel):
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL")
    model: str | None = Field(default=None, description="e.g. ft:gpt-4o-mini:org::id")
    api_key: SecretStr | None = None
    timeout_s: float = 30.0
    max_concurrency: int = 16
    retry_window_s: float = Field(
        default=4 * 3600.0,
        ge=0,
        description="re-extract review tasks an LLM outage created (llm_unavailable) while no person "
        "has touched them, for this long after the task was created; 0 turns retrying off",
    )
    retry_interval_s: float = Field(default=60.0, gt=0, description="seconds between retry rounds")
    retry_batch: int = Field(
        default=20, ge=1, description="tasks re-extracted per round at most (the LLM's rate limit)"
    )
    prices_per_mtok: dict[str, tuple[Decimal, Decimal]] = Field(
        default_factory=dict,
        description="USD per million (input, output) tokens by model, over the built-in table "
        '(agents/extract/pricing.py), e.g. {"ft:gpt-4o-mini": ["0.30", "1.20"]}',
    )

    @property
    def enabled(self) -> bool:
        return bool(self.model)


class ModelSettings(BaseModel):
    dir: Path = Path("var/models")
    triage_max_batch: int = Field(default=32, ge=1)
    # 0 = opportunistic batching: run at once with whatever has queued, and let the
    # documents that arrive during a run form the next batch. A positive wait only
    # adds latency on CPU (bench.triage_rules); it may pay on a GPU at high load.
    triage_max_wait_ms: float = Field(default=0.0, ge=0)
    prefer_gpu: bool = True
    artifact_root: Path | None = Field(
        default=None,
        description="where the model registry keeps artifact archives (shared storage for workers on "
        "several machines); default <dir>/registry/artifacts",
    )
    cache_dir: Path | None = Field(
        default=None, description="this machine's unpacked copies of artifacts; default <dir>/registry/cache"
    )
    watch_interval_s: float = Field(
        default=2.0, gt=0, description="how often a worker checks the registry for a promotion or rollback"
    )

    @property
    def artifacts(self) -> Path:
        return self.artifact_root or self.dir / "registry" / "artifacts"

    @property
    def cache(self) -> Path:
        return self.cache_dir or self.dir / "registry" / "cache"

    shadow_ref: str | None = Field(
        default=None,
        description="a candidate extractor run beside the active one on live documents, never "
        "deciding: a registry ref (extractor/3) or an LLM spec (llm:MODEL[@BASE_URL])",
    )
    shadow_share: float = Field(
        default=0.1, ge=0, le=1, description="share of documents, chosen by document-id hash, shadowed"
    )
    shadow_budget_usd: float | None = Field(
        default=None, ge=0, description="an LLM shadow stops once its stored cost reaches this; None: no cap"
    )
    shadow_timeout_s: float = Field(
        default=30.0, gt=0, description="a shadow extraction taking longer is dropped (and counted)"
    )


SECRET_HELP = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
MIN_SECRET_BYTES = 32


def check_secret_key(value: str) -> None:
    """Refuse a session secret that is short or visibly not random (ValueError).

    Needs at least 32 bytes, and the estimated entropy (length times the Shannon
    entropy of its characters) must reach 160 bits: a heuristic that passes
    `secrets.token_urlsafe(32)` or longer and `token_hex(32)`, and refuses
    placeholders, phrases and a uuid's 32 hex digits (122 bits).
    """
    if value in {"", "changethis", "secret"}:
        raise ValueError(f"review.secret_key must be a real secret, not a placeholder; {SECRET_HELP}")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"review.secret_key needs at least {MIN_SECRET_BYTES} random bytes; {SECRET_HELP}")
    counts = [value.count(c) for c in set(value)]
    bits = -sum(n * math.log2(n / len(value)) for n in counts)
    if bits < 160:
        raise ValueError(f"review.secret_key does not look random ({bits:.0f} bits estimated); {SECRET_HELP}")


class ReviewSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8765
    sla_hours: float = 24.0
    secret_key: SecretStr | None = Field(
        default=None,
        description="signs the session cookie; one value shared by every review process, at least "
        "32 random bytes. Unset: only the embedded demo (`autoclerk run`) starts, with a key per process",
    )
    secure_cookies: bool | None = Field(
        default=None, description="mark the session cookie Secure (HTTPS only); None: on unless host is local"
    )
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="a login lasts this long")
    token_days: int = Field(default=90, ge=1, le=3650, description="default lifetime of a new API token")
    login_account_limit: int = Field(
        default=10, ge=1, description="login attempts per username per window (a success clears them)"
    )
    login_address_limit: int = Field(
        default=30, ge=1, description="login attempts per client address per window"
    )
    login_window_s: float = Field(default=300.0, gt=0, description="the login throttle's sliding window")
    hash_threads: int = Field(
        default=2, ge=1, le=64, description="argon2 hashes computed at once (in threads, off the event loop)"
    )
    max_page_pixels: int = Field(
        default=4_000_000,
        ge=100_000,
        le=50_000_000,
        description="pixels of one rendered PDF page image; a larger page is rendered at a smaller scale",
    )
    render_concurrency: int = Field(default=2, ge=1, le=64, description="PDF pages rendered at once")
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="request bodies larger than this are refused (413) unread"
    )
    second_review_share: float = Field(
        default=0.1, ge=0, le=1, description="share of tasks, chosen by task-id hash, that need two reviewers"
    )
    second_review_amount: float = Field(
        default=5000.0, ge=0, description="tasks with a total / claimed amount above this need two reviewers"
    )
    reviewers_see_all: bool = Field(
        default=False,
        description="reviewers see every task, as leads do; by default only the tasks their scopes "
        "match (`autoclerk users scopes add`). For a small team where everyone reviews everything",
    )

    @field_validator("secret_key")
    @classmethod
    def _random_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            check_secret_key(v.get_secret_value())
        return v

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.host not in {"127.0.0.1", "localhost", "::1"}


class RoutingSettings(BaseModel):
    target_error: float = Field(default=0.01, gt=0, lt=1)
    min_field_confidence: float = Field(
        default=0.9, ge=0, le=1, description="used until thresholds are fitted by a command"
    )
    max_risk: float = Field(default=0.5, ge=0, le=1)
    # What the decision graphs compare with (`schemas.limits.RuleLimits`, the `limits`
    # of every rules input): set here, never in a graph.
    rule_high_risk: float = Field(
        default=0.8, ge=0, le=1, description="triage risk at or above this adds the high_risk rule reason"
    )
    rule_confidence_floor: float = Field(
        default=0.5, ge=0, le=1, description="a mandatory field read below this adds low_confidence"
    )


class FineTuneSettings(BaseModel):
    """`autoclerk finetune`: the provider is `llm.base_url` (and `llm.api_key`)."""

    min_examples: int = Field(default=10, ge=1, description="the API refuses fewer")
    max_example_tokens: int = Field(
        default=65_536, ge=1024, description="per-example limit (estimated: 2 bytes a token)"
    )
    max_file_bytes: int = Field(default=512 * 1024 * 1024, ge=1, description="the Files API's limit")
    validation_percent: int = Field(
        default=20, ge=0, le=50, description="examples held out for validation (declared hash split)"
    )
    poll_initial_s: float = Field(default=5.0, gt=0, description="first wait between status polls")
    poll_max_s: float = Field(default=120.0, gt=0, description="polls back off up to this")
    retry_for_s: float = Field(
        default=600.0, gt=0, description="how long one call retries 429/5xx/timeouts before giving up"
    )
    eval_data: Path | None = Field(
        default=None,
        description="labelled JSONL whose declared test split scores a tuned model beside the active "
        "one; None: the shipped SROIE sample",
    )


class LogSettings(BaseModel):
    format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object a line with document_id and correlation_id (for log shippers)",
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class OtelSettings(BaseModel):
    endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; None: no tracing",
    )
    service_name: str = "autoclerk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTOCLERK_", env_nested_delimiter="__", extra="ignore")

    kafka: KafkaSettings = KafkaSettings()
    db: DbSettings = DbSettings()
    llm: LlmSettings = LlmSettings()
    models: ModelSettings = ModelSettings()
    review: ReviewSettings = ReviewSettings()
    routing: RoutingSettings = RoutingSettings()
    limits: LimitSettings = LimitSettings()
    finetune: FineTuneSettings = FineTuneSettings()
    log: LogSettings = LogSettings()
    otel: OtelSettings = OtelSettings()
    rules_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "rules" / "graphs",
        description="folder of JDM decision graphs",
    )
    data_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "data",
        description="shipped samples and reference data",
    )
