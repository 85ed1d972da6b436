"""A reader of the YAML that compose.yaml is written in, for tests/test_compose.py: PyYAML is no
dependency of Qatysu, and one is not added to read one file.

It reads block mappings and sequences, plain, single- and double-quoted scalars, flow sequences of
scalars (``["a", "b"]``), literal blocks (``|``), comments, anchors on a block (``&name``), aliases
(``*name``) and merge keys (``<<: *name``). Anything else (tabs, flow mappings, folded blocks, tags,
several documents) is refused with the line, never guessed at: compose.yaml must stay within it.
Where PyYAML is installed, tests/test_compose.py checks that both read the file the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_INT = re.compile(r"[-+]?\d+")
_KEY = re.compile(r"(<<|[A-Za-z0-9_][A-Za-z0-9_.-]*|\"[^\"]*\")\s*:(?:\s+|$)(.*)")


class Unsupported(ValueError):
    """The text uses YAML this reader does not take (or is not YAML)."""


def _strip_comment(text: str) -> str:
    quote = None
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'" and (i == 0 or text[i - 1] in " [,:"):
            quote = char
        elif char == "#" and (i == 0 or text[i - 1] == " "):
            return text[:i].rstrip()
    return text.rstrip()


def _scalar(text: str, line: int) -> Any:
    text = text.strip()
    if text.startswith('"'):
        if not text.endswith('"') or len(text) < 2:
            raise Unsupported(f"line {line}: an unclosed double-quoted scalar")
        return json.loads(text)
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise Unsupported(f"line {line}: an unclosed single-quoted scalar")
        return text[1:-1].replace("''", "'")
    if text[:1] in ("{", ">", "!", "%", "@", "`", "|", "&", "*") or text.startswith("- "):
        raise Unsupported(f"line {line}: {text!r} is not a plain scalar this reader takes")
    if text in ("", "~", "null"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if _PLAIN_INT.fullmatch(text):
        return int(text)
    if re.fullmatch(r"[-+]?\d+\.\d+", text):
        return float(text)
    return text


def _flow_sequence(text: str, line: int) -> list[Any]:
    inner = text.strip()[1:-1]
    items, current, quote = [], "", None
    for char in inner:
        if quote:
            current += char
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current += char
        elif char == ",":
            items.append(current)
            current = ""
        elif char in "[]{}":
            raise Unsupported(f"line {line}: a nested flow collection")
        else:
            current += char
    if quote:
        raise Unsupported(f"line {line}: an unclosed quote in a flow sequence")
    if current.strip() or items:
        items.append(current)
    return [_scalar(item, line) for item in items]


class _Reader:
    def __init__(self, text: str) -> None:
        if "\t" in text:
            raise Unsupported("a tab: indent with spaces")
        self.raw = text.splitlines()
        self.lines: list[tuple[int, int, str]] = []  # (line number, indent, content)
        self.anchors: dict[str, Any] = {}

    def content_lines(self, start: int) -> list[tuple[int, int, str]]:
        found = []
        for number in range(start, len(self.raw)):
            text = self.raw[number]
            if text.strip() in ("---", "...") and not text.startswith(" "):
                raise Unsupported(f"line {number + 1}: several documents")
            stripped = _strip_comment(text)
            if stripped.strip():
                found.append((number, len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))
        return found

    def read(self) -> Any:
        self.lines = self.content_lines(0)
        self.at = 0
        if not self.lines:
            return None
        value = self.block(self.lines[0][1])
        if self.at != len(self.lines):
            number = self.lines[self.at][0]
            raise Unsupported(f"line {number + 1}: indented where nothing opens a block")
        return value

    def block(self, indent: int) -> Any:
        number, found, content = self.lines[self.at]
        if found != indent:
            raise Unsupported(f"line {number + 1}: indented {found}, expected {indent}")
        if content == "-" or content.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def sequence(self, indent: int) -> list[Any]:
        items = []
        while self.at < len(self.lines):
            number, found, content = self.lines[self.at]
            if found < indent:
                break
            if found > indent or not (content == "-" or content.startswith("- ")):
                raise Unsupported(f"line {number + 1}: expected an item of the sequence at indent {indent}")
            rest = content[1:].strip()
            if not rest:
                self.at += 1
                items.append(self.nested(indent, number))
            elif _KEY.fullmatch(rest):
                # "- key: value" opens a mapping whose keys sit two columns in
                self.lines[self.at] = (number, indent + 2, rest)
                items.append(self.mapping(indent + 2))
            else:
                self.at += 1
                items.append(self.value(rest, number, indent))
        return items

    def mapping(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        while self.at < len(self.lines):
            number, found, content = self.lines[self.at]
            if found < indent:
                break
            if found > indent:
                raise Unsupported(f"line {number + 1}: indented where nothing opens a block")
            match = _KEY.fullmatch(content)
            if match is None:
                raise Unsupported(f"line {number + 1}: expected 'key: value', got {content!r}")
            key, rest = match.group(1), match.group(2).strip()
            if key.startswith('"'):
                key = json.loads(key)
            self.at += 1
            if key in result or (key == "<<" and merged):
                raise Unsupported(f"line {number + 1}: the key {key!r} twice")
            value = self.value(rest, number, indent) if rest else self.nested(indent, number)
            if key == "<<":
                if not isinstance(value, dict):
                    raise Unsupported(f"line {number + 1}: a merge key takes a mapping")
                merged = value
            else:
                result[key] = value
        return {**merged, **result}

    def nested(self, indent: int, number: int, anchor: str | None = None) -> Any:
        """The block under a key or a dash (None when nothing is indented below it)."""
        value = None
        if self.at < len(self.lines) and self.lines[self.at][1] > indent:
            value = self.block(self.lines[self.at][1])
        elif self.at < len(self.lines) and self.lines[self.at][1] == indent and \
                (self.lines[self.at][2] == "-" or self.lines[self.at][2].startswith("- ")):
            value = self.sequence(indent)  # a sequence may sit at its key's own indent
        if anchor:
            self.anchors[anchor] = value
        return value

    def value(self, rest: str, number: int, indent: int) -> Any:
        if rest.startswith("&"):
            anchor, _, after = rest[1:].partition(" ")
            if after.strip():
                raise Unsupported(f"line {number + 1}: an anchor on a scalar")
            return self.nested(indent, number, anchor)
        if rest.startswith("*"):
            name = rest[1:]
            if name not in self.anchors:
                raise Unsupported(f"line {number + 1}: the alias *{name} names no anchor before it")
            return self.anchors[name]
        if rest in ("|", "|-"):
            return self.literal(indent, number, keep_newline=rest == "|")
        if rest.startswith("["):
            if not rest.endswith("]"):
                raise Unsupported(f"line {number + 1}: a flow sequence must close on its line")
            return _flow_sequence(rest, number + 1)
        return _scalar(rest, number + 1)

    def literal(self, indent: int, number: int, keep_newline: bool) -> str:
        """A literal block: the raw lines (comments kept) indented deeper than its key."""
        first_raw = number + 1
        body: list[str] = []
        block_indent = None
        raw = first_raw
        while raw < len(self.raw):
            text = self.raw[raw]
            if text.strip():
                text_indent = len(text) - len(text.lstrip(" "))
                if text_indent <= indent:
                    break
                block_indent = text_indent if block_indent is None else block_indent
                if text_indent < block_indent:
                    raise Unsupported(f"line {raw + 1}: less indented than the block's first line")
                body.append(text[block_indent:])
            else:
                body.append("")
            raw += 1
        while body and not body[-1]:
            body.pop()
        while self.at < len(self.lines) and self.lines[self.at][0] < raw:
            self.at += 1  # the block's lines were read raw: skip them as content
        text = "\n".join(body)
        return text + "\n" if keep_newline and text else text


def load(text: str) -> Any:
    """The value of the YAML document ``text`` (``Unsupported`` for YAML outside the subset)."""
    return _Reader(text).read()
