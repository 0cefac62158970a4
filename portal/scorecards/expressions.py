"""A small, safe expression language for rules that combine facts.

``annotation("portal.quantum.dev/tier") != "tier-1" or passed("p95-slo")``

Expressions are parsed by :mod:`portal.scorecards.syntax` (no Python ``eval``,
no attribute access to Python objects) and compiled here into closures, once,
when the scorecard loads. They
read descriptor paths, call the facts in :data:`FUNCTIONS`, compare values and
combine them with ``and``, ``or`` and ``not``; ``passed("rule-id")`` reads the
result of another rule of the same scorecard, which is how rules build on
rules (cycles are refused when the scorecard loads). A value that does not fit
an operation (text compared with a number) makes the rule fail with a reason,
never crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portal.catalog.model import Entity
from portal.scorecards.paths import MISSING, describe
from portal.scorecards.syntax import (
    MAX_LENGTH,
    BoolOp,
    Call,
    Compare,
    ExpressionError,
    ListNode,
    Literal,
    Node,
    Not,
    PathNode,
    parse,
)

if TYPE_CHECKING:
    from portal.scorecards.context import EvalContext

__all__ = [
    "FUNCTIONS",
    "EvalError",
    "Expression",
    "ExpressionError",
    "compile_expression",
]

Fn = Callable[[Entity, "EvalContext"], Any]


class EvalError(Exception):
    """A value that does not fit an operation; the rule fails with this message as its reason."""


# -- compiling ------------------------------------------------------------------


@dataclass(slots=True)
class Expression:
    """A compiled expression: :meth:`holds` on an entity; ``requires`` names the rules it reads."""

    source: str
    requires: set[str]
    _root: Node
    _fns: dict[int, Fn]  # every node's compiled function, by id(node), to explain a failure

    def value(self, entity: Entity, ctx: EvalContext) -> Any:
        """The expression's value on ``entity`` (may raise :class:`EvalError`)."""
        return self._fns[id(self._root)](entity, ctx)

    def holds(self, entity: Entity, ctx: EvalContext) -> str | None:
        """None when the expression is true, else the reason it is not (may raise EvalError)."""
        if _truthy(self._fns[id(self._root)](entity, ctx)):
            return None
        return _why_false(self, entity, ctx)


def compile_expression(source: object, rule_ids: Collection[str] = ()) -> Expression:
    """Parse and compile ``source``; raise :class:`ExpressionError` with the offset at fault.

    ``rule_ids`` are the rules ``passed()`` and ``outcome()`` may name.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError('expected an expression, e.g. passed("owner") and docs() > 0', 0)
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"is {len(source)} characters long, over {MAX_LENGTH}", MAX_LENGTH)
    root = parse(source, FUNCTIONS)
    compiler = _Compiler(set(rule_ids))
    compiler.compile(root)
    return Expression(source, compiler.requires, root, compiler.fns)


class _Compiler:
    def __init__(self, rule_ids: set[str]) -> None:
        self.rule_ids = rule_ids
        self.requires: set[str] = set()
        self.fns: dict[int, Fn] = {}

    def compile(self, node: Node) -> Fn:
        fn = self._compile(node)
        self.fns[id(node)] = fn
        return fn

    def _compile(self, node: Node) -> Fn:
        if isinstance(node, Literal):
            value = node.value
            return lambda entity, ctx: value
        if isinstance(node, ListNode):
            items = [self.compile(item) for item in node.items]
            return lambda entity, ctx: [item(entity, ctx) for item in items]
        if isinstance(node, PathNode):
            getter = node.path.getter()

            def read(entity: Entity, ctx: EvalContext) -> Any:
                value = getter(entity)
                return None if value is MISSING else value

            return read
        if isinstance(node, Not):
            operand = self.compile(node.operand)
            return lambda entity, ctx: not _truthy(operand(entity, ctx))
        if isinstance(node, BoolOp):
            parts = [self.compile(part) for part in node.operands]
            if node.op == "and":
                return lambda entity, ctx: all(_truthy(part(entity, ctx)) for part in parts)
            return lambda entity, ctx: any(_truthy(part(entity, ctx)) for part in parts)
        if isinstance(node, Compare):
            return self.compare(node)
        assert isinstance(node, Call)
        return self.call(node)

    def compare(self, node: Compare) -> Fn:
        left, right, op = self.compile(node.left), self.compile(node.right), node.op
        if op == "==":
            return lambda entity, ctx: _equal(left(entity, ctx), right(entity, ctx))
        if op == "!=":
            return lambda entity, ctx: not _equal(left(entity, ctx), right(entity, ctx))
        if op in ("in", "not in"):
            negate = op == "not in"
            return lambda entity, ctx: _contains(right(entity, ctx), left(entity, ctx)) ^ negate
        order = _ORDER[op]
        return lambda entity, ctx: _ordered(op, order, left(entity, ctx), right(entity, ctx))

    def call(self, node: Call) -> Fn:
        spec = FUNCTIONS[node.name]
        if not spec.min_args <= len(node.args) <= spec.max_args:
            wanted = (
                str(spec.min_args)
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            raise ExpressionError(
                f"{node.name}() takes {wanted} argument{'s' * (wanted != '1')}: "
                f"{node.name}({spec.signature})",
                node.start,
            )
        return spec.compile(self, node)

    def literal_text(self, node: Call, index: int, what: str) -> str:
        arg = node.args[index]
        if not isinstance(arg, Literal) or not isinstance(arg.value, str):
            raise ExpressionError(
                f'{node.name}() takes {what} as quoted text, e.g. {node.name}("...")', arg.start
            )
        return arg.value

    def rule_id(self, node: Call) -> str:
        rule = self.literal_text(node, 0, "a rule id")
        if rule not in self.rule_ids:
            known = ", ".join(sorted(self.rule_ids)) or "none"
            raise ExpressionError(
                f"no rule {rule!r} in this scorecard (rules: {known})", node.args[0].start
            )
        self.requires.add(rule)
        return rule


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _truthy(value: Any) -> bool:
    return (
        value is not None
        and value is not MISSING
        and value is not False
        and (bool(value) if isinstance(value, str | list | dict | int | float) else True)
    )


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool):
        return False  # true is not 1 here, unlike in Python
    return bool(left == right)


def _contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        if not isinstance(item, str):
            raise EvalError(f"cannot look for {describe(item)} in text")
        return item in container
    if isinstance(container, list):
        return any(_equal(item, element) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise EvalError(f"cannot look inside {describe(container)}: 'in' needs a list, text or mapping")


def _ordered(op: str, order: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    ):
        return order(left, right)
    raise EvalError(f"cannot compare {describe(left)} {op} {describe(right)}")


def _why_false(expression: Expression, entity: Entity, ctx: EvalContext) -> str:
    """Which part of a false expression is false, with the values it compared."""
    source, fns = expression.source, expression._fns
    node = expression._root
    while isinstance(node, BoolOp) and node.op == "and":
        node = next(
            (part for part in node.operands if not _truthy(fns[id(part)](entity, ctx))),
            node.operands[0],
        )
    text = source[node.start : node.end]
    if isinstance(node, Compare):
        shown = [
            f"{source[side.start : side.end]} is {describe(fns[id(side)](entity, ctx))}"
            for side in (node.left, node.right)
            if not isinstance(side, Literal)
        ]
        detail = f" ({'; '.join(shown)})" if shown else ""
        return f"{text} is false{detail}"
    return f"{text} is false"


# -- functions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Function:
    signature: str
    description: str
    min_args: int
    max_args: int
    compile: Callable[[_Compiler, Call], Fn]


def _args(compiler: _Compiler, node: Call) -> list[Fn]:
    return [compiler.compile(arg) for arg in node.args]


def _passed(compiler: _Compiler, node: Call) -> Fn:
    rule = compiler.rule_id(node)
    return lambda entity, ctx: ctx.outcomes[rule].status in ("pass", "exempt")


def _outcome(compiler: _Compiler, node: Call) -> Fn:
    rule = compiler.rule_id(node)
    return lambda entity, ctx: ctx.outcomes[rule].status


def _exists(compiler: _Compiler, node: Call) -> Fn:
    (arg,) = _args(compiler, node)

    def exists(entity: Entity, ctx: EvalContext) -> bool:
        value = arg(entity, ctx)
        return value is not None and not (isinstance(value, str | list | dict) and not value)

    return exists


def _count(compiler: _Compiler, node: Call) -> Fn:
    (arg,) = _args(compiler, node)

    def count(entity: Entity, ctx: EvalContext) -> int:
        value = arg(entity, ctx)
        if value is None:
            return 0
        if isinstance(value, str | list | dict):
            return len(value)
        raise EvalError(f"cannot count {describe(value)}: count() needs a list, text or mapping")

    return count


def _metadata_map(section: str) -> Callable[[_Compiler, Call], Fn]:
    def compile_(compiler: _Compiler, node: Call) -> Fn:
        key = compiler.literal_text(node, 0, "a key")

        def read(entity: Entity, ctx: EvalContext) -> Any:
            values = entity.metadata.get(section)
            return values.get(key) if type(values) is dict else None

        return read

    return compile_


def _has_tag(compiler: _Compiler, node: Call) -> Fn:
    tag = compiler.literal_text(node, 0, "a tag").lower()

    def has(entity: Entity, ctx: EvalContext) -> bool:
        tags = entity.metadata.get("tags")
        return type(tags) is list and tag in tags

    return has


def _relations(compiler: _Compiler, node: Call) -> Fn:
    relation = compiler.literal_text(node, 0, "a relation type")
    kind = compiler.literal_text(node, 1, "a kind").lower() if len(node.args) > 1 else None
    return lambda entity, ctx: len(ctx.related(entity, relation, kind))


def _links(compiler: _Compiler, node: Call) -> Fn:
    link_type = compiler.literal_text(node, 0, "a link type")
    return lambda entity, ctx: len(ctx.links(entity, link_type))


def _docs(compiler: _Compiler, node: Call) -> Fn:
    return lambda entity, ctx: len(ctx.docs_of(entity).pages)


def _days_since_review(compiler: _Compiler, node: Call) -> Fn:
    def days(entity: Entity, ctx: EvalContext) -> int | None:
        pages = ctx.docs_of(entity).pages
        if not pages or any(page.reviewed is None for page in pages):
            return None
        return max((ctx.today - page.reviewed).days for page in pages if page.reviewed)

    return days


def _lower(compiler: _Compiler, node: Call) -> Fn:
    (arg,) = _args(compiler, node)

    def lower(entity: Entity, ctx: EvalContext) -> Any:
        value = arg(entity, ctx)
        return value.lower() if isinstance(value, str) else value

    return lower


def _number(compiler: _Compiler, node: Call) -> Fn:
    (arg,) = _args(compiler, node)

    def number(entity: Entity, ctx: EvalContext) -> Any:
        value = arg(entity, ctx)
        if _is_number(value):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
            return int(value)
        return None

    return number


def _matches(compiler: _Compiler, node: Call) -> Fn:
    value = compiler.compile(node.args[0])
    pattern_text = compiler.literal_text(node, 1, "a regular expression")
    try:
        pattern = re.compile(pattern_text)
    except re.error as exc:
        raise ExpressionError(
            f"{pattern_text!r} is not a valid regular expression: {exc}", node.args[1].start
        ) from None

    def matches(entity: Entity, ctx: EvalContext) -> bool:
        text = value(entity, ctx)
        return isinstance(text, str) and pattern.search(text) is not None

    return matches


def _startswith(compiler: _Compiler, node: Call) -> Fn:
    value = compiler.compile(node.args[0])
    prefix = compiler.literal_text(node, 1, "a prefix")

    def starts(entity: Entity, ctx: EvalContext) -> bool:
        text = value(entity, ctx)
        return isinstance(text, str) and text.startswith(prefix)

    return starts


FUNCTIONS: dict[str, _Function] = {
    "passed": _Function(
        '"rule-id"', "true when that rule of this scorecard passes or is exempt", 1, 1, _passed
    ),
    "outcome": _Function(
        '"rule-id"', "that rule's outcome: pass, fail, exempt or not-applicable", 1, 1, _outcome
    ),
    "exists": _Function("value", "true when the value is set and not empty", 1, 1, _exists),
    "count": _Function(
        "value", "the length of a list, mapping or text; 0 when unset", 1, 1, _count
    ),
    "annotation": _Function(
        '"key"', "metadata.annotations[key], or null", 1, 1, _metadata_map("annotations")
    ),
    "label": _Function('"key"', "metadata.labels[key], or null", 1, 1, _metadata_map("labels")),
    "has_tag": _Function('"tag"', "true when metadata.tags holds the tag", 1, 1, _has_tag),
    "relations": _Function(
        '"type"[, "kind"]',
        "how many existing entities (of that kind) are related by that relation type",
        1,
        2,
        _relations,
    ),
    "links": _Function('"type"', "how many metadata.links have that type", 1, 1, _links),
    "docs": _Function("", "how many doc pages the entity has", 0, 0, _docs),
    "days_since_review": _Function(
        "",
        "days since its least recently reviewed doc page was reviewed; null when it has no "
        "docs or a page has no reviewed date",
        0,
        0,
        _days_since_review,
    ),
    "lower": _Function("text", "the text in lowercase", 1, 1, _lower),
    "int": _Function(
        "value", 'the whole number a text spells ("200" -> 200), or null', 1, 1, _number
    ),
    "matches": _Function(
        'text, "regex"', "true when the regular expression matches part of the text", 2, 2, _matches
    ),
    "startswith": _Function(
        'text, "prefix"', "true when the text starts with the prefix", 2, 2, _startswith
    ),
}
