"""Maps the top-level models/ and assets/ folders into the wheel as detviewer/_bundled/ package data."""

from setuptools import find_packages, setup

BUNDLED = {"detviewer._bundled.models": "models", "detviewer._bundled.assets": "assets"}

setup(
    packages=find_packages(include=["detviewer", "detviewer.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    package_data={name: ["*", "*/*", "*/*/*"] for name in BUNDLED},
)
