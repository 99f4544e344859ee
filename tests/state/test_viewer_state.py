"""The one view state (Qt-free): views, steps per view, controls, picks, selection, thresholds, typed events."""

from __future__ import annotations

import pytest
from state_fakes import A, C, D, E, make_inference

from detviewer.ops.nms import nms_trace
from detviewer.state.events import (
    ControlChanged,
    InferenceChanged,
    PickChanged,
    SelectionChanged,
    StepChanged,
    ThresholdsChanged,
    ViewChanged,
)
from detviewer.state.nms_replay import Thresholds
from detviewer.state.viewer_state import ViewerState

VIEWS = {"detections": {}, "nms": {}, "anchors": {"color_by": "auto"}}


def counter(state, view):
    """A registry stand-in: the NMS view has replay steps + 1, the anchors view 4, detections 1."""
    count = {"nms": state.replay.step_count + 1, "anchors": 4}.get(view, 1)
    step = state.choices(view).step
    return (0 if step is None else min(step, count - 1)), count


def make_state(**thresholds) -> tuple[ViewerState, list]:
    state = ViewerState(VIEWS, counter, nms_trace, Thresholds(**{"score": 0.2, **thresholds}), restart_steps={"nms"})
    heard = []
    state.subscribe(heard.append)
    state.set_inference(make_inference())
    heard.clear()
    return state, heard


def test_each_change_is_one_typed_event_and_no_change_is_silent():
    state, heard = make_state()
    state.set_view("nms")
    state.set_view("nms")
    state.set_step(2)
    state.set_step(2)
    state.set_control("color_by", "level", "anchors")
    state.set_point((5, 6), "anchors")
    state.select(D)
    state.select(99)  # out of range: clears the selection
    assert not state.set_thresholds(iou=0.5)
    state.set_thresholds(score=0.3)
    assert heard == [ViewChanged("nms"), StepChanged("nms", 2), ControlChanged("anchors", "color_by"),
                     PickChanged("anchors"), SelectionChanged(D), SelectionChanged(None), ThresholdsChanged(True)]


def test_steps_are_kept_per_view_and_clamped():
    state, _ = make_state(iou=0.7)  # 5 NMS steps
    state.set_view("nms")
    state.set_step(99)
    assert state.step_position() == (5, 6)
    state.set_step(2, "anchors")
    state.step_by(-1)
    assert state.step_position() == (4, 6) and state.step_position("anchors") == (2, 4)
    state.set_thresholds(iou=0.3)  # 3 steps now: the stored step is clamped where it is read
    assert state.step_position() == (3, 4)


def test_a_new_image_restarts_nms_and_forgets_picks_but_a_stream_frame_does_not():
    state, heard = make_state()
    state.set_view("nms")
    state.set_step(2)
    state.set_picked(1, "anchors")
    state.set_inference(make_inference(), restart=False)
    assert state.choices("nms").step == 2 and state.choices("anchors").picked == 1
    state.set_inference(make_inference())
    assert state.choices("nms").step == 0 and state.choices("anchors").picked is None
    assert heard[-1] == InferenceChanged(True)


def test_a_pick_shows_the_view_at_its_default_step():
    state, _ = make_state()
    state.set_step(3, "anchors")
    state.set_point((1.0, 2.0), "anchors")
    assert state.choices("anchors").step is None and state.choices("anchors").point == (1.0, 2.0)


def test_score_changes_restrict_the_replay_without_running_nms():
    calls = []

    def counting_trace(*args, **kwargs):
        calls.append(kwargs["score_threshold"])
        return nms_trace(*args, **kwargs)

    state = ViewerState(VIEWS, counter, counting_trace, Thresholds(score=0.2, iou=0.3))
    state.set_inference(make_inference())
    for score in (0.1, 0.5, 0.65, 0.2):
        state.set_thresholds(score=score)
    assert len(calls) == 1  # one unfiltered run; every score after it is a restriction
    assert sorted(state.replay.keep.tolist()) == [A, D, E]
    state.set_thresholds(score=0.75)
    assert state.replay.keep.tolist() == [A]
    state.set_thresholds(iou=0.5)  # another IoU: one more NMS
    assert len(calls) == 2 and sorted(state.replay.keep.tolist()) == [A]
    state.set_thresholds(score=0.2)
    assert len(calls) == 2 and sorted(state.replay.keep.tolist()) == [A, C, D, E]


def test_unknown_view_and_control_are_refused():
    state, _ = make_state()
    with pytest.raises(ValueError):
        state.set_view("nope")
    with pytest.raises(ValueError):
        state.set_control("nope", 1, "anchors")
