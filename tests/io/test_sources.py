"""Frame sources (Qt-free): image lists, video files, cameras (faked), synthetic; newest frame wins."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from detviewer.errors import ImageLoadError, SourceError
from detviewer.io.sources import ImageListSource, source_for_paths
from detviewer.io.streams import CameraSource, LatestSlot, SyntheticSource, VideoFileSource


def write_png(path, value):
    cv2.imwrite(str(path), np.full((20, 30, 3), value, np.uint8))
    return path


def write_video(path, frames=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (32, 24))
    for k in range(frames):
        writer.write(np.full((24, 32, 3), 20 * k, np.uint8))  # frame k is grey 20 k
    writer.release()
    return path


class FakeCapture:
    def __init__(self, frames=3, opened=True):
        self.frames, self.opened, self.reads = frames, opened, 0

    def isOpened(self):
        return self.opened

    def read(self):
        self.reads += 1
        if self.reads > self.frames:
            return False, None
        return True, np.zeros((4, 6, 3), np.uint8)

    def release(self):
        self.opened = False


def test_latest_slot_keeps_only_the_newest_item():
    slot = LatestSlot()
    for k in range(5):
        slot.put(k)
    assert slot.take() == 4
    assert slot.take(timeout=0.01) is None


def test_folder_lists_images_by_name_and_a_broken_one_raises_one_sentence(tmp_path):
    write_png(tmp_path / "b.png", 100)
    write_png(tmp_path / "a.png", 50)
    (tmp_path / "c.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("x")
    source = ImageListSource.from_folder(tmp_path)
    assert [p.name for p in source.paths] == ["a.png", "b.png", "c.png"]
    frame = source.read(1)
    assert frame.image.shape == (20, 30, 3) and frame.image.dtype == np.uint8 and frame.image[0, 0, 0] == 100
    assert frame.path.endswith("b.png") and frame.index == 1
    with pytest.raises(ImageLoadError, match="c.png"):
        source.read(2)


def test_empty_or_missing_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="contains no images"):
        ImageListSource.from_folder(tmp_path)
    with pytest.raises(SourceError, match="does not exist"):
        ImageListSource.from_folder(tmp_path / "nope")


def test_video_reads_seeks_and_plays_in_order(tmp_path):
    source = VideoFileSource(write_video(tmp_path / "v.avi", frames=10))
    assert len(source) == 10 and source.fps == pytest.approx(50.0)
    assert abs(int(source.read(3).image[0, 0, 0]) - 60) <= 3
    assert abs(int(source.read(0).image[0, 0, 0]) - 0) <= 3
    frames, ended = [], threading.Event()
    source.seek(5)
    source.start(on_frame=frames.append, on_end=ended.set)
    assert ended.wait(5)
    assert [f.index for f in frames] == [5, 6, 7, 8, 9]
    assert source.latest().index == 9
    source.close()


def test_bad_video_paths_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(SourceError, match="bad.mp4"):
        VideoFileSource(bad)


def test_slow_consumer_sees_the_newest_frame_not_a_backlog():
    source = SyntheticSource(32, 24, fps=400)
    source.start()
    first = _wait_for(lambda: source.latest())
    second = _wait_for(lambda: source.latest() if source.latest().index > first.index + 5 else None)
    source.stop()
    assert first is not None and second is not None  # the newest frame moved on: no backlog of old ones


def _wait_for(get, timeout: float = 5.0):
    """Poll ``get()`` until it returns something (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = get()
        if value is not None:
            return value
        time.sleep(0.005)
    return None


def test_camera_absent_and_unplugged():
    with pytest.raises(SourceError, match="Cannot open camera 2"):
        CameraSource(2, open_capture=lambda i: FakeCapture(opened=False))
    camera = CameraSource(0, open_capture=lambda i: FakeCapture(frames=3))
    frames, errors, done = [], [], threading.Event()
    camera.start(on_frame=frames.append, on_error=lambda e: (errors.append(e), done.set()))
    assert done.wait(5)
    assert len(frames) == 3 and len(errors) == 1
    assert str(errors[0]) == "Camera 0 stopped delivering frames (unplugged?)."
    assert not camera.running
    camera.close()


def test_synthetic_source_fails_or_ends_as_told():
    errors, done = [], threading.Event()
    failing = SyntheticSource(16, 12, fps=500, fail_after=3)
    failing.start(on_error=lambda e: (errors.append(e), done.set()))
    assert done.wait(5) and "after 3 frames" in str(errors[0])
    ended = threading.Event()
    finite = SyntheticSource(16, 12, fps=500, frame_count=4)
    finite.start(on_end=ended.set)
    assert ended.wait(5) and finite.latest().index == 3
    np.testing.assert_array_equal(SyntheticSource(16, 12).read(7).image, SyntheticSource(16, 12).read(7).image)


def test_source_for_paths_picks_the_kind(tmp_path):
    a = write_png(tmp_path / "a.png", 1)
    video = write_video(tmp_path / "v.avi", frames=2)
    assert isinstance(source_for_paths([video]), VideoFileSource)
    assert isinstance(source_for_paths([tmp_path]), ImageListSource)
    mixed = source_for_paths([a, tmp_path])
    assert [p.name for p in mixed.paths] == ["a.png", "a.png"]
    with pytest.raises(SourceError):
        source_for_paths([])


def test_missing_paths_are_one_sentence(tmp_path):
    with pytest.raises(SourceError, match=r"Cannot open .*nope.png: no such file or folder\."):
        source_for_paths([tmp_path / "nope.png"])


QUIET_OPEN = """
import sys
from detviewer.errors import SourceError
from detviewer.io.streams import CameraSource, VideoFileSource
for path in sys.argv[1:]:
    try:
        video = VideoFileSource(path)
    except SourceError as exc:
        print(exc)
        continue
    for index in range(len(video)):
        try:
            video.read(index)
        except SourceError as exc:
            print(exc)
            break
try:
    CameraSource(63)
except SourceError as exc:
    print(exc)
"""


def _damaged_videos(tmp_path):
    """A truncated mp4 (no moov atom), random bytes named .mp4, and an mp4 whose frame data is scrambled."""
    good = tmp_path / "good.mp4"
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    for k in range(30):
        writer.write(np.full((48, 64, 3), 8 * k, np.uint8))
    writer.release()
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    scrambled = np.frombuffer(data, np.uint8).copy()
    body = slice(64, len(data) - 1500)  # keep the header atoms and the moov atom at the end
    flip = rng.random(scrambled[body].shape) < 0.3
    scrambled[body][flip] = rng.integers(0, 256, int(flip.sum()), dtype=np.uint8)
    paths = {"truncated": data[: len(data) // 2], "random": rng.integers(0, 256, 20000, np.uint8).tobytes(),
             "scrambled": scrambled.tobytes()}
    for name, content in paths.items():
        (tmp_path / f"{name}.mp4").write_bytes(content)
    return [str(tmp_path / f"{name}.mp4") for name in paths]


def test_opencv_and_ffmpeg_warnings_stay_off_stderr(tmp_path):
    """Each damaged file or absent camera is one sentence on stdout and nothing on stderr; the control run
    (plain cv2, without quiet_cv2) shows that the same files and camera make FFmpeg and OpenCV talk."""
    import os
    import subprocess
    import sys

    videos = _damaged_videos(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG"))}
    run = subprocess.run([sys.executable, "-c", QUIET_OPEN, *videos], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0 and run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[0] == f"Cannot open video {videos[0]}: OpenCV cannot decode it."
    assert lines[1] == f"Cannot open video {videos[1]}: OpenCV cannot decode it."
    assert lines[2].startswith(f"Video {videos[2]} has no frame ")  # decodes a few frames, then stops
    assert lines[3:] == ["Cannot open camera 63: no such device or it is busy."]

    plain = "import cv2, sys\nfor p in sys.argv[1:]: cv2.VideoCapture(p)\ncv2.VideoCapture(63)"
    control = subprocess.run([sys.executable, "-c", plain, *videos], capture_output=True, text=True,
                             timeout=120, env=env)
    assert "moov atom not found" in control.stderr and "WARN" in control.stderr
