"""Checked columns of parsed COCO JSON (ids, numbers, flags, boxes), each failure one sentence naming the entry."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from detviewer.errors import AnnotationError

__all__ = ["column", "ids", "is_number", "numbers", "flags", "area", "boxes", "json_kind", "short", "jsonable", "no_duplicates", "lookup"]


def column(items: list, key: str, source: str, what: str) -> list:
    """``[item[key] for item in items]``; AnnotationError naming the first bad item."""
    try:
        return [item[key] for item in items]
    except (KeyError, TypeError, IndexError):
        pass
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise AnnotationError(f"{source}: {what}[{i}] is {json_kind(item)}, not an object.")
        if key not in item:
            raise AnnotationError(f"{source}: {what}[{i}] has no '{key}'.")
    raise AnnotationError(f"{source}: the '{key}' fields of {what} could not be read.")


def ids(values: list, source: str, what: str, key: str) -> np.ndarray:
    """(N,) int64 from JSON integers; AnnotationError naming the first non-integer."""
    arr = np.array(values) if values else np.zeros(0, np.int64)
    if arr.ndim == 1 and arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool) or not -2 ** 63 <= v < 2 ** 63:
            raise AnnotationError(f"{source}: {what}[{i}] has {key} {short(v)}, which is not a 64-bit integer.")
    return np.array(values, np.int64)  # pragma: no cover - a mix numpy did not type as int


def is_number(v: Any) -> bool:
    try:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def numbers(values: list, source: str, what: str, key: str) -> np.ndarray:
    """(N,) float64 from finite JSON numbers; AnnotationError naming the first other value."""
    arr = np.array(values) if values else np.zeros(0)
    if arr.ndim == 1 and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64, copy=False)
        if np.isfinite(arr).all():
            return arr
    for i, v in enumerate(values):
        if not is_number(v):
            raise AnnotationError(f"{source}: {what}[{i}] has {key} {short(v)}, which is not a finite number.")
    return np.array(values, np.float64)  # pragma: no cover - a mix numpy did not type as numbers


def flags(items: list, key: str, source: str) -> np.ndarray:
    """(N,) bool of an optional 0/1 (or true/false) annotation field, False where absent."""
    values = [item.get(key, 0) for item in items]
    arr = np.array(values) if values else np.zeros(0, bool)
    if arr.ndim == 1 and arr.dtype.kind in "biu":
        return arr != 0
    for i, v in enumerate(values):
        if not isinstance(v, int):  # bool is an int
            raise AnnotationError(f"{source}: annotations[{i}] has {key} {short(v)}, which is not 0 or 1.")
    return np.array(values) != 0  # pragma: no cover


def area(items: list, xywh: np.ndarray, source: str) -> np.ndarray:
    """(N,) float64 annotation areas; width * height where "area" is absent."""
    values = [item.get("area") for item in items]
    if None in values:
        box_area = (xywh[:, 2] * xywh[:, 3]).tolist()
        values = [box_area[i] if v is None else v for i, v in enumerate(values)]
    return numbers(values, source, "annotations", "area")


def boxes(values: list, source: str, what: str) -> np.ndarray:
    """(N, 4) float64 xywh; AnnotationError for the first bbox that is not 4 finite numbers, w, h >= 0."""
    try:
        arr = np.array(values) if values else np.zeros((0, 4))
    except ValueError:  # ragged lists
        arr = None
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64, copy=False)
        if np.isfinite(arr).all() and (arr[:, 2:] >= 0).all():
            return arr
    for i, b in enumerate(values):
        if not isinstance(b, list) or len(b) != 4 or not all(is_number(v) for v in b):
            raise AnnotationError(f"{source}: {what}[{i}] has bbox {short(b)}, "
                                  f"which is not 4 finite numbers [x, y, width, height].")
        if b[2] < 0 or b[3] < 0:
            raise AnnotationError(f"{source}: {what}[{i}] has bbox {short(b)} with a negative width or height.")
    return np.array(values, np.float64)  # pragma: no cover - a mix numpy did not type as numbers


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words: "an array", "a string" ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((dict, "an object"), (list, "an array"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def short(value: Any) -> str:
    text = json.dumps(value) if jsonable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def no_duplicates(sorted_ids: np.ndarray, source: str, name: str) -> None:
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if dup.size:
        raise AnnotationError(f"{source}: {name} {int(sorted_ids[dup[0]])} is used more than once.")


def lookup(known: np.ndarray, ids: np.ndarray, source: str, what: str, key: str,
            where: str, names: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``ids`` in the ascending array ``known``; AnnotationError for unknown ones."""
    idx = np.searchsorted(known, ids)
    clipped = np.minimum(idx, max(known.shape[0] - 1, 0))
    bad = (idx >= known.shape[0]) | (known[clipped] != ids) if known.size else np.ones(ids.shape, bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        count = int(bad.sum())
        entry = f"annotation {int(names[first])}" if names is not None else f"{what}[{first}]"
        more = f" ({count} {what} in all)" if count > 1 else ""
        raise AnnotationError(f"{source}: {entry} has {key} {int(ids[first])}, which is not in {where}{more}.")
    return idx.astype(np.int64)
