"""The catalog browser's query engine: filters, free text, facet counts and cursor pages.

:class:`CatalogIndex` indexes one :class:`Catalog` in memory and answers :class:`Query`
objects (the catalog page and ``GET /api/v1/entities``) with a :class:`Page`. The index
never changes after it is built; the portal builds a new one when the catalog changes.

What a query means:

- Values of one facet are OR'ed, facets are AND'ed. ``kind``, ``type``, ``lifecycle`` and
  ``tag`` compare case-insensitively (as Backstage's filters do); ``owner`` and ``system``
  are entity refs, compared canonically, so ``team-a``, ``group:team-a`` and
  ``group:default/team-a`` select the same owner.
- Facet counts are disjunctive: a facet's counts apply every filter but its own, so the
  reader sees the alternatives. Per facet, the :data:`FACET_VALUES` values with most
  matches are returned, by count then label, plus every selected value, even at 0.
- Free text: every whitespace-separated word must match, and a word matches an entity
  when one of its tokens starts with it. Tokens are the alphanumeric runs of the name,
  title, description, tags, kind, type and owner and system names; the name, tags and
  owner and system names also count whole, so a word with punctuation (``payments-api``,
  ``jane.doe``) finds them as typed. When no entity has such a whole token, the word's
  alphanumeric runs must each match instead (``orders-service`` finds "Orders Service").
- Sorts: ``name`` is metadata.name across kinds (``kind`` groups kinds, then sorts by
  namespace and name); ``title`` falls back to the name; ``owner`` and ``system`` sort by
  their labels (the short ref). Text sorts ignore case; ties go to the canonical ref.
  Entities without the value come after all others ascending (like SQL's NULLs);
  ``desc`` is exactly the reverse of ``asc``.
- Cursors hold the sort key of the page's edge item, not an offset, so pages stay put
  when entities come or go between requests. ``next_cursor`` reads on after the last
  item, ``prev_cursor`` reads back from the first (a shortened first page is filled up).

How it stays fast at 50,000 entities: each entity gets an integer id, in ``name`` order,
and every set of entities is a Python int used as a bitset (``&``, ``|`` and
``bit_count`` run in C over a few kilobytes). Filter values and frequent tokens have their
bitsets ready; each sort's order is computed once, so a page is read by walking that
order from the cursor, skipping blocks of it with no match; facets with many values
(owners, systems) are counted in one C pass over the matches, and remembered by the set
they were counted over, so paging through one filter counts them once.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import json
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, compress, islice
from typing import Any, Literal, cast

from portal.catalog.model import Catalog, Entity
from portal.catalog.refs import EntityRef, RefError, parse_ref
from portal.catalog.validate import show
from portal.exceptions import PortalError

__all__ = [
    "FACETS",
    "FACET_VALUES",
    "MAX_LIMIT",
    "SORTS",
    "CatalogIndex",
    "FacetValue",
    "Page",
    "Query",
    "QueryError",
]

FACETS = ("kind", "type", "owner", "lifecycle", "system", "tag")
SORTS = ("name", "title", "kind", "type", "owner", "lifecycle", "system")
ORDERS = ("asc", "desc")
MAX_LIMIT = 200
MAX_TEXT = 200
FACET_VALUES = 50  # values returned per facet, besides the selected ones

Order = Literal["asc", "desc"]

# The facets whose values are entity refs, with the kind a short ref means.
_REF_FACETS = {"owner": "group", "system": "system"}
_REF_EXAMPLES = {"owner": "team-a or group:default/team-a", "system": "payments or system:payments"}


class QueryError(PortalError, ValueError):
    """A query that cannot run: ``field`` names the parameter, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Query:
    """What to find and which page to show; checked and made canonical when built.

    Facet values are stored deduplicated, sorted and canonical (kinds lowercase, refs in
    full), so two queries that mean the same compare equal. Raises :class:`QueryError`.
    """

    kind: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()
    lifecycle: tuple[str, ...] = ()
    system: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    text: str = ""
    sort: str = "name"
    order: Order = "asc"
    limit: int = 25
    cursor: str | None = None

    def __post_init__(self) -> None:
        for facet in FACETS:
            object.__setattr__(self, facet, _canonical_values(facet, getattr(self, facet)))
        if not isinstance(self.text, str) or len(self.text) > MAX_TEXT:
            raise QueryError("text", f"expected text of at most {MAX_TEXT} characters")
        if self.sort not in SORTS:
            raise QueryError(
                "sort", f"{show(self.sort)} is not a sort; expected one of {_or(SORTS)}"
            )
        if self.order not in ORDERS:
            raise QueryError("order", f"{show(self.order)} is not an order; expected asc or desc")
        limit = self.limit
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise QueryError(
                "limit", f"expected a whole number from 1 to {MAX_LIMIT}, got {show(limit)}"
            )
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError("limit", f"{limit} is out of range; expected 1 to {MAX_LIMIT}")
        if self.cursor is not None:
            _Cursor.decode(self.cursor).check(self)

    def selected(self, facet: str) -> tuple[str, ...]:
        """The canonical values selected for ``facet``."""
        return cast(tuple[str, ...], getattr(self, facet))


@dataclass(frozen=True, slots=True)
class FacetValue:
    """One value of a facet: its canonical ``value`` (for links), ``label`` and count."""

    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True, slots=True)
class Page:
    """One page of matches, how many match in all, the facets and the neighbouring pages."""

    items: list[Entity]
    total: int
    facets: dict[str, list[FacetValue]]
    next_cursor: str | None
    prev_cursor: str | None


class CatalogIndex:
    """An immutable, in-memory index of one catalog for :meth:`search`."""

    def __init__(self, catalog: Catalog) -> None:
        # Building makes many small objects and no cycles worth collecting; pausing the
        # cyclic collector saves it from scanning the whole catalog again and again (3x).
        collecting = gc.isenabled()
        gc.disable()
        try:
            entities = sorted(catalog, key=lambda e: (e.ref.name, str(e.ref)))
            size = len(entities)
            self._entities = entities
            self._size = size
            self._all = (1 << size) - 1
            ids = list(range(size))  # shared by every list of ids: one int object per id
            facts, postings = [], defaultdict[str, list[int]](list)
            for entity_id, entity in zip(ids, entities, strict=True):
                fact, tokens = _Facts.of(entity)
                facts.append(fact)
                for token in tokens:
                    postings[token].append(entity_id)
            self._tokens, self._postings = _inverted_index(postings, size)
            refs = [str(e.ref) for e in entities]
            self._facets = {name: _Facet.build(name, facts, size) for name in FACETS}
            self._sorts = {
                name: _Sorted.build(name, self._sort_values(name, facts), refs, ids)
                for name in SORTS
            }
        finally:
            if collecting:
                gc.enable()
        # Ready for the first page anyone sees, and the first letter anyone types.
        self._top_all = {name: self._top_values(name, self._all, size) for name in FACETS}
        initials = {token[0] for token in self._tokens}
        self._initials = {initial: self._union(initial) for initial in initials}
        # Memos of pure functions of the (immutable) index; lru_cache is thread-safe.
        self._word: Callable[[str], int] = lru_cache(maxsize=1024)(self._word_bits)
        self._top_of: Callable[[str, int, int], tuple[FacetValue, ...]]
        self._top_of = lru_cache(maxsize=512)(self._top_values)

    def _sort_values(self, name: str, facts: list[_Facts]) -> list[str | None]:
        if name in ("name", "title"):
            return [fact.name if name == "name" else fact.title for fact in facts]
        labels = self._facets[name].sort_labels
        return [None if code is None else labels[code] for code in self._facets[name].of]

    def __len__(self) -> int:
        return self._size

    @staticmethod
    def parse_query(params: Mapping[str, str | Sequence[str]]) -> Query:
        """The query that URL parameters ask for; raises :class:`QueryError` naming one.

        Facets may repeat (``?kind=api&kind=component``); ``q`` (or ``text``), ``sort``,
        ``order``, ``limit`` and ``cursor`` may not. Empty values count as absent, as
        browsers send them for blank form fields; other parameters are not ours and are
        ignored.
        """

        def values(name: str) -> list[str]:
            raw = params.get(name)
            items = [] if raw is None else [raw] if isinstance(raw, str) else list(raw)
            return [item for item in items if item != ""]

        def single(*names: str) -> str | None:
            given = [(name, value) for name in names for value in values(name)]
            if len(given) > 1:
                raise QueryError(given[1][0], f"is given {len(given)} times; give it once")
            return given[0][1] if given else None

        limit, limit_text = 25, single("limit")
        if limit_text is not None:
            if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) < 10):
                raise QueryError(
                    "limit", f"{show(limit_text)} is not a whole number from 1 to {MAX_LIMIT}"
                )
            limit = int(limit_text)
        return Query(
            **{facet: tuple(values(facet)) for facet in FACETS},
            text=single("q", "text") or "",
            sort=single("sort") or "name",
            order=cast(Order, single("order") or "asc"),
            limit=limit,
            cursor=single("cursor"),
        )

    def search(self, query: Query) -> Page:
        """The page of entities that ``query`` asks for, with the total and every facet."""
        text = self._text(query.text)
        filters = {
            name: self._filter(name, values) for name in FACETS if (values := query.selected(name))
        }
        result = text
        for bits in filters.values():
            result &= bits
        total = result.bit_count()
        facets: dict[str, list[FacetValue]] = {}
        for name in FACETS:
            base, count = result, total
            if name in filters:  # disjunctive: every filter but the facet's own
                base = text
                for other, bits in filters.items():
                    if other != name:
                        base &= bits
                count = base.bit_count()
            facets[name] = self._facet_values(name, base, count, query.selected(name))
        walk = _Walk(self._sorts[query.sort], result, total, query.limit)
        cursor = _Cursor.decode(query.cursor) if query.cursor is not None else None
        items, next_cursor, prev_cursor = walk.page(query, cursor)
        return Page([self._entities[i] for i in items], total, facets, next_cursor, prev_cursor)

    # -- sets of entities --------------------------------------------------

    def _filter(self, name: str, values: Iterable[str]) -> int:
        facet, result = self._facets[name], 0
        for value in values:
            result |= facet.bits_of(value)
        return result

    def _text(self, text: str) -> int:
        result = self._all
        for word in text.casefold().split():
            result &= self._word(word)
            if not result:
                break
        return result

    def _word_bits(self, word: str) -> int:
        whole = self._prefix(word)
        if whole or _WORD.fullmatch(word):
            return whole
        parts = _WORD.findall(word)
        result = self._all  # punctuation alone ('&', '-') asks for nothing
        for part in parts:
            result &= self._prefix(part)
        return result

    def _prefix(self, prefix: str) -> int:
        """Entities with a token that starts with ``prefix``."""
        return self._initials.get(prefix, 0) if len(prefix) == 1 else self._union(prefix)

    def _union(self, prefix: str) -> int:
        tokens = self._tokens
        low = bisect_left(tokens, prefix)
        # No token holds U+10FFFF (a non-character), so this bounds the prefix's range.
        high = bisect_left(tokens, prefix + "\U0010ffff", low)
        dense, sparse = 0, list[int]()
        for posting in self._postings[low:high]:
            if isinstance(posting, int):
                dense |= posting
            else:
                sparse.extend(posting)
        return dense | _bits(sparse, self._size) if sparse else dense

    # -- facets ------------------------------------------------------------

    def _facet_values(
        self, name: str, base: int, count: int, selected: tuple[str, ...]
    ) -> list[FacetValue]:
        top = self._top(name, base, count)
        if not selected:
            return list(top)
        facet = self._facets[name]
        values = [
            FacetValue(v.value, v.label, v.count, True) if v.value in selected else v for v in top
        ]
        listed = {v.value for v in top}
        missing = [value for value in selected if value not in listed]
        for value in missing:
            n = (base & facet.bits_of(value)).bit_count()
            values.append(FacetValue(value, facet.label(value), n, True))
        if missing:
            values.sort(key=lambda v: (-v.count, v.label.casefold(), v.value))
        return values

    def _top(self, name: str, base: int, count: int) -> tuple[FacetValue, ...]:
        """The facet's values with most entities in ``base``, none of them selected."""
        if count == self._size:
            return self._top_all[name]
        return self._top_of(name, base, count)

    def _top_values(self, name: str, base: int, count: int) -> tuple[FacetValue, ...]:
        facet = self._facets[name]
        counts = self._counts(facet, base, count)
        items: Iterable[tuple[int, int]] = counts.items()
        if len(counts) > FACET_VALUES:  # keep the contenders before sorting by label
            least = sorted(counts.values(), reverse=True)[FACET_VALUES - 1]
            items = [(code, n) for code, n in items if n >= least]
        labels, values = facet.sort_labels, facet.values
        ranked = sorted(items, key=lambda item: (-item[1], labels[item[0]], values[item[0]]))
        return tuple(
            FacetValue(values[code], facet.labels[code], n, False)
            for code, n in ranked[:FACET_VALUES]
        )

    def _counts(self, facet: _Facet, base: int, count: int) -> dict[int, int]:
        if base == self._all:
            return facet.totals
        size = self._size
        # Rough costs, in ns, measured on CPython 3.11: an AND + bit_count per value, or
        # one pass that picks each match's value out and counts it.
        per_value = len(facet.bits) * size * 0.09
        one_pass = (size * 8 + count * 60) if count > _FIND_IDS else count * 260
        if per_value <= one_pass:
            counts = {}
            for code, bits in enumerate(facet.bits):
                if n := (base & bits).bit_count():
                    counts[code] = n
            return counts
        picked: Iterable[Any]
        if count > _FIND_IDS:
            picked = compress(facet.of, _flags(base, size))
        else:
            picked = map(facet.of.__getitem__, _ids(base, count, size))
        counted = Counter(chain.from_iterable(picked) if facet.multi else picked)
        counted.pop(None, None)
        return cast(dict[int, int], counted)


# -- what is indexed of each entity -------------------------------------------


_WORD = re.compile(r"[^\W_]+")
_ZERO_ONE = bytes.maketrans(b"01", b"\x00\x01")
_FIND_IDS = 2000  # up to this many ids, finding them one by one beats a pass over all
_BLOCK = 1024  # positions of a sort order that one skip-test covers
# Sorting matches' positions beats walking the order while matches**2 <= (limit+1) * size *
# _FEW, that is when a walk would test too many ids per match found (measured at 50,000).
_FEW = 0.25


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the index keeps of one entity while it builds: facet values with labels, title."""

    name: str
    title: str
    values: dict[str, tuple[tuple[str, str], ...]]  # facet -> ((canonical value, label), ...)

    @classmethod
    def of(cls, entity: Entity) -> tuple[_Facts, set[str]]:
        """The entity's facts, and its search tokens."""
        ref, spec, title = entity.ref, entity.spec, entity.title
        owner = _ref_field(entity, "owner")
        system = _ref_field(entity, "system")
        kind_type = _text_field(spec.get("type"))
        lifecycle = _text_field(spec.get("lifecycle"))
        tags = {
            tag.casefold(): tag for tag in entity.metadata.get("tags") or () if _text_field(tag)
        }
        values = {
            "kind": ((ref.kind, entity.kind),),
            "type": ((kind_type.casefold(), kind_type),) if kind_type else (),
            "owner": ((str(owner), owner.short("group")),) if owner else (),
            "lifecycle": ((lifecycle.casefold(), lifecycle),) if lifecycle else (),
            "system": ((str(system), system.short("system")),) if system else (),
            "tag": tuple(tags.items()),
        }
        names = [ref.name, *tags, *(r.name for r in (owner, system) if r)]
        text = " ".join((title, entity.description, entity.kind, kind_type or "", *names))
        tokens = set(_WORD.findall(text.casefold()))
        tokens.update(names)
        return cls(ref.name, title.casefold(), values), tokens


def _ref_field(entity: Entity, field: str) -> EntityRef | None:
    for name, position, ref in entity.spec_refs:
        if name == field and position is None:
            return ref
    value = entity.spec.get(field)
    if isinstance(value, str):  # a kind the portal has no spec for keeps its refs as text
        try:
            return parse_ref(
                value, default_kind=_REF_FACETS[field], default_namespace=entity.namespace
            )
        except RefError:
            return None
    return None


def _text_field(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True, slots=True)
class _Facet:
    """One facet's values, numbered by code: each one's entities, label and total."""

    name: str
    values: list[str]
    codes: dict[str, int]
    bits: list[int]
    labels: list[str]
    sort_labels: list[str]
    totals: dict[int, int]
    # By id: the value's code (or None), or a tuple of codes for a multi-valued facet.
    # Counting these few shared ints is several times faster than counting the values:
    # each entity holds its own copy of an equal string, somewhere else in memory.
    of: list[Any]
    multi: bool

    @classmethod
    def build(cls, name: str, facts: list[_Facts], size: int) -> _Facet:
        codes: dict[str, int] = {}
        members: list[list[int]] = []
        labels: list[str] = []
        of: list[Any] = []
        multi = name == "tag"
        for entity_id, fact in enumerate(facts):
            found = []
            for value, label in fact.values[name]:
                code = codes.get(value)
                if code is None:  # labelled as the first entity in name order spells it
                    code = codes[value] = len(labels)
                    members.append([])
                    labels.append(label)
                members[code].append(entity_id)
                found.append(code)
            of.append(tuple(found) if multi else found[0] if found else None)
        return cls(
            name,
            values=list(codes),
            codes=codes,
            bits=[_bits(ids, size) for ids in members],
            labels=labels,
            sort_labels=[label.casefold() for label in labels],
            totals={code: len(ids) for code, ids in enumerate(members)},
            of=of,
            multi=multi,
        )

    def bits_of(self, value: str) -> int:
        code = self.codes.get(value)
        return 0 if code is None else self.bits[code]

    def label(self, value: str) -> str:
        code = self.codes.get(value)
        if code is not None:
            return self.labels[code]
        default_kind = _REF_FACETS.get(self.name)
        return parse_ref(value).short(default_kind) if default_kind else value


@dataclass(frozen=True, slots=True)
class _Sorted:
    """One sort: each id's sort value, the ids in ascending order, and each id's position."""

    name: str
    values: list[str | None]
    refs: list[str]
    order: list[int]
    rank: list[int]
    # Per run of _BLOCK positions, the ids in it as a bitset: one AND skips a run.
    blocks: list[int]

    @classmethod
    def build(cls, name: str, values: list[str | None], refs: list[str], ids: list[int]) -> _Sorted:
        size = len(ids)
        if name == "name":  # ids are given in this order
            return cls(name, values, refs, ids, ids, [])
        keys = [_key(value, ref) for value, ref in zip(values, refs, strict=True)]
        order = sorted(ids, key=keys.__getitem__)
        rank = [0] * size
        for position, entity_id in zip(ids, order, strict=True):
            rank[entity_id] = position
        blocks = [_bits(order[low : low + _BLOCK], size) for low in range(0, size, _BLOCK)]
        return cls(name, values, refs, order, rank, blocks)

    def key(self, entity_id: int) -> _Key:
        return _key(self.values[entity_id], self.refs[entity_id])


_Key = tuple[bool, str, str]


def _key(value: str | None, ref: str) -> _Key:
    return (value is None, value or "", ref)


def _inverted_index(
    postings: Mapping[str, list[int]], size: int
) -> tuple[list[str], list[int | tuple[int, ...]]]:
    """Every token, sorted, and its entities: a bitset if many, else a tuple of ids."""
    dense = max(64, size >> 8)  # bitsets cost size/8 bytes each, so only for common tokens
    tokens = sorted(postings)
    return tokens, [
        _bits(ids, size) if len(ids) >= dense else tuple(ids)
        for ids in (postings[token] for token in tokens)
    ]


def _flags(bits: int, size: int) -> bytes:
    """One byte per id, 1 where ``bits`` has it: C code can test and select with it."""
    return bin(bits)[:1:-1].ljust(size, "0").encode("ascii").translate(_ZERO_ONE)


def _ids(bits: int, count: int, size: int) -> list[int]:
    """The ids in ``bits`` (``count`` of them), ascending."""
    if count > _FIND_IDS:
        return list(compress(range(size), _flags(bits, size)))
    text = bin(bits)[:1:-1]
    find, found = text.find, []
    at = find("1")
    while at >= 0:
        found.append(at)
        at = find("1", at + 1)
    return found


def _bits(ids: Iterable[int], size: int) -> int:
    buffer = bytearray((size + 7) >> 3)
    for entity_id in ids:
        buffer[entity_id >> 3] |= 1 << (entity_id & 7)
    return int.from_bytes(buffer, "little")


# -- reading pages ------------------------------------------------------------


class _Walk:
    """The matches of one search, read in one sort's order from any position, either way.

    Positions index the ascending order; ``step`` is +1 to read it forwards, -1 back.
    """

    def __init__(self, sort: _Sorted, result: int, total: int, limit: int) -> None:
        self.sort, self.result, self.total = sort, result, total
        size = len(sort.order)
        # Few matches: sort their positions once. Many: walk the order, testing each id.
        self.positions: list[int] | None = None
        self.flags = b""
        if sort.name != "name" and total * total <= (limit + 1) * size * _FEW:
            rank = sort.rank
            self.positions = sorted(map(rank.__getitem__, _ids(result, total, size)))
        elif total:
            self.flags = _flags(result, size)

    def page(
        self, query: Query, cursor: _Cursor | None
    ) -> tuple[list[int], str | None, str | None]:
        """The page's ids, and cursors for the pages after and before it (None: no page)."""
        limit, rank = query.limit, self.sort.rank
        step = 1 if query.order == "asc" else -1
        if cursor is not None and cursor.before:
            back = self.take(self._start(cursor.key, step, after=False), -step, limit + 1)
            if len(back) > limit:
                items = back[:limit][::-1]
                later = self.take(rank[items[-1]] + step, step, 1)
                after = self._cursor(query, items[-1], before=False) if later else None
                return items, after, self._cursor(query, items[0], before=True)
            cursor = None  # less than a page before it: show the first page, whole
        if cursor is None:
            start, earlier = (0 if step > 0 else len(rank) - 1), []
        else:
            start = self._start(cursor.key, step, after=True)
            earlier = self.take(start - step, -step, 1)
        ahead = self.take(start, step, limit + 1)
        items = ahead[:limit]
        after = self._cursor(query, items[-1], before=False) if len(ahead) > limit else None
        before = None
        if earlier and items:
            before = self._cursor(query, items[0], before=True)
        elif earlier and cursor is not None:  # read past the end: back from where it was
            before = _Cursor(query.sort, query.order, True, cursor.value, cursor.ref).encode()
        return items, after, before

    def take(self, start: int, step: int, count: int) -> list[int]:
        """Up to ``count`` matching ids from position ``start`` on, in ``step``'s direction."""
        if not self.total:
            return []
        if self.positions is not None:
            order, positions = self.sort.order, self.positions
            if step > 0:
                at = bisect_left(positions, start)
                return [order[p] for p in positions[at : at + count]]
            at = bisect_right(positions, start)
            return [order[p] for p in reversed(positions[max(0, at - count) : at])]
        if self.sort.name == "name":  # positions are ids: find the next flag in C
            return self._find(start, step, count)
        return self._scan(start, step, count)

    def _find(self, start: int, step: int, count: int) -> list[int]:
        flags, found, at = self.flags, list[int](), start
        while len(found) < count:
            at = flags.find(1, max(at, 0)) if step > 0 else flags.rfind(1, 0, max(at + 1, 0))
            if at < 0:
                break
            found.append(at)
            at += step
        return found

    def _scan(self, start: int, step: int, count: int) -> list[int]:
        order, blocks, result = self.sort.order, self.sort.blocks, self.result
        test, found = self.flags.__getitem__, list[int]()
        size = len(order)
        at = max(start, 0) if step > 0 else min(start, size - 1)
        while 0 <= at < size and len(found) < count:
            block = at // _BLOCK
            if step > 0:
                low, high, following = at, min((block + 1) * _BLOCK, size), (block + 1) * _BLOCK
            else:
                low, high, following = block * _BLOCK, at + 1, block * _BLOCK - 1
            if result & blocks[block]:
                run = order[low:high]
                found.extend(
                    islice(filter(test, run if step > 0 else reversed(run)), count - len(found))
                )
            at = following
        return found

    def _start(self, key: _Key, step: int, *, after: bool) -> int:
        """The first position after ``key`` in ``step``'s direction, or before it."""
        order, key_of = self.sort.order, self.sort.key
        if after == (step > 0):
            return bisect_right(order, key, key=key_of)
        return bisect_left(order, key, key=key_of) - 1

    def _cursor(self, query: Query, entity_id: int, *, before: bool) -> str:
        sort = self.sort
        value, ref = sort.values[entity_id], sort.refs[entity_id]
        return _Cursor(query.sort, query.order, before, value, ref).encode()


# -- cursors ------------------------------------------------------------------

_CURSOR_VERSION = 1
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,2000}")
_DIGEST_BYTES = 6
_START_AGAIN = "follow the links of the page, or start again without a cursor"


@dataclass(frozen=True, slots=True)
class _Cursor:
    """Where a page begins: after (or, for a previous page, before) one sort key.

    Encoded as base64url of a short digest and compact JSON. The digest only tells a
    cursor we made from one changed by hand or cut short; nothing in it is secret, and any
    key would be a fine place to start.
    """

    sort: str
    order: str
    before: bool
    value: str | None
    ref: str

    @property
    def key(self) -> _Key:
        return _key(self.value, self.ref)

    def encode(self) -> str:
        direction = "before" if self.before else "after"
        fields = [_CURSOR_VERSION, self.sort, self.order, direction, self.value, self.ref]
        payload = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        data = _digest(payload) + payload
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, text: str) -> _Cursor:
        if not isinstance(text, str) or not _CURSOR_TEXT.fullmatch(text):
            raise QueryError("cursor", f"is not a cursor (expected base64url text); {_START_AGAIN}")
        try:
            data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            raise QueryError("cursor", f"has been changed or cut short; {_START_AGAIN}") from None
        payload = data[_DIGEST_BYTES:]
        if not hmac.compare_digest(data[:_DIGEST_BYTES], _digest(payload)):
            raise QueryError("cursor", f"has been changed or cut short; {_START_AGAIN}")
        try:
            fields = json.loads(payload)
            version, sort, order, direction, value, ref = fields
            valid = (
                version == _CURSOR_VERSION
                and sort in SORTS
                and order in ORDERS
                and direction in ("after", "before")
                and (value is None or isinstance(value, str))
                and str(parse_ref(ref)) == ref
            )
        except (ValueError, TypeError, RecursionError, RefError):
            valid = False
        if not valid:
            raise QueryError("cursor", f"was made by another version of the portal; {_START_AGAIN}")
        return cls(sort, order, direction == "before", value, ref)

    def check(self, query: Query) -> None:
        if (self.sort, self.order) != (query.sort, query.order):
            raise QueryError(
                "cursor",
                f"was made for sort={self.sort}&order={self.order}, not "
                f"sort={query.sort}&order={query.order}; start again without a cursor",
            )


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_BYTES, person=b"portal-cursor").digest()


# -- query values -------------------------------------------------------------


def _canonical_values(facet: str, values: object) -> tuple[str, ...]:
    items = (values,) if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise QueryError(facet, f"expected a list of values, got {show(values)}")
    canonical = set()
    for value in items:
        if not isinstance(value, str) or not value.strip():
            raise QueryError(facet, f"expected non-empty text, got {show(value)}")
        canonical.add(_canonical(facet, value.strip()))
    return tuple(sorted(canonical))


def _canonical(facet: str, value: str) -> str:
    default_kind = _REF_FACETS.get(facet)
    if default_kind is None:
        return value.casefold()
    try:
        return str(parse_ref(value, default_kind=default_kind))
    except RefError as exc:
        raise QueryError(
            facet,
            f"{show(value)} is not an entity ref: it {exc.reason}; "
            f"expected [kind:][namespace/]name, e.g. {_REF_EXAMPLES[facet]}",
        ) from None


def _or(choices: Sequence[str]) -> str:
    return ", ".join(choices[:-1]) + " or " + choices[-1]
