"""The feed: which source is open, where we are in it, and sending its frames to the worker.

Image lists and paused videos are decoded by the task runner (latest wins: flipping through images
decodes only the last one asked for) and shown when ready; playing videos and cameras grab in their own
thread and hand each newest frame straight to the worker's one-slot inbox. Every switch of source, file, seek or model bumps ``generation`` so the window can drop
results that belong to what the user has left.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from detviewer.errors import DetviewerError, SourceError
from detviewer.io.frames import Frame, with_display_copy
from detviewer.io.sources import ImageListSource, source_for_paths
from detviewer.io.streams import CameraSource, VideoFileSource

__all__ = ["Feed"]


class Feed(QObject):
    frame_ready = Signal(object)  # Frame to show now (before its detections arrive)
    message = Signal(str)  # one sentence for the status bar
    source_changed = Signal(object)  # the new source object (or None)
    position_changed = Signal(int)  # index in the image list / video
    playing_changed = Signal(bool)
    file_broken = Signal(int)  # index of an image that could not be decoded
    stream_failed = Signal(str)  # a camera/stream broke (one sentence)
    _stream_error = Signal(str)
    _stream_end = Signal()

    def __init__(self, background, parent=None) -> None:
        super().__init__(parent)
        self.background = background
        self.worker = background.worker
        self.source = None
        self.index = 0
        self.generation = 0
        self.playing = False
        self.current_frame: Frame | None = None
        self.last_camera: int | None = None
        self.camera_opener = None  # tests inject a fake VideoCapture factory
        self._stream_error.connect(self._on_stream_error)
        self._stream_end.connect(self._on_stream_end)

    # -- opening -------------------------------------------------------------------------------
    def source_for(self, paths):
        """The source for files/folders/a video, not opened yet; None (with a message) when there is none."""
        try:
            return source_for_paths([Path(p) for p in paths])
        except DetviewerError as exc:
            self.message.emit(str(exc))
            return None

    def open_camera(self, device: int = 0) -> bool:
        self.last_camera = int(device)
        try:
            source = CameraSource(device, open_capture=self.camera_opener)
        except SourceError as exc:
            self.message.emit(str(exc))
            return False
        self.open_source(source)
        return True

    def reconnect_camera(self) -> bool:
        return self.open_camera(self.last_camera if self.last_camera is not None else 0)

    def open_source(self, source) -> None:
        """Switch to ``source``: image lists and videos show their first frame; live sources start."""
        self.stop()
        self.source = source
        self.index = 0
        self.source_changed.emit(source)
        if isinstance(source, (ImageListSource, VideoFileSource)):
            self.go(0)
        else:
            self.play(True)

    # -- navigation ------------------------------------------------------------------------------
    def go(self, index: int) -> None:
        """Show item ``index`` of an image list or video (a broken file gives a message only)."""
        source = self.source
        if source is None or not hasattr(source, "read") or isinstance(source, CameraSource):
            return
        n = len(source)
        if n:
            index = max(0, min(int(index), n - 1))
        if self.playing:
            self.play(False)
        self.index = index
        self.generation += 1
        self.position_changed.emit(index)
        generation = self.generation
        self.background.task(("decode", index), lambda _context: with_display_copy(source.read(index)),
                             "reading the file",
                             lambda frame, error: self._on_decoded(generation, index, frame, error), slot="decode")

    def _on_decoded(self, generation: int, index: int, frame, error: str) -> None:
        if generation != self.generation:
            return  # the user has moved on
        if error:
            self.current_frame = None
            self.message.emit(error)
            self.file_broken.emit(index)
            return
        self.current_frame = frame
        self.frame_ready.emit(frame)
        self.worker.submit(frame, generation)

    def next(self) -> None:
        self.go(self.index + 1)

    def previous(self) -> None:
        self.go(self.index - 1)

    def step(self, delta: int) -> None:
        self.go(self.index + delta)

    def resubmit(self) -> None:
        """Run the current frame again (e.g. after a model change); old answers become stale."""
        self.generation += 1
        if self.current_frame is not None and not self.playing:
            self.worker.submit(self.current_frame, self.generation)

    # -- streaming -------------------------------------------------------------------------------
    def play(self, on: bool) -> None:
        source = self.source
        if source is None or not hasattr(source, "start"):
            return
        if on == self.playing:
            return
        if on:
            if isinstance(source, VideoFileSource):
                at_end = len(source) and self.index >= len(source) - 1
                source.seek(0 if at_end else self.index + 1)  # continue after the frame shown
            self.generation += 1
            generation = self.generation
            self.playing = True
            source.start(
                on_frame=lambda frame: self.worker.submit(frame, generation),
                on_error=lambda exc: self._stream_error.emit(str(exc)),
                on_end=self._stream_end.emit,
            )
        else:
            source.stop()
            self.playing = False
        self.playing_changed.emit(self.playing)

    def note_shown(self, frame: Frame) -> None:
        """The window showed ``frame`` (from a stream): remember it as the current position."""
        self.current_frame = frame
        if isinstance(self.source, VideoFileSource):
            self.index = frame.index
            self.position_changed.emit(frame.index)

    def _on_stream_error(self, message: str) -> None:
        self.playing = False
        self.playing_changed.emit(False)
        self.stream_failed.emit(message)
        self.message.emit(message)

    def _on_stream_end(self) -> None:
        self.playing = False
        self.playing_changed.emit(False)

    def stop(self) -> None:
        """Stop any grab thread of the current source (bounded) and release it."""
        source, self.source = self.source, None
        self.playing = False
        if source is not None:
            if hasattr(source, "close"):
                source.close()
            elif hasattr(source, "stop"):
                source.stop()
        self.source = None
        self.current_frame = None
        self.generation += 1
