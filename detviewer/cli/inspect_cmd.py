"""``detviewer inspect CHECKPOINT``: say what a checkpoint file holds.

Prints format, architecture, number of classes, class names (when stored) and parameter
count, or the one-sentence diagnosis on stderr with exit code 2. ``--json`` prints the same
facts as one JSON object for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detviewer inspect",
        description="Describe a detector checkpoint: format, architecture, classes and parameters.",
    )
    parser.add_argument("checkpoint", help="a .pth/.pt file (state dict, training checkpoint, TorchScript)")
    parser.add_argument("--arch", default=None, metavar="NAME",
                        help="fail unless the checkpoint holds weights of this architecture")
    parser.add_argument("--allow-torchscript", action="store_true",
                        help="load TorchScript archives (they contain code; only for files you trust)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def run(args: argparse.Namespace) -> int:
    from detviewer.io.checkpoints import FORMAT_LABELS, is_torchscript, load_checkpoint

    if is_torchscript(args.checkpoint) and not args.allow_torchscript:
        facts: dict[str, object] = {
            "file": str(args.checkpoint),
            "format": FORMAT_LABELS["torchscript"],
            "notes": ["Not loaded: TorchScript archives contain code; pass --allow-torchscript to load it."],
        }
        _print(facts, args.json)
        return EXIT_OK
    # CheckpointError propagates: the CLI dispatcher prints its sentence and exits with 2.
    ckpt = load_checkpoint(args.checkpoint, architecture=args.arch, allow_torchscript=args.allow_torchscript)
    facts = {
        "file": str(ckpt.path),
        "format": ckpt.format_label + (f" (epoch {ckpt.meta['epoch']})" if "epoch" in ckpt.meta else ""),
        "architecture": ckpt.architecture,
        "num_classes": ckpt.num_classes,
        "class_names": list(ckpt.class_names) if ckpt.class_names is not None else None,
        "parameters": ckpt.parameter_count,
        "notes": list(ckpt.notes),
    }
    _print(facts, args.json)
    return EXIT_OK


def _print(facts: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    lines = [f"file:          {facts['file']}", f"format:        {facts['format']}"]
    if "architecture" in facts:
        names = facts["class_names"]
        lines += [
            f"architecture:  {facts['architecture'] or 'unknown'}",
            f"classes:       {facts['num_classes'] if facts['num_classes'] is not None else 'unknown'}",
            f"class names:   {', '.join(names) if names else 'not stored in the checkpoint'}",
            f"parameters:    {facts['parameters']:,}",
        ]
    lines += [f"note:          {note}" for note in facts["notes"]]
    sys.stdout.write("\n".join(lines) + "\n")
