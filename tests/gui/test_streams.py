"""Video files and cameras in the real window: frames advance, latest wins, stale results dropped, failures."""

from __future__ import annotations

import numpy as np
from gui_fakes import FakeDetector, FakeLoader, write_video

from detviewer.io.streams import SyntheticSource


class FakeCapture:
    """cv2.VideoCapture stand-in: ``frames`` good reads, then failures (an unplugged camera)."""

    def __init__(self, frames: int | None = 5, opened: bool = True):
        self.frames, self.opened, self.reads = frames, opened, 0

    def isOpened(self):
        return self.opened

    def read(self):
        self.reads += 1
        if self.frames is not None and self.reads > self.frames:
            return False, None
        return True, np.full((48, 64, 3), self.reads % 256, np.uint8)

    def release(self):
        self.opened = False


def shown_indices(window, qtbot, count: int, timeout: int = 5000) -> list[int]:
    seen: list[int] = []
    window.result_shown.connect(lambda r: seen.append(r.frame.index))
    qtbot.waitUntil(lambda: len(seen) >= count, timeout=timeout)
    return seen


def test_video_plays_frames_in_order_and_latest_wins(qtbot, make_window, tmp_path):
    detector = FakeDetector(delay=0.06)  # slower than the video's 25 fps
    window = make_window(FakeLoader(detector))
    video = write_video(tmp_path / "clip.avi", frames=40)
    assert window.open_paths([video])
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=5000)
    assert window.video_bar.isVisibleTo(window) and window.video_bar.slider.maximum() == 39
    window.video_bar.play_button.click()
    seen = shown_indices(window, qtbot, 6)
    window.video_bar.play_button.click()  # pause
    assert all(b > a for a, b in zip(seen, seen[1:])), seen
    assert any(b - a > 1 for a, b in zip(seen, seen[1:])), f"no frame was skipped: {seen}"
    assert detector.calls < seen[-1] + 1  # frames were dropped, not queued
    assert window.status.fps_label.text().endswith("fps")


def test_video_seek_and_step_show_that_frame(qtbot, make_window, tmp_path):
    window = make_window()
    video = write_video(tmp_path / "clip.avi", frames=12)
    assert window.open_paths([video])
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=5000)
    with qtbot.waitSignal(window.feed.frame_ready, timeout=5000):  # decoded off the GUI thread
        window.video_bar.seek_requested.emit(5)
    assert window.feed.index == 5
    assert abs(int(window.canvas.image_item.image[0, 0, 0]) - 60) <= 3  # frame k is grey 10 + 10 k
    window.video_bar.forward_button.click()
    assert window.feed.index == 6 and window.video_bar.label.text() == "7 / 12"
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=5000)


def test_stale_stream_results_are_dropped_after_switching_source(qtbot, make_window, tmp_path):
    detector = FakeDetector(delay=0.05)
    window = make_window(FakeLoader(detector))
    window.feed.open_source(SyntheticSource(160, 120, fps=60))
    shown_indices(window, qtbot, 2)
    window.open_paths([write_video(tmp_path / "clip.avi", frames=5)])  # the synthetic frame in flight is stale
    qtbot.waitUntil(lambda: window.session.dropped_results >= 1, timeout=5000)
    qtbot.waitUntil(lambda: window.state.inference is not None, timeout=5000)
    assert window.canvas.image_item.image.shape[:2] == (120, 160)
    assert window.feed.current_frame.path.endswith("clip.avi")


def test_camera_failing_mid_stream_gives_a_message_and_can_reconnect(qtbot, make_window):
    window = make_window()
    captures = []

    def opener(device):
        captures.append(FakeCapture(frames=5))
        return captures[-1]

    window.feed.camera_opener = opener
    assert window.open_camera(0)
    qtbot.waitUntil(lambda: not window.feed.playing, timeout=5000)
    assert "Camera 0 stopped delivering frames" in window.status.message_text()
    assert window.actions_.reconnect.isEnabled()
    assert window.background.running
    window.actions_.reconnect.trigger()
    assert len(captures) == 2
    shown_indices(window, qtbot, 1)


def test_absent_camera_is_one_message(qtbot, make_window):
    window = make_window()
    window.feed.camera_opener = lambda device: FakeCapture(opened=False)
    assert not window.open_camera(3)
    assert window.status.message_text() == "Cannot open camera 3: no such device or it is busy."


def test_synthetic_source_failing_mid_stream(qtbot, make_window):
    window = make_window()
    window.feed.open_source(SyntheticSource(64, 48, fps=100, fail_after=4, name="fake camera"))
    qtbot.waitUntil(lambda: "stopped delivering frames" in window.status.message_text(), timeout=5000)
    assert not window.feed.playing
