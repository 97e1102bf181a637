"""What every command does with bad flags (issue 15.13): status 2 and a message, no traceback."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = [
    "training.fit", "training.evaluate", "training.ablation", "export.saved_model", "export.tflite",
    "export.onnx", "serving.server", "keras_spgan.data.synthesize", "keras_spgan.data.training_set",
    "keras_spgan.deblur",
]


@pytest.mark.parametrize("module", COMMANDS)
def test_an_unknown_flag_exits_2_naming_it(module):
    positional = ["in", "out"] if module in ("keras_spgan.data.synthesize", "keras_spgan.deblur") else []
    result = subprocess.run([sys.executable, "-m", module, *positional, "--no_such_flag"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "no_such_flag" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("module", ["training.fit", "export.tflite"])
def test_a_bad_flag_value_exits_2(module):
    result = subprocess.run([sys.executable, "-m", module, "--batch_size=many" if module == "training.fit" else
                             "--calibration_windows=x"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "error: " in result.stderr and "Traceback" not in result.stderr
