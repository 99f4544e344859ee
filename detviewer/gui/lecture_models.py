"""Which model draws each part of the live lecture: render.model.deck.plan_deck's rule over the model loaded when
lecture mode began, then the lecture plan's models (the first that can show the part's view and has its slides'
capability; one with a slide's ``prefer`` capability first). A model that failed to load is not asked again."""

from __future__ import annotations

from pathlib import Path

from detviewer.errors import DetviewerError
from detviewer.render.model.lecture_plan import LivePart
from detviewer.render.model.pipeline import ModelAbilities, cannot_show
from detviewer.render.model.registry import VIEWS
from detviewer.render.model.spec import ViewSpec

__all__ = ["LectureModels", "same_model"]


def same_model(a: str, b: str) -> bool:
    """Two names of one model: an ONNX file loads under its file name (``models/yolov8n.onnx`` → ``yolov8n.onnx``)."""
    def key(name: str) -> str:
        return Path(name).name if name.lower().endswith(".onnx") else name

    return key(a) == key(b)


class LectureModels:
    """The lecture's models in the order they are asked: ``begin(loaded, plan_models)`` when lecture mode starts."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.failed: set[str] = set()

    def begin(self, loaded: str | None, plan_models: tuple[str, ...]) -> None:
        self.names = tuple(dict.fromkeys(((loaded,) if loaded else ()) + plan_models))
        self.failed = set()

    def forget(self, name: str) -> None:
        """``name`` failed to load: the next choice skips it."""
        self.failed.add(name)

    def choose(self, part: LivePart, loaded: str | None, loaded_abilities: ModelAbilities) -> str | None:
        """The model that draws ``part``: ``""`` when it is the loaded one, else its name; None when none can."""
        spec = VIEWS[part.view]
        prefer = next((s.prefer for s in part.slides if s.prefer), "")
        able = []
        for name in self.names:
            if name in self.failed:
                continue
            abilities = loaded_abilities if loaded and same_model(name, loaded) else _registry_abilities(name)
            if abilities is not None and _able(spec, part, abilities):
                able.append((name, abilities))
        if not able:
            return None
        preferred = [(n, m) for n, m in able if prefer and prefer in (m.capabilities or ())]
        name = (preferred or able)[0][0]
        return "" if loaded and same_model(name, loaded) else name


def _registry_abilities(name: str) -> ModelAbilities | None:
    from detviewer.detectors.registry import model_info

    try:
        return ModelAbilities.of(model_info(name), name)
    except DetviewerError:
        return None


def _able(spec: ViewSpec, part: LivePart, model: ModelAbilities) -> bool:
    return not cannot_show(spec, model) and (not part.needs or part.needs in (model.capabilities or frozenset()))
