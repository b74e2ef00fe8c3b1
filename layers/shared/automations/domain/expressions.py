"""Safe boolean expressions for ``condition`` nodes: tokenized and parsed by hand, never eval'd.

Example: ``steps.fetch.output.status == 200 and trigger.body.plan in ['pro', 'team']``.

Grammar (lowest precedence first; keywords are lower case)::

    expression := and_expr ( 'or' and_expr )*
    and_expr   := not_expr ( 'and' not_expr )*
    not_expr   := 'not' not_expr | comparison
    comparison := operand [ ( '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in' ) operand ]
    operand    := literal | path | '[' [ operand ( ',' operand )* ] ']'
                | 'exists' '(' path ')' | '(' expression ')'
    literal    := number | 'single' or "double" quoted string | true | false | null

Paths are the template paths (``trigger.body.items[0].id``, roots trigger, steps, vars).
Comparisons do not chain (``a < b < c`` is a syntax error). Semantics:
- ``==`` / ``!=``: values of different types are never equal, except numbers (``1 == 1.0``);
  lists and objects compare deeply with the same rule.
- ``<`` ``<=`` ``>`` ``>=``: numbers with numbers or strings with strings, anything else raises
  ``ConfigurationError``.
- ``x in list`` is membership (using ``==``); ``s in string`` is substring (both strings);
  any other right-hand side raises ``ConfigurationError``. ``not in`` is the negation.
- ``and``, ``or``, ``not`` use JSON truthiness (null, false, 0, "", [], {} are false) and
  short-circuit: ``exists(trigger.body.x) and trigger.body.x > 1`` never raises.
- ``exists(path)`` is true when the path resolves (even to null) and never raises; any other
  missing path raises ``MissingVariable``.
Syntax errors raise ``ExpressionSyntaxError`` naming the position; parentheses, lists and
``not`` may nest at most 32 deep.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from automations.domain.templating import ROOTS, Path, resolve, scan_literal, scan_path
from automations.errors import ConfigurationError, MissingVariable, OutputTruncated

MAX_DEPTH = 32  # nested parentheses, lists and 'not's; keeps parsing and evaluation shallow
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SYMBOLS = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",")
_KEYWORDS = {"and", "or", "not", "in", "exists"}
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
Token = tuple[str, Any, int]  # (kind, value, position); kind is 'lit', 'path', 'end' or the text
Node = tuple[Any, ...]


class ExpressionSyntaxError(ValueError):
    """An expression cannot be parsed; ``position`` is the offset in the source."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def _tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while True:
        while i < len(source) and source[i].isspace():
            i += 1
        if i >= len(source):
            return [*tokens, ("end", None, i)]
        if word := _WORD.match(source, i):
            if word[0] in ROOTS:
                path, end = scan_path(source, i, ExpressionSyntaxError)
                tokens.append(("path", path, i))
                i = end
                continue
            if word[0] in _KEYWORDS:
                tokens.append((word[0], None, i))
                i = word.end()
                continue
            if word[0] not in ("true", "false", "null"):
                hint = "paths start with trigger, steps or vars"
                raise ExpressionSyntaxError(f"unknown name '{word[0]}' at position {i} ({hint})", i)
        if symbol := next((s for s in _SYMBOLS if source.startswith(s, i)), None):
            tokens.append((symbol, None, i))
            i += len(symbol)
        elif source[i] in "'\"-0123456789tfn":
            value, end = scan_literal(source, i, ExpressionSyntaxError)
            tokens.append(("lit", value, i))
            i = end
        else:
            raise ExpressionSyntaxError(f"unexpected character {source[i]!r} at position {i}", i)


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.i = 0
        self.refs: list[tuple[Path, bool]] = []  # (path, inside exists())
        self.depth = 0

    def peek(self, ahead: int = 0) -> str:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)][0]

    def take(self, kind: str | None = None, what: str = "") -> Token:
        token = self.tokens[self.i]
        if kind is not None and token[0] != kind:
            found = "end of expression" if token[0] == "end" else _describe(token)
            raise ExpressionSyntaxError(
                f"expected {what or repr(kind)} but found {found} at position {token[2]}", token[2]
            )
        if token[0] != "end":
            self.i += 1
        return token

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            message = f"nesting deeper than {MAX_DEPTH} levels at position {position}"
            raise ExpressionSyntaxError(message, position)

    def expression(self) -> Node:
        return self.chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self.chain("and", self.not_expr)

    def chain(self, keyword: str, operand: Callable[[], Node]) -> Node:
        nodes = [operand()]  # n-ary: a long 'or' chain stays flat
        while self.peek() == keyword:
            self.take()
            nodes.append(operand())
        return nodes[0] if len(nodes) == 1 else (keyword, nodes)

    def not_expr(self) -> Node:
        if self.peek() != "not":
            return self.comparison()
        self.enter(self.take()[2])
        node = ("not", self.not_expr())
        self.depth -= 1
        return node

    def comparison(self) -> Node:
        left = self.operand()
        kind, _, position = self.tokens[self.i]
        if kind in _ORDER or kind in ("==", "!=", "in"):
            self.take()
        elif kind == "not" and self.peek(1) == "in":
            self.i += 2
            kind = "not in"
        else:
            return left
        return ("compare", kind, left, self.operand(), position)

    def operand(self) -> Node:
        kind, value, _ = token = self.take()
        if kind == "lit":
            return ("lit", value)
        if kind == "path":
            self.refs.append((value, False))
            return ("path", value)
        if kind in ("(", "["):
            self.enter(token[2])
            if kind == "(":
                node = self.expression()
                self.take(")")
            else:
                items: list[Node] = []
                while self.peek() != "]":
                    items.append(self.operand())
                    if self.peek() != ",":
                        break
                    self.take(",")
                self.take("]", "',' or ']'")
                node = ("list", items)
            self.depth -= 1
            return node
        if kind == "exists":
            self.take("(")
            path = self.take("path", "a path")[1]
            self.take(")")
            self.refs.append((path, True))
            return ("exists", path)
        found = "end of expression" if kind == "end" else _describe(token)
        message = f"expected a value but found {found} at position {token[2]}"
        raise ExpressionSyntaxError(message, token[2])


def _describe(token: Token) -> str:
    kind, value, _ = token
    return {"lit": f"literal {json.dumps(value)}", "path": "a path"}.get(kind, repr(kind))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: Any) -> str:
    shown = json.dumps(value, default=str)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _compare(op: str, a: Any, b: Any, position: int) -> bool:
    if op in ("==", "!="):
        return _equal(a, b) == (op == "==")
    if op in _ORDER:
        if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
            return bool(_ORDER[op](a, b))
        problem = "compare only numbers with numbers or strings with strings"
    elif isinstance(b, list):
        return any(_equal(a, item) for item in b) == (op == "in")
    elif isinstance(a, str) and isinstance(b, str):
        return (a in b) == (op == "in")
    else:
        problem = f"'{op}' needs a list, or strings on both sides"
    raise ConfigurationError(f"cannot evaluate {_show(a)} {op} {_show(b)} at position {position}: {problem}")


def _evaluate(node: Node, context: Any) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return resolve(node[1], context)
    if kind == "exists":
        try:
            resolve(node[1], context)
        except MissingVariable:
            return False
        except OutputTruncated:  # it is there, recorded truncated: reading it is the error
            return True
        return True
    if kind == "list":
        return [_evaluate(item, context) for item in node[1]]
    if kind == "not":
        return not _evaluate(node[1], context)
    if kind == "and":
        return all(_evaluate(item, context) for item in node[1])
    if kind == "or":
        return any(_evaluate(item, context) for item in node[1])
    _, op, left, right, position = node
    return _compare(op, _evaluate(left, context), _evaluate(right, context), position)


class Expression:
    """A parsed expression: immutable, shareable, evaluated any number of times."""

    __slots__ = ("_optional", "_paths", "_tree", "source")

    def __init__(self, source: str, tree: Node, refs: list[tuple[Path, bool]]) -> None:
        self.source = source
        self._tree = tree
        self._paths = tuple(dict.fromkeys(path for path, _ in refs))
        required = {path for path, in_exists in refs if not in_exists}
        self._optional = tuple(p for p in self._paths if p not in required)

    @property
    def paths(self) -> list[Path]:
        """Every path referenced, in order of appearance (each once), exists() ones included."""
        return list(self._paths)

    @property
    def optional_paths(self) -> list[Path]:
        """Paths that appear only inside exists(): they may be missing at run time."""
        return list(self._optional)

    def evaluate(self, context: Any) -> bool:
        return bool(_evaluate(self._tree, context))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


@lru_cache(maxsize=1024)
def parse(source: str) -> Expression:
    """Parse ``source``; raise ExpressionSyntaxError naming what is wrong and where."""
    parser = _Parser(source)
    if parser.peek() == "end":
        raise ExpressionSyntaxError("empty expression at position 0", 0)
    tree = parser.expression()
    parser.take("end", "end of expression")
    return Expression(source, tree, parser.refs)


def evaluate(source: str, context: Any) -> bool:
    """Parse (cached) and evaluate ``source`` against ``context``."""
    return parse(source).evaluate(context)
