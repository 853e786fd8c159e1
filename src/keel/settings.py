"""Every setting keel reads, in one place: environment variables prefixed `KEEL_` (or a `.env`)."""

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "keel-development-secret-change-me-0123456789"
DEFAULT_ADMIN_PASSWORD = "admin12345"

# The usual local dev servers (CRA/Next, Vite preview, Angular, Vite, Vue CLI), by both names.
DEVELOPMENT_CORS_ORIGINS = [
    f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (3000, 4173, 4200, 5173, 8080)
]
# What a browser sends as Origin: no path, no trailing slash (which would never match).
_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def _default_cors_origins(values: dict[str, Any]) -> list[str]:
    # Only development trusts local dev servers; test and production allow what they are told.
    return list(DEVELOPMENT_CORS_ORIGINS) if values.get("env", "development") == "development" else []


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEL_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    # Access logs are one JSON line per request; a benchmark may turn them off.
    access_log: bool = True

    # Browser origins (CORS) allowed to call the apps: a JSON list of `scheme://host[:port]`, or
    # ["*"]. Default: the local dev servers in development, none in test and production.
    cors_origins: list[str] = Field(default_factory=_default_cors_origins)
    # Request bodies past this are refused (413) while they stream in; the few routes whose spec
    # needs more (batch uploads, firmware, avatars) declare their own (core/http.py).
    max_body_bytes: int = Field(1024 * 1024, ge=1024)

    secret_key: str = Field(DEFAULT_SECRET_KEY, min_length=32)
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(30, ge=1, le=365)
    # A refresh token used again this soon after its first use answers a fresh pair for the same
    # login (a retried request whose answer was lost, two refreshes at once); later, a reuse is
    # taken as theft and signs the login out (as Supabase's refresh_token_reuse_interval).
    refresh_reuse_seconds: float = Field(10, ge=0, le=300)

    admin_email: str = "admin@example.com"
    admin_password: str = DEFAULT_ADMIN_PASSWORD

    # One database per app; unset means an SQLite file in data_dir.
    shop_database_url: str | None = None
    fitness_database_url: str | None = None
    coach_database_url: str | None = None
    queue_database_url: str | None = None
    badge_database_url: str | None = None
    # Per app, process and engine (one for transactions, one for reads). Connections beyond the
    # pool are opened and closed per use, which costs far more than the query, so size the pool
    # for the concurrency a process really sees.
    database_pool_size: int = Field(20, ge=1)
    database_max_overflow: int = Field(10, ge=0)

    # Write conflicts and deadlocks are retried this many times before a 409.
    transaction_retries: int = Field(4, ge=1, le=20)

    # Redis (redis://host:6379/0) shares rate limits, realtime events and jobs between
    # processes; unset, each process keeps them in its own memory.
    redis_url: str | None = None

    # Background jobs (core/jobs.py): a worker inside each `keel serve` process unless turned
    # off (when `keel worker` processes run them instead); how many jobs each worker runs at
    # once; how often an idle worker looks for jobs other processes enqueued.
    worker_in_serve: bool = True
    job_concurrency: int = Field(4, ge=1, le=100)
    job_poll_seconds: float = Field(1.0, gt=0, le=60)

    # Periodic sweeps (core/sweeps.py) run once per deployment per interval, in whichever
    # `keel serve` or `keel worker` process wins it. Retention (core/retention.py): every
    # retention_sweep_seconds, rows go this many days after the time that ages them.
    retention_sweep_seconds: float = Field(3600, gt=0)
    retention_tokens_days: float = Field(0, ge=0)
    retention_idempotency_keys_days: float = Field(0, ge=0)
    retention_events_days: float = Field(7, ge=0)
    retention_jobs_days: float = Field(14, ge=0)
    retention_mail_days: float = Field(30, ge=0)
    # Deleted rows are remembered this long for change feeds (core/changes.py): a device that has
    # not caught up for longer reads its full list again (410 for its old position).
    retention_tombstones_days: float = Field(180, ge=0)
    retention_heartbeats_days: float = Field(30, ge=0)
    retention_device_logs_days: float = Field(90, ge=0)
    # coach's AI use per day, read only for today's quota.
    retention_coach_ai_usage_days: float = Field(7, ge=1)

    # Rate limits (core/ratelimit.py) are multiplied by this: 0 turns them off (a benchmark
    # that measures the API rather than the limiter), 10 allows ten times as much.
    rate_limit_scale: float = Field(1.0, ge=0)
    # The proxies (addresses or CIDRs, a JSON list) whose X-Forwarded-For names the client, as
    # uvicorn's forwarded_allow_ips; empty trusts nobody's, so throttling keys on the peer itself.
    trusted_proxies: list[str] = []

    # Mail: an SMTP relay such as smtp://user:pass@host:587 (smtps:// for implicit TLS); unset,
    # mail is kept in the app's outbox table and logged.
    smtp_url: str | None = None
    mail_from: str = "keel <no-reply@keel.local>"

    # Uploaded files: local files under data_dir/uploads, served back under /files by the app.
    # public_base_url (https://api.example.com) makes returned file URLs absolute.
    public_base_url: str | None = None
    # Presigned uploads go straight to an S3-compatible store when a bucket is set (each app's
    # keys under its own prefix); otherwise to data_dir, through the app's own signed URLs.
    s3_bucket: str | None = None
    s3_endpoint_url: str = "https://s3.amazonaws.com"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None

    # fitness: sign-in with Apple, Google and Facebook.
    fitness_apple_jwks_url: str = "https://appleid.apple.com/auth/keys"
    fitness_apple_issuer: str = "https://appleid.apple.com"
    fitness_apple_client_ids: list[str] = []
    fitness_google_jwks_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    fitness_google_issuers: list[str] = ["https://accounts.google.com", "accounts.google.com"]
    fitness_google_client_ids: list[str] = []
    fitness_facebook_graph_url: str = "https://graph.facebook.com"
    fitness_facebook_app_id: str | None = None
    fitness_facebook_app_secret: str | None = None

    # coach: an OpenAI-compatible chat-completions API for reviews, plans and summaries.
    # Unset, the built-in rule-based writer composes them from the user's own records.
    coach_llm_base_url: str | None = None
    coach_llm_model: str = "gpt-4o-mini"
    coach_llm_api_key: str | None = None
    coach_llm_timeout_seconds: float = Field(20.0, gt=0, le=120)
    coach_llm_attempts: int = Field(3, ge=1, le=10)
    # coach: reminders are pushed through FCM HTTP v1 when a project is set (the service
    # account's JSON key file signs the OAuth2 grant; the two URLs are overridable for tests or
    # a proxy), else POSTed as JSON to the webhook URL when set, else only logged.
    coach_fcm_project_id: str | None = None
    coach_fcm_credentials_file: Path | None = None
    coach_fcm_base_url: str = "https://fcm.googleapis.com"
    coach_fcm_token_uri: str | None = None
    coach_push_webhook_url: str | None = None
    coach_push_timeout_seconds: float = Field(10.0, gt=0, le=60)
    coach_privacy_policy_version: str = "2026-11-01"
    # coach, issue 16: AI tasks a user may start per UTC day (reviews, plans, summaries, stats
    # summaries asked for; a repeat answered by its stored task costs nothing), and how often
    # the nightly stats summaries check whose week or month just ended where they live.
    coach_ai_daily_quota: int = Field(50, ge=1)
    coach_stats_summary_sweep_seconds: float = Field(3600, gt=0)

    # shop, issue 13: stock taken at checkout is held this long for payment, then the unpaid
    # order is cancelled by a sweep this often; a buyer holds at most this many unpaid orders
    # and this many units of one product in them. The payment provider: "simulated" (rules in
    # the shop's README, for tests and demos) or `package.module:factory`, called with the
    # settings; a provider call is cut off after shop_payment_timeout_seconds; amounts are
    # charged in shop_currency (ISO 4217).
    shop_unpaid_order_minutes: float = Field(30, gt=0)
    shop_unpaid_sweep_seconds: float = Field(60, gt=0)
    shop_max_unpaid_orders: int = Field(5, ge=1)
    shop_max_unpaid_units_per_product: int = Field(100, ge=1)
    shop_payment_provider: str = Field("simulated", pattern=r"^(simulated|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$")
    shop_payment_timeout_seconds: float = Field(20, gt=0, le=300)
    shop_currency: str = Field("TWD", pattern=r"^[A-Z]{3}$")
    # shop on TiDB (issue 13 item 7): TiFlash columnar replicas of the tables the bestsellers
    # ranking reads, made by `keel migrate`, and read by that query through an optimizer hint.
    # 0 leaves TiFlash alone; ignored on every database that is not TiDB.
    shop_tidb_tiflash_replicas: int = Field(0, ge=0)

    # queue, issue 14 item 8: minutes per service a store's wait estimate uses until it has
    # completed enough services to measure, unless the store sets its own default.
    queue_default_service_minutes: float = Field(5, gt=0, le=1440)

    # badge: the MQTT broker (mqtt://host:1883; unset turns MQTT off, HTTP ingest remains), the
    # key that lets a device register itself, and when a silent device counts as offline.
    badge_mqtt_url: str | None = None
    # Issue 17 item 1, device identities in the broker (apps/badge/services/broker.py): with
    # Mosquitto's dynamic-security plugin, driven by the KEEL_BADGE_MQTT_URL account; or EMQX,
    # which asks keel's HTTP hooks, sending this token in X-Keel-Hook-Token. Neither: the
    # broker is open (the machine's anonymous test broker) and registration answers no MQTT
    # credentials. One of the two at most.
    badge_mqtt_dynsec: bool = False
    badge_mqtt_hook_token: str | None = Field(None, min_length=16)
    # The CA that signed the broker's certificate, for mqtts:// (unset: the system's CAs).
    badge_mqtt_ca_file: Path | None = None
    # Stable across restarts, so the broker keeps the persistent session's queued messages for
    # it; each process on a host takes its own numbered slot (see apps/badge/services/mqtt.py).
    badge_mqtt_client_id: str = "keel-badge-ingest"
    # Every ingest process of a deployment joins this shared subscription, so the broker gives
    # each message to one of them; deployments sharing a broker need different groups.
    badge_mqtt_share_group: str = Field("keel", pattern=r"^[^/+#]+$")
    # How long the broker keeps an ingest session (and queues its share of the messages) while
    # its process is away: longer than any restart; a slot that never comes back stops getting
    # a share only when its session expires.
    badge_mqtt_session_expiry_seconds: int = Field(86400, ge=60, le=4294967294)
    badge_provisioning_key: str | None = None
    badge_offline_after_seconds: int = Field(300, ge=10)
    # How often the deployment looks for devices gone silent (offline alerts).
    badge_offline_sweep_seconds: float = Field(30, gt=0)
    badge_device_token_days: int = Field(365, ge=1, le=3650)
    badge_signature_window_seconds: int = Field(300, ge=10, le=3600)
    # Ingest batches: at most this many messages, collected for at most this long.
    badge_ingest_batch_size: int = Field(500, ge=1, le=10000)
    badge_ingest_batch_ms: int = Field(20, ge=1, le=5000)

    # badge, issue 17 item 9: each device's heartbeats rolled up per UTC day by a sweep this
    # often, and the rollups kept this many days (the raw rows go after retention_heartbeats_days).
    badge_rollup_sweep_seconds: float = Field(3600, gt=0)
    retention_heartbeat_rollups_days: float = Field(400, ge=0)
    # badge, issue 17 item 5: how often rollouts are checked against their failure threshold
    # and moved to their next wave (a wave's soak is at least this coarse).
    badge_rollout_sweep_seconds: float = Field(60, gt=0)

    # queue, issue 14 item 1: a store's day. A new store's time zone unless it names one (the
    # spec's stores are in Taiwan); whether bookings still waiting when a store's day ends
    # become no_show (a store may say otherwise); how often the deployment looks for stores
    # whose day has ended (a day closes within this long after the store's midnight).
    queue_default_time_zone: str = "Asia/Taipei"
    queue_end_of_day_no_show: bool = True
    queue_day_sweep_seconds: float = Field(60, gt=0)

    @field_validator("cors_origins")
    @classmethod
    def _origins_as_browsers_send_them(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: write scheme://host[:port], without a path")
        return origins

    @field_validator("queue_default_time_zone")
    @classmethod
    def _an_iana_time_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Taipei)") from None
        return name

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> "Settings":
        if self.env == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError("KEEL_SECRET_KEY must be set to a private value in production")
        return self

    @model_validator(mode="after")
    def _keep_heartbeats_until_rolled_up(self) -> "Settings":
        # A day's rollup is computed after the day ends, at the next rollup sweep: raw rows
        # pruned sooner would be missing from it.
        if self.retention_heartbeats_days * 86400 < 86400 + self.badge_rollup_sweep_seconds:
            raise ValueError(
                "KEEL_RETENTION_HEARTBEATS_DAYS must cover a day plus KEEL_BADGE_ROLLUP_SWEEP_SECONDS, "
                "or the daily rollups would miss heartbeats pruned before them"
            )
        return self

    @model_validator(mode="after")
    def _one_broker_backend(self) -> "Settings":
        if self.badge_mqtt_dynsec and self.badge_mqtt_hook_token:
            raise ValueError("KEEL_BADGE_MQTT_DYNSEC and KEEL_BADGE_MQTT_HOOK_TOKEN choose one broker each")
        if self.badge_mqtt_dynsec and not (self.badge_mqtt_url and "@" in self.badge_mqtt_url):
            raise ValueError(
                "KEEL_BADGE_MQTT_DYNSEC needs KEEL_BADGE_MQTT_URL with keel's account: mqtt://user:password@host"
            )
        return self

    def database_url(self, slug: str) -> str:
        url = getattr(self, f"{slug}_database_url", None)
        if url:
            return normalize_database_url(url)
        return f"sqlite+aiosqlite:///{self.data_dir / f'{slug}.db'}"


# Users write the URL their database documents; keel needs the async driver spelled out.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+asyncmy",
    "mariadb": "mysql+asyncmy",
    "tidb": "mysql+asyncmy",
    "sqlite": "sqlite+aiosqlite",
}


def normalize_database_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    return f"{_ASYNC_DRIVERS.get(scheme, scheme)}://{rest}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
