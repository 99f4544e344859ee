"""A YOLO ONNX export in the real window: loaded through the model panel's request, the levels-and-cells
view enabled, a click on a detection shows the cell that predicted it."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from gui_fakes import write_image
from PySide6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
from onnx_fakes import export_yolo, prediction_index  # noqa: E402


def test_yolo_onnx_cells_view(make_window, qtbot, tmp_path):
    from detviewer.gui.worker import ModelRequest, _registry_loader

    hw = (320, 320)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_yolo(tmp_path / "m.onnx", "v5", [(prediction_index(hw, 1, 12, 7, anchor=1, anchors=3),
                                                          (200, 120, 64, 48), 1, 0.9)], names={0: "a", 1: "b", 2: "c"})
    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=30000):
        window.request_model(ModelRequest("yolo-onnx", str(path), "cpu"))
    assert window.views_panel.is_enabled("yolo-cells") and not window.views_panel.is_enabled("anchors")
    image = write_image(tmp_path / "frame.png", size=(240, 320))
    with qtbot.waitSignal(window.result_shown, timeout=30000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([image])
    window.state.set_view("yolo-cells")
    assert window.presenter.shown.frame.step_label == "All detections"
    pos = window.canvas.image_to_widget(200, 80).toPoint()  # inside the detection (168..232, 56..104)
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    frame = window.presenter.shown.frame
    assert frame.step_label == "b · stride 16" and dict(frame.table)["Anchor"] == "2 of 3"
    cell = next(layer for layer in window.canvas.layers if layer.name == "predicting_cell")
    np.testing.assert_allclose(cell.xyxy, [[192, 72, 208, 88]])
    assert "cell (column 12, row 7)" in window.views_panel.caption.text()
