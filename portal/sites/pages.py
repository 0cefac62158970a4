"""Markdown for the generated pages of an audience: home, catalog, entities and API wrappers."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from portal.catalog import Entity, EntityRef
from portal.live.environments import api_servers
from portal.sites import urls

if TYPE_CHECKING:
    from portal.sites.stage import AudiencePlan

__all__ = [
    "API_REFERENCE",
    "CATALOG",
    "KIND_TITLES",
    "api_index",
    "api_page",
    "catalog_index",
    "cell",
    "entity_page",
    "front_matter",
    "home_page",
    "kind_page",
]

CATALOG = "Catalog"  # the title of the catalog index page and of its section
API_REFERENCE = "API reference"  # the same for the API index

KIND_TITLES = {
    "domain": "Domains",
    "system": "Systems",
    "component": "Components",
    "api": "APIs",
    "resource": "Resources",
    "group": "Groups",
    "user": "Users",
    "location": "Locations",
}

RELATION_TITLES = {
    "ownedBy": "Owned by",
    "ownerOf": "Owns",
    "partOf": "Part of",
    "hasPart": "Has parts",
    "dependsOn": "Depends on",
    "dependencyOf": "Dependency of",
    "providesApi": "Provides APIs",
    "apiProvidedBy": "API provided by",
    "consumesApi": "Consumes APIs",
    "apiConsumedBy": "API consumed by",
    "memberOf": "Member of",
    "hasMember": "Members",
    "childOf": "Child of",
    "parentOf": "Parent of",
}


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def front_matter(title: str, description: str = "", **extra: str) -> str:
    import json

    lines = ["---", f"title: {json.dumps(title)}"]
    if description:
        lines.append(f"description: {json.dumps(description)}")
    lines.extend(f"{key}: {json.dumps(value)}" for key, value in extra.items())
    return "\n".join(lines) + "\n---\n\n"


def kind_title(kind: str) -> str:
    return KIND_TITLES.get(kind, kind.capitalize() + "s")


def home_page(plan: AudiencePlan) -> str:
    audience = plan.audience
    out = [front_matter(audience.title, audience.description), f"# {audience.title}\n"]
    if audience.description:
        out.append(f"{audience.description}\n")
    onboarding = [p for p in plan.ordered_pages() if p.path.startswith("onboarding/")]
    if onboarding:
        out.append("## Start here\n")
        out.extend(
            f"{n}. [{p.nav_title}]({p.path}){': ' + p.description if p.description else ''}"
            for n, p in enumerate(onboarding, start=1)
        )
        out.append("")
    for section, pages in plan.sections():
        if section == "onboarding" and onboarding:
            continue
        out.append(f"## {plan.section_title(section)}\n")
        out.extend(
            f"- [{p.nav_title}]({p.path}){' — ' + p.description if p.description else ''}"
            for p in pages
        )
        out.append("")
    if plan.entities:
        out.append("## Catalog\n")
        counts = plan.kind_counts()
        out.append(
            ", ".join(f"[{n} {kind_title(k).lower()}](catalog/kinds/{k}.md)" for k, n in counts)
            + ".\n"
        )
    if plan.apis:
        out.append("## API reference\n")
        out.append(f"[{len(plan.apis)} APIs](apis/index.md) with their operations and schemas.\n")
    return "\n".join(out)


def catalog_index(plan: AudiencePlan) -> str:
    out = [front_matter(CATALOG, "Every entity in this audience, by kind."), f"# {CATALOG}\n"]
    out.append("| Kind | Entities |\n|---|---|")
    out.extend(
        f"| [{kind_title(kind)}](kinds/{kind}.md) | {count} |" for kind, count in plan.kind_counts()
    )
    owners: dict[EntityRef, int] = defaultdict(int)
    for entity in plan.entities.values() if not plan.audience.public else ():
        for owner in entity.related("ownedBy"):
            owners[owner] += 1
    if owners:
        out.append("\n## By owner\n")
        out.append("| Owner | Owns |\n|---|---|")
        out.extend(
            f"| {plan.entity_link(owner, 'catalog/index.md')} | {count} |"
            for owner, count in sorted(owners.items())
        )
    return "\n".join(out) + "\n"


def kind_page(plan: AudiencePlan, kind: str) -> str:
    path = f"catalog/kinds/{kind}.md"
    title = kind_title(kind)
    out = [front_matter(title, f"{title} in the catalog."), f"# {title}\n"]
    out.append(
        "| Name | Description | Owner | Type | Lifecycle | System |\n|---|---|---|---|---|---|"
    )
    for entity in sorted(plan.entities.values(), key=lambda e: e.ref):
        if entity.ref.kind != kind:
            continue
        owner = ", ".join(plan.entity_link(r, path) for r in entity.related("ownedBy"))
        system = ", ".join(
            plan.entity_link(r, path) for r in entity.related("partOf") if r.kind == "system"
        )
        out.append(
            f"| {plan.entity_link(entity.ref, path, entity.title)} | {cell(entity.description)} "
            f"| {owner} | {cell(entity.spec.get('type', ''))} "
            f"| {cell(entity.spec.get('lifecycle', ''))} | {system} |"
        )
    return "\n".join(out) + "\n"


def entity_page(plan: AudiencePlan, entity: Entity) -> str:
    path = urls.entity_page(entity.ref)
    public = plan.audience.public
    kind = entity.kind
    type_ = entity.spec.get("type")
    out = [front_matter(entity.title, entity.description), f"# {cell(entity.title)}\n"]
    if entity.description:
        out.append(f"{entity.description}\n")
    facts = [("Kind", f"{kind}" + (f" ({cell(type_)})" if type_ else ""))]
    for label, relation, wanted in (
        ("Owner", "ownedBy", None),
        ("System", "partOf", "system"),
        ("Domain", "partOf", "domain"),
    ):
        refs = [r for r in entity.related(relation) if wanted is None or r.kind == wanted]
        links = [plan.entity_link(r, path) for r in refs]
        links = [link for link in links if link]
        if links:
            facts.append((label, ", ".join(links)))
    if entity.spec.get("lifecycle"):
        facts.append(("Lifecycle", cell(entity.spec["lifecycle"])))
    if entity.ref.namespace != "default":
        facts.append(("Namespace", entity.ref.namespace))
    if entity.tags:
        facts.append(("Tags", " ".join(f"`{t}`" for t in entity.tags)))
    if not public:
        facts.append(("Reference", f"`{entity.ref}`"))
    out.append("| | |\n|---|---|")
    out.extend(f"| {label} | {value} |" for label, value in facts)
    out.append("")

    reference = plan.apis.get(entity.ref)
    if reference is not None:
        out.append("## API reference\n")
        count = len(reference.operations)
        out.append(
            f"[{cell(reference.title)}]({urls.relative_link(path, urls.api_page(entity.ref))})"
            f" — {reference.format}, {count} operation{'s' * (count != 1)}.\n"
        )
    docs = plan.entity_docs.get(entity.ref)
    if docs:
        out.append("## Documentation\n")
        base = urls.entity_docs_dir(entity.ref)
        out.extend(
            f"- [{page.nav_title}]({urls.relative_link(path, f'{base}/{page.path}')})"
            for page in sorted(docs.pages.values(), key=lambda p: (p.path.count("/"), p.path))
        )
        out.append("")
    python_package = entity.annotations.get("portal.quantum.dev/python-package")
    if python_package and not public:
        out.append("## Python reference\n")
        out.append(
            f"[`{python_package}` API]({urls.relative_link(path, plan.python_page(entity))})\n"
        )

    if not public:
        outbound: list[dict[str, str]] = [
            link for link in entity.metadata.get("links") or [] if isinstance(link, dict)
        ]
        if outbound:
            out.append("## Links\n")
            out.extend(
                f"- [{cell(link.get('title') or link['url'])}]({link['url']})"
                + (f" ({cell(link['type'])})" if link.get("type") else "")
                for link in outbound
            )
            out.append("")
        relations = _relations_table(plan, entity, path)
        if relations:
            out.append("## Relations\n")
            out.extend(relations)
            out.append("")
        if entity.annotations:
            out.append("## Annotations\n")
            out.append("| Annotation | Value |\n|---|---|")
            out.extend(
                f"| `{cell(k)}` | {cell(v)} |" for k, v in sorted(entity.annotations.items())
            )
            out.append("")
        out.append(f"Defined in `{entity.origin.describe()}`.\n")
    return "\n".join(out)


def _relations_table(plan: AudiencePlan, entity: Entity, path: str) -> list[str]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for relation in entity.relations:
        link = plan.entity_link(relation.target, path)
        if link:
            grouped[relation.type].append(link)
    if not grouped:
        return []
    rows = ["| Relation | Entities |\n|---|---|"]
    rows.extend(
        f"| {RELATION_TITLES.get(kind, kind)} | {', '.join(links)} |"
        for kind, links in sorted(grouped.items())
    )
    return rows


def api_index(plan: AudiencePlan) -> str:
    out = [front_matter(API_REFERENCE, "Every API in this audience."), f"# {API_REFERENCE}\n"]
    out.append("| API | Format | Operations | Lifecycle |\n|---|---|---|---|")
    for ref, reference in sorted(plan.apis.items()):
        entity = plan.entities[ref]
        link = urls.relative_link("apis/index.md", urls.api_page(ref))
        out.append(
            f"| [{cell(entity.title)}]({link}) | {reference.format} | {len(reference.operations)} "
            f"| {cell(entity.spec.get('lifecycle', ''))} |"
        )
    return "\n".join(out) + "\n"


def api_page(plan: AudiencePlan, entity: Entity) -> str:
    reference = plan.apis[entity.ref]
    path = urls.api_page(entity.ref)
    back = urls.relative_link(path, urls.entity_page(entity.ref))
    note = f"\n\n[About this API in the catalog]({back})\n"
    body = reference.markdown
    # The reference starts with its h1; the catalog link goes right under it.
    first, _, rest = body.partition("\n")
    return (
        front_matter(reference.title, entity.description)
        + first
        + note
        + _live(plan, entity)
        + rest
    )


def _live(plan: AudiencePlan, entity: Entity) -> str:
    """Each environment's server URL, linked (portal.live); the public audience sees only
    PORTAL_LIVE_PUBLIC_ENVIRONMENTS, and only internal ones get the portal's try-it link."""
    model = plan.model
    servers = api_servers(entity, model.catalog, model.environments)
    if plan.audience.public:
        shown = model.settings.live_public_environments
        servers = tuple(s for s in servers if s.name in shown)
    if not servers:
        return ""
    out = ["\n## Live servers\n", "| Environment | Server |", "|---|---|"]
    out.extend(f"| {cell(s.name)} | [{cell(s.url)}]({s.url}) |" for s in servers)
    if not plan.audience.public:
        base = plan.base_url.rstrip("/")
        ref = entity.ref
        out.append(
            f"\n[Try it]({base}/catalog/{ref.kind}/{ref.namespace}/{ref.name}/try): send a "
            "request to one of these servers from the portal (allow-listed hosts only)."
        )
    return "\n".join(out) + "\n"
