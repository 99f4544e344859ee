"""Image sizes of a dataset: from the COCO file, else from the image headers; unreadable ones said once."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from detviewer.io.datasets import open_dataset
from detviewer.io.image_sizes import dataset_image_sizes


def test_coco_sizes_then_headers_then_unknown(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "b.png")  # no size in the file: read from the header
    images = [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}, {"id": 2, "file_name": "b.png"},
              {"id": 3, "file_name": "c.png", "width": 0, "height": 10}]  # no usable size, no file
    (tmp_path / "gt.json").write_text(json.dumps({"images": images, "annotations": [],
                                                  "categories": [{"id": 1, "name": "x"}]}))
    dataset = open_dataset(tmp_path / "gt.json")
    seen = []
    sizes, warnings = dataset_image_sizes(dataset, progress=lambda d, t: seen.append((d, t)))
    np.testing.assert_array_equal(sizes, [[48, 64], [20, 30], [-1, -1]])
    assert seen == [(1, 2), (2, 2)]
    assert len(warnings) == 1 and warnings[0].startswith("1 of the 3 images have no size in gt.json")
    stopped, _ = dataset_image_sizes(dataset, should_stop=lambda: True)
    np.testing.assert_array_equal(stopped, [[48, 64], [-1, -1], [-1, -1]])
