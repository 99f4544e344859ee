import os
import tempfile

# Qt must run headless in tests; without this (or a DISPLAY) pytest-qt aborts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DETVIEWER_NO_DOWNLOAD", "1")
# Caches the app writes (a dataset run's per-image answers) go to a throw-away folder, not the user's.
os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="detviewer-tests-cache-"))

from fs_fixtures import read_only_fs, small_fs  # noqa: E402,F401  (full / read-only tmpfs fixtures)
