"""A nesting limit for JSON read as a stream (the CLI import), checked on the raw bytes as they are read.

ijson, which streams the import's arrays, gives every event the path of keys above it: an array nested
100,000 deep costs it minutes and gigabytes before anything fails. :class:`DepthGuard` follows the bytes
(brackets outside strings, escapes inside them) and refuses the input once it nests deeper than the limit.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DEPTH", "DepthGuard", "TooDeep"]

#: Deepest nesting of arrays and objects an imported file may have (an item of any format needs a handful).
MAX_DEPTH = 64
_TOKENS = re.compile(rb'["\\\[\]{}]')
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


class TooDeep(ValueError):
    """The JSON nests deeper than the limit."""


class DepthGuard:
    """Feed it the bytes of one JSON text in order; raises :class:`TooDeep` past ``limit`` levels."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self._offset = 0
        self._in_string = False
        self._escaped_at = -1  # the position of a character escaped by a backslash

    def feed(self, chunk: bytes) -> None:
        for match in _TOKENS.finditer(chunk):
            position = self._offset + match.start()
            char = chunk[match.start()]
            if self._in_string:
                if position == self._escaped_at:
                    continue
                if char == _BACKSLASH:
                    self._escaped_at = position + 1
                elif char == _QUOTE:
                    self._in_string = False
            elif char == _QUOTE:
                self._in_string = True
            elif char in _OPEN:
                self.depth += 1
                if self.depth > self.limit:
                    raise TooDeep(f"the JSON nests deeper than {self.limit} levels")
            elif char in _CLOSE:
                self.depth -= 1
        self._offset += len(chunk)
