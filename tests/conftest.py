import os

# Qt must run headless in tests; without this (or a DISPLAY) pytest-qt aborts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DETVIEWER_NO_DOWNLOAD", "1")
