"""The build's parsed model turned into search documents: page sections, entities, operations.

Every document has a stable id and a digest of its content, so a rebuild can
compare them with what an index holds and re-index only what changed
(:func:`changes`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from portal.catalog.loader import collector_paused
from portal.sites import urls

if TYPE_CHECKING:
    from portal.apis import ApiReference
    from portal.catalog import Entity, EntityRef
    from portal.docs import DocPage
    from portal.model import Model

__all__ = [
    "HEADING_SEPARATOR",
    "DocType",
    "SearchDoc",
    "SectionCache",
    "changes",
    "documents",
    "plain_text",
]

DocType = Literal["page", "entity", "operation"]

HEADING_SEPARATOR = " \u203a "


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """One searchable unit, and everything a result or a filter needs from it.

    ``kind`` is ``page`` for sections, the entity's kind for entities and
    ``operation`` for API operations. ``path`` and ``anchor`` locate the hit in
    an audience site (a source path as the sites stage it); ``ref`` is the
    entity, or for operations the API entity.
    """

    id: str
    type: DocType
    kind: str
    title: str
    heading: str  # the section's own heading, an entity's name, an operation's "GET /path"
    heading_path: tuple[str, ...]
    text: str
    path: str
    anchor: str = ""
    ref: str = ""
    audiences: tuple[str, ...] = ()
    owner: str = ""
    tags: tuple[str, ...] = ()
    keywords: str = ""  # other searchable words: an entity's type and system, an operation id
    context: str = ""  # what surrounds it: its page's description and tags, its API's title
    reviewed: str = ""  # ISO date
    boost: float = 1.0
    details: tuple[tuple[str, str], ...] = ()
    # Changes whenever anything indexed about the document changes.
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(repr(self).encode()).hexdigest()[:32])

    @property
    def breadcrumb(self) -> str:
        return HEADING_SEPARATOR.join(self.heading_path)


class SectionCache:
    """Page sections remembered by what they are made of, across calls of :func:`documents`.

    Splitting pages into sections is most of the work of turning a model into
    documents; with a cache, re-deriving them after a one-page edit splits that
    page alone. It keeps what the last complete call used, so a deleted page is
    forgotten one call later. For one caller at a time (the portal's index worker).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[object, ...], tuple[SearchDoc, ...]] = {}
        self._used: dict[tuple[object, ...], tuple[SearchDoc, ...]] = {}
        self.hits = 0
        self.misses = 0

    def sections(
        self, page: DocPage, audiences: tuple[str, ...], prefix: str
    ) -> Iterable[SearchDoc]:
        if not page.digest:  # not read from a file: nothing to know it by
            return page_sections(page, audiences=audiences, prefix=prefix)
        # Everything page_sections reads: the file's digest covers the body and headings.
        key = (
            prefix + page.path,
            audiences,
            page.digest,
            page.title,
            page.description,
            str(page.owner or ""),
            page.tags,
            page.reviewed,
            page.boost,
        )
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            found = tuple(page_sections(page, audiences=audiences, prefix=prefix))
        else:
            self.hits += 1
        self._used[key] = found
        return found

    def finish(self) -> None:
        """A call went through every page: keep what it used, forget the rest."""
        self._entries, self._used = self._used, {}


def documents(model: Model, cache: SectionCache | None = None) -> list[SearchDoc]:
    """Every page section, entity and API operation of ``model``, in a stable order.

    ``cache``: re-use the sections of pages that have not changed since its last use.
    Made with the cyclic collector paused: tens of thousands of new documents would
    otherwise set off full collections that walk the whole model, several times the
    work of making them.
    """
    with collector_paused():
        return list(_documents(model, cache))


def _documents(model: Model, cache: SectionCache | None) -> Iterator[SearchDoc]:

    def sections(page: DocPage, names: tuple[str, ...], prefix: str = "") -> Iterable[SearchDoc]:
        if cache is None:
            return page_sections(page, audiences=names, prefix=prefix)
        return cache.sections(page, names, prefix)

    audiences = list(model.site.audiences.values()) if model.site else []
    for page in model.docs:
        names = tuple(a.name for a in audiences if a.includes_page(page))
        yield from sections(page, names)
    entity_audiences: dict[EntityRef, tuple[str, ...]] = {}
    for entity in model.catalog:
        names = tuple(a.name for a in audiences if a.includes_entity(entity))
        entity_audiences[entity.ref] = names
        yield entity_document(entity, names)
        docs = model.entity_docs.get(entity.ref)
        if docs is not None:
            prefix = urls.entity_docs_dir(entity.ref) + "/"
            for page in docs:
                yield from sections(page, names, prefix)
    for ref, reference in model.apis.items():
        api = model.catalog.get(ref)
        if api is not None:
            yield from operation_documents(api, reference, entity_audiences.get(ref, ()))
    if cache is not None:
        cache.finish()


def changes(
    indexed: Mapping[str, str], docs: Iterable[SearchDoc]
) -> tuple[list[str], list[SearchDoc]]:
    """What to remove from and (re)add to an index holding ``indexed`` (id -> digest)."""
    changed: list[SearchDoc] = []
    seen: set[str] = set()
    for doc in docs:
        seen.add(doc.id)
        if indexed.get(doc.id) != doc.digest:
            changed.append(doc)
    return sorted(set(indexed) - seen), changed


def page_sections(
    page: DocPage, *, audiences: tuple[str, ...], prefix: str = ""
) -> Iterator[SearchDoc]:
    """One document per heading section; text before the first heading joins the top one."""
    lines = page.body.splitlines()
    path = prefix + page.path
    starts = [h.line for h in page.headings] + [len(lines) + 1]
    common = {
        "type": "page",
        "kind": "page",
        "title": page.title,
        "path": path,
        "audiences": audiences,
        "owner": str(page.owner) if page.owner else "",
        "tags": page.tags,
        "reviewed": page.reviewed.isoformat() if page.reviewed else "",
        "boost": page.boost,
        "context": " ".join([page.description, *page.tags]),
    }
    first = page.headings[0].line if page.headings else len(lines) + 1
    top_text = "\n".join([page.description, *lines[: first - 1]])
    trail: list[tuple[int, str]] = []  # (level, heading) above the current section
    emitted_top = False
    for index, heading in enumerate(page.headings):
        text = "\n".join(lines[heading.line : starts[index + 1] - 1])
        title = inline_text(heading.text)
        if heading.level == 1 and not emitted_top:
            emitted_top = True
            yield SearchDoc(
                id=f"page:{path}",
                heading=page.title,
                heading_path=(page.title,),
                text=plain_text(top_text + "\n" + text),
                **common,  # type: ignore[arg-type]
            )
            continue
        if not emitted_top:
            emitted_top = True
            yield SearchDoc(
                id=f"page:{path}",
                heading=page.title,
                heading_path=(page.title,),
                text=plain_text(top_text),
                **common,  # type: ignore[arg-type]
            )
        while trail and trail[-1][0] >= heading.level:
            trail.pop()
        trail.append((heading.level, title))
        yield SearchDoc(
            id=f"page:{path}#{heading.anchor}",
            heading=title,
            heading_path=(page.title, *(t for level, t in trail if level > 1)),
            text=plain_text(text),
            anchor=heading.anchor,
            **common,  # type: ignore[arg-type]
        )
    if not emitted_top:
        yield SearchDoc(
            id=f"page:{path}",
            heading=page.title,
            heading_path=(page.title,),
            text=plain_text(top_text),
            **common,  # type: ignore[arg-type]
        )


def entity_document(entity: Entity, audiences: tuple[str, ...]) -> SearchDoc:
    owner = entity.related("ownedBy")
    system = entity.related("partOf")
    spec_type = str(entity.spec.get("type") or "")
    lifecycle = str(entity.spec.get("lifecycle") or "")
    details = [("type", spec_type), ("lifecycle", lifecycle)]
    details += [("system", str(ref)) for ref in system]
    keywords = [entity.name, entity.ref.kind, spec_type, lifecycle]
    keywords += [ref.name for ref in (*owner, *system)]
    return SearchDoc(
        id=f"entity:{entity.ref}",
        type="entity",
        kind=entity.ref.kind,
        title=entity.title,
        heading=entity.name,
        heading_path=(entity.title,),
        text=entity.description,
        path=urls.entity_page(entity.ref),
        ref=str(entity.ref),
        audiences=audiences,
        owner=str(owner[0]) if owner else "",
        tags=tuple(entity.tags),
        keywords=" ".join(k for k in keywords if k),
        details=tuple((k, v) for k, v in details if v),
    )


def operation_documents(
    api: Entity, reference: ApiReference, audiences: tuple[str, ...]
) -> Iterator[SearchDoc]:
    owner = api.related("ownedBy")
    for op in reference.operations:
        signature = f"{op.method.upper()} {op.path}".strip()
        keywords = [op.tag, op.operation_id or "", api.name, _split_identifier(op.operation_id)]
        yield SearchDoc(
            id=f"op:{api.ref}#{op.anchor}",
            type="operation",
            kind="operation",
            title=op.summary or signature,
            heading=signature,
            heading_path=tuple(p for p in (reference.title, op.tag, op.summary or signature) if p),
            text=plain_text(op.description),
            path=urls.api_page(api.ref),
            anchor=op.anchor,
            ref=str(api.ref),
            audiences=audiences,
            owner=str(owner[0]) if owner else "",
            tags=tuple(api.tags),
            keywords=" ".join(k for k in keywords if k),
            context=" ".join([reference.title, api.description]),
            details=(("method", op.method.upper()), ("path", op.path), ("api", reference.title)),
        )


def _split_identifier(identifier: str | None) -> str:
    """``listProjects`` -> ``list Projects``, so its words are found."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", identifier or "")


# --- Markdown to plain text -------------------------------------------------------------

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ADMONITION = re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s*[\w-]+(?:\s+[\w-]+)*\s*(?:\"([^\"]*)\")?\s*$")
_TAB = re.compile(r"^\s*===\+?\s*\"([^\"]*)\"\s*$")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_ATTRS = re.compile(r"\{\s*[#.:][^}]*\}")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_SPACES = re.compile(r"[ \t]+")


def inline_text(text: str) -> str:
    """Markdown text without its inline markup: links become their text, code its content."""
    if "[" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub(r"\1", text))
    if "{" in text:
        text = _ATTRS.sub("", text)
    if "<" in text:
        text = _TAG.sub("", text)
    if "*" in text or "_" in text or "~" in text:
        text = _UNDERSCORE_EMPHASIS.sub(r"\1", _EMPHASIS.sub(r"\2", text))
    text = text.replace("`", "")
    return _SPACES.sub(" ", text).strip()


def plain_text(markdown: str) -> str:
    """The words of a Markdown fragment: markup dropped, code blocks kept as text."""
    out: list[str] = []
    prose: list[str] = []  # inline markup is removed a run of lines at a time

    def flush() -> None:
        if prose:
            lines = inline_text("\n".join(prose)).split("\n")
            out.extend(line.strip() for line in lines if line.strip())
            prose.clear()

    fence: str | None = None
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            elif line.strip():
                out.append(line.strip())
            continue
        if match:
            flush()
            fence = match.group(1)
            continue
        if _REF_DEF.match(line) or _TABLE_RULE.match(line):
            continue
        special = _ADMONITION.match(line) or _TAB.match(line)
        if special:
            if special.group(1):
                prose.append(special.group(1))
            continue
        line = _QUOTE.sub("", line)
        line = _LIST_MARK.sub("", line)
        prose.append(line.lstrip("#").replace("|", " ").strip())
    flush()
    return "\n".join(out)
