"""Synthetic "shapes" scenes: coloured shapes on cluttered, noisy, textured backgrounds.

Each scene is a pure function of ``(seed, index, config)``, so a dataset is reproducible from its
seed and any single image can be regenerated without the others. Boxes are exact: they come from
the polygons that were drawn, not from a detector.

Coordinates: boxes are ``xyxy`` float32 in continuous pixel coordinates (pixel ``i`` spans
``[i, i + 1)``), the convention of torchvision and COCO. OpenCV draws with pixel *centres* at
integer coordinates, hence the ``+ 0.5`` when a polygon's extent becomes a box.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["SHAPE_CLASSES", "ShapesConfig", "ShapeScene", "generate_scene", "scenes_to_coco"]

#: Class names in label order; label ``k`` (1-based) is ``SHAPE_CLASSES[k - 1]``.
SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel polygon vertices
_SCALE = float(1 << _SHIFT)
_SUPERSAMPLE = 4  # sub-pixels per pixel side when rasterising shapes


@dataclass(frozen=True)
class ShapesConfig:
    """Generator settings. Sizes are fractions of the image side so a scene looks alike at any size.

    min_side / max_side: range of an object's longer box side (log-uniform), fraction of ``size``.
    max_occlusion: largest fraction of an object that later shapes may cover.
    """

    size: int = 320
    min_objects: int = 2
    max_objects: int = 7
    min_side: float = 16 / 256
    max_side: float = 128 / 256
    max_aspect: float = 1.45
    max_occlusion: float = 0.4
    clutter: bool = True


@dataclass(frozen=True, eq=False)
class ShapeScene:
    """One generated image and its ground truth.

    image (H, W, 3) uint8 RGB; boxes (N, 4) float32 xyxy pixels; labels (N,) int64 in 1..C
    (index into ``("__background__",) + SHAPE_CLASSES``); visible (N,) float32, the fraction of
    each shape not covered by later shapes.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    visible: np.ndarray


# ---------------------------------------------------------------- unit shapes (centred, radius ~1)

def _regular(n: int, radius: float = 1.0, phase: float = -np.pi / 2) -> np.ndarray:
    t = phase + np.arange(n) * (2 * np.pi / n)
    return np.stack([np.cos(t), np.sin(t)], axis=1) * radius


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    outer = _regular(points)
    inner_pts = _regular(points, inner, phase=-np.pi / 2 + np.pi / points)
    return np.stack([outer, inner_pts], axis=1).reshape(-1, 2)


def _cross(half_width: float = 0.3) -> np.ndarray:
    w = half_width
    return np.array([(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1),
                     (-w, w), (-1, w), (-1, -w), (-w, -w)], dtype=np.float64)


def _unit_polygons(label: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Polygons of one shape; a second polygon is a hole (the ring's)."""
    name = SHAPE_CLASSES[label - 1]
    if name == "circle":
        return [_regular(64)]
    if name == "square":
        return [np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)]
    if name == "triangle":
        return [_regular(3)]
    if name == "star":
        return [_star(5, rng.uniform(0.38, 0.5))]
    if name == "ring":
        return [_regular(64), _regular(64, rng.uniform(0.45, 0.65))]
    if name == "cross":
        return [_cross(rng.uniform(0.22, 0.35))]
    raise ValueError(f"unknown shape label {label}")


# ---------------------------------------------------------------- drawing helpers

def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Gradient + low-frequency colour texture, float32 (H, W, 3) in 0..255."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)[..., None]
    image = (1 - t) * c0 + t * c1
    cells = int(rng.integers(3, 17))
    texture: np.ndarray = rng.normal(0, 1, (cells, cells, 3)).astype(np.float32)
    texture = cv2.resize(texture, (size, size), interpolation=cv2.INTER_CUBIC)
    image += texture * rng.uniform(10, 45)
    return np.clip(image, 0, 255).astype(np.float32)


def _draw_clutter(image: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Thin lines, arcs and small dots: texture that is *not* an object (drawn in place)."""
    size = image.shape[0]
    for _ in range(count):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        kind = rng.integers(3)
        if kind == 0:
            p0 = tuple(int(v) for v in rng.integers(0, size, 2))
            p1 = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(image, p0, p1, colour, int(rng.integers(1, 3)), cv2.LINE_AA)
        elif kind == 1:
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            axes = tuple(int(v) for v in rng.integers(size // 16, size // 3, 2))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(image, centre, axes, 0, start, start + float(rng.uniform(30, 160)), colour, 1, cv2.LINE_AA)
        else:
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.circle(image, centre, int(rng.integers(1, max(2, size // 64))), colour, -1, cv2.LINE_AA)


def _mask_patch(polygons: list[np.ndarray], size: int) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Coverage of a polygon minus its holes (cv2 pixel-centre coordinates) around the shape:
    (patch (h, w) float32 in 0..1, (rows, cols) slices placing it in the image).

    strategy: cv2's LINE_AA fill spreads edges by ~0.6 px, which would make the boxes too tight;
    instead fill a 4x supersampled patch around the shape without anti-aliasing and average it.
    """
    factor = _SUPERSAMPLE
    lo = np.floor(polygons[0].min(axis=0)).astype(int) - 1
    hi = np.ceil(polygons[0].max(axis=0)).astype(int) + 2
    lo, hi = np.maximum(lo, 0), np.minimum(hi, size)
    w, h = int(hi[0] - lo[0]), int(hi[1] - lo[1])
    patch = np.zeros((h * factor, w * factor), np.uint8)
    for i, poly in enumerate(polygons):
        # pixel-centre coords -> continuous -> supersampled pixel-centre coords of the patch
        sub = ((poly + 0.5 - lo) * factor - 0.5) * _SCALE
        cv2.fillPoly(patch, np.round(sub).astype(np.int32)[None], 1 if i == 0 else 0, cv2.LINE_8, shift=_SHIFT)
    region = (slice(int(lo[1]), int(hi[1])), slice(int(lo[0]), int(hi[0])))
    return patch.reshape(h, factor, w, factor).mean(axis=(1, 3), dtype=np.float32), region


def _mask(polygons: list[np.ndarray], size: int) -> np.ndarray:
    """Full-image coverage (H, W) float32 in 0..1 (see _mask_patch)."""
    patch, region = _mask_patch(polygons, size)
    mask = np.zeros((size, size), np.float32)
    mask[region] = patch
    return mask


def _overlap(a: tuple[slice, slice], b: tuple[slice, slice]) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Slices of the intersection of regions a and b, relative to a and to b (None if disjoint)."""
    r0, r1 = max(a[0].start, b[0].start), min(a[0].stop, b[0].stop)
    c0, c1 = max(a[1].start, b[1].start), min(a[1].stop, b[1].stop)
    if r0 >= r1 or c0 >= c1:
        return None
    rel = lambda reg: (slice(r0 - reg[0].start, r1 - reg[0].start), slice(c0 - reg[1].start, c1 - reg[1].start))
    return rel(a), rel(b)


def _pick_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A saturated colour far enough (RGB distance) from the mean background under the shape."""
    reference = under.reshape(-1, 3).mean(axis=0)
    best, best_dist = None, -1.0
    for _ in range(12):
        hsv = np.array([[[rng.integers(0, 180), rng.integers(90, 256), rng.integers(60, 256)]]], np.uint8)
        colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
        dist = float(np.linalg.norm(colour - reference))
        if dist >= 110:
            return colour
        if dist > best_dist:
            best, best_dist = colour, dist
    assert best is not None  # set by the first of the 12 tries
    return best


def _place(label: int, rng: np.random.Generator, config: ShapesConfig) -> tuple[list[np.ndarray], np.ndarray]:
    """Random size, aspect, rotation and position for one shape: (polygons in cv2 coords, box xyxy)."""
    size = config.size
    polygons = _unit_polygons(label, rng)
    aspect = np.exp(rng.uniform(-np.log(config.max_aspect), np.log(config.max_aspect)))
    theta = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    stretch = np.array([np.sqrt(aspect), 1 / np.sqrt(aspect)])
    polygons = [(p * stretch) @ rot.T for p in polygons]
    lo, hi = polygons[0].min(axis=0), polygons[0].max(axis=0)
    side = np.exp(rng.uniform(np.log(config.min_side * size), np.log(config.max_side * size)))
    scale = side / float((hi - lo).max())
    extent = (hi - lo) * scale
    # keep the whole shape inside the image, 1 px margin
    origin = np.array([rng.uniform(1, size - 2 - extent[0]), rng.uniform(1, size - 2 - extent[1])])
    polygons = [(p - lo) * scale + origin for p in polygons]
    outer = polygons[0]
    box = np.concatenate([outer.min(axis=0), outer.max(axis=0)]) + 0.5
    return polygons, box.astype(np.float32)


# ---------------------------------------------------------------- public API

def generate_scene(seed: int, index: int, config: ShapesConfig = ShapesConfig()) -> ShapeScene:
    """Render scene ``index`` of the dataset with ``seed``; same arguments, same pixels and boxes."""
    rng = np.random.default_rng([int(seed), int(index)])
    size = int(config.size)
    image = _background(rng, size)
    if config.clutter:
        _draw_clutter(image, rng, int(rng.integers(6, 30)))

    n_target = int(rng.integers(config.min_objects, config.max_objects + 1))
    boxes: list[np.ndarray] = []
    labels: list[int] = []
    areas: list[float] = []
    placed: list[tuple[np.ndarray, tuple[slice, slice]]] = []  # per shape: still-visible coverage, region
    for _ in range(n_target):
        label = int(rng.integers(1, len(SHAPE_CLASSES) + 1))
        for _attempt in range(25):
            polygons, box = _place(label, rng, config)
            cover, region = _mask_patch(polygons, size)
            # strategy: accept a shape only if every earlier shape keeps enough of itself visible
            ok = True
            for (vis, vis_region), area in zip(placed, areas):
                both = _overlap(region, vis_region)
                lost = 0.0 if both is None else float((vis[both[1]] * cover[both[0]]).sum())
                if vis.sum() - lost < (1 - config.max_occlusion) * area:
                    ok = False
                    break
            if ok:
                break
        else:
            continue
        x0, y0 = int(box[0]), int(box[1])
        x1, y1 = int(np.ceil(box[2])), int(np.ceil(box[3]))
        colour = _pick_colour(rng, image[y0:y1, x0:x1])
        shade = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(1.0, 1.2), size, dtype=np.float32)
        shade = shade[None, :, None] if rng.integers(2) else shade[:, None, None]
        fill = np.clip(colour[None, None, :] * shade, 0, 255)
        fill = np.broadcast_to(fill, (size, size, 3))[region]
        image[region] = image[region] * (1 - cover[..., None]) + fill * cover[..., None]
        for vis, vis_region in placed:
            both = _overlap(region, vis_region)
            if both is not None:
                vis[both[1]] *= 1 - cover[both[0]]
        placed.append((cover.copy(), region))
        areas.append(float(cover.sum()))
        boxes.append(box)
        labels.append(label)

    if config.clutter:
        _draw_clutter(image, rng, int(rng.integers(0, 4)))
    sigma = rng.uniform(0.0, 1.1)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.normal(0, rng.uniform(2, 9), image.shape).astype(np.float32)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    visible = [float(vis.sum() / max(area, 1e-6)) for (vis, _), area in zip(placed, areas)]
    return ShapeScene(
        image=image,
        boxes=np.array(boxes, np.float32).reshape(-1, 4),
        labels=np.array(labels, np.int64),
        visible=np.array(visible, np.float32),
    )


def scenes_to_coco(scenes: list[ShapeScene], file_names: list[str], info: dict | None = None) -> dict:
    """COCO detection dict for scenes: image ids 1..N, annotation ids from 1, categories 1..C.

    ``bbox`` is ``[x, y, w, h]`` pixels; ``area`` is the box area ``w * h`` (the scenes carry
    no segmentation), which is what COCO's small/medium/large ranges are measured on here.
    """
    images: list[dict] = []
    annotations: list[dict] = []
    for image_id, (scene, name) in enumerate(zip(scenes, file_names), start=1):
        h, w = scene.image.shape[:2]
        images.append({"id": image_id, "file_name": name, "width": int(w), "height": int(h)})
        for box, label in zip(scene.boxes, scene.labels):
            x0, y0, x1, y1 = (float(v) for v in box)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": int(label),
                "bbox": [round(x0, 3), round(y0, 3), round(x1 - x0, 3), round(y1 - y0, 3)],
                "area": round((x1 - x0) * (y1 - y0), 3), "iscrowd": 0,
            })
    categories = [{"id": i, "name": n, "supercategory": "shape"} for i, n in enumerate(SHAPE_CLASSES, start=1)]
    return {"info": dict(info or {}), "images": images, "annotations": annotations, "categories": categories}
