"""Typed runtime settings, read from ``PORTAL_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

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
    keyvault_url_template: str = Field(
        default="https://{vault}.vault.azure.net",
        description="URL of a Key Vault; {vault} is the vault name of kv://<vault>/<secret>.",
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
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'portal.db'}"

    @field_validator("root")
    @classmethod
    def _root_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value.resolve()
