"""Content hashes of files that must be regular files of bounded size (images, weights).

A dataset may name anything as an image (``/dev/zero``, a FIFO, a folder): the file is opened without
blocking, checked to be a regular file before a byte is read, and read up to its size at open time
(at most ``max_bytes``), so neither a device nor a file that grows while it is read can hang the run.
"""

from __future__ import annotations

import hashlib
import os
import stat

from detviewer.errors import ImageLoadError
from detviewer.io.limits import NotRegularFile, open_regular

__all__ = ["MAX_FILE_BYTES", "content_hash"]

#: Largest file hashed: 4 GiB (a 100 MP image is far below; torchvision's largest weights are ~0.6 GB).
MAX_FILE_BYTES = 4 << 30
_CHUNK = 1 << 20


def content_hash(path: str | os.PathLike[str], length: int = 24, max_bytes: int = MAX_FILE_BYTES) -> str:
    """sha256 of a regular file's bytes, hex, first ``length`` characters.

    Raises ImageLoadError (one sentence naming the file) when it is not a regular file, is larger than
    ``max_bytes`` or cannot be read.
    """
    try:
        with open_regular(path) as (fh, info):
            if info.st_size > max_bytes:
                raise ImageLoadError(f"{path} could not be read: it is {info.st_size:,} bytes, more than the "
                                     f"{max_bytes:,}-byte limit.")
            digest, left = hashlib.sha256(), info.st_size
            while left > 0:
                block = fh.read(min(_CHUNK, left))
                if not block:
                    break
                digest.update(block)
                left -= len(block)
            return digest.hexdigest()[:length]
    except FileNotFoundError:
        raise ImageLoadError(f"{path} could not be read: the file does not exist.") from None
    except IsADirectoryError:
        raise ImageLoadError(f"{path} could not be read: it is a folder, not a file.") from None
    except NotRegularFile as exc:
        kind = "a folder" if stat.S_ISDIR(exc.mode) else "a device, pipe or socket"
        raise ImageLoadError(f"{path} could not be read: it is {kind}, not a regular file.") from None
    except OSError as exc:
        raise ImageLoadError(f"{path} could not be read: {exc.strerror or exc}.") from None
