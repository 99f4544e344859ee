"""The window's exports are atomic: on a full or read-only filesystem the previous file stays, nothing partial is
left, and the window says why in one sentence (tmpfs fixtures from tests/fs_fixtures.py)."""

from __future__ import annotations

from fs_fixtures import fill_up
from PIL import Image
from views_helpers import demo_window


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_export_view_on_a_full_disk_keeps_the_previous_figure(make_window, qtbot, small_fs):
    window = demo_window(make_window, qtbot)
    target = small_fs / "view.png"
    target.write_bytes(b"previous")
    fill_up(small_fs)
    done = []
    window.exporter.export_view(target, on_done=lambda out, error: done.append((out, error)))
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    assert done[0][1] == f"Cannot write {target}: the disk is full."
    assert target.read_bytes() == b"previous" and _names(small_fs) == ["filler.bin", "view.png"]


def test_nms_steps_into_a_read_only_folder_say_why(make_window, qtbot, read_only_fs, monkeypatch):
    from detviewer.gui import export_dialogs

    warnings = []
    monkeypatch.setattr(export_dialogs.QMessageBox, "warning", lambda _parent, _title, text: warnings.append(text))
    window = demo_window(make_window, qtbot)
    window.exporter.export_nms_dialog(str(read_only_fs))
    qtbot.waitUntil(lambda: bool(warnings), timeout=30000)
    assert warnings == [f"Cannot write {read_only_fs / 'nms_step_000.png'}: the filesystem is read-only."]
    assert _names(read_only_fs) == []


def test_save_window_image_reports_a_failed_write_in_the_window(make_window, qtbot, read_only_fs, tmp_path,
                                                                monkeypatch):
    from detviewer.gui import menus

    window = make_window()
    target = read_only_fs / "window.png"
    monkeypatch.setattr(menus.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PNG (*.png)"))
    menus._save_screenshot(window, window.session)
    assert window.messages.messages[-1].text == f"Cannot write {target}: the filesystem is read-only."
    assert window.messages.messages[-1].severity == "error" and _names(read_only_fs) == []
    good = tmp_path / "window.png"
    monkeypatch.setattr(menus.QFileDialog, "getSaveFileName", lambda *a, **k: (str(good), "PNG (*.png)"))
    menus._save_screenshot(window, window.session)
    assert Image.open(good).size[0] > 0 and window.messages.messages[-1].text == f"Saved the window image to {good}."
