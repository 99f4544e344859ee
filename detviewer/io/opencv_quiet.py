"""OpenCV for video and cameras without its stderr chatter (Qt-free).

OpenCV's own log prints camera WARN lines ("can't open camera by index"), and FFmpeg prints
"moov atom not found" or hundreds of decoder lines for a damaged file. Every failure they
describe reaches the user as one SourceError sentence instead, so both logs are turned off
unless the user set OPENCV_LOG_LEVEL or OPENCV_FFMPEG_LOGLEVEL (to see them while debugging).
"""

from __future__ import annotations

import os

__all__ = ["quiet_cv2"]

#: AV_LOG_QUIET. OpenCV reads OPENCV_FFMPEG_LOGLEVEL once, when its FFmpeg backend is first
#: used, so it must be in the environment before the process's first VideoCapture.
_FFMPEG_QUIET = "-8"


def quiet_cv2():
    """Import cv2 with OpenCV's and FFmpeg's logging off (unless the user set them); returns the module.

    Call it instead of ``import cv2`` before creating any ``cv2.VideoCapture``.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", _FFMPEG_QUIET)
    import cv2

    if "OPENCV_LOG_LEVEL" not in os.environ:  # read by cv2 only at import: set the level directly
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return cv2
