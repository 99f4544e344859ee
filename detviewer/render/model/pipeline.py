"""The one way a view is drawn: can this model show it → prepare its expensive input → build the frame.

The window's presenter (which runs ``prepare`` in the background), ``detviewer render`` and ``detviewer lecture``
(which run it here), and the lecture planner all decide "can show" with :func:`cannot_show`, so a view one of
them refuses, every one refuses, with the same sentence.

    model = ModelAbilities.of(detector)             # or of the window's LoadedModel
    why = cannot_show(spec, model)                  # "" when it can
    frame = view_frame(spec, request, model, run_prepare=lambda p: p.run(detector))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from detviewer.render.model.primitives import ViewError, ViewFrame
from detviewer.render.model.spec import Prepare, ViewRequest, ViewSpec

__all__ = ["ModelAbilities", "cannot_show", "can_show", "prepared_request", "build", "view_frame"]


@dataclass(frozen=True)
class ModelAbilities:
    """What a model can show. capabilities: its Detector capabilities (None: not known yet, nothing is refused for
    them); final_only_reason: why a model that outputs only final detections shows no internals ("" otherwise)."""

    name: str = "This model"
    capabilities: frozenset[str] | None = None
    final_only_reason: str = ""

    @staticmethod
    def of(model: Any, name: str = "") -> ModelAbilities:
        """From a Detector, a ModelInfo or the window's LoadedModel (anything with these attributes)."""
        capabilities = getattr(model, "capabilities", None)
        return ModelAbilities(name or getattr(model, "name", "") or "This model",
                              None if capabilities is None else frozenset(capabilities),
                              getattr(model, "final_only_reason", "") or "")


def cannot_show(spec: ViewSpec, model: ModelAbilities) -> str:
    """The sentence saying why ``model`` cannot show ``spec`` ("" when it can)."""
    if (spec.needs_candidates or spec.needs) and model.final_only_reason:
        return model.final_only_reason  # a model that outputs only final detections shows no internals
    if spec.needs and model.capabilities is not None and spec.needs not in model.capabilities:
        return spec.cannot_show_sentence(model.name)
    return ""


def can_show(spec: ViewSpec, model: ModelAbilities) -> bool:
    return not cannot_show(spec, model)


def prepared_request(spec: ViewSpec, request: ViewRequest, run_prepare: Callable[[Prepare], Any],
                     cache: dict[Any, Any] | None = None, cache_key: Any = None) -> ViewRequest:
    """``request`` with the view's expensive input computed now by ``run_prepare(prepare)``; cache: results by
    (cache_key, prepare.key), shared between calls (a lecture computes one per model)."""
    if spec.prepare is None:
        return request
    job = spec.prepare(request)
    if job is None:
        return request
    if cache is None:
        return replace(request, prepared=run_prepare(job))
    key = (cache_key, job.key)
    if key not in cache:
        cache[key] = run_prepare(job)
    return replace(request, prepared=cache[key])


def build(spec: ViewSpec, request: ViewRequest, model: ModelAbilities) -> ViewFrame:
    """``spec.build(request)``, or ViewError (one sentence) when ``model`` cannot show the view."""
    why = cannot_show(spec, model)
    if why:
        raise ViewError(why)
    return spec.build(request)


def view_frame(spec: ViewSpec, request: ViewRequest, model: ModelAbilities,
               run_prepare: Callable[[Prepare], Any], cache: dict[Any, Any] | None = None,
               cache_key: Any = None) -> ViewFrame:
    """The whole pipeline in one thread: can show → prepare (``run_prepare``) → build."""
    why = cannot_show(spec, model)
    if why:
        raise ViewError(why)
    return spec.build(prepared_request(spec, request, run_prepare, cache, cache_key))
