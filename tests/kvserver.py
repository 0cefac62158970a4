"""A local HTTPS server speaking the part of Azure Key Vault's REST protocol that reads secrets.

Like the real service it answers a request without a valid bearer token with 401 and a
``WWW-Authenticate: Bearer authorization=..., resource=...`` challenge, then serves
``GET /secrets/{name}/{version}?api-version=...`` as a secret bundle, or Key Vault's error JSON.
Its certificate is self-signed and made at start; clients trust it through ``cert_path``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RESOURCE = "https://vault.azure.net"
CHALLENGE = (
    f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="{RESOURCE}"'
)
_SECRET_PATH = re.compile(r"/secrets/(?P<name>[^/]+)/(?P<version>[^/]*)")


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None


@dataclass
class Secret:
    """A secret's versions, oldest first; the last is what an unversioned GET returns."""

    versions: list[tuple[str, str]]
    enabled: bool = True


@dataclass
class StaticCredential:
    """A TokenCredential (azure-core's credential protocol) that hands out one fixed token."""

    token: str
    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.calls.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)


def make_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` and its key, as PEM files: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "kv-cert.pem", directory / "kv-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class KeyVaultServer:
    """A vault holding ``secrets`` ({name: value}), accepting only ``Bearer <token>``."""

    def __init__(self, directory: Path, *, token: str, secrets: dict[str, str]) -> None:
        self.token = token
        self.secrets = {
            name: Secret([(uuid.uuid4().hex, value)]) for name, value in secrets.items()
        }
        self.requests: list[SeenRequest] = []
        self.cert_path, key_path = make_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, key_path)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.vault = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def add_version(self, name: str, value: str) -> str:
        version = uuid.uuid4().hex
        self.secrets[name].versions.append((version, value))
        return version

    def __enter__(self) -> KeyVaultServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def answer(
        self, path: str, query: dict[str, list[str]], authorization: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for one GET, as Key Vault would answer."""
        if authorization != f"Bearer {self.token}":
            message = "AKV10000: Request is missing a Bearer or PoP token."
            return *_error(401, "Unauthorized", message), {"WWW-Authenticate": CHALLENGE}
        if not query.get("api-version"):
            message = "The request URI contains an invalid or missing api-version."
            return *_error(400, "BadParameter", message), {}
        match = _SECRET_PATH.fullmatch(path)
        name, version = (match["name"], match["version"]) if match else (path, "")
        secret = self.secrets.get(name)
        if secret is None or (version and version not in dict(secret.versions)):
            message = f"A secret with (name/id) {name} was not found in this key vault."
            return *_error(404, "SecretNotFound", message), {}
        if not secret.enabled:
            message = "Operation get is not allowed on a disabled secret."
            return *_error(403, "Forbidden", message), {}
        version = version or secret.versions[-1][0]
        now = int(time.time())
        bundle = {
            "value": dict(secret.versions)[version],
            "id": f"{self.url}/secrets/{name}/{version}",
            "attributes": {
                "enabled": True,
                "created": now,
                "updated": now,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }
        return 200, bundle, {}


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


class _Server(ThreadingHTTPServer):
    vault: KeyVaultServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        vault = self.server.vault
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        authorization = self.headers.get("Authorization")
        vault.requests.append(SeenRequest("GET", url.path, query, authorization))
        status, body, headers = vault.answer(url.path, query, authorization)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
        pass
