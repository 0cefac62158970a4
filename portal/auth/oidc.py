"""The OpenID Connect relying party: the authorization code flow with PKCE, through authlib.

Nothing here is kept between the two legs of a sign-in: :meth:`Provider.begin` returns a
:class:`Pending` (state, nonce, PKCE verifier) for the caller to keep in a signed cookie,
and :meth:`Provider.finish` takes it back, so any replica can finish what another began.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

with warnings.catch_warnings(record=True):
    # authlib says on import that it prefers httpx2 (forcing its warning to show, so it
    # is recorded here and dropped); its httpx client works, and httpx is what we use.
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        OAuth2Client,
        OAuthError,
    )
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from portal.exceptions import ConfigError, PortalError
from portal.network import is_loopback
from portal.settings import Settings

__all__ = ["LoginFailed", "Pending", "Provider", "Tokens", "check_settings"]

DISCOVERY_TTL = 3600.0  # seconds a discovery document is trusted before it is read again
LEEWAY = 60  # seconds of clock skew allowed between us and the provider
TIMEOUT = 10.0
MIN_SECRET = 32
# Asymmetric algorithms only: an HS256 token would be checked with the client secret,
# which anyone holding that secret could then forge.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


def check_settings(settings: Settings) -> None:
    """Refuse single sign-on settings that cannot work, naming every missing one at once."""
    if not settings.oidc_issuer:
        return
    problems = []
    issuer = _issuer_problem(settings.oidc_issuer)
    if issuer:
        problems.append(issuer)
    if not settings.oidc_client_id:
        problems.append("PORTAL_OIDC_CLIENT_ID is empty (the portal's client id at the issuer)")
    if not settings.session_secret:
        problems.append("PORTAL_SESSION_SECRET is empty (the key that signs session cookies)")
    elif len(settings.session_secret) < MIN_SECRET:
        problems.append(
            f"PORTAL_SESSION_SECRET has {len(settings.session_secret)} characters; use at "
            f"least {MIN_SECRET} random ones "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if "openid" not in settings.oidc_scopes:
        problems.append("PORTAL_OIDC_SCOPES must include 'openid'")
    if problems:
        raise ConfigError(
            f"single sign-on is configured (PORTAL_OIDC_ISSUER={settings.oidc_issuer}) but:\n  "
            + "\n  ".join(problems)
        )


class LoginFailed(PortalError):
    """A sign-in (or a session refresh) the provider or our checks refused.

    ``reason`` is safe to show and to audit: it never holds a token.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Pending:
    """One sign-in under way, between the redirect to the provider and its answer."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    started: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "s": self.state,
            "n": self.nonce,
            "v": self.verifier,
            "r": self.redirect_uri,
            "x": self.next,
            "t": self.started,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pending:
        return cls(
            state=str(data["s"]),
            nonce=str(data["n"]),
            verifier=str(data["v"]),
            redirect_uri=str(data["r"]),
            next=str(data["x"]),
            started=float(data["t"]),
        )


@dataclass(frozen=True, slots=True)
class Tokens:
    """What the provider vouched for, after every check.

    ``claims`` are those of the validated ID token (empty after a refresh that brought
    none); ``expires_at`` is how long the sign-in holds: the ID token's expiry, or the
    new access token's after such a refresh.
    """

    claims: dict[str, Any]
    id_token: str | None
    refresh_token: str | None
    expires_at: datetime


class Provider:
    """One OpenID provider, as the settings name it: discovery and keys cached, flows stateless."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    # -- discovery and keys -------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, read at most once an hour."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL:
                return self._metadata
        url = f"{self.issuer}/.well-known/openid-configuration"
        document = _get_json(url, "the provider's discovery document")
        problems = [
            f"it has no {name}"
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(name), str)
        ]
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            problems.append(f"it names the issuer {document.get('issuer')!r}, not {self.issuer!r}")
        if problems:
            raise LoginFailed(
                f"the provider's discovery document at {url} is unusable: " + "; ".join(problems)
            )
        with self._lock:
            self._metadata, self._metadata_at = document, time.monotonic()
        return document

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (JWKS), cached until a token names a key we lack."""
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        url = self.metadata()["jwks_uri"]
        try:
            keys = KeySet.import_key_set(_get_json(url, "the provider's keys"))  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise LoginFailed(f"the provider's keys at {url} cannot be read ({exc})") from None
        with self._lock:
            self._keys = keys
        return keys

    # -- the flow -------------------------------------------------------------

    def begin(self, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """The provider's authorization URL to send the browser to, and what to keep until back."""
        pending = Pending(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            next=next_path,
            started=time.time(),
        )
        with self._client(redirect_uri) as client:
            url, _state = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.verifier,
                nonce=pending.nonce,
            )
        return str(url), pending

    def finish(self, pending: Pending, answer: Mapping[str, str]) -> Tokens:
        """Check the provider's answer (the callback's query) and exchange its code for tokens."""
        if not hmac.compare_digest(answer.get("state", ""), pending.state):
            raise LoginFailed("the answer does not belong to the sign-in this browser started")
        if "error" in answer:
            description = answer.get("error_description", "")
            raise LoginFailed(
                f"the provider refused the sign-in: {answer['error'][:100]}"
                + (f" ({description[:300]})" if description else "")
            )
        code = answer.get("code", "")
        if not code:
            raise LoginFailed("the provider's answer has no authorization code")
        token = self._token_request(
            pending.redirect_uri,
            grant_type="authorization_code",
            code=code,
            code_verifier=pending.verifier,
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("the provider answered without an ID token (is 'openid' a scope?)")
        claims = self.validate(id_token, nonce=pending.nonce)
        return Tokens(
            claims=claims,
            id_token=id_token,
            refresh_token=_str_or_none(token.get("refresh_token")),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )

    def refresh(self, refresh_token: str, subject: str) -> Tokens:
        """New tokens for a session (the refresh_token grant); ``subject`` must stay the same."""
        token = self._token_request(None, grant_type="refresh_token", refresh_token=refresh_token)
        id_token = _str_or_none(token.get("id_token"))
        claims: dict[str, Any] = {}
        if id_token is not None:
            claims = self.validate(id_token, nonce=None)
            if claims["sub"] != subject:
                raise LoginFailed("the refreshed ID token is for another user")
            expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        else:
            seconds = token.get("expires_in")
            if not isinstance(seconds, int | float) or seconds <= 0:
                raise LoginFailed("the provider's refresh answer says nothing of its expiry")
            expires_at = datetime.now(UTC) + timedelta(seconds=float(seconds))
        return Tokens(
            claims=claims,
            id_token=id_token,
            refresh_token=_str_or_none(token.get("refresh_token")) or refresh_token,
            expires_at=expires_at,
        )

    def validate(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        """The claims of ``id_token``, once signature, issuer, audience, expiry and nonce hold."""
        issuer = self.metadata()["issuer"]
        client_id = self.settings.oidc_client_id
        try:
            try:
                decoded = jwt.decode(id_token, self.keys(), algorithms=self._algorithms())
            except (InvalidKeyIdError, BadSignatureError):
                # The provider may have rotated its keys since we read them: read them once more.
                decoded = jwt.decode(
                    id_token, self.keys(refresh=True), algorithms=self._algorithms()
                )
        except InvalidKeyIdError:
            raise LoginFailed(
                "the ID token is signed with a key the provider does not publish"
            ) from None
        except BadSignatureError:
            raise LoginFailed(
                "the ID token's signature does not verify with the provider's keys"
            ) from None
        except (JoseError, ValueError) as exc:
            raise LoginFailed(f"the ID token cannot be read ({exc})") from None
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            # A refreshed ID token need not repeat the nonce (OpenID Connect Core 12.2).
            nonce={"essential": True, "value": nonce} if nonce is not None else {},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise LoginFailed("the ID token has expired") from None
        except MissingClaimError as exc:
            raise LoginFailed(f"the ID token lacks the claim {exc.claim}") from None
        except JoseError as exc:
            claim = getattr(exc, "claim", "")
            raise LoginFailed(_claim_problem(claim, claims, issuer, client_id)) from None
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
            raise LoginFailed("the ID token names several audiences but not us as its party")
        if "azp" in claims and claims["azp"] != client_id:
            raise LoginFailed("the ID token was issued to another application (azp)")
        return claims

    def end_session_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser so the provider ends its session too (when it can)."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except LoginFailed:
            return None
        if not isinstance(endpoint, str) or not endpoint:
            return None
        params = {"client_id": self.settings.oidc_client_id}
        if id_token:
            params["id_token_hint"] = id_token
        params["post_logout_redirect_uri"] = post_logout_redirect_uri
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    # -- internals --------------------------------------------------------------

    def _algorithms(self) -> list[str]:
        offered = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [a for a in offered if a in ALGORITHMS] or ["RS256"]

    def _client(self, redirect_uri: str | None) -> Any:
        secret = self.settings.oidc_client_secret or None
        return OAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            # Only the authorization request names scopes: a refresh asks for the same ones.
            scope=" ".join(self.settings.oidc_scopes) if redirect_uri else None,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )

    def _token_request(self, redirect_uri: str | None, **params: str) -> dict[str, Any]:
        url = self.metadata()["token_endpoint"]
        try:
            with self._client(redirect_uri) as client:
                if params["grant_type"] == "refresh_token":
                    token = client.refresh_token(url, refresh_token=params["refresh_token"])
                else:
                    token = client.fetch_token(url, **params)
        except OAuthError as exc:
            description = f" ({exc.description[:300]})" if exc.description else ""
            if exc.error == "invalid_grant" and params["grant_type"] == "authorization_code":
                raise LoginFailed(
                    f"the provider refused the sign-in code (invalid_grant{description}); "
                    "a code works once and only for a few minutes"
                ) from None
            raise LoginFailed(f"the provider refused: {exc.error}{description}") from None
        except httpx.HTTPError as exc:
            raise LoginFailed(f"the provider could not be reached at {url} ({exc})") from None
        except ValueError as exc:
            raise LoginFailed(f"the provider's token answer cannot be read ({exc})") from None
        return dict(token)


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except httpx.HTTPError as exc:
        raise LoginFailed(f"{what} could not be read from {url} ({exc})") from None
    except ValueError:
        raise LoginFailed(f"{what} at {url} is not JSON") from None
    if not isinstance(document, dict):
        raise LoginFailed(f"{what} at {url} is not a JSON object")
    return document


def _claim_problem(claim: str, claims: Mapping[str, Any], issuer: str, client_id: str) -> str:
    if claim == "iss":
        return f"the ID token was issued by {str(claims.get('iss'))[:200]!r}, not by {issuer!r}"
    if claim == "aud":
        return (
            f"the ID token is meant for {str(claims.get('aud'))[:200]!r}, "
            f"not for this portal ({client_id!r})"
        )
    if claim == "nonce":
        return "the ID token's nonce is not the one this sign-in sent (a replayed token?)"
    return f"the ID token's {claim or 'claims'} claim is invalid"


def _issuer_problem(url: str) -> str | None:
    """What is wrong with an issuer URL: it must be https, but for a provider on loopback."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or not host or parts.scheme not in ("https", "http"):
        return (
            "PORTAL_OIDC_ISSUER is not a URL (expected the issuer's https:// URL, "
            "e.g. https://login.microsoftonline.com/<tenant>/v2.0)"
        )
    if parts.scheme == "http" and not is_loopback(host):
        return (
            "PORTAL_OIDC_ISSUER must be an https:// URL: over plain http anyone on the way "
            "could swap the provider's keys and sign in as anyone (http is allowed only to a "
            "loopback address, e.g. http://127.0.0.1:8080 for a provider on this machine)"
        )
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
