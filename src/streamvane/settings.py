"""The one settings object of a Streamvane process.

Read from environment variables (prefix ``STREAMVANE_``, nested fields joined with ``__``, e.g.
``STREAMVANE_KAFKA__BOOTSTRAP_SERVERS``) and, optionally, a JSON/YAML file named by
``STREAMVANE_SETTINGS_FILE``; environment variables win over the file. Only the CLI constructs it;
everything below receives plain values or sub-models, so the pure core never sees it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from streamvane.feeds.endpoint import OAuth2ClientCredentials
from streamvane.feeds.loader import load_profiles_dir
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.retry_policy import RetryPolicy
from streamvane.feeds.secrets import SecretRef
from streamvane.kpi.config import KpiConfig


class KafkaSecuritySettings(BaseModel):
    """How a managed Kafka (MSK, Confluent Cloud, Event Hubs, Strimzi) is reached: TLS and SASL, for
    every client of every process (Faust's aiokafka, confluent-kafka producers, consumers and the
    admin client alike; :mod:`streamvane.broker.connection` maps it once). Credentials are secret
    references; files are read when a process starts, and a missing one is named then."""

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security.protocol."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = Field(
        None, description="SASL mechanism (SASL_* protocols only)."
    )
    sasl_username: SecretRef | None = Field(
        None, description="Secret reference to the SASL user (PLAIN, SCRAM; e.g. an API key)."
    )
    sasl_password: SecretRef | None = Field(None, description="Secret reference to the SASL password.")
    oauth: OAuth2ClientCredentials | None = Field(
        None,
        description="OAUTHBEARER: the OIDC client-credentials grant ({type: oauth2, token_url, client_id, "
        "client_secret: {env|file}, scope}).",
    )
    ca_file: Path | None = Field(
        None, description="PEM CA bundle that signed the brokers' certificates (unset: the system's)."
    )
    cert_file: Path | None = Field(None, description="PEM client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="PEM private key of the client certificate.")
    key_password: SecretRef | None = Field(None, description="Secret reference to the key's passphrase.")
    check_hostname: bool = Field(
        True, description="Verify that a broker's certificate names the host connected to."
    )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"protocol {self.protocol} needs a sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError(
                f"sasl_mechanism {self.sasl_mechanism} needs protocol SASL_SSL or SASL_PLAINTEXT"
            )
        if self.sasl_mechanism == "OAUTHBEARER":
            if self.oauth is None:
                raise ValueError(
                    "sasl_mechanism OAUTHBEARER needs 'oauth' (token_url, client_id, client_secret)"
                )
        elif sasl and (self.sasl_username is None or self.sasl_password is None):
            raise ValueError(f"sasl_mechanism {self.sasl_mechanism} needs sasl_username and sasl_password")
        files = [n for n in ("ca_file", "cert_file", "key_file") if getattr(self, n) is not None]
        if files and not self.uses_tls:
            raise ValueError(f"{', '.join(files)} need protocol SSL or SASL_SSL (they would be ignored)")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        return self


class KafkaSettings(BaseModel):
    """Where the broker is, how to reach it, and how topics are created."""

    bootstrap_servers: str = Field(
        "127.0.0.1:19092", description="Comma-separated host:port list of the Kafka bootstrap brokers."
    )
    security: KafkaSecuritySettings = Field(default_factory=KafkaSecuritySettings)
    connect_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A process checks the brokers at start: refused credentials or TLS fail at once, "
        "no answer within this long fails too.",
    )
    replication_factor: int = Field(1, ge=1, description="Replication factor for topics the app creates.")
    partitions: int = Field(
        4, ge=1, description="Partitions of the event topic and every co-partitioned topic."
    )
    history_retention_ms: int = Field(
        -1,
        ge=-1,
        description="How long the event topic keeps its history, the source of every replay "
        "(-1: unlimited; never the broker's 7-day default). Set when the app creates the topic.",
    )


class TopicSettings(BaseModel):
    """Topic names; every name is versioned so a breaking change can move to a new topic."""

    events: str = Field(
        "streamvane.genesys.events.v1", description="Genesys conversation detail events (input)."
    )
    keyed: str | None = Field(
        None,
        description="Events re-keyed by conversationId (internal; default <worker.app_id>.events.keyed.v1, "
        "so a new app id never reads another app's).",
    )
    quarantine: str = Field(
        "streamvane.quarantine.v1", description="Rejected input: original bytes + reason."
    )
    partials: str | None = Field(
        None, description="Per-partition interval partials (internal; default <worker.app_id>.partials.v1)."
    )
    feed_records: str = Field(
        "streamvane.feed.records.v1", description="Final Avro feed records (compacted)."
    )
    dead_letter: str = Field(
        "streamvane.feed.dlq.v1", description="Records that could not be delivered, with context."
    )
    delivery_ledger: str = Field(
        "streamvane.delivery.ledger.v1", description="Every delivery attempt and outcome (JSON)."
    )
    reconciliation: str = Field(
        "streamvane.reconciliation.v1",
        description="Continuous reconciliation: one JSON report per judged interval revision.",
    )
    dispatch_progress: str = Field(
        "streamvane.dispatch.progress.v1",
        description="Each profile's delivery position per dispatcher group (compacted).",
    )
    dead_letter_state: str = Field(
        "streamvane.feed.dlq.state.v1",
        description="Which dead letters were redriven or superseded (compacted, keyed by position).",
    )
    provisional: str = Field(
        "streamvane.feed.provisional.v1",
        description="Provisional updates of open intervals (Avro), each interval's ended by an empty "
        "marker when its final is emitted; kept a day.",
    )


class WorkerSettings(BaseModel):
    """How the stream worker batches, ticks and stores state."""

    app_id: str = Field("streamvane", description="Faust app id = consumer group; bump to recompute fresh.")
    feed_start: str = Field(
        "2026-01-01T00:00:00Z",
        description="First interval (ISO-8601 instant) the feeds cover; earlier events are correlated "
        "(a replay begun before it pairs them with later partners) but count in no interval.",
    )
    batch_size: int = Field(1000, ge=1, description="Partials per assembly batch.")
    ingest_batch_size: int = Field(
        20_000,
        ge=1,
        description="Most input records ingest reads, validates and bundles per batch (it takes what "
        "has arrived within batch_within_s).",
    )
    bundles_per_batch: int = Field(
        64,
        ge=1,
        description="Most keyed-topic records (bundles of events, ticks) correlate takes per batch: "
        "larger batches write a conversation touched several times once.",
    )
    max_bundle_bytes: int = Field(
        512 * 1024, ge=4096, le=900 * 1024, description="Largest bundle ingest writes (below Kafka's 1 MiB)."
    )
    batch_within_s: float = Field(0.2, gt=0, description="Longest wait to fill a batch.")
    tick_interval_s: float = Field(1.0, gt=0, description="How often the leader writes wall-clock ticks.")
    ticks_enabled: bool = Field(True, description="Write wall-clock ticks (off for backfills of history).")
    max_delivery_delay_ms: int = Field(
        60_000, ge=0, description="A tick at T promises every event older than T minus this has arrived."
    )
    session_timeout_s: float = Field(
        30.0, ge=6, description="Consumer group session timeout: how soon a dead worker's partitions move."
    )
    open_cells_every_s: float = Field(
        5.0,
        gt=0,
        description="With provisional updates in any profile: how often each keyed partition's open "
        "cells are sent to the assembler (an update shows counts at most this old).",
    )
    provisional_max_lag_s: float = Field(
        3600.0,
        ge=0,
        description="Provisional updates go out only while the event clock is within this of the wall "
        "clock: a worker catching up on a backlog, or recomputing history, sends none (its finals as "
        "always). 0: no limit (a simulation on its own clock, like the demo's).",
    )
    progress_log_s: float = Field(
        30.0,
        ge=0,
        description="Log a line of totals (events, applied, partials, records, watermark) this often "
        "(0: off).",
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Serve /metrics, /healthz and /readyz on metrics_host:PORT (0: off)."
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address the probes and metrics bind (a pod: 0.0.0.0)."
    )
    max_fetch_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Consumer fetch size per partition (Faust's 1 MiB default halves throughput).",
    )
    ingest_partition_fetch_bytes: int = Field(
        256 * 1024,
        gt=0,
        description="Ingest's fetch size per input partition: small, so a batch interleaves partitions "
        "instead of reading hours of one before the next.",
    )
    block_cache_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="RocksDB block cache per table partition."
    )
    instance_id: str | None = Field(
        None,
        description="Stable name of this worker instance (e.g. the StatefulSet pod name): Kafka static "
        "membership, so a restarted worker gets its partitions back at once instead of after a "
        "rebalance. Unique per running worker; unset: dynamic membership.",
    )
    write_buffer_bytes: int = Field(
        8 * 1024 * 1024, gt=0, description="RocksDB write buffer per table partition."
    )


class DispatcherSettings(BaseModel):
    """How the HTTP dispatcher consumes feed records and records outcomes."""

    group_id: str = Field(
        "streamvane-dispatcher", description="Consumer group of the dispatcher on the feed-record topic."
    )
    commit_interval_s: float = Field(0.5, gt=0, description="How often finished offsets are committed.")
    max_pending: int = Field(10_000, ge=1, description="Records read but not finished before reading pauses.")
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Serve /metrics, /healthz and /readyz on metrics_host:PORT (0: off)."
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address the probes and metrics bind (a pod: 0.0.0.0)."
    )
    session_timeout_s: float = Field(10.0, ge=6, description="Consumer group session timeout.")
    origin_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Optional cap on concurrent requests per origin (scheme://host:port) shared by the "
        "profiles delivering there; each profile always has its own endpoint.max_in_flight.",
    )
    on_time_window_s: float = Field(
        86_400.0, gt=0, description="streamvane_feed_on_time_ratio covers intervals due within this window."
    )


class GenesysSettings(BaseModel):
    """Genesys Cloud's analytics API, read for reconciliation. Region and OAuth client are secret
    references (``{env: NAME}`` or ``{file: PATH}``); the region is the org's domain, e.g.
    ``mypurecloud.com``, ``mypurecloud.ie`` or ``euw2.pure.cloud`` (login and API hosts are
    ``login.<region>`` and ``api.<region>``)."""

    region: SecretRef | None = Field(None, description="Secret reference to the org's region domain.")
    client_id: SecretRef | None = Field(None, description="Secret reference to the OAuth client id.")
    client_secret: SecretRef | None = Field(None, description="Secret reference to the OAuth client secret.")
    login_url: str | None = Field(
        None, description="Overrides https://login.<region> (a proxy, a test server)."
    )
    api_url: str | None = Field(None, description="Overrides https://api.<region>.")
    max_window_days: float = Field(
        7.0, gt=0, description="Longest interval of one aggregates query; longer ranges are split."
    )
    timeout_s: float = Field(60.0, gt=0, description="Per request.")
    max_attempts: int = Field(6, ge=1, description="Attempts per query (429, 5xx, connection errors).")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Backoff and Retry-After cap.")
    reconcile_after_s: float = Field(
        1800.0,
        ge=0,
        description="Continuous reconciliation waits this long after an interval's close for Genesys' "
        "figures to settle.",
    )
    reconcile_continuously: bool = Field(
        False, description="The dispatcher reconciles every delivered interval (needs credentials)."
    )


class ServeSettings(BaseModel):
    """``streamvane serve``: the status page and the read API."""

    host: str = Field("127.0.0.1", description="Address to bind (a pod: 0.0.0.0).")
    port: int = Field(8088, ge=1, le=65535)
    token: SecretRef | None = Field(None, description="Secret reference to the read API's bearer token.")
    intervals_shown: int = Field(96, ge=1, le=2000, description="Rows of the status page's grid.")


class IngestClient(BaseModel):
    """An OAuth client allowed to fetch ingest tokens (an EventBridge connection's credentials)."""

    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(min_length=1)
    client_secret: SecretRef


class IngestSettings(BaseModel):
    """``streamvane ingest``: the HTTP endpoint an EventBridge API destination posts events to.
    Every credential is a secret reference; at least one form must be configured."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind (a pod: 0.0.0.0).")
    port: int = Field(8090, ge=1, le=65535)
    path: str = Field("/events", description="Where events are POSTed.")
    api_key_header: str = Field("x-api-key", description="Header an API-key connection sends.")
    api_keys: tuple[SecretRef, ...] = Field((), description="Accepted API keys (secret references).")
    basic_username: str | None = Field(None, description="Basic authorization: the user.")
    basic_password: SecretRef | None = Field(None, description="Basic authorization: the password.")
    clients: tuple[IngestClient, ...] = Field(
        (), description="OAuth clients that may fetch bearer tokens from POST /oauth/token."
    )
    token_signing_key: SecretRef | None = Field(
        None, description="HMAC key of the bearer tokens (the same on every replica); needed with clients."
    )
    token_ttl_s: int = Field(3600, ge=60, le=86_400)
    tls_cert_file: Path | None = Field(None, description="Serve HTTPS with this certificate (PEM).")
    tls_key_file: Path | None = Field(None, description="The certificate's private key (PEM).")
    tls_client_ca_file: Path | None = Field(
        None, description="Require client certificates signed by this CA (mutual TLS)."
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body, after decompression."
    )
    max_events: int = Field(10_000, ge=1, description="Most events one request may carry.")
    request_timeout_s: float = Field(30.0, gt=0, description="A request taking longer is answered 503.")
    produce_timeout_s: float = Field(
        10.0, gt=0, description="How long the broker may take to acknowledge a batch before 503."
    )
    max_queued_events: int = Field(
        100_000, ge=100, description="Events waiting for the broker before new requests get 429."
    )
    max_in_flight: int = Field(256, ge=1, description="Requests processed at once; more get 429.")
    retry_after_s: int = Field(5, ge=1, description="Retry-After of 429 and 503 answers.")


BASE_INTERVAL_MS = 15 * 60_000


class Settings(BaseSettings):
    """Everything a Streamvane process can be told from outside."""

    model_config = SettingsConfigDict(env_prefix="STREAMVANE_", env_nested_delimiter="__", extra="forbid")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)
    genesys: GenesysSettings = Field(default_factory=GenesysSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    kpi: KpiConfig = Field(
        default_factory=KpiConfig,
        description="KPI rules (service levels, short abandons, SL switches, reorder tolerance, …); "
        "set as a mapping in the settings file",
    )
    profiles: tuple[FeedProfile, ...] = Field(
        (), description="Feed profiles given inline (usually in the settings file)."
    )
    profiles_dir: Path | None = Field(
        None, description="Directory of feed profile YAML files (one per feed), added to 'profiles'."
    )
    profiles_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Environment whose overlays (<profiles_dir>/env/<name>/) change the profiles' "
        "endpoints, credentials and schedules, e.g. prod.",
    )
    data_dir: Path = Field(Path("./.streamvane"), description="Local state (RocksDB tables) directory.")
    log_level: str = Field("INFO", description="Python logging level name.")

    @model_validator(mode="after")
    def _load_profile_files(self) -> Self:
        if self.profiles_dir is not None:
            loaded = load_profiles_dir(self.profiles_dir, self.profiles_env)
            self.profiles = (*self.profiles, *loaded)
            self.profiles_dir = None
        self.profiles = tuple(feed for p in self.profiles for feed in p.side_by_side())
        ids = [p.id for p in self.profiles]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"profiles: duplicate ids {dupes}")
        self._horizons_cannot_double_count()
        return self

    def _horizons_cannot_double_count(self) -> None:
        """An event stays correctable until its 15-minute base interval ends plus the correction
        horizon; its conversation must be remembered (de-duplication) and its partner awaited
        (pairing) at least that long, or a redelivery is counted twice and a late partner lost."""
        for profile in self.profiles:
            needed = profile.correction_horizon_ms + BASE_INTERVAL_MS
            for name in ("dedupe_horizon_ms", "pairing_horizon_ms"):
                have = getattr(self.kpi, name)
                if have < needed:
                    raise ValueError(
                        f"kpi.{name} ({have} ms) must be at least profile {profile.id!r}'s "
                        f"correction_horizon_ms + 15 min ({needed} ms): a redelivered or late event "
                        "could otherwise be counted twice or lose its partner"
                    )

    @property
    def keyed_topic(self) -> str:
        """The re-keyed event topic: the app id's own unless named explicitly."""
        return self.topics.keyed or f"{self.worker.app_id}.events.keyed.v1"

    @property
    def partials_topic(self) -> str:
        return self.topics.partials or f"{self.worker.app_id}.partials.v1"

    @property
    def ingest_group(self) -> str:
        """Ingest's consumer group on the event topic (the app id's own; the Faust agents' group
        is the app id itself)."""
        return f"{self.worker.app_id}-ingest"

    @property
    def reconcile_group(self) -> str:
        """Continuous reconciliation's consumer group on the feed-record topic."""
        return f"{self.dispatcher.group_id}-reconcile"

    @property
    def consumer_groups(self) -> list[str]:
        """Every consumer group this settings' processes commit offsets in."""
        return [self.worker.app_id, self.ingest_group, self.dispatcher.group_id, self.reconcile_group]

    @property
    def state_dir(self) -> Path:
        """Local table state of this app id (RocksDB): never shared with another app id."""
        return self.data_dir / self.worker.app_id

    def profile(self, profile_id: str) -> FeedProfile:
        for candidate in self.profiles:
            if candidate.id == profile_id:
                return candidate
        raise KeyError(f"no feed profile {profile_id!r}; known: {[p.id for p in self.profiles]}")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSettingsSource(settings_cls))


class _FileSettingsSource(PydanticBaseSettingsSource):
    """Settings from the YAML/JSON file named by ``STREAMVANE_SETTINGS_FILE`` (lowest precedence)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        name = os.environ.get("STREAMVANE_SETTINGS_FILE")
        if not name:
            return {}
        loaded = yaml.safe_load(Path(name).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"settings file {name}: expected a mapping at the top level")
        return loaded


def describe_settings() -> str:
    """One line per setting with its env var and description, for ``--help`` texts."""
    lines: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            env = f"{prefix}{name.upper()}"
            if isinstance(ann, type) and issubclass(ann, BaseModel) and ann is not KpiConfig:
                walk(ann, env + "__")
            else:
                default = "see the settings file" if field.default_factory else field.default
                lines.append(f"  {env:<44} {field.description or ''} (default: {default})")

    walk(Settings, "STREAMVANE_")
    return "\n".join(lines)
