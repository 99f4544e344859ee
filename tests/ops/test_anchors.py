import numpy as np
import pytest
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator

from detviewer.ops.anchors import cell_at, run_generator, ssd_boxes_per_location, ssd_scales, yolo_cell


def test_fifteen_by_fifteen_image_with_a_three_by_three_map_gives_torchvisions_nine_anchors():
    # torchvision's own test: sizes (10,), ratio 1, 15x15 image, 3x3 map, stride 5.
    generator = AnchorGenerator(sizes=((10,),), aspect_ratios=((1.0,),))
    (level,) = run_generator(generator, (15, 15), [(3, 3)])
    expected = torch.tensor([[-5, -5, 5, 5], [0, -5, 10, 5], [5, -5, 15, 5],
                             [-5, 0, 5, 10], [0, 0, 10, 10], [5, 0, 15, 10],
                             [-5, 5, 5, 15], [0, 5, 10, 15], [5, 5, 15, 15]], dtype=torch.float32)
    assert torch.equal(torch.from_numpy(level.boxes), expected)
    assert level.stride == (5.0, 5.0) and level.sizes == (10.0,) and level.aspect_ratios == (1.0,)


def test_ssd_scale_formula_equals_torchvisions_default_box_generator():
    # m = 6 maps, s_min 0.2, s_max 0.9 as in the SSD paper; the generator adds one extra scale (1.0).
    generator = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]], min_ratio=0.2, max_ratio=0.9)
    assert ssd_scales(0.2, 0.9, 6) == pytest.approx(generator.scales[:6])
    assert ssd_scales(0.2, 0.9, 6) == pytest.approx([0.2, 0.34, 0.48, 0.62, 0.76, 0.9])
    assert [ssd_boxes_per_location(r) for r in generator.aspect_ratios] == generator.num_anchors_per_location()
    assert ssd_boxes_per_location([2, 3]) == 6


def test_ssd300_default_box_total_is_8732():
    generator = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                                    scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
                                    steps=[8, 16, 32, 64, 100, 300])
    grids = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    sets = run_generator(generator, (300, 300), grids)
    assert [len(s) for s in sets] == [5776, 2166, 600, 150, 36, 4]
    assert sets[2].scales == pytest.approx((0.33, 0.51))
    # steps, not 300/38, space the cells: x = 150 is nearest the centre of cell 18 (148 = 18.5 * 8)
    assert sets[0].stride == (8.0, 8.0)
    assert cell_at((150, 150), sets[0]) == (18, 18)
    np.testing.assert_allclose(sets[0].at_cell(18, 18)[0][[0, 2]].mean(), 148.0, atol=1e-3)


def test_cell_at_maps_a_point_to_the_anchor_cell_and_yolo_cell():
    generator = AnchorGenerator(sizes=((10,),), aspect_ratios=((1.0,),))
    (level,) = run_generator(generator, (15, 15), [(3, 3)])
    assert cell_at((5.2, 9.9), level) == (2, 1)  # centres at 0, 5, 10: nearest is x=5, y=10
    assert cell_at((-4, 0), level) is None
    assert cell_at((10, 5), level, scale=(0.5, 0.5)) == (1, 1)
    assert yolo_cell((300, 10), (448, 448), 7) == (0, 4)
    assert yolo_cell((448, 10), (448, 448), 7) is None
