"""Parse an Ultralytics data.yaml safely: PyYAML's safe loader with two bounds a hostile file cannot pass.

- An alias (``*name``) may stand only for a scalar. An alias of a list or a mapping is refused: nine
  nested lists of nine aliases each ("billion laughs") are 81 aliases in a few hundred bytes but expand to
  nine^9 entries once anything walks them (88 s and 6.4 GB when the class names were listed).
- At most ``MAX_NODES`` nodes are composed (4 per class name at io.limits.MAX_CLASSES, and room for the
  rest): a file with a million names stops after the first few thousand instead of being parsed whole
  (pure-Python PyYAML needs about a minute per million nodes).

Both raise :class:`YamlTooLarge` (its message completes "PATH ..."), a ``yaml.YAMLError``.
"""

from __future__ import annotations

import yaml

from detviewer.io.limits import MAX_CLASSES

__all__ = ["load_data_yaml", "YamlTooLarge", "MAX_NODES"]

#: The most nodes (scalars, lists, mappings) a data.yaml may hold.
MAX_NODES = 4 * MAX_CLASSES + 10_000


class YamlTooLarge(yaml.YAMLError):
    """The document is refused; the message is the rest of a sentence that starts with the file name."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader counting composed nodes and refusing aliases of collections."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            node = self.anchors.get(anchor)
            if node is not None and not isinstance(node, yaml.ScalarNode):
                raise YamlTooLarge(f"uses the alias *{anchor} of a list or mapping; detviewer does not expand "
                                   f"such aliases in a data.yaml (write the values out)")
        else:
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise YamlTooLarge(f"holds more than {MAX_NODES:,} values; a data.yaml names at most "
                                   f"{MAX_CLASSES:,} classes")
        return super().compose_node(parent, index)


def load_data_yaml(text: str):
    """The parsed document (``yaml.safe_load``'s types); YamlTooLarge or another yaml.YAMLError."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
