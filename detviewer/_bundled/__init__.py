"""Package data (demo models and assets) copied here when a wheel is built; see setup.py."""
