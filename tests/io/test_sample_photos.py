"""The bundled photographs: every one listed in assets/photos/LICENSES.md exists, decodes at its stated size, and
carries a source, an author and a licence; no photo ships unlisted."""

from __future__ import annotations

import re

import pytest

from detviewer.io.images import load_image
from detviewer.resources import assets_dir, sample_photos

LICENSES = assets_dir() / "photos" / "LICENSES.md"


def _rows() -> list[dict[str, str]]:
    rows = []
    for line in LICENSES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 5 and cells[0] not in ("file", "---"):
            rows.append(dict(zip(("file", "what", "source", "author", "licence"), cells)))
    return rows


def test_the_licence_file_lists_the_five_photographs_each_with_source_author_and_licence():
    rows = _rows()
    assert [r["file"].split(".")[0] for r in rows] == ["astronaut", "coffee", "chelsea", "camera", "rocket"]
    for row in rows:
        assert row["source"] and row["author"], row
        assert row["licence"].split()[0] in ("CC0", "public"), row


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["file"])
def test_each_listed_photo_exists_and_decodes_at_its_stated_size(row):
    path = assets_dir() / "photos" / row["file"]
    image = load_image(path)
    width, height = map(int, re.search(r"\((\d+)×(\d+)\)", row["what"]).groups())
    assert image.shape == (height, width, 3) and image.dtype.name == "uint8"
    assert image.std() > 20  # a photograph, not a blank


def test_sample_photos_are_exactly_the_listed_ones():
    assert sorted(p.name for p in sample_photos()) == sorted(r["file"] for r in _rows())
