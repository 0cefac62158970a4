"""Where an entity runs: its environments, read from annotations and links that stay Backstage YAML.

The declaration form (documented in docs/reference/live.md):

- ``portal.quantum.dev/environment.<env>: <base URL>`` declares an environment and the
  URL it is served at (for an API entity: its server URL);
- ``portal.quantum.dev/health: /healthz`` is the health path probed in every
  environment; ``portal.quantum.dev/health.<env>`` overrides it for one (a path, or a
  full URL when health answers elsewhere, e.g. a management port);
- a ``metadata.links`` item with ``environment: <env>`` belongs to that environment
  (its dashboard, logs, alerts, on-call).

Annotations hold strings only, which is all these need, and Backstage's schema lets
link items carry more keys than url, title, icon and type, so a Backstage instance
reads the same files unchanged. Everything is read once, here, into
:class:`Environment` values with every problem reported at its file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.catalog import Catalog, Entity, EntityRef, problem_at
from portal.problems import Report

__all__ = [
    "ENVIRONMENT_PREFIX",
    "HEALTH",
    "HEALTH_PREFIX",
    "EnvLink",
    "Environment",
    "api_servers",
    "http_url_problem",
    "read_environments",
]

ENVIRONMENT_PREFIX = "portal.quantum.dev/environment."
HEALTH = "portal.quantum.dev/health"
HEALTH_PREFIX = HEALTH + "."
SETTING = "PORTAL_LIVE_ENVIRONMENTS"


@dataclass(frozen=True, slots=True)
class EnvLink:
    """A link of one environment: a dashboard, logs, alerts, on-call."""

    url: str
    title: str
    type: str


@dataclass(frozen=True, slots=True)
class Environment:
    """One environment of an entity: its URL, the health URL probed (if any) and its links."""

    name: str
    url: str
    health: str | None = None
    links: tuple[EnvLink, ...] = ()


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is not an http(s) URL the portal may call, or None when it is one."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"{value!r} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http(s) URL with a host (e.g. https://orders.example.com)"
    if port == 0:
        return f"{value!r} has port 0"
    if parts.username is not None or parts.password is not None:
        shown = value.replace(f":{parts.password}@", ":****@") if parts.password else value
        return f"{shown!r} holds credentials; the portal never sends credentials in a URL"
    if any(c.isspace() for c in value):
        return f"{value!r} contains white space"
    return None


def read_environments(
    entities: Iterable[Entity], report: Report, known: Sequence[str]
) -> dict[EntityRef, tuple[Environment, ...]]:
    """The environments each entity declares, in the order of ``known``; problems go to
    ``report``. Entities that declare none are left out."""
    found: dict[EntityRef, tuple[Environment, ...]] = {}
    for entity in entities:
        environments = _entity_environments(entity, report, known)
        if environments:
            found[entity.ref] = environments
    return found


def api_servers(
    entity: Entity,
    catalog: Catalog,
    environments: Mapping[EntityRef, Sequence[Environment]],
) -> tuple[Environment, ...]:
    """The servers of an API in each environment: its own declaration, else those of the
    components that provide it (first provider wins an environment)."""
    own = environments.get(entity.ref)
    if own:
        return tuple(own)
    merged: dict[str, Environment] = {}
    for provider in sorted(entity.related("apiProvidedBy")):
        for environment in environments.get(provider, ()):
            merged.setdefault(environment.name, environment)
    return tuple(merged.values())


def _entity_environments(
    entity: Entity, report: Report, known: Sequence[str]
) -> tuple[Environment, ...]:
    annotations = entity.annotations
    if not any(k.startswith((ENVIRONMENT_PREFIX, HEALTH)) for k in annotations) and not any(
        isinstance(link, Mapping) and "environment" in link
        for link in entity.metadata.get("links") or []
    ):
        return ()
    known_text = ", ".join(known) or "none"

    def where(key: str) -> tuple[str, ...]:
        return ("metadata", "annotations", key)

    def error(path: tuple[str | int, ...], message: str, *, key: bool = False) -> None:
        report.add(problem_at(entity.origin, path, message, key=key))

    urls: dict[str, str] = {}
    for key, value in annotations.items():
        if not key.startswith(ENVIRONMENT_PREFIX):
            continue
        name = key[len(ENVIRONMENT_PREFIX) :]
        if name not in known:
            error(
                where(key),
                f"{name!r} is not a known environment (known: {known_text}; setting {SETTING})",
                key=True,
            )
            continue
        problem = http_url_problem(value)
        if problem is not None:
            error(where(key), problem)
            continue
        urls[name] = value

    default_health = annotations.get(HEALTH)
    if default_health is not None and (problem := _health_problem(default_health)) is not None:
        error(where(HEALTH), problem)
        default_health = None
    health: dict[str, str] = {}
    for key, value in annotations.items():
        if not key.startswith(HEALTH_PREFIX):
            continue
        name = key[len(HEALTH_PREFIX) :]
        if name not in urls:
            declared = f"{ENVIRONMENT_PREFIX}{name}"
            error(
                where(key),
                f"environment {name!r} is not declared: add the annotation {declared} "
                "with its base URL"
                + ("" if name in known else f" ({name!r} is not a known one: {known_text})"),
                key=True,
            )
            continue
        if (problem := _health_problem(value)) is not None:
            error(where(key), problem)
            continue
        health[name] = value

    links: dict[str, list[EnvLink]] = {}
    for index, link in enumerate(entity.metadata.get("links") or []):
        if not isinstance(link, Mapping) or "environment" not in link:
            continue
        path = ("metadata", "links", index, "environment")
        name = link["environment"]
        if not isinstance(name, str) or name not in urls:
            shown = repr(name) if isinstance(name, str) else "not text"
            error(
                path,
                f"{shown} is not an environment this entity declares "
                f"(declared: {', '.join(urls) or 'none'}; declare one with "
                f"{ENVIRONMENT_PREFIX}<name>)",
            )
            continue
        url = link.get("url")
        if isinstance(url, str):
            title = link.get("title")
            kind = link.get("type")
            links.setdefault(name, []).append(
                EnvLink(
                    url,
                    title if isinstance(title, str) and title else url,
                    kind if isinstance(kind, str) else "",
                )
            )

    return tuple(
        Environment(
            name,
            urls[name],
            _health_url(urls[name], health.get(name, default_health)),
            tuple(links.get(name, ())),
        )
        for name in known
        if name in urls
    )


def _health_problem(value: str) -> str | None:
    if value.startswith("/"):
        return f"{value!r} contains white space" if any(c.isspace() for c in value) else None
    problem = http_url_problem(value)
    if problem is None:
        return None
    return f"{value!r} is neither a path (e.g. /healthz) nor an http(s) URL"


def _health_url(base: str, health: str | None) -> str | None:
    """The URL probed: a path is appended to the base URL (keeping the base's own path)."""
    if health is None:
        return None
    if not health.startswith("/"):
        return health
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{health}"
