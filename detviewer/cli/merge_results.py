"""``detviewer merge-results a.json b.json ... -o all.json``: join the COCO results files of shards.

Each input is a COCO results list (as ``detect --shard I/N`` writes it, or any engine's). Their
``<name>.images.json`` id -> file mappings, when present, are joined into ``<out>.images.json``; an id
that two mappings give to different files, or an image whose detections come from two shards, is an
error (the shards overlap or were numbered differently), so a merged file never double-counts an image.
Image ids must be integers. ``-o`` may not be one of the inputs (or its mapping): the merged file is
written atomically (io.atomic) once every input has been read and checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detviewer.cli import EXIT_OK
from detviewer.errors import AnnotationError
from detviewer.io.coco_fields import short


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Join COCO results files (detect --shard outputs) into one.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="RESULTS.json")
    p.add_argument("-o", "--out", type=Path, required=True, help="merged results file")
    return p


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _results(path: Path) -> list:
    from detviewer.io.annotations import read_json

    data = read_json(path)
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list) or not all(isinstance(r, dict) and "image_id" in r for r in data):
        raise AnnotationError(f"{path} is not a COCO results file (a list of {{image_id, category_id, bbox, score}}).")
    bad = next((i for i, r in enumerate(data) if not _is_id(r["image_id"])), None)
    if bad is not None:
        raise AnnotationError(f"{path}: result {bad} has image_id {short(data[bad]['image_id'])}, which is not an "
                              f"integer; COCO results number images by integer ids.")
    return data


def _merge_mappings(paths: list[Path]) -> list[dict] | None:
    from detviewer.io.annotations import read_json
    from detviewer.io.predictions import mapping_path

    found = [(p, mapping_path(p)) for p in paths if mapping_path(p).is_file()]
    if not found:
        return None
    merged: dict = {}
    where: dict[int, Path] = {}
    for _results_path, path in found:
        data = read_json(path)
        entries = data.get("images") if isinstance(data, dict) else data
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise AnnotationError(f"{path} is not an image mapping ({{\"images\": [{{id, file_name}}, ...]}}).")
        for n, entry in enumerate(entries):
            image_id = entry.get("id")
            if image_id is None:  # an input detect could not number (no GT match): kept as it is
                merged[("none", len(merged))] = entry
                continue
            if not _is_id(image_id):
                raise AnnotationError(f"{path}: images[{n}] has id {short(image_id)}, which is not an integer.")
            old = merged.get(image_id)
            if old is not None and (old.get("file_name"), old.get("frame")) != (entry.get("file_name"),
                                                                               entry.get("frame")):
                raise AnnotationError(f"image id {image_id} is {short(old.get('file_name'))} in {where[image_id]} "
                                      f"and {short(entry.get('file_name'))} in {path}: the shards were not numbered "
                                      f"alike.")
            merged[image_id] = entry
            where[image_id] = path
    return sorted(merged.values(), key=lambda e: (e.get("id") is None, e.get("id") or 0))


def _refuse_overwriting_an_input(out: Path, inputs: list[Path]) -> None:
    from detviewer.io.predictions import mapping_path

    targets = {out.resolve(), mapping_path(out).resolve()}
    for path in inputs:
        for source in (path, mapping_path(path)):
            if source.resolve() in targets:
                raise AnnotationError(f"-o {out} would overwrite the input {source}; write the merged results to "
                                      f"another file.")


def run(args) -> int:
    from detviewer.io.atomic import write_text
    from detviewer.io.predictions import mapping_path

    _refuse_overwriting_an_input(args.out, list(args.inputs))
    merged, owner = [], {}
    for n, path in enumerate(args.inputs):
        rows = _results(path)
        for image_id in {r["image_id"] for r in rows}:
            if image_id in owner:
                raise AnnotationError(f"image {image_id!r} has detections in both {args.inputs[owner[image_id]]} "
                                      f"and {path}: the shards overlap.")
            owner[image_id] = n
        merged.extend(rows)
    mapping = _merge_mappings(list(args.inputs))
    write_text(args.out, json.dumps(merged))
    note = ""
    if mapping is not None:
        write_text(mapping_path(args.out), json.dumps({"images": mapping}, indent=0))
        note = f" and {len(mapping)} image ids to {mapping_path(args.out)}"
    print(f"wrote {len(merged)} detections of {len(owner)} images from {len(args.inputs)} files to {args.out}{note}",
          file=sys.stderr)
    return EXIT_OK
