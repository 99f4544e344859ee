"""Five hand-placed candidates shared by the state tests (IoUs computed by hand, no +1 in widths):

A [10,10,110,110] cat 0.9   B [20,20,120,120] cat 0.8   C [40,40,140,140] cat 0.7
D [200,50,300,150] dog 0.6  E [205,55,305,155] cat 0.3
IoU(A,B) = 8100/11900 = 0.681   IoU(A,C) = 4900/15100 = 0.325   IoU(B,C) = 6400/13600 = 0.471
IoU(D,E) = 9025/10975 = 0.822 (different classes: only class-agnostic NMS compares them)
"""

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams

NAMES = ("__background__", "cat", "dog")
BOXES = np.array([[10, 10, 110, 110], [20, 20, 120, 120], [40, 40, 140, 140],
                  [200, 50, 300, 150], [205, 55, 305, 155]], np.float32)
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.3], np.float32)
LABELS = np.array([1, 1, 1, 2, 1], np.int64)
A, B, C, D, E = range(5)


def make_inference(max_detections=None) -> Inference:
    cand = Detections(BOXES, SCORES, LABELS, NAMES)
    return Inference("fake", (240, 320), cand, cand, nms=NMSParams(0.5, 0.2, False, max_detections))
