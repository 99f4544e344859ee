"""Command line entry point.

``detviewer SUBCOMMAND ...`` runs a tool; ``detviewer [PATH ...] [--model ...]`` opens the window.
Subcommand modules are imported lazily so that the window opens before torch is imported.
Each subcommand module defines ``build_parser() -> argparse.ArgumentParser`` and
``run(args) -> int``.
"""

from __future__ import annotations

import importlib
import sys
import traceback

from detviewer.errors import DetviewerError

SUBCOMMANDS: dict[str, str] = {
    "detect": "detviewer.cli.detect",
    "eval": "detviewer.cli.evaluate",
    "inspect": "detviewer.cli.inspect_cmd",
    "models": "detviewer.cli.models_cmd",
    "make-shapes": "detviewer.cli.make_shapes",
    "train-demo": "detviewer.cli.train_demo",
    "render": "detviewer.cli.render",
    "lecture": "detviewer.cli.lecture",
    "merge-results": "detviewer.cli.merge_results",
    "compare": "detviewer.cli.compare",
    "anchors": "detviewer.cli.anchors",
}

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def _run_module(module_name: str, prog: str, argv: list[str]) -> int:
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        module = importlib.import_module(module_name)
        parser = module.build_parser()
        parser.prog = prog
        parser.add_argument("--debug", action="store_true", help="print tracebacks on errors")
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # argparse has printed usage or help
            return int(exit_.code or 0)
        args.debug = debug
        return int(module.run(args))
    except DetviewerError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, traceback only with --debug
        if debug:
            traceback.print_exc()
        else:
            print(f"error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _run_module(SUBCOMMANDS[argv[0]], f"detviewer {argv[0]}", argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(_usage())
        return EXIT_OK
    return _run_module("detviewer.gui.launch", "detviewer", argv)


def _usage() -> str:
    lines = [
        "usage: detviewer [PATH ...] [--model NAME] [--weights W] [--device D] [--screenshot OUT.png]",
        "       detviewer SUBCOMMAND [options]",
        "",
        "Opens the detviewer window, or runs one of:",
    ]
    for name in SUBCOMMANDS:
        lines.append(f"  {name}")
    lines.append("")
    lines.append("Run 'detviewer SUBCOMMAND --help' for its options; 'detviewer --help-gui' for the window's.")
    return "\n".join(lines)
