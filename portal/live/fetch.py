"""One guarded HTTP exchange: checked target, pinned address, short timeouts, bounded answer.

Both the prober and the try-it console call live services through :func:`fetch`,
so both get the same guard: the request goes to the address the guard checked
(the URL's host only travels in the Host header and as the TLS server name, so the
certificate is still verified against it), redirects are followed only within the
same scheme, host and port (and checked again), and an answer larger than the
limit is refused (or, for the console, cut).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from portal.live.guard import Guard, Refused, Target, Unreachable

__all__ = ["Fetched", "fetch"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


@dataclass(frozen=True, slots=True)
class Fetched:
    """An answer: its status, headers, body (at most the limit) and whether it was cut."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    seconds: float


def fetch(
    guard: Guard,
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    follow_redirects: bool = False,
    truncate: bool = False,
) -> Fetched:
    """Make one request through ``guard``. Raises Refused or Unreachable.

    ``timeout`` bounds the whole exchange: each step (connect, each read) may take only
    what is left of it.
    ``follow_redirects`` follows up to three redirects to the same origin; one to
    another origin is refused. ``truncate`` keeps the first ``max_bytes`` of a
    larger answer instead of refusing it.
    """
    started = time.monotonic()
    deadline = started + timeout
    target = guard.check(url)
    for _hop in range(MAX_REDIRECTS + 1):
        status, answer_headers, body, truncated = _exchange(
            target, method, headers or {}, content, timeout, deadline, max_bytes, truncate
        )
        location = dict(answer_headers).get("location")
        if not (follow_redirects and status in _REDIRECTS and location):
            return Fetched(
                target.url, status, answer_headers, body, truncated, time.monotonic() - started
            )
        following = urljoin(target.url, location)
        if _origin(following) != target.origin:
            raise Refused(
                f"redirects to another host ({following[:200]}); only redirects within "
                f"{target.scheme}://{target.host_header} are followed"
            )
        target = guard.check(following)  # the same host, checked (and resolved) again
        if status == 303:
            method, content = "GET", None
    raise Refused(f"redirected more than {MAX_REDIRECTS} times")


def _exchange(
    target: Target,
    method: str,
    headers: Mapping[str, str],
    content: bytes | None,
    timeout: float,
    deadline: float,
    max_bytes: int,
    truncate: bool,
) -> tuple[int, tuple[tuple[str, str], ...], bytes, bool]:
    last: Exception | None = None
    for address in target.addresses:
        pinned = httpx.URL(target.url).copy_with(host=address)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        # A fresh client each time: no cookie a service sets is ever sent to another,
        # and no proxy from the environment sees (or re-resolves) the request.
        # Each step may take what is left of the exchange's time, no more.
        left = deadline - time.monotonic()
        if left <= 0:
            raise Unreachable(f"no answer within {timeout:g} s")
        with httpx.Client(
            timeout=httpx.Timeout(left), follow_redirects=False, trust_env=False
        ) as client:
            request = client.build_request(
                method,
                pinned,
                # Uncompressed, so the size limit bounds what is held in memory.
                headers={**headers, "Host": target.host_header, "Accept-Encoding": "identity"},
                content=content,
                extensions=extensions,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last = exc
                continue
            except httpx.TimeoutException:
                raise Unreachable(f"no answer within {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise Unreachable(_reason(exc)) from None
            try:
                return _read(response, max_bytes, truncate, deadline, timeout)
            except httpx.TimeoutException:
                raise Unreachable(f"no complete answer within {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise Unreachable(_reason(exc)) from None
            finally:
                response.close()
    raise Unreachable(_reason(last) if last else "no address to connect to")


def _read(
    response: httpx.Response, max_bytes: int, truncate: bool, deadline: float, timeout: float
) -> tuple[int, tuple[tuple[str, str], ...], bytes, bool]:
    headers = tuple((k.lower(), v) for k, v in response.headers.items())
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and not truncate:
        raise Refused(_too_large(max_bytes, int(declared)))
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            if not truncate:
                raise Refused(_too_large(max_bytes))
            return response.status_code, headers, bytes(body[:max_bytes]), True
        if time.monotonic() > deadline:
            raise Unreachable(f"no complete answer within {timeout:g} s")
    return response.status_code, headers, bytes(body), False


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return (parts.scheme, (parts.hostname or "").lower(), port)


def _too_large(limit: int, declared: int | None = None) -> str:
    size = f"{declared:,} bytes, " if declared is not None else ""
    return f"the answer is {size}over the limit of {limit:,} bytes (PORTAL_LIVE_MAX_BYTES)"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"no connection: {text}"[:300]
