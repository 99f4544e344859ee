"""Streaming sources (Qt-free): video files, webcams and a synthetic source, each grabbing in its own thread.

``start(on_frame, on_error, on_end)`` calls ``on_frame(frame)`` from the grab thread for every new frame and
``on_error(SourceError)`` once when the stream breaks; ``latest()`` returns the newest frame. A slow consumer
never builds a backlog because nothing is queued: each frame replaces the previous one. ``VideoFileSource``
also reads frame ``i`` on request (``read(i)``) for seeking and stepping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from detviewer.errors import SourceError
from detviewer.io.frames import ErrorCallback, Frame, FrameCallback, _EndOfStream
from detviewer.io.opencv_quiet import quiet_cv2

if TYPE_CHECKING:
    import cv2

__all__ = ["VideoFileSource", "CameraSource", "SyntheticSource", "LatestSlot"]

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """A one-slot, thread-safe mailbox: ``put`` replaces what is there, ``take`` empties it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False

    def put(self, item: T) -> None:
        with self._cond:
            self._item = item
            self._cond.notify_all()

    def peek(self) -> T | None:
        with self._cond:
            return self._item

    def take(self, timeout: float | None = None) -> T | None:
        """The waiting item (removing it), or None after ``timeout`` seconds / when closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _GrabThread:
    """Runs ``grab() -> Frame | None`` in a daemon thread until stopped; None means 'no frame now'."""

    def __init__(self, grab: Callable[[], Frame | None], name: str) -> None:
        self._grab = grab
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.slot: LatestSlot[Frame] = LatestSlot()
        self.on_frame: FrameCallback | None = None
        self.on_error: ErrorCallback | None = None
        self.on_end: Callable[[], None] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 0.5) -> bool:
        """Ask the thread to end and wait up to ``timeout`` s; True if it has ended."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if asked to stop meanwhile."""
        return self._stop.wait(seconds)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._grab()
            except _EndOfStream:
                self._stop.set()
                if self.on_end is not None:
                    self.on_end()
                return
            except SourceError as exc:
                self._stop.set()
                if self.on_error is not None:
                    self.on_error(exc)
                return
            if frame is None:
                continue
            self.slot.put(frame)
            if self.on_frame is not None and not self._stop.is_set():
                self.on_frame(frame)


class _StreamingMixin:
    """start/stop/latest for sources that grab in a thread (keeping only the newest frame)."""

    _grabber: _GrabThread | None = None
    name: str

    def start(
        self,
        on_frame: FrameCallback | None = None,
        on_error: ErrorCallback | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """Start grabbing in a thread; callbacks run in that thread (keep them short)."""
        self.stop()
        grabber = _GrabThread(self._grab_next, name=f"grab {self.name}")
        grabber.on_frame, grabber.on_error, grabber.on_end = on_frame, on_error, on_end
        self._grabber = grabber
        grabber.start()

    def stop(self) -> bool:
        """Stop grabbing (waits at most 0.5 s); True if the grab thread has ended."""
        grabber, self._grabber = self._grabber, None
        return grabber.stop() if grabber is not None else True

    @property
    def running(self) -> bool:
        return self._grabber is not None and not self._grabber.stopping

    def latest(self) -> Frame | None:
        return self._grabber.slot.peek() if self._grabber is not None else None

    def _pause(self, seconds: float) -> bool:
        grabber = self._grabber
        return grabber.wait(seconds) if grabber is not None else True

    def _grab_next(self) -> Frame | None:  # pragma: no cover - overridden
        raise NotImplementedError


class VideoFileSource(_StreamingMixin):
    """A video file: ``read(i)`` seeks, ``start()`` plays from the current position at the file's fps."""

    kind = "video"

    def __init__(self, path: str | Path) -> None:
        cv2 = quiet_cv2()
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise SourceError(f"Cannot open video {self.path}: the file does not exist.")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise SourceError(f"Cannot open video {self.path}: OpenCV cannot decode it.")
        self._lock = threading.Lock()
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 25.0
        if not 0.5 < self.fps < 1000:
            self.fps = 25.0
        self.frame_count = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.position = 0  # index of the next frame the capture will decode
        self._next_due = 0.0

    def __len__(self) -> int:
        return self.frame_count

    def read(self, index: int) -> Frame:
        """Decode frame ``index`` (seeking if needed); raises SourceError past the end."""
        import cv2

        with self._lock:
            if index != self.position:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
                self.position = int(index)
            return self._decode_locked()

    def seek(self, index: int) -> None:
        """Make ``index`` the next frame that playback decodes."""
        import cv2

        with self._lock:
            if index != self.position:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
                self.position = int(index)

    def _decode_locked(self) -> Frame:
        import cv2

        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise SourceError(f"Video {self.path} has no frame {self.position}.")
        index = self.position
        self.position += 1
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return Frame(image=rgb, source_id=self.name, index=index, timestamp=index / self.fps, path=str(self.path))

    def _grab_next(self) -> Frame | None:
        # Pace playback to the file's frame rate; the end of the file stops the stream quietly.
        delay = self._next_due - time.monotonic()
        if delay > 0 and self._pause(delay):
            return None
        self._next_due = max(self._next_due, time.monotonic() - 1.0 / self.fps) + 1.0 / self.fps
        with self._lock:
            if self.frame_count and self.position >= self.frame_count:
                raise _EndOfStream
            try:
                return self._decode_locked()
            except SourceError:
                raise _EndOfStream from None

    def start(self, on_frame: FrameCallback | None = None, on_error: ErrorCallback | None = None,
              on_end: Callable[[], None] | None = None) -> None:
        self._next_due = time.monotonic()
        super().start(on_frame, on_error, on_end)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._cap.release()


class CameraSource(_StreamingMixin):
    """A webcam by device index; raises SourceError if absent, reports an unplugged one via on_error."""

    kind = "camera"

    def __init__(self, device: int = 0, *, open_capture: Callable[[int], Any] | None = None) -> None:
        self.device = int(device)
        self.name = f"camera {self.device}"
        self._open_capture = open_capture or _open_cv2_camera
        self._cap = self._open_capture(self.device)
        if self._cap is None or not self._cap.isOpened():
            raise SourceError(f"Cannot open camera {self.device}: no such device or it is busy.")
        self._index = 0
        self._failures = 0

    def __len__(self) -> int:
        return 0

    def _grab_next(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            self._failures += 1
            if self._failures >= 5:  # a few misses are normal while a camera starts
                raise SourceError(f"Camera {self.device} stopped delivering frames (unplugged?).")
            self._pause(0.05)
            return None
        self._failures = 0
        import cv2

        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._index += 1
        return Frame(image=rgb, source_id=self.name, index=self._index - 1, timestamp=time.monotonic())

    def close(self) -> None:
        # A camera read can hang when the device vanishes; never release the capture under it.
        if self.stop():
            self._cap.release()


def _open_cv2_camera(device: int) -> cv2.VideoCapture:
    return quiet_cv2().VideoCapture(device)


class SyntheticSource(_StreamingMixin):
    """Generated frames with moving rectangles, for demos, tests and benchmarks.

    ``fail_after``: raise SourceError after that many frames (a camera unplugged mid-stream).
    ``frame_count``: stop quietly after that many frames (None: endless).
    """

    kind = "synthetic"

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        *,
        frame_count: int | None = None,
        fail_after: int | None = None,
        name: str = "synthetic",
        seed: int = 0,
    ) -> None:
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.frame_count = frame_count
        self.fail_after = fail_after
        self.name = name
        self._rng = np.random.default_rng(seed)
        self._index = 0

    def __len__(self) -> int:
        return self.frame_count or 0

    def read(self, index: int) -> Frame:
        """Frame ``index`` (deterministic: two rectangles moving across a gradient)."""
        h, w = self.height, self.width
        image = np.empty((h, w, 3), np.uint8)
        image[...] = (np.arange(w, dtype=np.uint16) * 255 // max(1, w - 1)).astype(np.uint8)[None, :, None]
        image[..., 2] = 90
        for k, colour in enumerate(((230, 40, 40), (40, 200, 60))):
            size = min(h, w) // (3 + k)
            x = int((index * (4 + 3 * k)) % max(1, w - size))
            y = int((h - size) * (0.2 + 0.5 * k))
            image[y:y + size, x:x + size] = colour
        return Frame(image=image, source_id=self.name, index=int(index), timestamp=index / self.fps)

    def _grab_next(self) -> Frame | None:
        if self._pause(1.0 / self.fps):
            return None
        if self.fail_after is not None and self._index >= self.fail_after:
            raise SourceError(f"Source {self.name} stopped delivering frames after {self._index} frames.")
        if self.frame_count is not None and self._index >= self.frame_count:
            raise _EndOfStream
        frame = self.read(self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self.stop()
