"""Split a migration file into statements, so a failure can name the statement that failed.

Understands what PostgreSQL SQL files use: -- and nested /* */ comments, 'strings' (with '' and,
in E'' strings, backslash escapes), "identifiers" and $tag$ dollar-quoted bodies. psql
meta-commands (\\i, \\set) are not SQL and are not supported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of the file where the statement starts

    def summary(self, width: int = 160) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= width else flat[: width - 3] + "..."


def split_statements(sql: str) -> list[Statement]:
    statements: list[Statement] = []
    code_start: int | None = None  # first character of the current statement that is not a comment
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            i = _line_end(sql, i)
            continue
        if sql.startswith("/*", i):
            i = _block_comment_end(sql, i)
            continue
        if c == ";":
            if code_start is not None:
                statements.append(_statement(sql, code_start, i))
            code_start = None
            i += 1
            continue
        if not c.isspace() and code_start is None:
            code_start = i
        if c == "'":
            i = _quoted_end(sql, i, "'", backslash_escapes=_is_escape_string(sql, i))
        elif c == '"':
            i = _quoted_end(sql, i, '"', backslash_escapes=False)
        elif c == "$" and (tag := _dollar_tag_at(sql, i)):
            close = sql.find(tag, i + len(tag))
            i = n if close == -1 else close + len(tag)
        else:
            i += 1
    if code_start is not None:
        statements.append(_statement(sql, code_start, n))
    return statements


def _statement(sql: str, start: int, end: int) -> Statement:
    return Statement(text=sql[start:end].strip(), line=sql.count("\n", 0, start) + 1)


def _line_end(sql: str, i: int) -> int:
    end = sql.find("\n", i)
    return len(sql) if end == -1 else end + 1


def _block_comment_end(sql: str, i: int) -> int:
    depth, i = 1, i + 2
    while i < len(sql) and depth:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def _quoted_end(sql: str, i: int, quote: str, backslash_escapes: bool) -> int:
    i += 1
    while i < len(sql):
        c = sql[i]
        if backslash_escapes and c == "\\":
            i += 2
        elif c == quote:
            if sql.startswith(quote, i + 1):  # doubled quote is an escaped quote
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return i


def _is_escape_string(sql: str, i: int) -> bool:
    return i > 0 and sql[i - 1] in "eE" and not (i > 1 and _is_identifier_char(sql[i - 2]))


def _dollar_tag_at(sql: str, i: int) -> str | None:
    if i > 0 and _is_identifier_char(sql[i - 1]):  # `$` inside an identifier such as a$b
        return None
    match = _DOLLAR_TAG.match(sql, i)
    return match.group(0) if match else None


def _is_identifier_char(c: str) -> bool:
    return c.isalnum() or c in "_$"
