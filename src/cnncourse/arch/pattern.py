"""The layer-pattern notation, ``INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC``.

Grammar (whitespace is ignored; names are case-insensitive)::

    pattern := item ("->" item)*
    item    := atom ("*" count)?
    atom    := NAME "?"? | "[" pattern "]" "?"?
    count   := INTEGER | SYMBOL          e.g. 2, or N given as repeats={"N": 2}
    NAME    := INPUT | CONV | RELU | POOL | FC

``*`` repeats the atom before it (0 times is allowed: the seed's N, M, K may be 0), brackets
group and nest, and ``?`` marks an optional layer or group, kept or dropped according to the
``optional`` argument. ``INPUT`` may only open the pattern. ``→`` and ``×`` are accepted for
``->`` and ``*``.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Iterator
from typing import NamedTuple

from .layers import Conv, Flatten, Linear, Pool, ReLU

__all__ = ["LAYER_NAMES", "expand_pattern", "from_pattern"]

#: The layer names the notation knows.
LAYER_NAMES = ("INPUT", "CONV", "RELU", "POOL", "FC")

_TOKEN = re.compile(r"(?P<arrow>->|→)|(?P<open>\[)|(?P<close>\])|(?P<star>[*×])|(?P<opt>\?)"
                    r"|(?P<int>\d+)|(?P<name>[A-Za-z_]\w*)")
_DESCRIBE = {"arrow": "'->'", "open": "'['", "close": "']'", "star": "'*'", "opt": "'?'",
             "int": "a number", "name": "a name", "end": "the end of the pattern"}


class _Token(NamedTuple):
    kind: str
    text: str
    pos: int


class _Layer(NamedTuple):
    name: str
    optional: bool


class _Group(NamedTuple):
    items: tuple
    optional: bool


class _Item(NamedTuple):
    atom: object
    count: _Token | None  # None: once


def _error(func: str, text: str, pos: int, message: str) -> ValueError:
    return ValueError(f"{func}: {message} at position {pos}\n    {text}\n    {' ' * pos}^")


def _tokens(text: str, func: str) -> list[_Token]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(func, text, pos, f"unexpected character {text[pos]!r}")
        out.append(_Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    out.append(_Token("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str, func: str):
        self.text, self.func = text, func
        self.tokens = _tokens(text, func)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self, kind: str, wanted: str) -> _Token:
        tok = self.peek()
        if tok.kind != kind:
            self.fail(tok, wanted)
        self.i += 1
        return tok

    def fail(self, tok: _Token, wanted: str):
        got = _DESCRIBE["end"] if tok.kind == "end" else repr(tok.text)
        raise _error(self.func, self.text, tok.pos, f"expected {wanted}, got {got}")

    def optional_mark(self) -> bool:
        if self.peek().kind == "opt":
            self.i += 1
            return True
        return False

    def pattern(self, depth: int) -> tuple:
        items = [self.item(depth)]
        while self.peek().kind == "arrow":
            self.i += 1
            items.append(self.item(depth))
        return tuple(items)

    def item(self, depth: int) -> _Item:
        tok = self.peek()
        if tok.kind == "open":
            self.i += 1
            inner = self.pattern(depth + 1)
            self.take("close", "'->' or ']'")
            atom = _Group(inner, self.optional_mark())
        elif tok.kind == "name":
            self.i += 1
            name = tok.text.upper()
            if name not in LAYER_NAMES:
                raise _error(self.func, self.text, tok.pos, f"unknown layer name {tok.text!r} "
                             f"(expected one of {', '.join(LAYER_NAMES)})")
            if name == "INPUT" and tok is not self.tokens[0]:
                raise _error(self.func, self.text, tok.pos, "INPUT may only open the pattern")
            atom = _Layer(name, self.optional_mark())
        else:
            self.fail(tok, "a layer name or '['")
        count = None
        if self.peek().kind == "star":
            self.i += 1
            count = self.peek()
            if count.kind not in ("int", "name"):
                self.fail(count, "a repeat count (a number or a symbol such as N)")
            self.i += 1
            if isinstance(atom, _Layer) and atom.name == "INPUT":
                raise _error(self.func, self.text, count.pos, "INPUT cannot be repeated")
        return _Item(atom, count)

    def parse(self) -> tuple:
        items = self.pattern(0)
        tok = self.peek()
        if tok.kind != "end":
            self.fail(tok, "'->' or the end of the pattern")
        return items


def _decisions(optional, func: str) -> Iterator[bool]:
    if isinstance(optional, bool):
        return itertools.repeat(optional)
    if not isinstance(optional, (list, tuple)) or not all(isinstance(v, bool) for v in optional):
        raise TypeError(f"{func}: optional must be a bool or a sequence of bools, got "
                        f"{optional!r}")
    return iter(optional)


def _count(tok: _Token, repeats: dict, text: str, func: str) -> int:
    if tok.kind == "int":
        return int(tok.text)
    if tok.text not in repeats:
        raise _error(func, text, tok.pos, f"repeat count {tok.text!r} has no value (pass "
                     f"repeats={{{tok.text!r}: ...}})")
    n = repeats[tok.text]
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{func}: repeats[{tok.text!r}] must be an int >= 0, got {n!r}")
    return int(n)


def expand_pattern(text: str, repeats: dict | None = None, optional=True,
                   *, _func: str = "expand_pattern") -> list[str]:
    """Expand a layer pattern into the flat list of layer names it stands for.

    Parameters
    ----------
    text : str
        A pattern in the notation above.
    repeats : dict of str to int, optional
        Values of the symbolic counts (``{"N": 2, "M": 3, "K": 1}``).
    optional : bool or sequence of bool
        Whether each ``?`` layer or group is kept: one bool for all of them, or one per
        occurrence in the order the expansion meets them.

    Returns
    -------
    list of str
        Upper-case names, ``INPUT`` first if the pattern has it.

    Raises
    ------
    ValueError
        Malformed text (the message gives the position and points at it), a symbol without a
        value, or an `optional` sequence of the wrong length.

    Examples
    --------
    >>> expand_pattern("INPUT -> [CONV -> RELU -> POOL]*2 -> FC -> RELU -> FC")
    ['INPUT', 'CONV', 'RELU', 'POOL', 'CONV', 'RELU', 'POOL', 'FC', 'RELU', 'FC']
    >>> expand_pattern("[[CONV -> RELU]*N -> POOL?]*M", {"N": 2, "M": 2}, [False, True])
    ['CONV', 'RELU', 'CONV', 'RELU', 'CONV', 'RELU', 'CONV', 'RELU', 'POOL']
    """
    if not isinstance(text, str):
        raise TypeError(f"{_func}: text must be a str, got {type(text).__name__}")
    repeats = {} if repeats is None else dict(repeats)
    items = _Parser(text, _func).parse()
    decide = _decisions(optional, _func)
    used = 0

    def expand(seq) -> list[str]:
        nonlocal used
        names: list[str] = []
        for item in seq:
            n = 1 if item.count is None else _count(item.count, repeats, text, _func)
            for _ in range(n):
                if item.atom.optional:
                    used += 1
                    if not next(decide, False):  # running out is reported below, with the count
                        continue
                if isinstance(item.atom, _Group):
                    names += expand(item.atom.items)
                else:
                    names.append(item.atom.name)
        return names

    names = expand(items)
    if not isinstance(optional, bool) and used != len(optional):
        raise ValueError(f"{_func}: optional has {len(optional)} entries, but the expansion "
                         f"meets {used} optional layers")
    return names


def _per_layer(value, count: int, name: str, what: str) -> list:
    if count == 0:
        return []
    if value is None:
        raise ValueError(f"from_pattern: the pattern has {count} {what}; pass {name}= an int "
                         f"or a sequence of {count} ints")
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return [int(value)] * count
    values = list(value) if isinstance(value, (list, tuple)) else None
    if values is None or len(values) != count:
        raise ValueError(f"from_pattern: {name} must be an int or a sequence of {count} ints "
                         f"(one per {what}), got {value!r}")
    return values


def from_pattern(text: str, *, repeats: dict | None = None, optional=True, channels=None,
                 kernel_size=3, stride=1, padding=None, pool_kind: str = "max",
                 pool_size=2, pool_stride=None, hidden=None, num_classes: int | None = None
                 ) -> list:
    """Build a spec from a layer pattern.

    Parameters
    ----------
    text, repeats, optional
        As in :func:`expand_pattern`.
    channels : int or sequence of int
        Output channels of every CONV (one int for all, or one per CONV in order).
    kernel_size, stride : int or pair
        Of every CONV.
    padding : int or pair, optional
        Of every CONV; the default ``(F - 1) // 2`` keeps the spatial size for odd F and
        stride 1, the seed's rule of thumb.
    pool_kind, pool_size, pool_stride
        Of every POOL (2x2 max with stride 2 by default).
    hidden : int or sequence of int
        Output features of every FC except the last (one per FC, in order).
    num_classes : int
        Output features of the last FC.

    Returns
    -------
    list
        The spec. A ``Flatten`` is inserted before the first FC; INPUT adds no layer.

    Examples
    --------
    >>> spec = from_pattern("INPUT -> [CONV -> RELU -> POOL]*2 -> FC -> RELU -> FC",
    ...                     channels=[16, 32], hidden=64, num_classes=10)
    >>> [type(layer).__name__ for layer in spec]  # doctest: +NORMALIZE_WHITESPACE
    ['Conv', 'ReLU', 'Pool', 'Conv', 'ReLU', 'Pool', 'Flatten', 'Linear', 'ReLU', 'Linear']
    """
    names = expand_pattern(text, repeats, optional, _func="from_pattern")
    n_fc = names.count("FC")
    conv_out = iter(_per_layer(channels, names.count("CONV"), "channels", "CONV layers"))
    fc_out = iter(_per_layer(hidden, max(n_fc - 1, 0), "hidden", "FC layers before the last")
                  + _per_layer(num_classes, min(n_fc, 1), "num_classes", "final FC layer"))
    if padding is None:
        padding = tuple((k - 1) // 2 for k in Conv(1, kernel_size).kernel_size)
    spec: list = []
    for name in names:
        if name == "CONV":
            spec.append(Conv(next(conv_out), kernel_size, stride, padding))
        elif name == "RELU":
            spec.append(ReLU())
        elif name == "POOL":
            spec.append(Pool(pool_kind, pool_size, pool_stride))
        elif name == "FC":
            if not any(isinstance(layer, Linear) for layer in spec):
                spec.append(Flatten())
            spec.append(Linear(next(fc_out)))
    return spec
