"""TF Serving's JSON bodies with NumPy, not with a Python object per number.

`json.loads` turns a 6.5 MB predict body of uint8 pixels into 1.2 M Python ints in
nested lists: about 13x the body in memory, before the tensor exists. Here the
numeric arrays of a body (nested lists of numbers, the tensors) are found and
parsed with NumPy, and only what is left (keys, signature name: a few bytes) goes
through `json.loads`; responses are written block by block the same way. A
request then costs its body, an int64/float64 copy of its tensor and the tensor
itself. Anything that is not a plain numeric array (booleans, NaN, strings,
objects) is parsed by `json.loads` as before, within `MAX_STRUCTURE_BYTES`.
"""

import json
import os
import re
import warnings

import numpy as np

# The JSON outside the numeric arrays (keys, signature name, small values) goes through
# json.loads; a legitimate predict request has a few hundred bytes of it.
MAX_STRUCTURE_BYTES = 1 << 20

_NUMBER = np.zeros(256, bool)
_NUMBER[list(b"0123456789+-.eE")] = True
_CLEAN = _NUMBER.copy()  # what a numeric array may contain
_CLEAN[list(b"[], \t\r\n")] = True
_UNCLEAN = ~_CLEAN
_BRACKET = np.zeros(256, bool)
_BRACKET[list(b"[]")] = True
_TO_SPACES = bytes.maketrans(b"[],", b"   ")
_PARSE_CHUNK_BYTES = 1 << 18


class JsonError(ValueError):
    """A body that is not valid JSON, or holds a ragged or malformed numeric array."""


class NumericArray:
    """A regular nested list of JSON numbers, parsed as NumPy does `np.array(json.loads(text))`:
    int64 when every number is an integer, else float64."""

    def __init__(self, text, shape, integers):
        self.text = text
        self.shape = shape
        self.integers = integers

    def to_numpy(self):
        dtype = np.int64 if self.integers else np.float64
        out = np.empty(int(np.prod(self.shape)), dtype)
        filled = 0
        text = self.text
        # Chunks cut at a separator, so that the translated copy stays small.
        start = 0
        while start < len(text):
            end = min(start + _PARSE_CHUNK_BYTES, len(text))
            while end < len(text) and text[end] not in b"[], \t\r\n":
                end += 1
            chunk = bytes(text[start:end]).translate(_TO_SPACES)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # numpy warns (and stops) at a malformed number
                try:
                    values = np.fromstring(chunk, dtype=dtype, sep=" ")
                except (ValueError, DeprecationWarning):
                    raise JsonError("JSON Parse error: a malformed number in a numeric array") from None
            if filled + values.size > out.size:
                raise JsonError("JSON Parse error: a malformed numeric array")
            out[filled:filled + values.size] = values
            filled += values.size
            start = end
        if filled != out.size:
            raise JsonError("JSON Parse error: a malformed number in a numeric array")
        return out.reshape(self.shape)


def _unescaped_quotes(codes):
    """Positions of the quotes that open or close JSON strings."""
    quotes = np.flatnonzero(codes == ord('"'))
    if quotes.size and np.count_nonzero(codes == ord("\\")):
        # A quote is escaped when an odd run of backslashes precedes it.
        run = np.zeros(quotes.size, np.int64)
        for back in range(1, int(quotes.max()) + 1):
            at = quotes - back
            more = (at >= 0) & (run == back - 1)
            more[more] = codes[at[more]] == ord("\\")
            if not more.any():
                break
            run[more] += 1
        quotes = quotes[run % 2 == 0]
    return quotes


_NOT_SKELETON = bytes(b for b in range(256) if b not in b"[],")
# Anything but one number in each slot of a list: two numbers side by side, an empty slot, an
# empty list, a number touching a list. (JSON numbers are checked when NumPy parses them.)
_MALFORMED_LIST = re.compile(rb"[-+.\deE]\s+[-+.\deE]|[,\[]\s*[,\]]|[-+.\deE]\s*\[|\]\s*[-+.\deE]")


_DIGIT = re.compile(rb"\d")


def _skeleton(shape):
    """The brackets and commas of a regular nested list of this shape, as json writes it."""
    text = b"[" + b"," * (shape[-1] - 1) + b"]"
    for size in reversed(shape[:-1]):
        text = b"[" + b",".join([text] * size) + b"]"
    return text


def _shape(text):
    """(shape, all integers?) of a numeric array's JSON text (bytes, '[' ... its ']');
    JsonError when it is ragged or malformed. The shape is read from the first list at each
    depth of the array's brackets and commas, which must then be exactly those of that shape."""
    if _MALFORMED_LIST.search(text):
        raise JsonError("JSON Parse error: a malformed list of numbers")
    skeleton = text.translate(None, _NOT_SKELETON)
    rank = len(skeleton) - len(skeleton.lstrip(b"["))
    shape, inner = [], None
    for k in range(rank, 0, -1):
        # The first "]" * m ends the first list at depth rank - m + 1.
        closes = rank - k + 1
        length = skeleton.find(b"]" * closes) + closes - (k - 1)  # of the first list at depth k
        size, rest = (length - 1, 0) if inner is None else divmod(length - 1, inner + 1)
        if rest or size < 1:
            raise JsonError("a ragged list (rows of different lengths)")
        shape.insert(0, size)
        inner = length
    if skeleton != _skeleton(shape):
        raise JsonError("a ragged list (rows of different lengths), or numbers beside lists")
    integers = re.search(rb"[.eE]|\d{19}", text) is None  # int64 parsing saturates past 18 digits
    return tuple(shape), integers


def _outside_strings(positions, quotes):
    """`positions` without those inside JSON strings (between an opening and a closing quote)."""
    if not quotes.size or not positions.size:
        return positions
    pairs = quotes[: quotes.size // 2 * 2].reshape(-1, 2)
    first = np.searchsorted(positions, pairs[:, 0])
    last = np.searchsorted(positions, pairs[:, 1])
    inside = np.concatenate([np.arange(a, b) for a, b in zip(first.tolist(), last.tolist()) if b > a] or [[]])
    return np.delete(positions, inside.astype(np.int64))


def _numeric_arrays(codes):
    """(start, end) byte positions of the outermost numeric arrays of a JSON body, in order.

    A numeric array holds nothing but numbers, brackets, commas and spaces. Its parent, if any,
    holds something else, so it opens no deeper than the deepest non-numeric byte: only
    that shallow part of the bracket structure is matched, never the pixel rows."""
    unclean_at = np.flatnonzero(_UNCLEAN[codes])
    if unclean_at.size > MAX_STRUCTURE_BYTES:
        raise JsonError(f"JSON Parse error: over {MAX_STRUCTURE_BYTES} bytes outside numeric arrays")
    quotes = _unescaped_quotes(codes)
    brackets = _outside_strings(np.flatnonzero(_BRACKET[codes]), quotes)
    if not brackets.size:
        return []
    opening = codes[brackets] == ord("[")
    depth = np.cumsum(np.where(opening, np.int8(1), np.int8(-1)), dtype=np.int32)  # after each bracket
    if depth.min() < 0 or depth[-1] != 0:
        raise JsonError("JSON Parse error: unbalanced brackets")
    # The deepest place a non-numeric byte sits at; arrays opening deeper are nested in numeric ones.
    preceding = np.searchsorted(brackets, unclean_at) - 1
    limit = int(np.where(preceding >= 0, depth[np.maximum(preceding, 0)], 0).max(initial=0))
    shallow = np.flatnonzero(depth - opening <= limit)  # opens from depth <= limit, closes to it
    brackets, opening, depth = brackets[shallow], opening[shallow], depth[shallow]
    del shallow
    open_index, close_index = np.flatnonzero(opening), np.flatnonzero(~opening)
    # The ']' of a '[' is the next ']' back at the depth before it: same rank within a depth.
    order_open = np.lexsort((open_index, depth[open_index]))
    order_close = np.lexsort((close_index, depth[close_index] + 1))
    match = np.empty_like(open_index)
    match[order_open] = close_index[order_close]
    starts, ends = brackets[open_index], brackets[match]
    clean = np.searchsorted(unclean_at, starts) == np.searchsorted(unclean_at, ends)
    starts, ends = starts[clean], ends[clean]
    outermost = np.ones(starts.size, bool)
    outermost[1:] = starts[1:] > np.maximum.accumulate(ends)[:-1]
    return list(zip(starts[outermost].tolist(), ends[outermost].tolist()))


def loads(body):
    """The JSON value of `body` (bytes), its numeric arrays as NumericArray objects."""
    codes = np.frombuffer(body, np.uint8)
    arrays = _numeric_arrays(codes)
    if not arrays:
        return _json_loads(body)
    nonce = os.urandom(6).hex()
    pieces, found, previous = [], {}, 0
    for index, (start, end) in enumerate(arrays):
        if not _DIGIT.search(body, start, end):
            continue  # lists of empty lists: json's business (and an error further on)
        shape, integers = _shape(body[start:end + 1])
        found[f"\x00array:{nonce}:{index}"] = NumericArray(memoryview(body)[start:end + 1], shape, integers)
        pieces += [body[previous:start], f'"\\u0000array:{nonce}:{index}"'.encode()]
        previous = end + 1
    pieces.append(body[previous:])
    return _substitute(_json_loads(b"".join(pieces)), found)


def _json_loads(body):
    if len(body) > MAX_STRUCTURE_BYTES:
        raise JsonError(f"JSON Parse error: {len(body)} bytes outside numeric arrays (at most {MAX_STRUCTURE_BYTES})")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise JsonError(f"JSON Parse error: {error}") from None
    except RecursionError:
        raise JsonError("JSON Parse error: the document is nested too deeply") from None


def _substitute(value, found):
    if isinstance(value, str):
        return found.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, found) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, found) for k, v in value.items()}
    return value


def to_numpy(value):
    """np.array(value) for a value of a parsed body (lists, numbers, NumericArray objects)."""
    if isinstance(value, NumericArray):
        return value.to_numpy()
    if isinstance(value, list) and value and all(isinstance(v, NumericArray) for v in value):
        parts = [v.to_numpy() for v in value]
        if len({p.shape for p in parts}) != 1:
            raise ValueError("ragged")
        return np.stack(parts)  # int64 rows beside float64 ones come out float64, as np.array gives
    return np.array(value)


def dumps_array(array):
    """The JSON text (bytes) of an array, as json.dumps(array.tolist()) writes it compactly,
    built a 2-D block at a time so that no list of the whole array exists."""
    if array.ndim <= 2:
        return json.dumps(array.tolist(), separators=(",", ":")).encode()
    return b"[" + b",".join(dumps_array(part) for part in array) + b"]"


def dumps(value):
    """JSON bytes of a response: dicts and lists as json does, arrays by dumps_array."""
    if isinstance(value, np.ndarray):
        return dumps_array(value)
    if isinstance(value, dict):
        return b"{" + b",".join(json.dumps(str(k)).encode() + b":" + dumps(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dumps(v) for v in value) + b"]"
    return json.dumps(value).encode()
