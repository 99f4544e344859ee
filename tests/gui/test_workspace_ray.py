"""The window runs its dataset evaluation on a Ray cluster when the Evaluation dock names one: the same numbers as a
run here; an address where no cluster answers is one sentence and the window goes on."""

from __future__ import annotations

import numpy as np
import pytest
from test_workspace import GT, _open_dataset, _window_with_model

from detviewer.gui.workspace.dock import RAY_SETTING
from tests.evaluation.ray_fixtures import local_cluster, needs_ray

pytestmark = [needs_ray, pytest.mark.slow]
__all__ = ["local_cluster"]  # the fixture, imported for pytest


def _run_here_and_there(window, qtbot, tmp_path, address: str) -> tuple[object, object]:
    ws = window.workspace
    results = []
    for side, where, store in (("A", "", "here"), ("B", address, "there")):
        ws.cache_dir = tmp_path / store
        ws.ray_address.setText(where)
        ws.ray_address.editingFinished.emit()
        ws.run_model(side, ask=False)
        qtbot.waitUntil(lambda s=side: ws.session.has(s), timeout=240000)
        results.append(ws.session.predictions[side])
    return results[0], results[1]


def test_a_dataset_run_on_a_cluster_gives_the_numbers_of_a_run_here(make_window, qtbot, tmp_path, local_cluster):
    window = _window_with_model(make_window, qtbot, "demo-ssd")
    _open_dataset(window, qtbot)
    here, there = _run_here_and_there(window, qtbot, tmp_path, "auto")
    assert window.session.settings.value(RAY_SETTING) == "auto"  # kept for the next start
    assert len(here.boxes) > 0
    np.testing.assert_array_equal(there.boxes.image_index, here.boxes.image_index)
    np.testing.assert_array_equal(there.boxes.category_index, here.boxes.category_index)
    np.testing.assert_allclose(there.boxes.xywh, here.boxes.xywh, atol=1e-4)
    np.testing.assert_allclose(there.boxes.scores, here.boxes.scores, atol=1e-6)
    assert GT.exists()


def test_no_cluster_at_the_address_is_one_sentence_and_the_window_goes_on(make_window, qtbot, tmp_path):
    window = _window_with_model(make_window, qtbot, "demo-ssd")
    _open_dataset(window, qtbot)
    ws = window.workspace
    ws.cache_dir = tmp_path / "store"
    ws.ray_address.setText("127.0.0.1:9")
    with qtbot.waitSignal(ws.runner.failed, timeout=60000) as failed:
        ws.run_model("A")
    side, sentence = failed.args
    assert side == "A" and "does not answer" in sentence and "\n" not in sentence
    assert ws.runner.running is None and window.session.model is not None  # the model and the window stay
