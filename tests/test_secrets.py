"""Secret references in settings, resolved through a real SecretClient against a local vault."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.keyvault.secrets._shared import http_challenge_cache

from portal.exceptions import ConfigError, PortalError
from portal.secrets import (
    SecretError,
    SecretResolver,
    is_reference,
    mask,
    remember_secrets,
    resolve_settings,
    resolved_values,
)
from portal.settings import Settings
from tests.kvserver import RESOURCE, TENANT, KeyVaultServer, StaticCredential

TOKEN = "eyJ0eXAi.test-access-token.7c1e"
DB_URL = "postgresql+psycopg://portal:Zq8-vault-db-password@db/portal"
OIDC_SECRET = "oidc-client-secret-4f2a9b"


@pytest.fixture(autouse=True)
def _forget_challenges() -> Iterator[None]:
    # The SDK remembers each host:port's challenge for the whole process; a later test's
    # server may get a port an earlier one used, and must still see a first-contact challenge.
    http_challenge_cache.clear()
    yield
    http_challenge_cache.clear()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[KeyVaultServer]:
    secrets = {"db-url": DB_URL, "oidc-secret": OIDC_SECRET}
    with KeyVaultServer(tmp_path, token=TOKEN, secrets=secrets) as server:
        yield server


@pytest.fixture
def credential() -> StaticCredential:
    return StaticCredential(TOKEN)


def client_options(vault: KeyVaultServer, **extra: Any) -> dict[str, Any]:
    """What points a resolver at the local vault: its URL, its certificate, no retry waits."""
    return {
        "vault_url_template": vault.url,
        "connection_verify": str(vault.cert_path),
        "verify_challenge_resource": False,
        "retry_total": 0,
        **extra,
    }


@pytest.fixture
def offline() -> Iterator[SecretResolver]:
    """A resolver for env:// and file:// references; it never needs a vault or credential."""
    with SecretResolver() as resolver:
        yield resolver


@pytest.fixture
def resolver(vault: KeyVaultServer, credential: StaticCredential) -> Iterator[SecretResolver]:
    with SecretResolver(credential=credential, **client_options(vault)) as resolver:
        yield resolver


def failure(resolver: SecretResolver, settings: Settings) -> list[str]:
    with pytest.raises(SecretError) as caught:
        resolver.resolve_settings(settings)
    return caught.value.problems


# --- Key Vault ---------------------------------------------------------------------------


def test_a_vault_reference_is_read_after_the_bearer_challenge(
    tmp_path: Path, vault: KeyVaultServer, credential: StaticCredential
) -> None:
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")

    resolved = resolve_settings(settings, credential=credential, **client_options(vault))

    assert resolved.database_url == DB_URL
    assert settings.database_url == "kv://kv-prod/db-url"
    challenge, fetch = vault.requests
    assert (challenge.path, challenge.authorization) == ("/secrets/db-url/", None)
    assert (fetch.path, fetch.authorization) == ("/secrets/db-url/", f"Bearer {TOKEN}")
    assert fetch.query["api-version"]
    # The token was asked for the resource and tenant that the challenge named.
    assert credential.calls == [((f"{RESOURCE}/.default",), TENANT)]


def test_each_value_is_fetched_once(
    tmp_path: Path, vault: KeyVaultServer, resolver: SecretResolver
) -> None:
    settings = Settings(
        root=tmp_path,
        database_url="kv://kv-prod/db-url",
        catalog_allowed_urls=["https://git.example.com/", "kv://kv-prod/db-url"],
    )

    first = resolver.resolve_settings(settings)
    fetched = len(vault.requests)
    again = resolver.resolve_settings(settings)

    assert first.catalog_allowed_urls == ["https://git.example.com/", DB_URL]
    assert again == first
    assert fetched == 2  # the challenge and one authenticated GET, for both settings
    assert len(vault.requests) == fetched


def test_a_version_can_be_pinned(
    tmp_path: Path, vault: KeyVaultServer, resolver: SecretResolver
) -> None:
    ((old_version, _),) = vault.secrets["db-url"].versions
    vault.add_version("db-url", "rotated-db-url")
    settings = Settings(
        root=tmp_path,
        database_url=f"kv://kv-prod/db-url/{old_version}",
        public_url="kv://kv-prod/db-url",
    )

    resolved = resolver.resolve_settings(settings)

    assert (resolved.database_url, resolved.public_url) == (DB_URL, "rotated-db-url")
    assert vault.requests[-1].path == f"/secrets/db-url/{old_version}"


def test_a_missing_secret_names_the_setting_and_no_value(
    tmp_path: Path, resolver: SecretResolver
) -> None:
    settings = Settings(
        root=tmp_path, database_url="kv://kv-prod/db-url", public_url="kv://kv-prod/no-such"
    )

    problems = failure(resolver, settings)

    assert problems == [
        "setting PORTAL_PUBLIC_URL: kv://kv-prod/no-such: the secret does not exist in the vault"
    ]
    assert DB_URL not in "\n".join(problems)


def test_a_missing_version_says_so(tmp_path: Path, resolver: SecretResolver) -> None:
    version = "0" * 32
    settings = Settings(root=tmp_path, database_url=f"kv://kv-prod/db-url/{version}")

    assert failure(resolver, settings) == [
        f"setting PORTAL_DATABASE_URL: kv://kv-prod/db-url/{version}: "
        "the secret, or this version of it, does not exist in the vault"
    ]


def test_a_disabled_secret_reports_the_vaults_answer(
    tmp_path: Path, vault: KeyVaultServer, resolver: SecretResolver
) -> None:
    vault.secrets["db-url"].enabled = False
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")

    assert failure(resolver, settings) == [
        "setting PORTAL_DATABASE_URL: kv://kv-prod/db-url: the vault answered 403 (Forbidden): "
        "Operation get is not allowed on a disabled secret."
    ]


class NoIdentity:
    """A TokenCredential that has no identity to offer, like DefaultAzureCredential on a laptop
    that never ran `az login`."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        raise ClientAuthenticationError("no identity is configured\nmore detail")


def test_a_credential_without_a_token_fails_each_setting_once(
    tmp_path: Path, vault: KeyVaultServer
) -> None:
    credential = NoIdentity()
    settings = Settings(
        root=tmp_path, database_url="kv://kv-prod/db-url", public_url="kv://kv-prod/oidc-secret"
    )

    with SecretResolver(credential=credential, **client_options(vault)) as resolver:
        problems = failure(resolver, settings)

    reason = f"cannot authenticate to the vault at {vault.url}: no identity is configured"
    assert problems == [  # in the order of the settings' fields
        f"setting PORTAL_PUBLIC_URL: kv://kv-prod/oidc-secret: {reason}",
        f"setting PORTAL_DATABASE_URL: kv://kv-prod/db-url: {reason}",
    ]
    assert credential.calls == 1


def test_a_token_the_vault_refuses(tmp_path: Path, vault: KeyVaultServer) -> None:
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")

    with SecretResolver(credential=StaticCredential("expired"), **client_options(vault)) as r:
        problems = failure(r, settings)

    assert problems == [
        f"setting PORTAL_DATABASE_URL: kv://kv-prod/db-url: cannot authenticate to the vault at "
        f"{vault.url}: the vault answered 401 (Unauthorized): "
        "AKV10000: Request is missing a Bearer or PoP token."
    ]


def test_a_vault_certificate_that_is_not_trusted_is_refused(
    tmp_path: Path, vault: KeyVaultServer, credential: StaticCredential
) -> None:
    options = client_options(vault)
    del options["connection_verify"]
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")

    with SecretResolver(credential=credential, **options) as resolver:
        (problem,) = failure(resolver, settings)

    assert problem.startswith(
        f"setting PORTAL_DATABASE_URL: kv://kv-prod/db-url: cannot reach the vault at {vault.url}: "
    )
    assert "CERTIFICATE_VERIFY_FAILED" in problem
    assert vault.requests == []


def test_a_challenge_for_another_resource_is_refused(
    tmp_path: Path, vault: KeyVaultServer, credential: StaticCredential
) -> None:
    # By default the SDK checks that the challenge's resource matches the vault's host name,
    # so that a token for vault.azure.net is never sent to some other host.
    options = client_options(vault)
    del options["verify_challenge_resource"]
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")

    with SecretResolver(credential=credential, **options) as resolver:
        (problem,) = failure(resolver, settings)

    assert problem.startswith(
        "setting PORTAL_DATABASE_URL: kv://kv-prod/db-url: the authentication challenge of the "
        f"vault at {vault.url} was refused: The challenge resource 'vault.azure.net' does not "
        "match the requested domain."
    )
    assert credential.calls == []
    assert [r.authorization for r in vault.requests] == [None]


def test_an_unreachable_vault(tmp_path: Path, credential: StaticCredential) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")
    url = f"https://127.0.0.1:{port}"

    with SecretResolver(credential=credential, vault_url_template=url, retry_total=0) as r:
        (problem,) = failure(r, settings)

    assert problem.startswith(
        f"setting PORTAL_DATABASE_URL: kv://kv-prod/db-url: cannot reach the vault at {url}: "
    )
    assert "Connection refused" in problem


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("kv://kv-prod", "not a Key Vault reference"),
        ("kv://kv-prod/", "'' is not a secret name"),
        ("kv://kv-prod/a/b/c", "not a Key Vault reference"),
        ("kv://evil.example#/db-url", "'evil.example#' is not a vault name"),
        ("kv://kv-prod/db_url", "'db_url' is not a secret name"),
        ("kv://kv-prod/db-url/not-a-version", "'not-a-version' is not a secret version"),
    ],
)
def test_a_malformed_vault_reference_says_what_is_expected(
    tmp_path: Path, offline: SecretResolver, reference: str, reason: str
) -> None:
    settings = Settings(root=tmp_path, database_url=reference)

    (problem,) = failure(offline, settings)

    assert problem.startswith(f"setting PORTAL_DATABASE_URL: {reference}: {reason}")
    assert problem.endswith(
        "expected kv://<vault-name>/<secret-name>[/<version>], e.g. kv://kv-prod/db-url)"
    )


def test_the_vault_url_template_must_be_https() -> None:
    with pytest.raises(ConfigError, match=r"vault URL template 'http://\{vault\}.example': "):
        SecretResolver(vault_url_template="http://{vault}.example")
    with pytest.raises(ConfigError, match="expected an https:// URL"):
        SecretResolver(vault_url_template="https://{name}.vault.azure.net")


# --- Environment and files ---------------------------------------------------------------


def test_an_environment_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: SecretResolver
) -> None:
    monkeypatch.setenv("QP_TEST_DB_URL", DB_URL)
    monkeypatch.delenv("QP_TEST_MISSING", raising=False)

    ok = offline.resolve_settings(Settings(root=tmp_path, database_url="env://QP_TEST_DB_URL"))
    missing = failure(offline, Settings(root=tmp_path, database_url="env://QP_TEST_MISSING"))
    bad = failure(offline, Settings(root=tmp_path, database_url="env://QP-TEST"))

    assert ok.database_url == DB_URL
    assert missing == [
        "setting PORTAL_DATABASE_URL: env://QP_TEST_MISSING: "
        "the environment variable QP_TEST_MISSING is not set"
    ]
    assert bad == [
        "setting PORTAL_DATABASE_URL: env://QP-TEST: 'QP-TEST' is not an environment variable "
        "name (expected env://NAME, e.g. env://DATABASE_URL)"
    ]


def test_a_file_reference_is_read_from_the_root_or_an_absolute_path(
    tmp_path: Path, offline: SecretResolver
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db-url").write_bytes(DB_URL.encode() + b"\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # One trailing newline is the file's, not the secret's; the secret keeps the rest.
    (elsewhere / "multi").write_bytes(b"line one\r\nline two\r\n\r\n")
    settings = Settings(
        root=tmp_path,
        database_url="file://secrets/db-url",
        public_url=f"file://{elsewhere / 'multi'}",
    )

    resolved = offline.resolve_settings(settings)

    assert resolved.database_url == DB_URL
    assert resolved.public_url == "line one\r\nline two\r\n"


def test_a_file_reference_that_cannot_be_read(tmp_path: Path, offline: SecretResolver) -> None:
    (tmp_path / "binary").write_bytes(b"\xff\xfe" + DB_URL.encode("utf-16-le"))
    (tmp_path / "folder").mkdir()
    settings = Settings(
        root=tmp_path,
        catalog_allowed_urls=["file://missing", "file://binary", "file://folder", "file://"],
    )

    problems = failure(offline, settings)

    assert problems == [
        f"setting PORTAL_CATALOG_ALLOWED_URLS[0]: file://missing: "
        f"the file {tmp_path / 'missing'} does not exist",
        f"setting PORTAL_CATALOG_ALLOWED_URLS[1]: file://binary: "
        f"the file {tmp_path / 'binary'} is not UTF-8 text",
        f"setting PORTAL_CATALOG_ALLOWED_URLS[2]: file://folder: "
        f"{tmp_path / 'folder'} is a directory, not a file",
        "setting PORTAL_CATALOG_ALLOWED_URLS[3]: file://: "
        "no file named (expected file://<path>, e.g. file:///run/secrets/db-url)",
    ]


# --- Everything else ---------------------------------------------------------------------


def test_every_failing_reference_is_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resolver: SecretResolver
) -> None:
    monkeypatch.delenv("QP_TEST_MISSING", raising=False)
    settings = Settings(
        root=tmp_path,
        database_url="kv://kv-prod/no-such",
        public_url="env://QP_TEST_MISSING",
        dev_user="file://nowhere",
    )

    problems = failure(resolver, settings)

    assert [p.split(":")[0] for p in problems] == [
        "setting PORTAL_PUBLIC_URL",
        "setting PORTAL_DATABASE_URL",
        "setting PORTAL_DEV_USER",
    ]
    assert str(SecretError(problems)) == "\n".join(problems)
    assert issubclass(SecretError, ConfigError) and issubclass(SecretError, PortalError)


def test_values_that_are_not_references_are_untouched(tmp_path: Path) -> None:
    settings = Settings(
        root=tmp_path,
        public_url="https://portal.example.com",
        database_url="sqlite:////var/lib/portal.db",
        catalog_allowed_urls=["https://git.example.com/org/"],
    )

    # No credential, no vault: nothing here needs one.
    resolved = resolve_settings(settings)

    assert resolved == settings
    assert not is_reference("https://portal.example.com")
    assert is_reference("kv://kv-prod/db-url") and is_reference("env://X")


def test_values_never_reach_the_log(
    tmp_path: Path,
    vault: KeyVaultServer,
    credential: StaticCredential,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(root=tmp_path, database_url="kv://kv-prod/db-url")

    # Even when the caller asks the SDK for network tracing, which logs bodies and tokens.
    options = client_options(vault, logging_enable=True)
    resolved = resolve_settings(settings, credential=credential, **options)

    assert resolved.database_url == DB_URL
    assert "Request URL" in caplog.text  # the SDK did log the requests, at DEBUG
    assert "setting PORTAL_DATABASE_URL: resolved kv://kv-prod/db-url" in caplog.text
    assert DB_URL not in caplog.text
    assert TOKEN not in caplog.text


def test_mask_hides_every_resolved_value(tmp_path: Path, resolver: SecretResolver) -> None:
    resolver.resolve_settings(Settings(root=tmp_path, database_url="kv://kv-prod/db-url"))

    assert DB_URL in resolved_values()
    assert mask(f"connecting to {DB_URL}; failed: {DB_URL}") == "connecting to ****; failed: ****"
    # The longer value is masked whole, even where it contains a shorter one.
    assert mask("key=abc-long, short=abc", {"abc", "abc-long", ""}) == "key=****, short=****"
    assert mask("nothing secret", set()) == "nothing secret"


def test_secrets_given_as_plain_values_are_masked_too(tmp_path: Path) -> None:
    # Values of their own: the set of remembered values is shared by the whole process.
    settings = Settings(
        root=tmp_path,
        oidc_client_secret="plain-client-secret-4711",
        session_secret="plain-session-secret-0123456789abcdef",
        database_url="postgresql+psycopg://portal:pa%40ss-4711@db.example/portal",
        public_url="https://portal.example.com",
    )
    remember_secrets(settings)

    line = (
        "secret=plain-client-secret-4711 key=plain-session-secret-0123456789abcdef "
        "url=postgresql+psycopg://portal:pa%40ss-4711@db.example/portal "
        'driver: password authentication failed ("pa@ss-4711")'
    )
    assert mask(line) == (
        "secret=**** key=**** url=postgresql+psycopg://portal:****@db.example/portal "
        'driver: password authentication failed ("****")'
    )
    assert "https://portal.example.com" not in resolved_values()  # a URL without a password
    assert "" not in resolved_values()


def test_resolving_remembers_plain_secrets_as_well(tmp_path: Path) -> None:
    resolve_settings(Settings(root=tmp_path, oidc_client_secret="another-plain-secret-0815"))
    assert mask("it was another-plain-secret-0815") == "it was ****"
