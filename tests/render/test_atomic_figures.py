"""Figures, slides, chart SVGs, the lecture page and make-shapes are written atomically: a full or read-only
filesystem keeps the previous file, leaves nothing partial, and raises OutputError with one sentence."""

from __future__ import annotations

import numpy as np
import pytest
from fs_fixtures import fill_up

from detviewer.cli import main
from detviewer.io.atomic import OutputError


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", ["figure.png", "figure.svg", "figure.jpg"])
def test_export_figure_on_a_full_disk_keeps_the_previous_file(small_fs, name):
    from detviewer.render.qt.export import export_figure

    image = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    target = small_fs / name
    target.write_bytes(b"previous")
    fill_up(small_fs)
    with pytest.raises(OutputError, match=rf"^Cannot write {target}: the disk is full\.$"):
        export_figure(image, [], target, scale=2.0, title="a figure")
    assert target.read_bytes() == b"previous" and _names(small_fs) == sorted(["filler.bin", name])


def test_a_slide_and_a_chart_svg_on_a_read_only_filesystem(read_only_fs):
    from detviewer.charts.curves import ConfidenceChart
    from detviewer.charts.export import export_chart
    from detviewer.render.qt.slide import SlideText, write_slide

    image = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(OutputError, match=r"slide\.png: the filesystem is read-only\.$"):
        write_slide(read_only_fs / "slide.png", image, [], SlideText("title"))
    with pytest.raises(OutputError, match=r"chart\.svg: the filesystem is read-only\.$"):
        export_chart(ConfidenceChart(), read_only_fs / "chart.svg")
    assert _names(read_only_fs) == []


def test_the_lecture_page_and_make_shapes_on_a_read_only_filesystem(read_only_fs, tmp_path, capsys):
    from detviewer.cli.lecture_html import write_deck_html

    png = tmp_path / "s.png"
    png.write_bytes(b"\x89PNG")
    with pytest.raises(OutputError, match=r"index\.html: the filesystem is read-only\.$"):
        write_deck_html(read_only_fs / "index.html", [(png, "a", "b")], "deck")
    capsys.readouterr()
    assert main(["make-shapes", str(read_only_fs), "--count", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Cannot write ") and err[0].endswith("the filesystem is "
                                                                                           "read-only.")
    assert _names(read_only_fs) == []
