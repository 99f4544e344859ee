"""The `detviewer` dispatcher: subcommands, one-line errors, --debug tracebacks, `python -m`."""

import subprocess
import sys

from detviewer.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


def test_a_user_error_is_one_line_and_debug_adds_the_traceback(tmp_path, capsys):
    missing = str(tmp_path / "nothing.json")
    assert main(["eval", "--gt", missing, "--pred", missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and "Traceback" not in err
    assert main(["eval", "--gt", missing, "--pred", missing, "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_models_lists_demo_and_torchvision_models_with_weight_status(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "RPN proposals" in lines["fasterrcnn_resnet50_fpn"]
    assert "default boxes" in lines["ssd300_vgg16"] and "grid cells" in lines["demo-yolo"]
    assert "download" in lines["ssdlite320_mobilenet_v3_large"] or "cached" in lines["ssdlite320_mobilenet_v3_large"]
    assert "stride level and cell" in lines["yolo-onnx"] and "your file" in lines["yolo-onnx"]


def test_python_dash_m_runs_the_same_entry_point():
    result = subprocess.run([sys.executable, "-m", "detviewer", "models"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "fcos_resnet50_fpn" in result.stdout


def test_argparse_usage_errors_return_2_instead_of_raising(capsys):
    assert main(["detect"]) == 2
    assert "usage: detviewer detect" in capsys.readouterr().err
    assert main(["eval", "--help"]) == 0


def test_every_registered_capability_is_declared_and_described():
    from detviewer.cli.models_cmd import _SHOWS
    from detviewer.detectors.base import CAPABILITIES
    from detviewer.detectors.registry import available_models

    used = set().union(*(info.capabilities for info in available_models()))
    assert used <= set(CAPABILITIES) and set(CAPABILITIES) <= set(_SHOWS)
