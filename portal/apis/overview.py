"""What a page says about an API as a whole: its info, its servers per environment, its security."""

from __future__ import annotations

import re
from typing import Any

from portal.apis.markdown import address, cell, code, heading, inline, link, prose, table
from portal.apis.model import Pointer, Problems
from portal.apis.refs import Resolver
from portal.apis.values import as_dict, as_list, as_text

__all__ = ["expand_url", "info_lines", "security_section", "server_rows", "servers_section"]

_VARIABLE = re.compile(r"\{([^{}]+)\}")


def check_info(doc: dict[str, Any], problems: Problems) -> None:
    """OpenAPI and AsyncAPI both require an info mapping with a title and a version."""
    info = doc.get("info")
    if not isinstance(info, dict):
        problems.error(("info",), "no 'info' mapping (required: the API's title and version)")
    else:
        for key in ("title", "version"):
            if not as_text(info.get(key)):
                problems.error(("info",), f"info has no '{key}' (required)")


def info_lines(root: dict[str, Any], title: str, spec: str, fallback: str | None) -> list[str]:
    """The h1, version, description, contact, license and outside docs of a document."""
    info = as_dict(root.get("info"))
    lines = [f"# {inline(title)}", ""]
    version = as_text(info.get("version"))
    lines += [(f"**Version** {code(version)} · " if version else "") + inline(spec), ""]
    description = as_text(info.get("description")) or fallback or ""
    if description:
        lines += [*prose(description, 2), ""]
    facts = []
    contact = as_dict(info.get("contact"))
    parts = [inline(as_text(contact.get("name")))] if as_text(contact.get("name")) else []
    if as_text(contact.get("url")):
        parts.append(link(inline(as_text(contact["url"])), as_text(contact["url"])))
    if as_text(contact.get("email")):
        email = as_text(contact["email"])
        parts.append(link(inline(email), f"mailto:{email}"))
    if parts:
        facts.append("**Contact:** " + ", ".join(parts))
    licence = as_dict(info.get("license"))
    if as_text(licence.get("name")):
        name = inline(as_text(licence["name"]))
        url = as_text(licence.get("url"))
        facts.append("**License:** " + (link(name, url) if url else name))
    if as_text(info.get("termsOfService")):
        terms = as_text(info["termsOfService"])
        facts.append("**Terms of service:** " + link(inline(terms), terms))
    for docs in (as_dict(root.get("externalDocs")), as_dict(info.get("externalDocs"))):
        if as_text(docs.get("url")):
            label = inline(as_text(docs.get("description")) or as_text(docs["url"]))
            facts.append("**More documentation:** " + link(label, as_text(docs["url"])))
    if facts:
        lines += [f"- {fact}" for fact in facts] + [""]
    return lines


def expand_url(url: str, variables: Any, problems: Problems, pointer: Pointer) -> tuple[str, str]:
    """The URL with each ``{variable}`` replaced by its default, and the variables described."""
    found = variables if isinstance(variables, dict) else {}
    notes = []
    for name, raw in found.items():
        variable = raw if isinstance(raw, dict) else {}
        default = as_text(variable.get("default"))
        if "default" not in variable:
            problems.error(
                (*pointer, "variables", str(name)), f"server variable '{name}' has no default"
            )
        note = f"{code(str(name))} = {code(default)}" if default else code(str(name))
        enum = variable.get("enum")
        if isinstance(enum, list) and enum:
            note += " (one of " + ", ".join(code(as_text(value)) for value in enum) + ")"
        description = as_text(variable.get("description"))
        if description:
            note += f": {cell(description)}"
        notes.append(note)

    def substitute(match: re.Match[str]) -> str:
        variable = found.get(match.group(1))
        if isinstance(variable, dict) and as_text(variable.get("default")):
            return as_text(variable["default"])
        return match.group(0)

    return _VARIABLE.sub(substitute, url), "; ".join(notes)


def server_rows(servers: Any, problems: Problems, pointer: Pointer) -> list[list[str]]:
    """Rows of environment, URL and variables for an OpenAPI 3 ``servers`` list."""
    rows = []
    for index, server in enumerate(servers if isinstance(servers, list) else []):
        if not isinstance(server, dict):
            continue
        where = (*pointer, index)
        url, notes = expand_url(
            as_text(server.get("url")), server.get("variables"), problems, where
        )
        label = as_text(server.get("name")) or as_text(server.get("description"))
        fallback = "Default" if len(servers) == 1 else f"Server {index + 1}"
        rows.append([cell(label or fallback), address(url), notes])
    return rows


def servers_section(doc: dict[str, Any], version: str, problems: Problems) -> list[str]:
    """The servers of each environment: OpenAPI 3 ``servers``, or Swagger 2.0 host and base path."""
    if version == "2.0":
        host, base = as_text(doc.get("host")), as_text(doc.get("basePath")) or "/"
        if not host and "basePath" not in doc:
            return []
        schemes = [as_text(s) for s in as_list(doc.get("schemes")) if as_text(s)]
        rows = []
        for scheme in schemes or [""]:
            url = f"{scheme}://{host}{base}" if scheme and host else f"//{host}{base}"
            label = f"Default ({scheme})" if len(schemes) > 1 else "Default"
            rows.append([label, address(url if host else base), ""])
    else:
        rows = server_rows(doc.get("servers"), problems, ("servers",))
    if not rows:
        return []
    headers = ["Environment", "URL", "Variables"]
    if not any(row[2] for row in rows):
        headers, rows = headers[:2], [row[:2] for row in rows]
    return [heading(2, "Servers", "servers"), "", *table(headers, rows), ""]


def _flows(scheme: dict[str, Any]) -> list[str]:
    flows = scheme.get("flows")
    if not isinstance(flows, dict):  # Swagger 2.0 describes one flow inline
        if "flow" not in scheme:
            return []
        flows = {as_text(scheme.get("flow")): scheme}
    lines = []
    for name, raw in flows.items():
        flow = raw if isinstance(raw, dict) else {}
        facts = [f"Flow {code(str(name))}"]
        for key, label in (
            ("authorizationUrl", "authorization URL"),
            ("tokenUrl", "token URL"),
            ("refreshUrl", "refresh URL"),
            ("deviceAuthorizationUrl", "device authorization URL"),
        ):
            url = as_text(flow.get(key))
            if url:
                facts.append(f"{label} {address(url)}")
        lines += [" · ".join(facts), ""]
        scopes = flow.get("scopes") or flow.get("availableScopes")
        if isinstance(scopes, dict) and scopes:
            rows = [[code(str(k)), cell(as_text(v))] for k, v in scopes.items()]
            lines += [*table(["Scope", "Description"], rows), ""]
    return lines


_FIELDS = (
    ("scheme", "Scheme"),
    ("bearerFormat", "Bearer format"),
    ("in", "In"),
    ("name", "Name"),
    ("openIdConnectUrl", "OpenID Connect URL"),
    ("oauth2MetadataUrl", "OAuth 2 metadata URL"),
)


def security_section(
    schemes: dict[str, Any],
    anchors: dict[str, str],
    resolver: Resolver,
    requirement: str | None = None,
) -> list[str]:
    """One h3 per security scheme; ``requirement`` says what applies to every operation."""
    if not schemes and requirement is None:
        return []
    lines = [heading(2, "Authentication", "authentication"), ""]
    if requirement is not None:
        lines += [f"Unless an operation says otherwise, it needs: {requirement}", ""]
    for name, raw in schemes.items():
        scheme = resolver.get(raw)
        scheme = scheme if isinstance(scheme, dict) else {}
        lines += [heading(3, inline(str(name)), anchors[str(name)]), ""]
        description = as_text(scheme.get("description"))
        if description:
            lines += [*prose(description, 4), ""]
        facts = [f"Type: {code(as_text(scheme.get('type')) or '?')}"]
        for key, label in _FIELDS:
            value = as_text(scheme.get(key))
            if value:
                facts.append(f"{label}: {address(value) if key.endswith('Url') else code(value)}")
        if scheme.get("deprecated") is True:
            facts.append("*deprecated*")
        lines += [" · ".join(facts), "", *_flows(scheme)]
    return lines
