"""The lecture plan (which sections of the classic lecture, in which order, drawn by which models) and the live walk
through it (Qt-free).

A plan file is TOML, shared by the window's lecture mode and ``detviewer lecture --plan``::

    # the sections in the order to give them; a section left out is skipped
    sections = ["classic", "sliding-windows", "rcnn", "fast-rcnn", "faster-rcnn", "mask-rcnn", "yolo", "nms",
                "ssd", "map"]
    # the models that draw them: each view uses the first of these that can show it (optional)
    models = ["demo-frcnn", "demo-ssd", "demo-yolo", "haar-frontalface", "hog-people"]

The live walk (:func:`live_parts`) turns the plan's slides into parts: one view with its controls, walked step by
step. Consecutive slides of one view in a section are one part. A view's first part starts at its first step and its
last part runs to its last step, so Next walks every step of every view; a view met again later (Selective Search's
crop-and-warp under R-CNN, the sampling rules of each detector) shows there only the steps its slides name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detviewer.errors import DetviewerError
from detviewer.render.model.deck import LECTURE_DECK, DeckSlide, resolve_step

__all__ = ["SECTIONS", "DEFAULT_MODELS", "LecturePlan", "load_plan", "plan_text", "LivePart", "live_parts",
           "part_range", "section_key"]

#: (key, title) of every section of the lecture, in the lecture's order; the titles are the deck's section names.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("classic", "Slide a window, classify every crop"),
    ("sliding-windows", "Before CNNs"),
    ("rcnn", "R-CNN"),
    ("fast-rcnn", "Fast R-CNN"),
    ("faster-rcnn", "Faster R-CNN"),
    ("mask-rcnn", "Mask R-CNN"),
    ("yolo", "YOLO"),
    ("nms", "NMS"),
    ("ssd", "SSD"),
    ("map", "mAP"),
)

#: the models a lecture uses when the plan names none; the classic detector last: slides any model can show go to a
#: CNN (the window prefers the model already loaded)
DEFAULT_MODELS: tuple[str, ...] = ("demo-frcnn", "demo-ssd", "demo-yolo", "haar-frontalface", "hog-people")

_PLAN_LIMIT = 64 * 1024  # a plan file is a few lines


def section_key(name: str) -> str:
    """The key of the section called ``name`` (its key or its title, any case); DetviewerError naming the keys."""
    wanted = name.strip().lower()
    for key, title in SECTIONS:
        if wanted in (key, title.lower()):
            return key
    keys = ", ".join(key for key, _ in SECTIONS)
    raise DetviewerError(f"The lecture has no section called {name!r}; its sections are: {keys}.")


@dataclass(frozen=True)
class LecturePlan:
    """sections: section keys in the order to give them (the others are skipped); models: registry names, the
    first that can show a view draws it; source: the plan file ("" for the built-in plan)."""

    sections: tuple[str, ...] = tuple(key for key, _ in SECTIONS)
    models: tuple[str, ...] = DEFAULT_MODELS
    source: str = ""

    def title(self, key: str) -> str:
        return dict(SECTIONS)[key]

    def deck(self, deck: Sequence[DeckSlide] = LECTURE_DECK) -> tuple[DeckSlide, ...]:
        """The slides of ``deck`` in the plan's sections, section by section in the plan's order."""
        by_title: dict[str, list[DeckSlide]] = {}
        for slide in deck:
            by_title.setdefault(slide.section, []).append(slide)
        return tuple(slide for key in self.sections for slide in by_title.get(self.title(key), ()))


def load_plan(path: str | Path) -> LecturePlan:
    """Read a plan file (TOML, see the module's docstring); DetviewerError with one sentence when it is unreadable,
    not TOML, or names a section or model that does not exist."""
    from detviewer.detectors.registry import is_onnx_path, model_info
    from detviewer.io.limits import decode_text, read_regular

    path = Path(path)
    try:
        data = tomllib.loads(decode_text(read_regular(path, _PLAN_LIMIT, "lecture plan"), path, "lecture plan"))
    except tomllib.TOMLDecodeError as exc:
        raise DetviewerError(f"The lecture plan {path} is not valid TOML: {exc}.") from None
    unknown = sorted(set(data) - {"sections", "models"})
    if unknown:
        raise DetviewerError(f"The lecture plan {path} has unknown entries ({', '.join(unknown)}); it takes "
                             "'sections' and 'models'.")
    sections = _names(data, "sections", path) if "sections" in data else LecturePlan().sections
    keys = tuple(section_key(name) for name in sections)
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise DetviewerError(f"The lecture plan {path} names the section {repeated[0]!r} twice.")
    if not keys:
        raise DetviewerError(f"The lecture plan {path} has no sections.")
    models = _names(data, "models", path) if "models" in data else DEFAULT_MODELS
    if not models:
        raise DetviewerError(f"The lecture plan {path} names no models; leave 'models' out for the default ones.")
    for name in models:
        if not is_onnx_path(name):
            try:
                model_info(name)
            except (KeyError, ValueError, DetviewerError):
                raise DetviewerError(f"The lecture plan {path} names the model {name!r}, which detviewer does not "
                                     "know (`detviewer models` lists them).") from None
    return LecturePlan(keys, tuple(models), str(path))


def _names(data: Mapping[str, Any], entry: str, path: Path) -> tuple[str, ...]:
    value = data[entry]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DetviewerError(f"The lecture plan {path}: '{entry}' must be a list of names in quotes.")
    return tuple(value)


def plan_text(plan: LecturePlan) -> str:
    """The plan as a TOML file that :func:`load_plan` reads back, every section listed with its title."""
    lines = ["# detviewer lecture plan: the sections in the order to give them; leave one out to skip it.",
             "sections = ["]
    lines += [f'    "{key}",  # {plan.title(key)}' for key in plan.sections]
    lines += ["]", "# the models that draw the views: each view uses the first of these that can show it",
              "models = [" + ", ".join(f'"{m}"' for m in plan.models) + "]", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class LivePart:
    """One view walked step by step in the live lecture.

    section: the section's title; slides: the deck's slides this part shows (its title is the first one's);
    steps: the steps they name (ints, negative from the end, or step labels); from_start / to_end: the view's first /
    last part, which also walks the steps before / after those named; earlier: the steps named by this view's
    earlier parts (a last part runs to the end only past them)."""

    section: str
    view: str
    controls: Mapping[str, Any]
    slides: tuple[DeckSlide, ...]
    steps: tuple[int | str, ...]
    from_start: bool
    to_end: bool
    earlier: tuple[int | str, ...] = field(default=())

    @property
    def title(self) -> str:
        return self.slides[0].title

    @property
    def needs(self) -> str:
        """A capability the part's slides need besides the view's own ("" for none)."""
        return next((s.needs for s in self.slides if s.needs), "")

    @property
    def needs_gt(self) -> bool:
        """Every slide of the part needs ground truth: without it the part is left out."""
        return all(s.gt for s in self.slides)

    @property
    def point(self) -> tuple[float, float] | str | None:
        return next((s.point for s in self.slides if s.point is not None), None)


def _key(slide: DeckSlide) -> tuple[str, tuple[tuple[str, Any], ...], str]:
    """Slides of one view with the same controls and the same capability need are one view's visits (a slide that
    needs another capability, e.g. HOG's SVM margins, is drawn by another model: its own view)."""
    return slide.view, tuple(sorted(slide.controls.items())), slide.needs


def live_parts(deck: Sequence[DeckSlide]) -> tuple[LivePart, ...]:
    """The deck's slides as the parts the live lecture walks, in order (see the module's docstring)."""
    runs: list[list[DeckSlide]] = []
    for slide in deck:
        if runs and runs[-1][0].section == slide.section and _key(runs[-1][0]) == _key(slide):
            runs[-1].append(slide)
        else:
            runs.append([slide])
    keys = [_key(run[0]) for run in runs]
    parts = []
    for i, run in enumerate(runs):
        earlier = tuple(s.step for j in range(i) if keys[j] == keys[i] for s in runs[j])
        parts.append(LivePart(run[0].section, run[0].view, dict(run[0].controls), tuple(run),
                              tuple(s.step for s in run), from_start=keys[i] not in keys[:i],
                              to_end=keys[i] not in keys[i + 1:], earlier=earlier))
    return tuple(parts)


def part_range(part: LivePart, step_count: int, label_of: Callable[[int], str]) -> tuple[int, int] | None:
    """(first, last) 0-based steps the part walks, for a view with ``step_count`` steps whose step i is called
    ``label_of(i)`` (asked only for steps given as labels); None when none of its steps exists for this model."""
    def resolved(steps: Sequence[int | str]) -> list[int]:
        found = []
        for step in steps:
            try:
                found.append(resolve_step(step, step_count, label_of))
            except ValueError:
                continue  # e.g. a sampling rule this model has not got
        return found

    own = resolved(part.steps)
    if not own or step_count < 1:
        return None
    first, last = (0 if part.from_start else min(own)), max(own)
    before = resolved(part.earlier)
    if part.to_end and last >= max(before, default=-1):
        last = step_count - 1
    return first, max(first, last)
