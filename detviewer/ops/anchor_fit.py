"""Anchor shapes (k-means prototypes) written in a generator's own parameters, so that they can be measured
with the same code path as the model's anchors and pasted into the model's construction.

A detection head predicts a fixed number of anchors per location on every level, so a suggestion keeps the
generator's layout and only changes its numbers, level by level (a level given None keeps its own):

- ``AnchorGenerator`` (Faster R-CNN, RetinaNet): level l makes ``sizes[l] x aspect_ratios[l]`` anchors (ratio
  = h / w). From the level's prototypes, the ``len(sizes[l])`` sizes are the geometric means of sqrt(w h) over
  equal chunks of the prototypes sorted by area, and the ratios those of h / w over equal chunks sorted by ratio.
- ``DefaultBoxGenerator`` (SSD): level l makes two square boxes (scales s_l and sqrt(s_l s_l+1)) and, per
  ratio r of ``aspect_ratios[l]``, a w/h = r box and its transpose, all as fractions of the input. s_l is the
  geometric mean of sqrt(w h) / sqrt(W H) of the level's prototypes, the last scale continues the progression
  (or stays when the last level is kept), and the ratios are geometric means over pairs of the level's most
  elongated prototypes (max(w/h, h/w)).

The coverage a suggestion gives is then *measured* (``evaluation.anchor_suggestion``), not assumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator

from detviewer.ops.anchors import Generator

__all__ = ["shapes_per_level", "fit_generator", "describe_generator"]


def shapes_per_level(generator: Generator) -> list[int]:
    """Anchor shapes per location of each level (their sum is the k of the k-means)."""
    if isinstance(generator, (AnchorGenerator, DefaultBoxGenerator)):
        return [int(n) for n in generator.num_anchors_per_location()]
    raise TypeError(f"expected an AnchorGenerator or DefaultBoxGenerator, got {type(generator).__name__}")


def _chunk_geomeans(values: np.ndarray, chunks: int) -> list[float]:
    """Sort ``values`` and return the geometric mean of each of ``chunks`` near-equal consecutive chunks."""
    parts = np.array_split(np.sort(values), chunks)
    return [float(np.exp(np.log(p).mean())) for p in parts if len(p)]


def _fit_anchor_generator(generator: AnchorGenerator, per_level: Sequence[np.ndarray | None]) -> AnchorGenerator:
    sizes, ratios = [], []
    for level, group in enumerate(per_level):
        if group is None:
            sizes.append(tuple(generator.sizes[level]))
            ratios.append(tuple(generator.aspect_ratios[level]))
            continue
        n_sizes, n_ratios = len(generator.sizes[level]), len(generator.aspect_ratios[level])
        sizes.append(tuple(round(s, 1) for s in _chunk_geomeans(np.sqrt(group.prod(axis=1)), n_sizes)))
        ratios.append(tuple(round(r, 3) for r in _chunk_geomeans(group[:, 1] / group[:, 0], n_ratios)))
    return AnchorGenerator(sizes=tuple(sizes), aspect_ratios=tuple(ratios))


def _fit_default_boxes(generator: DefaultBoxGenerator, per_level: Sequence[np.ndarray | None],
                       input_hw: tuple[int, int]) -> DefaultBoxGenerator:
    h, w = float(input_hw[0]), float(input_hw[1])
    scales, ratios = list(generator.scales[:len(per_level)]), [list(r) for r in generator.aspect_ratios]
    for level, group in enumerate(per_level):
        if group is None:
            continue
        group = group / np.array([w, h])
        scales[level] = round(float(np.exp(np.log(np.sqrt(group.prod(axis=1))).mean())), 4)
        n_ratios = len(generator.aspect_ratios[level])
        elongation = np.sort(np.maximum(group[:, 0] / group[:, 1], group[:, 1] / group[:, 0]))[::-1]
        ratios[level] = [round(r, 3) for r in _chunk_geomeans(elongation[:2 * n_ratios], n_ratios)] if n_ratios else []
    if per_level[-1] is None:
        last = float(generator.scales[len(per_level)])
    else:
        last = round(scales[-1] * (scales[-1] / scales[-2] if len(scales) > 1 else 1.5), 4)
    return DefaultBoxGenerator(ratios, scales=scales + [max(last, scales[-1])], steps=generator.steps,
                               clip=generator.clip)


def fit_generator(generator: Generator, prototypes_per_level: Sequence[np.ndarray | None],
                  input_hw: tuple[int, int]) -> Generator:
    """A generator of the same kind and layout as ``generator`` whose level l has the shapes of
    ``prototypes_per_level[l]`` ((k_l, 2) width, height in input pixels, k_l = ``shapes_per_level(generator)[l]``),
    or keeps its own where that is None; input_hw (h, w): the input size the prototypes were measured at (SSD's
    scales are fractions of it)."""
    counts = shapes_per_level(generator)
    if len(prototypes_per_level) != len(counts):
        raise ValueError(f"expected prototypes for {len(counts)} levels, got {len(prototypes_per_level)}")
    per_level = [None if p is None else np.asarray(p, np.float64).reshape(-1, 2) for p in prototypes_per_level]
    for level, (group, count) in enumerate(zip(per_level, counts)):
        if group is not None and len(group) != count:
            raise ValueError(f"level {level} has {count} anchor shapes per location, got {len(group)} prototypes")
    if isinstance(generator, DefaultBoxGenerator):
        return _fit_default_boxes(generator, per_level, input_hw)
    return _fit_anchor_generator(generator, per_level)


def _plain(value: Any) -> Any:
    """Nested tuples / lists of numbers with whole floats written as ints (32.0 -> 32)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    value = float(value)
    return int(value) if value.is_integer() and not math.isinf(value) else value


def describe_generator(generator: Generator) -> str:
    """The generator as the Python expression that builds it (what to paste into the model's construction)."""
    if isinstance(generator, DefaultBoxGenerator):
        ratios = [list(_plain(r)) for r in generator.aspect_ratios]
        return (f"DefaultBoxGenerator({ratios}, scales={list(_plain(generator.scales))}, "
                f"steps={generator.steps}, clip={generator.clip})")
    if isinstance(generator, AnchorGenerator):
        return (f"AnchorGenerator(sizes={_plain(tuple(generator.sizes))}, "
                f"aspect_ratios={_plain(tuple(generator.aspect_ratios))})")
    raise TypeError(f"expected an AnchorGenerator or DefaultBoxGenerator, got {type(generator).__name__}")
