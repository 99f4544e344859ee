"""Prototypes written in a generator's own parameters, level by level: hand-worked AnchorGenerator and
DefaultBoxGenerator fits, kept levels, the layout (anchors per location) kept, and the printed expression building
the same generator."""

from __future__ import annotations

import math

import pytest
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator

from detviewer.ops.anchor_fit import describe_generator, fit_generator, shapes_per_level


def test_anchor_generator_fit_by_hand():
    generator = AnchorGenerator(sizes=((32,), (64,), (128,)), aspect_ratios=((0.5, 2.0),) * 3)
    assert shapes_per_level(generator) == [2, 2, 2]
    # level 0: size sqrt(w h) = sqrt(200) for both, ratios h / w sorted; level 1 kept; level 2: sqrt(3200)
    fitted = fit_generator(generator, [[[20, 10], [10, 20]], None, [[40, 80], [80, 40]]], (256, 256))
    assert fitted.sizes == ((round(math.sqrt(200), 1),), (64,), (round(math.sqrt(3200), 1),))
    assert fitted.aspect_ratios == ((0.5, 2.0), (0.5, 2.0), (0.5, 2.0))


def test_anchor_generator_with_sizes_and_ratios_per_level():
    generator = AnchorGenerator(sizes=((16, 32),), aspect_ratios=((1.0, 3.0),))
    # 4 prototypes: by area 10x10 (100), 10x30 (300) | 20x20 (400), 20x60 (1200); by ratio 1, 1 | 3, 3
    fitted = fit_generator(generator, [[[10, 10], [20, 20], [10, 30], [20, 60]]], (100, 100))
    small, large = math.sqrt(math.sqrt(100) * math.sqrt(300)), math.sqrt(math.sqrt(400) * math.sqrt(1200))
    assert fitted.sizes == ((round(small, 1), round(large, 1)),)
    assert fitted.aspect_ratios == ((1.0, 3.0),)
    assert fitted.num_anchors_per_location() == generator.num_anchors_per_location()


def test_default_box_generator_fit_by_hand():
    generator = DefaultBoxGenerator([[2], [3]], scales=[0.2, 0.5, 0.9], steps=[16, 32])
    assert shapes_per_level(generator) == [4, 4]
    # a 200 x 100 input: widths / 200, heights / 100. Level 0: four 20 x 10 -> normalised 0.1 x 0.1;
    # level 1: 120 x 20, 20 x 120, 60 x 30 twice -> normalised (0.6, 0.2), (0.1, 1.2), (0.3, 0.3) x 2
    fitted = fit_generator(generator, [[[20, 10]] * 4, [[120, 20], [20, 120], [60, 30], [60, 30]]], (100, 200))
    s1 = math.exp((math.log(math.sqrt(0.12)) * 2 + math.log(0.3) * 2) / 4)
    assert fitted.scales[:2] == [0.1, round(s1, 4)]
    assert fitted.scales[2] == round(round(s1, 4) ** 2 / 0.1, 4)  # the progression continued
    # most elongated pair of level 1: 3 (0.6 / 0.2) and 12 (1.2 / 0.1) -> geometric mean 6; level 0: square
    assert fitted.aspect_ratios == [[1.0], [6.0]]
    assert fitted.steps == [16, 32] and fitted.num_anchors_per_location() == [4, 4]


def test_a_kept_default_box_level_keeps_its_scale_ratios_and_the_last_scale():
    generator = DefaultBoxGenerator([[2], [3]], scales=[0.2, 0.5, 0.9], steps=[16, 32])
    fitted = fit_generator(generator, [[[20, 20]] * 4, None], (100, 100))
    assert fitted.scales == [0.2, 0.5, 0.9] and fitted.aspect_ratios == [[1.0], [3]]


def test_wrong_prototype_counts_are_refused():
    generator = AnchorGenerator(sizes=((32,), (64,)), aspect_ratios=((0.5, 1.0, 2.0),) * 2)
    with pytest.raises(ValueError, match="prototypes for 2 levels"):
        fit_generator(generator, [None], (9, 9))
    with pytest.raises(ValueError, match="level 1 has 3 anchor shapes per location, got 1"):
        fit_generator(generator, [None, [[1, 1]]], (9, 9))


@pytest.mark.parametrize("generator", [
    AnchorGenerator(sizes=((32,), (64.5,)), aspect_ratios=((0.5, 1.0, 2.0),) * 2),
    DefaultBoxGenerator([[2], [2, 3]], scales=[0.1, 0.3, 0.7], steps=[8, 16], clip=False),
])
def test_the_description_builds_the_same_generator(generator):
    text = describe_generator(generator)
    rebuilt = eval(text, {"AnchorGenerator": AnchorGenerator, "DefaultBoxGenerator": DefaultBoxGenerator})
    assert describe_generator(rebuilt) == text
    assert rebuilt.num_anchors_per_location() == generator.num_anchors_per_location()
    assert "64.5" in text or "0.7" in text
