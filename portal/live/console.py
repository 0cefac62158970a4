"""The try-it console: one request to a declared server of an entity, made by the portal.

The browser never talks to the service itself (no CORS to arrange, no mixed content),
and the portal forwards nothing of the browser's own request: the headers sent are
only those typed into the console, and of those never a credential the portal could
have put there (Cookie, Authorization) nor one that would steer the request (Host,
Forwarded). The URL is the chosen server's plus a path, checked by the same guard as
the probes, and a redirect is shown, not followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.live.environments import Environment
from portal.live.fetch import Fetched, fetch
from portal.live.guard import Guard, Refused, Unreachable

__all__ = ["METHODS", "STRIPPED", "Attempt", "TryRequest", "parse_headers", "try_request"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Never forwarded, whoever typed them: credentials, and what would steer the request.
STRIPPED = frozenset(
    {
        "cookie",
        "cookie2",
        "authorization",
        "proxy-authorization",
        "host",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-csrf-token",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "upgrade",
        "accept-encoding",
    }
)
MAX_HEADERS = 30


@dataclass(frozen=True, slots=True)
class TryRequest:
    environment: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the console shows: the request as sent and the answer, or why there is none."""

    url: str
    method: str
    sent_headers: tuple[tuple[str, str], ...]
    dropped: tuple[str, ...]
    answer: Fetched | None = None
    error: str | None = None
    refused: bool = False
    # The form field at fault, when the request itself was bad (not the guard's refusal).
    field: str | None = None

    @property
    def text(self) -> str:
        if self.answer is None:
            return ""
        return self.answer.body.decode("utf-8", errors="replace")


def parse_headers(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``Name: value`` lines into headers, and a message for each line that is not one."""
    headers: list[tuple[str, str]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or not all(c.isalnum() or c in "-_" for c in name):
            problems.append(f"headers, line {number}: expected 'Name: value', got {line[:80]!r}")
            continue
        if any(c in value for c in "\r\n\0"):
            problems.append(f"headers, line {number}: the value holds a control character")
            continue
        headers.append((name, value.strip()))
    if len(headers) > MAX_HEADERS:
        problems.append(f"headers: at most {MAX_HEADERS} headers")
    return headers, problems


def try_request(
    guard: Guard,
    servers: Sequence[Environment],
    request: TryRequest,
    *,
    timeout: float,
    max_bytes: int,
) -> Attempt:
    """Send ``request`` to the chosen server of ``servers``; never raises for bad input."""
    method = request.method.upper()
    server = next((s for s in servers if s.name == request.environment), None)
    kept = tuple((k, v) for k, v in request.headers if k.lower() not in STRIPPED)
    dropped = tuple(sorted({k for k, _ in request.headers if k.lower() in STRIPPED}))
    path = request.path.strip() or "/"
    url = "" if server is None else server.url.rstrip("/") + path

    def refusal(message: str, field: str | None = None) -> Attempt:
        text = f"{field}: {message}" if field else message
        return Attempt(url, method, kept, dropped, error=text, refused=True, field=field)

    if server is None:
        names = ", ".join(s.name for s in servers) or "none"
        return refusal(f"{request.environment!r} is not one of these: {names}", "environment")
    if method not in METHODS:
        return refusal(f"{request.method!r} is not one of {', '.join(METHODS)}", "method")
    if not path.startswith("/") or any(c.isspace() or c in "\\#" for c in path):
        return refusal(
            f"{path[:100]!r} must start with / and hold no spaces, backslashes or '#' "
            "(e.g. /v1/things?limit=5)",
            "path",
        )
    if not guard.allows_host_of(url):
        return refusal(
            f"{server.url} is not on the allow-list, so the console does not call it "
            "(PORTAL_LIVE_ALLOWED_HOSTS)"
        )
    content = request.body.encode() if request.body and method not in ("GET", "HEAD") else None
    try:
        answer = fetch(
            guard,
            method,
            url,
            timeout=timeout,
            max_bytes=max_bytes,
            headers=dict(kept),
            content=content,
            truncate=True,
        )
    except Refused as exc:
        return refusal(str(exc))
    except Unreachable as exc:
        return Attempt(url, method, kept, dropped, error=str(exc))
    return Attempt(url, method, kept, dropped, answer=answer)
