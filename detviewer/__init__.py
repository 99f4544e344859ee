"""detviewer: see what an object detector does."""

__version__ = "0.1.0"
