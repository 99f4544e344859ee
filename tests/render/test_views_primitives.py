"""View primitives: layer validation, colour maps, number formatting, the memo, the view registry, and
that importing the views loads neither Qt nor torch."""

import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

from detviewer.core.types import Detections, Inference
from detviewer.render.model.primitives import (
    COLORMAPS,
    HeatmapLayer,
    SegmentLayer,
    TextLayer,
    ViewFrame,
    colormap,
    fmt_int,
    fmt_num,
    memo,
)
from detviewer.render.model.registry import VIEWS


def test_views_import_neither_qt_nor_torch():
    code = ("import sys, detviewer.render.model.registry as v; import detviewer.render.model.geometry; "
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'superqt', 'torch', 'torchvision', 'cv2'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_colormap_ends_middle_and_clipping():
    table = COLORMAPS["viridis"]
    colors = colormap([0.0, 1.0, 0.5, -3.0, 7.0], "viridis")
    np.testing.assert_array_equal(colors[0], table[0])
    np.testing.assert_array_equal(colors[1], table[-1])
    np.testing.assert_array_equal(colors[2], table[4])  # nine samples: 0.5 is the fifth
    np.testing.assert_array_equal(colors[3], table[0])
    np.testing.assert_array_equal(colors[4], table[-1])
    # halfway between the first two samples (t = 1/16)
    np.testing.assert_array_equal(colormap([1 / 16])[0], np.round((table[0] + table[1]) / 2))
    # another range: 5 maps to the start of 5…15
    np.testing.assert_array_equal(colormap([5.0, 15.0], "inferno", 5.0, 15.0), COLORMAPS["inferno"][[0, -1]])


def test_layers_validate_their_arrays():
    one = SegmentLayer("s", [[0, 0, 1, 1], [1, 1, 2, 2]], (255, 0, 0))
    assert one.colors.shape == (2, 3) and len(one) == 2 and one.segments.dtype == np.float32
    with pytest.raises(ValueError, match="colors must have shape"):
        SegmentLayer("s", [[0, 0, 1, 1]], np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="2 texts for 1 positions"):
        TextLayer("t", [[0, 0]], ("a", "b"), (255, 255, 255))
    with pytest.raises(ValueError, match="unknown text anchor"):
        TextLayer("t", [[0, 0]], ("a",), (255, 255, 255), anchor="middle")
    with pytest.raises(ValueError, match="unknown colormap"):
        HeatmapLayer("h", (0, 0, 1, 1), np.zeros((2, 2)), colormap="jet")
    with pytest.raises(ValueError, match="values must be 2-D"):
        HeatmapLayer("h", (0, 0, 1, 1), np.zeros(4))


def test_heatmap_rgb_uses_the_range():
    heat = HeatmapLayer("h", (0, 0, 10, 10), [[0.0, 0.5], [1.0, 2.0]], value_range=(0.0, 1.0))
    rgb = heat.rgb()
    assert rgb.shape == (2, 2, 3)
    np.testing.assert_array_equal(rgb[1, 1], COLORMAPS["viridis"][-1])  # 2.0 clips to the top
    auto = HeatmapLayer("h", (0, 0, 10, 10), [[2.0, 4.0]]).rgb()  # min…max
    np.testing.assert_array_equal(auto[0], COLORMAPS["viridis"][[0, -1]])


def test_heatmap_min_alpha_lets_low_values_show_the_picture_through():
    # min_alpha 60, alpha 200 over 0…4: opacity 60 + t × 140 at t = 0, 1/4, 1 (clipped) and the NaN at the floor
    heat = HeatmapLayer("h", (0, 0, 10, 10), [[0.0, 1.0], [8.0, np.nan]], alpha=200, value_range=(0.0, 4.0),
                        min_alpha=60)
    np.testing.assert_array_equal(heat.alphas(), [[60, 95], [200, 60]])
    flat = HeatmapLayer("h", (0, 0, 10, 10), [[0.0, 1.0]], alpha=120)
    np.testing.assert_array_equal(flat.alphas(), [[120, 120]])


def test_heatmap_image_carries_each_cells_alpha():
    from detviewer.render.qt.style import qimage_from_heatmap

    heat = HeatmapLayer("h", (0, 0, 10, 10), [[0.0, 4.0]], "inferno-light", alpha=200, value_range=(0.0, 4.0),
                        min_alpha=60)
    image = qimage_from_heatmap(heat)
    assert [image.pixelColor(x, 0).alpha() for x in range(2)] == [60, 200]
    assert image.pixelColor(0, 0).getRgb()[:3] == tuple(int(v) for v in COLORMAPS["inferno-light"][0])


def test_the_light_maps_keep_3_to_1_against_black():
    # lecture mode's background is black: the light maps' every colour keeps WCAG 3:1 there (inferno's and
    # viridis's dark ends are under 1.6:1)
    def contrast(rgb) -> float:
        c = np.asarray(rgb, np.float64) / 255.0
        lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return (0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05) / 0.05

    for name in ("viridis-light", "inferno-light"):
        assert min(contrast(c) for c in colormap(np.linspace(0, 1, 101), name)) >= 3.0, name
    assert contrast(COLORMAPS["inferno"][0]) < 1.1 and contrast(COLORMAPS["viridis"][0]) < 1.7


def test_number_formats():
    assert fmt_int(217413) == "217,413"
    assert [fmt_num(v) for v in (16.0, 0.5, 7.8947, 160, -0.001, 100)] == ["16", "0.5", "7.89", "160", "0", "100"]
    assert fmt_num(1234.5678, 0) == "1235"


def test_frame_lookup():
    frame = ViewFrame([SegmentLayer("grid", np.zeros((0, 4)), np.zeros((0, 3), np.uint8))], "c")
    assert frame.layer("grid").name == "grid" and frame.names() == ["grid"]
    with pytest.raises(KeyError, match="no layer 'cells'"):
        frame.layer("cells")


def test_memo_computes_once_per_inference_and_forgets_it():
    inference = Inference("m", (1, 1), Detections.empty(), Detections.empty())
    calls = []
    for _ in range(3):
        assert memo(inference, ("k",), lambda: calls.append(1) or 42) == 42
    assert len(calls) == 1
    other = Inference("m", (1, 1), Detections.empty(), Detections.empty())
    memo(other, ("k",), lambda: calls.append(1) or 0)
    assert len(calls) == 2
    from detviewer.render.model import primitives

    assert other in primitives._MEMO
    alive = weakref.ref(other)
    del other
    gc.collect()
    assert alive() is None  # the memo held no strong reference
    assert all(key is not None for key in primitives._MEMO)


def test_registry_names_every_view_and_the_render_command_offers_each():
    from detviewer.cli.render import build_parser

    assert set(VIEWS) == {"detections", "nms", "anchors", "proposals", "default-boxes", "grid", "yolo-cells",
                          "regression", "roi", "sliding-window", "selective-search", "sampling", "map",
                          "classic-pyramid", "classic-windows", "classic-grouping"}
    assert list(build_parser()._option_string_actions["--view"].choices) == list(VIEWS)
    for spec in VIEWS.values():
        assert spec.name and spec.title and callable(spec.build) and callable(spec.step_count)
        assert set(spec.defaults()) == {c.name for c in spec.controls}
        assert spec.help, f"{spec.name} says nothing in Help → Keyboard shortcuts"
