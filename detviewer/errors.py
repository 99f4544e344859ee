"""Exceptions whose message is one sentence meant for the user (no traceback needed)."""


def first_line(exc: BaseException | str) -> str:
    """The first line of an exception's (or a text's) message without its full stop, for one-sentence errors;
    the exception's type name when it says nothing."""
    lines = str(exc).strip().splitlines()
    if lines:
        return lines[0].strip().rstrip(".")
    return type(exc).__name__ if isinstance(exc, BaseException) else ""


class DetviewerError(Exception):
    """Base of every error the user can cause: bad file, bad checkpoint, missing camera ..."""


class ImageLoadError(DetviewerError):
    """An image file could not be decoded; the message names the file and the reason."""


class CheckpointError(DetviewerError):
    """A checkpoint is unreadable, unsafe or does not fit the requested architecture."""


class DetectorError(DetviewerError):
    """A detector could not be built, loaded or run."""


class SourceError(DetviewerError):
    """A video file or camera could not be opened or stopped delivering frames."""


class AnnotationError(DetviewerError):
    """An annotation or results file is malformed."""
