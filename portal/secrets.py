"""Settings values that are references to secrets (kv://, env://, file://), resolved at start-up.

A setting whose value is ``kv://<vault>/<secret>[/<version>]`` is read from Azure Key Vault,
``env://NAME`` from the environment and ``file://path`` from a file (relative to the root).
Values are fetched once per resolver, never logged, and remembered process-wide only so that
log output can be masked with :func:`mask` (as are secrets given as plain values: see
:func:`remember_secrets`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from portal.exceptions import ConfigError
from portal.settings import Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.exceptions import HttpResponseError
    from azure.keyvault.secrets import SecretClient

__all__ = [
    "DEFAULT_VAULT_URL_TEMPLATE",
    "MASK",
    "SecretError",
    "SecretResolver",
    "first_line",
    "is_reference",
    "mask",
    "remember_secrets",
    "resolve_settings",
    "resolved_settings",
    "resolved_values",
]

log = logging.getLogger(__name__)

DEFAULT_VAULT_URL_TEMPLATE = "https://{vault}.vault.azure.net"
MASK = "****"

_SCHEMES = ("kv://", "env://", "file://")
_KV_SYNTAX = "expected kv://<vault-name>/<secret-name>[/<version>], e.g. kv://kv-prod/db-url"
# Azure's own naming rules. The vault name becomes part of a host name, so anything looser
# could send the bearer token to another host (kv://evil.example#/x).
_VAULT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]")
_SECRET_NAME = re.compile(r"[A-Za-z0-9-]{1,127}")
_SECRET_VERSION = re.compile(r"[A-Za-z0-9]{1,64}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_resolved: set[str] = set()
_resolved_lock = threading.Lock()
# The same values, longest first (a value that contains another is masked whole): what
# mask() goes through, worked out when a value is added rather than on every log line.
_masking_order: tuple[str, ...] = ()


class SecretError(ConfigError):
    """One or more secret references could not be resolved; each line names its setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Unresolved(Exception):
    """Why one reference has no value (the message never contains a secret)."""


def is_reference(value: str) -> bool:
    """Whether a setting's value is a secret reference rather than the value itself."""
    return value.startswith(_SCHEMES)


def resolved_values() -> frozenset[str]:
    """Every secret value resolved so far in this process, for masking log output."""
    with _resolved_lock:
        return frozenset(_resolved)


def mask(text: str, secrets: Iterable[str] | None = None) -> str:
    """Replace every occurrence of a secret value in ``text`` with ``****``.

    ``secrets`` defaults to every value resolved in this process.
    """
    if secrets is None:
        ordered = _masking_order
    else:  # longest first, so a value that contains another is masked whole
        ordered = tuple(sorted({v for v in secrets if v}, key=len, reverse=True))
    for value in ordered:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _remember(value: str) -> None:
    global _masking_order
    if value:
        with _resolved_lock:
            _resolved.add(value)
            _masking_order = tuple(sorted(_resolved, key=len, reverse=True))


def remember_secrets(settings: Settings) -> None:
    """Mask the secret-bearing settings in log output, whether references or plain values.

    That is every ``*_secret``, ``*_password``, ``*_token`` and ``*_connection_string``
    setting (the OIDC client secret, the session secret, the metrics token, the site store's
    connection string with its account key) and the password inside every ``*_url``
    setting (the database's).
    Call it with the settings as resolved, at start-up.
    """
    for field, value in settings:
        if not isinstance(value, str) or not value or is_reference(value):
            continue
        if field.endswith(("_secret", "_password", "_token", "_connection_string")):
            _remember(value)
        if field.endswith("_connection_string"):  # its key also on its own
            for part in value.split(";"):
                name, _, secret = part.partition("=")
                if name.strip().lower() in ("accountkey", "sharedaccesssignature"):
                    _remember(secret)
        elif field.endswith("_url"):
            try:
                password = urlsplit(value).password
            except ValueError:  # not a URL: nothing in it looks like a password
                continue
            if password:
                # As written in the URL, and as a driver's error message would show it.
                _remember(password)
                _remember(unquote(password))


class SecretResolver:
    """Resolves references, with one SecretClient per vault and each value fetched once.

    ``credential`` defaults to azure-identity's DefaultAzureCredential, created on the first
    ``kv://`` reference. ``vault_url_template`` turns a vault name into its URL (another cloud,
    or a local test server). ``client_options`` go to every SecretClient (e.g.
    ``connection_verify``, ``retry_total``); HTTP body logging is always off, because it
    would write secret values and bearer tokens to the log.
    """

    def __init__(
        self,
        *,
        credential: TokenCredential | None = None,
        vault_url_template: str = DEFAULT_VAULT_URL_TEMPLATE,
        **client_options: Any,
    ) -> None:
        try:
            example = vault_url_template.format(vault="kv-example")
        except (KeyError, IndexError, ValueError):
            example = ""
        if not example.lower().startswith("https://"):
            raise ConfigError(
                f"vault URL template {vault_url_template!r}: expected an https:// URL in which "
                "{vault} stands for the vault name, e.g. https://{vault}.vault.azure.net"
            )
        self._template = vault_url_template
        self._credential = credential
        self._owned_credential: Any = None
        self._client_options = {**client_options, "logging_enable": False}
        self._clients: dict[str, SecretClient] = {}
        self._values: dict[tuple[str, str, str], str] = {}
        # A vault we cannot reach or authenticate to fails every later reference the same way,
        # without waiting for the retries again.
        self._vault_failures: dict[str, str] = {}

    def __enter__(self) -> SecretResolver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the vault connections (and the credential, when the resolver made it)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._owned_credential is not None:
            self._owned_credential.close()
            self._owned_credential = None
            self._credential = None

    def resolve_settings(self, settings: Settings) -> Settings:
        """A copy of ``settings`` with every reference (in strings, lists and dicts) replaced.

        Raises SecretError listing every reference that failed, each with its setting's name.
        """
        prefix = str(settings.model_config.get("env_prefix", ""))
        problems: list[str] = []
        update: dict[str, Any] = {}
        for field, value in settings:
            label = f"{prefix}{field}".upper()
            resolved = self._resolve_value(value, label, settings.root, problems)
            if resolved != value:
                update[field] = resolved
        if problems:
            raise SecretError(problems)
        resolved = settings.model_copy(update=update)
        remember_secrets(resolved)
        return resolved

    def resolve(self, reference: str, *, root: Path = Path(".")) -> str:
        """The value a single reference stands for; relative ``file://`` paths start at root."""
        try:
            return self._resolve(reference, root)
        except _Unresolved as exc:
            raise SecretError([f"{reference}: {exc}"]) from None

    def _resolve_value(self, value: object, label: str, root: Path, problems: list[str]) -> object:
        if isinstance(value, str):
            if not is_reference(value):
                return value
            try:
                resolved = self._resolve(value, root)
            except _Unresolved as exc:
                problems.append(f"setting {label}: {value}: {exc}")
                return value
            log.debug("setting %s: resolved %s", label, value)
            return resolved
        if isinstance(value, list | tuple):
            items = [
                self._resolve_value(item, f"{label}[{index}]", root, problems)
                for index, item in enumerate(value)
            ]
            return type(value)(items)
        if isinstance(value, dict):
            return {
                key: self._resolve_value(item, f"{label}[{key!r}]", root, problems)
                for key, item in value.items()
            }
        return value

    def _resolve(self, reference: str, root: Path) -> str:
        scheme, _, rest = reference.partition("://")
        if scheme == "env":
            value = _from_environment(rest)
        elif scheme == "file":
            value = _from_file(rest, root)
        else:
            value = self._from_vault(rest)
        _remember(value)
        return value

    def _from_vault(self, rest: str) -> str:
        parts = rest.split("/")
        if not 2 <= len(parts) <= 3:
            raise _Unresolved(f"not a Key Vault reference ({_KV_SYNTAX})")
        vault, name, version = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
        if not _VAULT_NAME.fullmatch(vault):
            raise _Unresolved(
                f"{vault!r} is not a vault name (3-24 letters, digits and hyphens; {_KV_SYNTAX})"
            )
        if not _SECRET_NAME.fullmatch(name):
            raise _Unresolved(
                f"{name!r} is not a secret name (letters, digits and hyphens; {_KV_SYNTAX})"
            )
        if len(parts) == 3 and not _SECRET_VERSION.fullmatch(version):
            raise _Unresolved(f"{version!r} is not a secret version ({_KV_SYNTAX})")

        url = self._template.format(vault=vault)
        key = (url, name, version)
        if key in self._values:
            return self._values[key]
        if url in self._vault_failures:
            raise _Unresolved(self._vault_failures[url])
        try:
            secret = self._client(url).get_secret(name, version or None)
        except Exception as exc:
            problem = self._vault_problem(url, exc, versioned=bool(version))
            if problem is None:
                raise  # not the vault's answer but a bug: keep its traceback
            raise _Unresolved(problem) from None
        if secret.value is None:
            raise _Unresolved("the secret has no value")
        self._values[key] = secret.value
        return secret.value

    def _vault_problem(self, url: str, exc: Exception, *, versioned: bool) -> str | None:
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        if isinstance(exc, ResourceNotFoundError):
            if versioned:
                return "the secret, or this version of it, does not exist in the vault"
            return "the secret does not exist in the vault"
        if isinstance(exc, ClientAuthenticationError):
            # Raised by the credential (no token; no status) or by the vault (token refused).
            reason = first_line(exc) if exc.status_code is None else _answer(exc)
            problem = f"cannot authenticate to the vault at {url}: {reason}"
            if exc.status_code is None and self._owned_credential is not None:
                problem += (
                    " (run DefaultAzureCredential with a managed identity, set AZURE_TENANT_ID, "
                    "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or sign in with `az login`; "
                    "the azure.identity log lists what was tried)"
                )
        elif isinstance(exc, HttpResponseError):
            return _answer(exc)
        elif isinstance(exc, ServiceRequestError):
            problem = f"cannot reach the vault at {url}: {first_line(exc)}"
        elif isinstance(exc, AzureError):
            return f"the vault request failed: {first_line(exc)}"
        elif isinstance(exc, ValueError):
            # The SDK refuses a challenge naming another resource (a vault URL on the wrong cloud).
            problem = f"the authentication challenge of the vault at {url} was refused: {exc}"
        else:
            return None
        self._vault_failures[url] = problem
        return problem

    def _client(self, url: str) -> SecretClient:
        client = self._clients.get(url)
        if client is None:
            from azure.keyvault.secrets import SecretClient

            client = SecretClient(url, self._get_credential(), **self._client_options)
            self._clients[url] = client
        return client

    def _get_credential(self) -> TokenCredential:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._owned_credential = self._credential = DefaultAzureCredential()
        return self._credential


def resolve_settings(
    settings: Settings,
    *,
    credential: TokenCredential | None = None,
    vault_url_template: str = DEFAULT_VAULT_URL_TEMPLATE,
    **client_options: Any,
) -> Settings:
    """``settings`` with every reference resolved, through a resolver closed afterwards."""
    with SecretResolver(
        credential=credential, vault_url_template=vault_url_template, **client_options
    ) as resolver:
        return resolver.resolve_settings(settings)


def resolved_settings(settings: Settings) -> Settings:
    """``settings`` with its kv://, env:// and file:// references replaced by their values,
    Key Vault found through the settings' own ``keyvault_url_template``."""
    return resolve_settings(settings, vault_url_template=settings.keyvault_url_template)


def _from_environment(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise _Unresolved(
            f"{name!r} is not an environment variable name (expected env://NAME, e.g. "
            "env://DATABASE_URL)"
        )
    value = os.environ.get(name)
    if value is None:
        raise _Unresolved(f"the environment variable {name} is not set")
    return value


def _from_file(path: str, root: Path) -> str:
    if not path:
        raise _Unresolved("no file named (expected file://<path>, e.g. file:///run/secrets/db-url)")
    file = Path(path)
    if not file.is_absolute():
        file = root / file
    try:
        # Bytes, not text mode: text mode would rewrite the secret's own line endings.
        value = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise _Unresolved(f"the file {file} does not exist") from None
    except IsADirectoryError:
        raise _Unresolved(f"{file} is a directory, not a file") from None
    except OSError as exc:
        raise _Unresolved(f"the file {file} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _Unresolved(f"the file {file} is not UTF-8 text") from None
    # Files written by editors and `echo` end with a newline that is not part of the secret.
    return value.removesuffix("\r\n") if value.endswith("\r\n") else value.removesuffix("\n")


def _answer(exc: HttpResponseError) -> str:
    if exc.error is not None:
        return f"the vault answered {exc.status_code} ({exc.error.code}): {exc.error.message}"
    return f"the vault answered {exc.status_code} ({exc.reason})"


def first_line(exc: Exception) -> str:
    """The first line of an error's message (an Azure SDK error's own message, without
    the request details it appends), or its type when it has none."""
    message = str(getattr(exc, "message", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
