"""Before-CNN views: sliding-window counts by hand, Selective Search drawing, crop-and-warp gallery."""

from dataclasses import replace

import numpy as np

from detviewer.core.types import Detections, Inference
from detviewer.render.model.views.before_cnn import (
    SelectiveSearchViewState,
    SlidingWindowViewState,
    selective_search_frame,
    sliding_window_frame,
    sliding_window_steps,
    warp_gallery,
)


def image_inference(height=480, width=640) -> Inference:
    return Inference("none", (height, width), Detections.empty(), Detections.empty())


def test_sliding_window_counts_by_hand():
    # 640×480, squares of 128 and 256 moving a quarter side: 128 -> stride 32, (640 − 128)/32 + 1 = 17
    # columns × (480 − 128)/32 + 1 = 12 rows = 204; 256 -> stride 64, 7 × 4 = 28. Total 232.
    state = SlidingWindowViewState(sizes=(128, 256), aspect_ratios=(1.0,), max_drawn=50)
    inference = image_inference()
    frame = sliding_window_frame(inference, state)
    assert frame.table == [("128×128, stride 32", "204"), ("256×256, stride 64", "28"), ("Total", "232 windows")]
    assert sliding_window_steps(inference, state=state) == 3 and frame.step == 2
    assert "232 windows" in frame.caption
    drawn = [frame.layer("windows_128x128"), frame.layer("windows_256x256")]
    assert len(drawn[0]) == 25 and len(drawn[1]) == 25  # 50 drawn in all, split between the shapes
    assert drawn[0].xyxy[:, 0].min() == 0 and drawn[0].xyxy[:, 2].max() == 640  # spread over the image


def test_one_window_shape_per_step():
    state = SlidingWindowViewState(sizes=(128, 256), aspect_ratios=(1.0,), step=0)
    frame = sliding_window_frame(image_inference(), state)
    assert frame.names() == ["windows_128x128", "example_windows"]
    assert frame.caption.startswith("A 128×128 window moved 32 px at a time: 17 × 12 = 204 positions")
    assert len(frame.layer("windows_128x128")) == 204  # fewer than max_drawn: all of them


def test_windows_larger_than_the_image_are_left_out():
    state = SlidingWindowViewState(sizes=(64, 256), aspect_ratios=(1.0,))
    frame = sliding_window_frame(image_inference(100, 100), state)
    assert [key for key, _ in frame.table] == ["64×64, stride 16", "Total"]


def test_selective_search_frame_numbers_the_gallery_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 50, 50], [20, 30, 60, 90]], np.float32)
    state = SelectiveSearchViewState(boxes, seconds=1.234, top_n=2, gallery=2)
    frame = selective_search_frame(image_inference(), state)
    assert frame.layer("selective_search").index.tolist() == [1, 0]  # the first proposal drawn last
    assert frame.layer("gallery_boxes").labels == ("1", "2")
    assert dict(frame.table)["Time"] == "1.23 s" and dict(frame.table)["Proposals"] == "3"
    assert "3 candidate boxes in 1.23 s" in frame.caption


def test_warp_gallery_stretches_each_box_to_a_square():
    image = np.zeros((200, 300, 3), np.uint8)
    image[50:100, 100:250] = (255, 0, 0)  # a wide red rectangle
    gallery = warp_gallery(image, [[100, 50, 250, 100], [0, 0, 40, 40]], n=1, size=64, context=0)
    assert gallery.shape == (1, 64, 64, 3)
    # warped with no context the rectangle fills the whole tile
    assert (gallery[0, 2:-2, 2:-2, 0] > 200).all() and (gallery[0, 2:-2, 2:-2, 1:] < 50).all()


def test_crop_and_warp_step_lays_the_crops_over_the_frame():
    from detviewer.render.model.views.before_cnn import gallery_rects

    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :, 1] = np.arange(640, dtype=np.uint8)[None, :] // 3
    boxes = np.array([[10, 10, 110, 60], [300, 20, 340, 120], [20, 30, 60, 70]], np.float32)  # all in the top half
    crops = warp_gallery(image, boxes, n=3, size=32, context=0)
    state = SelectiveSearchViewState(boxes, seconds=0.5, gallery=3, crops=crops, warp_size=32, context=0)
    assert selective_search_frame(image_inference(), state).step == 0  # proposals first
    frame = selective_search_frame(image_inference(), replace(state, step=1))
    assert (frame.step, frame.step_count, frame.step_label) == (1, 2, "Crop and warp")
    layer = frame.layer("warped_crops")
    assert layer.images.shape == (3, 32, 32, 3)
    # the boxes are at the top, so the gallery goes along the bottom, inside the frame
    assert (layer.rects[:, 1] > 240).all() and (layer.rects[:, 3] <= 480).all()
    np.testing.assert_allclose(layer.rects, gallery_rects((480, 640), 3))
    side = layer.rects[:, 2] - layer.rects[:, 0]
    np.testing.assert_allclose(side, layer.rects[:, 3] - layer.rects[:, 1])  # squares, like the crops
    assert frame.layer("crop_numbers").texts == ("1", "2", "3")
    assert frame.table[0] == ("1", "100×50 px (w/h 2.00) → 32×32")
    assert "width/height from 0.40 to 2.00" in frame.caption
    # without crops there is no second step
    assert selective_search_frame(image_inference(), replace(state, crops=None, step=1)).step_count == 1


def test_gallery_rects_fit_rows_of_four():
    from detviewer.render.model.views.before_cnn import gallery_rects

    rects = gallery_rects((300, 400), 8)
    assert rects.shape == (8, 4)
    assert rects[:, 0].min() >= 0 and rects[:, 2].max() <= 400 and rects[:, 3].max() <= 300
    assert len(set(np.round(rects[:, 1], 3))) == 2  # two rows
    assert (rects[:4, 2] <= rects[4:, 2] + 1e-3).all()
    top = gallery_rects((300, 400), 8, top=True)
    assert top[:, 1].min() < 10 and top[:, 3].max() - top[:, 1].min() <= 150  # half the height at most


def test_crop_gallery_hides_none_of_the_proposals_it_shows():
    # on the demo image the first 8 proposals span the frame's bottom three quarters: the gallery (placed over
    # the lower half before) hid proposals 1, 3 and 5 with their numbers; every one stays in view now
    from pathlib import Path

    from detviewer.io.images import load_image

    image = load_image(Path(__file__).resolve().parents[2] / "assets" / "demo" / "shapes_7_00000.png")
    # Selective Search's first 8 proposals on that image (fast mode; OpenCV's threads can reorder later ones)
    boxes = np.array([[149, 201, 177, 296], [129, 106, 181, 184], [94, 141, 130, 206], [28, 109, 79, 155],
                      [71, 213, 96, 235], [28, 112, 79, 155], [79, 152, 110, 197], [245, 120, 320, 207]], np.float32)
    crops = warp_gallery(image, boxes, n=8)
    state = SelectiveSearchViewState(boxes, 1.0, crops=crops, step=1)
    frame = selective_search_frame(image_inference(*image.shape[:2]), state)
    shown = frame.layer("gallery_boxes")
    backdrop = frame.layer("gallery_backdrop").xyxy[0]
    assert len(shown) == 8 and all(shown.labels), "a proposal's number is hidden"
    iw = np.clip(np.minimum(shown.xyxy[:, 2], backdrop[2]) - np.maximum(shown.xyxy[:, 0], backdrop[0]), 0, None)
    ih = np.clip(np.minimum(shown.xyxy[:, 3], backdrop[3]) - np.maximum(shown.xyxy[:, 1], backdrop[1]), 0, None)
    np.testing.assert_array_equal(iw * ih, 0)  # no proposal under the gallery
    tiles = frame.layer("warped_crops").rects
    assert (tiles[:, 2] - tiles[:, 0] >= 0.1 * image.shape[1]).all()  # the crops stay large enough to read
    assert (tiles >= 0).all() and (tiles[:, [2, 3]] <= [image.shape[1], image.shape[0]]).all()
