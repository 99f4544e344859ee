import numpy as np
import pytest


@pytest.fixture(scope="session")
def textured_image():
    """A deterministic 480x640 RGB image with a few bright rectangles on noise."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 80, size=(480, 640, 3), dtype=np.uint8)
    image[100:220, 150:330] = (230, 40, 40)
    image[260:420, 380:560] = (40, 200, 60)
    return image
