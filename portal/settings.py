"""Typed runtime settings, read from ``PORTAL_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the portal can be told at start-up.

    Passed explicitly to whatever needs it; nothing reads the environment on its own.
    """

    model_config = SettingsConfigDict(
        env_prefix="PORTAL_", env_file=".env", extra="ignore", frozen=True
    )

    root: Path = Field(
        default=Path("."),
        description="Repository root: catalog, docs and plugins are found below it, "
        "and no catalog path may leave it.",
    )
    catalog_paths: list[str] = Field(
        default=["catalog/**/*.yaml"],
        description="Glob patterns, relative to the root, of the catalog's entity files.",
    )
    catalog_allowed_urls: list[str] = Field(
        default=[],
        description="URL prefixes that Location targets and $text/$json/$yaml may fetch "
        "(e.g. https://git.example.com/org/). Empty: no URL is fetched.",
    )
    catalog_url_timeout: float = Field(
        default=10.0, gt=0, description="Seconds allowed for fetching one allow-listed URL."
    )
    max_file_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest catalog or definition file read, in bytes.",
    )
    max_yaml_nodes: int = Field(
        default=200_000,
        gt=0,
        description="Most YAML nodes one document may expand to once aliases are followed "
        "(stops 'billion laughs' documents).",
    )
    max_yaml_depth: int = Field(
        default=100, gt=0, description="Deepest nesting of mappings and lists allowed in YAML."
    )

    public_url: str = Field(
        default="",
        description="The portal's public address (e.g. https://portal.example.com). Links "
        "between audience sites use it; empty means links relative to the host.",
    )

    data_dir: Path | None = Field(
        default=None,
        description="Where the portal keeps its state (the SQLite database). Default: <root>/data.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the portal's database "
        "(e.g. postgresql+psycopg://portal@db/portal). Default: SQLite in the data folder.",
    )
    site_dir: Path | None = Field(
        default=None,
        description="Where built sites live and are served from. Default: <root>/site.",
    )
    site_store: Literal["local", "azure"] = Field(
        default="local",
        description="Where the portal serves built sites from: local (the site folder, as "
        "portal build leaves it) or azure (Azure Blob Storage: portal build --publish uploads "
        "a build and switches to it; every replica serves the build the store names, from a "
        "local cache).",
    )
    site_store_connection_string: str = Field(
        default="",
        description="Connection string of the storage account that holds the published sites "
        "(a kv:// reference in production). Empty: PORTAL_SITE_STORE_URL with an Azure AD "
        "credential.",
    )
    site_store_url: str = Field(
        default="",
        description="Blob service URL (https://<account>.blob.core.windows.net), reached with "
        "DefaultAzureCredential (a managed or workload identity) when there is no connection "
        "string.",
    )
    site_store_container: str = Field(
        default="portal-sites",
        description="The blob container of the published sites; create it before publishing.",
    )
    site_store_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a replica asks the site store whether a new build was published "
        "(a conditional read of one small blob).",
    )
    site_cache_dir: Path | None = Field(
        default=None,
        description="Where a replica keeps the published builds it serves. "
        "Default: <data folder>/site-cache.",
    )
    redis_url: str = Field(
        default="",
        description="Redis URL (redis://host:6379/0, rediss:// for TLS; a kv:// reference when "
        "it holds a password) of the cache and rate limits replicas share: probe results and "
        "sign-in and token limits count across every replica. Empty: each process keeps its "
        "own. While Redis cannot be reached, each replica falls back to its own and logs why.",
    )
    redis_prefix: str = Field(
        default="portal:",
        description="Prefix of every Redis key the portal writes, so that several portals "
        "(or anything else) may share one Redis.",
    )
    lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Replicas sharing PostgreSQL run background work once (scheduled probes, "
        "scorecard history, site builds) under leases they check this often; a replica that "
        "dies loses its leases at once, one cut off from the database within about twice this.",
    )
    changes_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a replica asks the database whether the catalog changed "
        "elsewhere (a registration on another replica), by reading one counter.",
    )
    search_engine: str = Field(
        default="tantivy",
        description="The search engine: tantivy (embedded, the fastest) or whoosh; a plugin "
        "may add others (the portal_search_engines hook).",
    )
    search_database_url: str = Field(
        default="",
        description="PostgreSQL URL of the postgres search engine's index. Default: "
        "PORTAL_DATABASE_URL, when that is PostgreSQL.",
    )
    search_index_dir: Path | None = Field(
        default=None,
        description="Where the search index is kept. Default: <data folder>/search.",
    )
    max_upload_bytes: int = Field(
        default=256 * 1024,
        gt=0,
        description="Largest descriptor accepted by the registration form and API, in bytes.",
    )
    dev_user: str = Field(
        default="dev@localhost",
        description="Who the development identity is (only on loopback, before SSO is set up).",
    )

    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer URL (Entra ID, Okta, Keycloak...). Empty: no single "
        "sign-on, and the development identity answers on loopback only.",
    )
    oidc_client_id: str = Field(default="", description="The portal's client id at the issuer.")
    oidc_client_secret: str = Field(
        default="", description="The client secret; a kv://, env:// or file:// reference."
    )
    oidc_scopes: list[str] = Field(
        default=["openid", "profile", "email", "offline_access"],
        description="Scopes asked for at sign-in.",
    )
    oidc_group_claim: str = Field(
        default="groups", description="The ID token claim that lists the user's groups."
    )
    role_groups: dict[str, list[str]] = Field(
        default={},
        description='Groups that give each role, e.g. {"admin": ["platform"], '
        '"contributor": ["core-services"]}. Every signed-in user is a reader.',
    )
    session_secret: str = Field(
        default="",
        description="Key that signs session cookies (a kv:// reference in production). "
        "Required with single sign-on.",
    )
    session_idle_minutes: int = Field(default=60, gt=0, description="Idle session timeout.")
    session_max_hours: int = Field(
        default=12, gt=0, description="Absolute session lifetime, however active."
    )
    auth_memo_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a checked session or token is remembered without reading the "
        "database again. An ended session or revoked token keeps working in OTHER replicas "
        "for at most this long; 0 reads the database on every request.",
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses of the reverse proxies in front of the portal, whose "
        "X-Forwarded-For and X-Forwarded-Proto headers are believed (client address for "
        "rate limits and the audit log; https for Secure cookies and HSTS).",
    )
    metrics_token: str = Field(
        default="",
        description="Bearer token a Prometheus scraper sends to read /metrics (a kv://, env:// "
        "or file:// reference in production). Empty: only PORTAL_METRICS_ALLOWED_NETWORKS.",
    )
    metrics_allowed_networks: list[str] = Field(
        default=["127.0.0.0/8", "::1/128"],
        description="Networks (CIDR) from which /metrics may be read without the token. "
        "[] requires the token from everywhere.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="portal serve's log lines: json (one object per line), text (for a "
        "person), or auto: text on a terminal, else JSON.",
    )
    keyvault_url_template: str = Field(
        default="https://{vault}.vault.azure.net",
        description="URL of a Key Vault; {vault} is the vault name of kv://<vault>/<secret>.",
    )

    live_environments: list[str] = Field(
        default=["development", "staging", "production"],
        description="The environments catalog entities may declare "
        "(portal.quantum.dev/environment.<name>), in the order pages show them.",
    )
    live_public_environments: list[str] = Field(
        default=["production"],
        description="Environments whose server URLs the public audience's API reference lists.",
    )
    live_allowed_hosts: list[str] | None = Field(
        default=None,
        description="Hosts the portal may probe and the try-it console may call: api.example.com, "
        "*.example.com, an address or a network (10.0.0.0/8), each optionally with :port. "
        "Loopback, private and link-local addresses are refused unless listed as addresses or "
        'networks. Unset: ["127.0.0.1:8000"] (portal serve\'s own address) while no single '
        "sign-on is configured, else nothing.",
    )
    live_probe_interval: float = Field(
        default=60.0,
        ge=0,
        description="Seconds between health probes of one endpoint; 0 probes only on demand.",
    )
    live_timeout: float = Field(
        default=3.0, gt=0, description="Seconds one probe or try-it request may take."
    )
    live_max_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Largest answer read from a live service, in bytes (a larger probe answer "
        "is refused; the try-it console shows the first bytes).",
    )
    live_history: int = Field(
        default=20, gt=0, description="How many recent probes of each endpoint are kept."
    )
    live_failures_before_pause: int = Field(
        default=3,
        gt=0,
        description="Consecutive failed probes after which an endpoint's circuit breaker stops "
        "probing it for a back-off that doubles with each further failure.",
    )
    live_max_backoff: float = Field(
        default=3600.0, gt=0, description="Longest back-off of a paused endpoint, in seconds."
    )

    @property
    def data_path(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.root / "data"

    @property
    def search_index_path(self) -> Path:
        return (
            self.search_index_dir
            if self.search_index_dir is not None
            else self.data_path / "search"
        )

    @property
    def site_path(self) -> Path:
        return self.site_dir if self.site_dir is not None else self.root / "site"

    @property
    def site_cache_path(self) -> Path:
        if self.site_cache_dir is not None:
            return self.site_cache_dir
        return self.data_path / "site-cache"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'portal.db'}"

    @field_validator("metrics_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"{network!r} is not a network (expected CIDR such as 10.0.0.0/8 or fd00::/8)"
                ) from None
        return value

    @field_validator("live_allowed_hosts")
    @classmethod
    def _live_hosts(cls, value: list[str] | None) -> list[str] | None:
        from portal.live.guard import parse_entry

        for entry in value or []:
            parse_entry(entry)  # a ValueError names the entry and what is accepted
        return value

    @field_validator("site_store_container")
    @classmethod
    def _container_name(cls, value: str) -> str:
        # Azure's rule for container names, checked here rather than by a failed request.
        if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", value):
            raise ValueError(
                f"{value!r} is not a container name (3-63 lowercase letters, digits and "
                "single hyphens, starting and ending with a letter or digit, e.g. portal-sites)"
            )
        return value

    @field_validator("root")
    @classmethod
    def _root_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value.resolve()
