"""JSON from clients, with its nesting bounded.

Python's decoder recurses once per level: 100 000 `[` in a body raise
RecursionError (a 500, or a crashed socket) instead of a ValueError. Every
decoder of client text (REST bodies, socket frames, form fields, files inside
an uploaded model) goes through `loads`, which counts the nesting first.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

MAX_DEPTH = 64  # deeper than any document this API accepts, far below the recursion limit

# What a depth count must skip: escape pairs (so an escaped quote does not end a string),
# then every byte that is neither a quote nor a bracket.
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'"[]{}'))


class JSONTooDeep(json.JSONDecodeError):
    """Nested deeper than allowed; a JSONDecodeError, so callers' handlers still apply."""

    def __init__(self, doc: str, pos: int, max_depth: int):
        super().__init__(f"JSON nested more than {max_depth} levels deep", doc, pos)
        self.max_depth = max_depth


def depth_check(text: str | bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONTooDeep if arrays and objects in `text` nest deeper than `max_depth`.

    Runs at C speed on a request-sized body (a 1,000-row predict body is ~2,000
    brackets among 230 kB): escapes dropped, then all but quotes and brackets, then
    what lies between quotes (an unterminated string swallows the rest); the depth is
    the running sum of the brackets left.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return  # the common case: too few brackets to go that deep
    quotes_and_brackets = _ESCAPE.sub(b"", data).translate(None, _NOT_STRUCTURE)
    brackets = b"".join(quotes_and_brackets.split(b'"')[::2])
    steps = np.frombuffer(brackets, dtype=np.uint8)
    depth = np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1))
    too_deep = np.flatnonzero(depth > max_depth)
    if too_deep.size:
        # The position is counted in brackets, which is all a client needs to see.
        doc = text if isinstance(text, str) else data.decode("utf-8", "replace")
        raise JSONTooDeep(doc, int(too_deep[0]), max_depth)


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs) -> Any:
    """`json.loads` that refuses documents nested deeper than `max_depth` with a
    JSONDecodeError (a ValueError), never a RecursionError."""
    depth_check(data, max_depth)  # on the bytes as given: no second encoding of a str
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    return json.loads(text, **kwargs)
