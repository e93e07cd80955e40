"""The run-list filter language, compiled to a SQL condition over ``runs r``.

What a user can type (words are case-insensitive; several terms side by side
mean ``and``)::

    yolo                      free text: a substring of the name, project or a tag
    "yolo adamw"              the same, with spaces
    status:running            status is one of running, finished, failed, killed, crashed
    status:failed,crashed     any of several (also project:, tag:, host:, box:, group:)
    project:detect            project, exactly (case-insensitive); ``*`` is a wildcard
    tag:baseline              has this tag, exactly (case-insensitive); ``*`` wildcard
    name:yolo                 a substring of the name (with ``*``: the whole name)
    id:20261126               the run id starts with this
    lr0<0.01                  a param, compared as a number when the value is one
    optimizer=AdamW           ... and as text otherwise (case-insensitive)
    optimizer.name!=SGD       nested params by their dotted key
    model~^yolo               ``~`` a regular expression search (RE2, case-insensitive);
                              a plain word is a substring; ``!~`` does not match
    max(metrics/mAP50-95(B))>0.3   a metric summary: first, last, min, max or count
    loss<0.3                  a key no param has is tried as the metric's last value
    a and (b or not c)        ``and``, ``or``, ``not`` and parentheses

Ops: ``= != < <= > >= ~ !~`` (``==`` is ``=``). A comparison never matches a run
that lacks the key: ``lr0!=0.01`` skips runs with no ``lr0``; ``not lr0=0.01``
keeps them. Quote keys and values with spaces or odd characters: ``"my key"="a b"``.

Only ``?`` placeholders carry what the user typed; the SQL text is made from
this module's own fragments and the fixed names below.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

STATUSES = ("running", "finished", "failed", "killed", "crashed", "unreadable")
STATS = ("first", "last", "min", "max", "count")
KEYWORDS = ("and", "or", "not")
MAX_LENGTH = 4000
MAX_DEPTH = 64

_OPS = ("==", "!=", "<=", ">=", "!~", "=", "<", ">", "~")
_SQL_OPS = {"=": "=", "==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?inf(?:inity)?$", re.I)
_STAT_CALL = re.compile(r"^([A-Za-z_]\w*)\((.*)\)$", re.S)


class FilterError(ValueError):
    """A filter that cannot be understood; ``position`` is the 0-based offset
    into the text where the problem is."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} (at column {self.position + 1})"


@dataclass(frozen=True)
class Token:
    """One token of a filter expression, at ``pos`` in the text."""

    kind: str  # "word" | "string" | "op" | "colon" | "lparen" | "rparen" | "end"
    text: str
    pos: int

    def is_keyword(self, word: str) -> bool:
        return self.kind == "word" and self.text.lower() == word


# -- lexing -------------------------------------------------------------------


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    value_next = False  # after an op or a colon the next token is a value
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            literal, i2 = _quoted(text, i)
            out.append(Token("string", literal, i))
            i, value_next = i2, False
            continue
        if value_next:
            start, depth = i, 0
            while i < n and not text[i].isspace():
                if text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    if depth == 0:
                        break
                    depth -= 1
                i += 1
            if i == start:
                raise FilterError("expected a value", start)
            if text[start] in "<>=" and out and out[-1].kind == "op":
                # ``lr0<<`` or ``lr0=>1``: a typo, not a comparison with "<"
                raise FilterError(
                    f"expected a value after {out[-1].text!r}, not {text[start]!r} "
                    "(quote it to compare with text that starts so)",
                    start,
                )
            out.append(Token("word", text[start:i], start))
            value_next = False
            continue
        if ch == "(":
            out.append(Token("lparen", ch, i))
            i += 1
            continue
        if ch == ")":
            out.append(Token("rparen", ch, i))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            out.append(Token("op", op, i))
            i += len(op)
            value_next = True
            continue
        if ch == ":":
            out.append(Token("colon", ch, i))
            i += 1
            value_next = True
            continue
        start, depth = i, 0
        while i < n:
            c = text[i]
            if depth == 0 and (c.isspace() or c in "\"':" or c == ")"):
                break
            if depth == 0 and any(text.startswith(o, i) for o in _OPS):
                break
            if c == "(":
                if depth == 0 and text[start:i].lower() in KEYWORDS:
                    break  # ``not(a)`` is ``not (a)``
                if _closing(text, i) is None:
                    break  # an unbalanced "(" inside a word is left to the parser
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        out.append(Token("word", text[start:i], start))
    out.append(Token("end", "", n))
    return out


def _closing(text: str, start: int) -> int | None:
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return None


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            parts.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(parts), i + 1
        parts.append(ch)
        i += 1
    raise FilterError(f"unclosed {quote} quote", start)


# -- parsing and compiling ----------------------------------------------------


class _Compiler:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def compile(self) -> tuple[str, list[Any]]:
        if self.peek().kind == "end":
            return "TRUE", []
        sql, params = self.parse_or()
        token = self.peek()
        if token.kind == "rparen":
            raise FilterError("unexpected ')' with no '(' before it", token.pos)
        if token.kind != "end":
            raise FilterError(f"unexpected {token.text!r}", token.pos)
        return sql, params

    def parse_or(self) -> tuple[str, list[Any]]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError("filter nested too deeply", self.peek().pos)
        parts = [self.parse_and()]
        while self.peek().is_keyword("or"):
            self.take()
            parts.append(self.parse_and())
        self.depth -= 1
        return _join(parts, "OR")

    def parse_and(self) -> tuple[str, list[Any]]:
        parts = [self.parse_not()]
        while True:
            token = self.peek()
            if token.kind in ("end", "rparen") or token.is_keyword("or"):
                break
            if token.is_keyword("and"):
                self.take()
            parts.append(self.parse_not())
        return _join(parts, "AND")

    def parse_not(self) -> tuple[str, list[Any]]:
        token = self.peek()
        if token.is_keyword("not"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError("filter nested too deeply", token.pos)
            sql, params = self.parse_not()
            self.depth -= 1
            return f"(NOT coalesce({sql}, FALSE))", params
        return self.parse_atom()

    def parse_atom(self) -> tuple[str, list[Any]]:
        token = self.take()
        if token.kind == "lparen":
            if self.peek().kind == "rparen":
                raise FilterError("empty parentheses", token.pos)
            sql, params = self.parse_or()
            closing = self.take()
            if closing.kind != "rparen":
                raise FilterError("missing ')' for this '('", token.pos)
            return f"({sql})", params
        if token.kind == "end":
            where = self.tokens[self.i - 2] if self.i >= 2 else token
            if where.kind == "word" and where.text.lower() in KEYWORDS:
                raise FilterError(f"expected a term after {where.text!r}", where.pos)
            raise FilterError("expected a term", token.pos)
        if token.kind == "rparen":
            raise FilterError("unexpected ')'", token.pos)
        if token.kind in ("op", "colon"):
            raise FilterError(f"expected a key before {token.text!r}", token.pos)
        if token.kind == "word" and token.text.lower() in ("and", "or"):
            raise FilterError(f"expected a term before {token.text!r}", token.pos)
        nxt = self.peek()
        if nxt.kind == "colon":
            self.take()
            return self.field(token, self.value(nxt))
        if nxt.kind == "op":
            self.take()
            return self.comparison(token, nxt, self.value(nxt))
        return _free_text(token.text)

    def value(self, after: Token) -> Token:
        token = self.peek()
        if token.kind not in ("word", "string"):
            raise FilterError(f"expected a value after {after.text!r}", after.pos + len(after.text))
        return self.take()

    def field(self, key: Token, value: Token) -> tuple[str, list[Any]]:
        name = key.text.lower() if key.kind == "word" else key.text
        choices = (
            [v.strip() for v in value.text.split(",")] if value.kind == "word" else [value.text]
        )
        choices = [c for c in choices if c]
        if not choices:
            raise FilterError(f"expected a value after '{name}:'", value.pos)
        if name == "status":
            for choice in choices:
                if choice.lower() not in STATUSES:
                    raise FilterError(
                        f"unknown status {choice!r}: one of {', '.join(STATUSES)}", value.pos
                    )
            marks = ", ".join("?" for _ in choices)
            return f"(r.status IN ({marks}))", [c.lower() for c in choices]
        if name in ("project", "host", "group", "box"):
            column = {
                "project": "r.project",
                "host": "r.host",
                "group": "r.grp",
                "box": "coalesce(r.box, 'local')",
            }[name]
            return _join([_exact(column, c) for c in choices], "OR")
        if name == "tag":
            return _join([_tag(c) for c in choices], "OR")
        if name == "name":
            parts = [
                _exact("r.name", c) if "*" in c else ("contains(lower(r.name), lower(?))", [c])
                for c in choices
            ]
            return _join(parts, "OR")
        if name == "id":
            return _join([("starts_with(r.run_id, ?)", [c]) for c in choices], "OR")
        raise FilterError(
            f"unknown field {key.text + ':'!r}: use status:, project:, tag:, name:, id:, "
            f"host:, box: or group: (or {key.text}=value for a param)",
            key.pos,
        )

    def comparison(self, key: Token, op: Token, value: Token) -> tuple[str, list[Any]]:
        stat = None
        name = key.text
        if key.kind == "word":
            call = _STAT_CALL.match(key.text)
            if call:
                stat, name = call.group(1).lower(), call.group(2).strip()
                if stat not in STATS:
                    raise FilterError(
                        f"unknown summary {call.group(1)!r}: use {', '.join(STATS)}", key.pos
                    )
                if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
                    name = name[1:-1]
                if not name:
                    raise FilterError(f"{stat}() needs a metric key", key.pos)
        number = _as_number(value.text) if value.kind == "word" else None
        if op.text in ("~", "!~"):
            if stat is not None:
                raise FilterError(f"{stat}({name}) compares with numbers, not '~'", op.pos)
            _check_regex(value.text, value.pos)
            match = "regexp_matches(p.txt, ?, 'i')"
            sql = f"EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = ? AND {match})"
            if op.text == "!~":
                sql = sql.replace(match, f"NOT {match}")
            return f"({sql})", [name, value.text]
        sql_op = _SQL_OPS[op.text]
        if stat is not None:
            if number is None:
                raise FilterError(
                    f"{stat}({name}) compares with numbers, not {value.text!r}", value.pos
                )
            return (
                f"(EXISTS (SELECT 1 FROM summaries s WHERE s.run_id = r.run_id AND s.key = ? "
                f'AND s."{stat}" {sql_op} ?))',
                [name, number],
            )
        if number is not None:
            # A param, or else the last value of a metric of that name.
            return (
                f"(EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = ? "
                f"AND p.num {sql_op} ?) OR (NOT EXISTS (SELECT 1 FROM params p WHERE "
                f"p.run_id = r.run_id AND p.key = ?) AND EXISTS (SELECT 1 FROM summaries s "
                f"WHERE s.run_id = r.run_id AND s.key = ? AND s.last {sql_op} ?)))",
                [name, number, name, name, number],
            )
        if sql_op in ("=", "<>"):
            cond = f"lower(p.txt) {sql_op} lower(?)"
        else:
            cond = f"p.txt {sql_op} ?"
        return (
            f"(EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = ? AND {cond}))",
            [name, value.text],
        )


def _join(parts: list[tuple[str, list[Any]]], op: str) -> tuple[str, list[Any]]:
    if len(parts) == 1:
        return parts[0]
    params: list[Any] = []
    for _, p in parts:
        params.extend(p)
    return "(" + f" {op} ".join(sql for sql, _ in parts) + ")", params


def _free_text(word: str) -> tuple[str, list[Any]]:
    return (
        "(contains(lower(coalesce(r.name, '')), lower(?)) "
        "OR contains(lower(coalesce(r.project, '')), lower(?)) "
        "OR len(list_filter(coalesce(r.tags, []), t -> contains(lower(t), lower(?)))) > 0)",
        [word, word, word],
    )


def _like_pattern(glob: str) -> str:
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _exact(column: str, value: str) -> tuple[str, list[Any]]:
    if "*" in value:
        return f"(coalesce({column}, '') ILIKE ? ESCAPE '\\')", [_like_pattern(value)]
    return f"(lower(coalesce({column}, '')) = lower(?))", [value]


def _tag(value: str) -> tuple[str, list[Any]]:
    if "*" in value:
        cond = "t ILIKE ? ESCAPE '\\'"
        param = _like_pattern(value)
    else:
        cond = "lower(t) = lower(?)"
        param = value
    return f"(len(list_filter(coalesce(r.tags, []), t -> {cond})) > 0)", [param]


def _as_number(text: str) -> float | None:
    if not _NUMBER.match(text):
        return None
    number = float(text)
    return number if not math.isnan(number) else None


_regex_lock = threading.Lock()
_regex_con: Any = None  # a DuckDB connection, made on first use


def _check_regex(pattern: str, pos: int) -> None:
    """Reject a pattern DuckDB's RE2 would refuse at query time."""
    global _regex_con
    import duckdb  # here: the run list's modules load without DuckDB (a launch reads it in a child)

    with _regex_lock:
        if _regex_con is None:
            _regex_con = duckdb.connect(":memory:")
        try:
            _regex_con.execute("SELECT regexp_matches('', ?, 'i')", [pattern]).fetchall()
        except duckdb.Error as exc:
            reason = str(exc).split(":", 1)[-1].strip()
            raise FilterError(f"bad regular expression: {reason}", pos) from None


def compile_filter(text: str) -> tuple[str, list[Any]]:
    """``(sql, params)``: a boolean SQL expression over ``runs r`` with ``?``
    placeholders. Raises ``FilterError`` on input it cannot understand."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"filter longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return _Compiler(text).compile()
