"""An entity's relations drawn as SVG on the server: no JavaScript, links that work."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from portal.catalog import Catalog, Entity, EntityRef

__all__ = ["relation_graph"]

MAX_NODES = 24
KIND_COLOURS = {
    "component": "#3f51b5",
    "api": "#00897b",
    "system": "#6d4c41",
    "domain": "#5e35b1",
    "resource": "#ef6c00",
    "group": "#2e7d32",
    "user": "#546e7a",
    "location": "#757575",
}
NODE_W, NODE_H = 170, 40
GAP_X, GAP_Y, MARGIN = 150, 12, 16


def relation_graph(entity: Entity, catalog: Catalog, href: Callable[[EntityRef], str]) -> str:
    """The entity in the middle, related entities in a column on each side, edges labelled.

    Neighbours are grouped by relation type so that related boxes sit together;
    beyond MAX_NODES the rest are counted in a note, not drawn.
    """
    neighbours: dict[EntityRef, list[str]] = {}
    for relation in sorted(entity.relations, key=lambda r: (r.type, str(r.target))):
        neighbours.setdefault(relation.target, []).append(relation.type)
    shown = list(neighbours.items())[:MAX_NODES]
    hidden = len(neighbours) - len(shown)
    half = (len(shown) + 1) // 2
    columns = [shown[:half], shown[half:]]
    rows = max(1, half)
    row_h = NODE_H + GAP_Y
    width = 3 * NODE_W + 2 * GAP_X + 2 * MARGIN
    body = rows * row_h
    height = body + 2 * MARGIN + (20 if hidden else 0)
    cx, cy = width / 2, MARGIN + body / 2
    label = escape(str(entity.ref))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="relation-graph" '
        f'aria-label="Relations of {label}">',
        f"<title>Relations of {label}</title>",
        "<style>text{font:12px sans-serif}.label{font-size:10px;fill:#555}"
        ".name{fill:#fff;font-weight:600}.kind{fill:#fff;font-size:10px}</style>",
    ]
    edges: list[str] = []
    nodes: list[str] = []
    for side, column in enumerate(columns):
        x = MARGIN + NODE_W / 2 if side == 0 else width - MARGIN - NODE_W / 2
        top = cy - len(column) * row_h / 2 + row_h / 2
        for row, (ref, types) in enumerate(column):
            y = top + row * row_h
            # From the centre box's side to the neighbour box's facing side.
            x1 = cx - NODE_W / 2 if side == 0 else cx + NODE_W / 2
            x2 = x + NODE_W / 2 if side == 0 else x - NODE_W / 2
            # The label sits above the edge where it leaves the neighbour: rows apart.
            anchor, lx = ("start", x2 + 4) if side == 0 else ("end", x2 - 4)
            edges.append(
                f'<line x1="{x1:.1f}" y1="{cy:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="#9e9e9e"/>'
                f'<text class="label" x="{lx:.1f}" y="{y - 4:.1f}" '
                f'text-anchor="{anchor}">{escape(", ".join(types))}</text>'
            )
            nodes.append(_node(ref, x, y, catalog.get(ref), href(ref) if ref in catalog else None))
    nodes.append(_node(entity.ref, cx, cy, entity, None, centre=True))
    parts.extend(edges)
    parts.extend(nodes)
    if hidden:
        parts.append(
            f'<text x="{MARGIN}" y="{height - 8}">and {hidden} more related '
            f"entit{'y' if hidden == 1 else 'ies'}, listed below</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _node(
    ref: EntityRef,
    x: float,
    y: float,
    entity: Entity | None,
    link: str | None,
    *,
    centre: bool = False,
) -> str:
    colour = KIND_COLOURS.get(ref.kind, "#455a64") if entity else "#bdbdbd"
    name = ref.name if len(ref.name) <= 22 else ref.name[:21] + "…"
    stroke = ' stroke="#ffc107" stroke-width="3"' if centre else ""
    missing = "" if entity else " (missing)"
    box = (
        f"<g><title>{escape(str(ref))}{missing}</title>"
        f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W}" '
        f'height="{NODE_H}" rx="6" fill="{colour}"{stroke}/>'
        f'<text class="name" x="{x:.1f}" y="{y - 2:.1f}" text-anchor="middle">{escape(name)}</text>'
        f'<text class="kind" x="{x:.1f}" y="{y + 12:.1f}" text-anchor="middle">'
        f"{escape(ref.kind)}</text></g>"
    )
    return f'<a href="{escape(link)}">{box}</a>' if link else box
