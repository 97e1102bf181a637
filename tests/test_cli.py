"""The command-line spine (issue 17): one `keras-spgan` with every job as a subcommand, help
without TensorFlow, TensorFlow's C++ log lines filtered, errors as `error: ...` with the
documented exit status, flagfiles, and no import cycle in the project."""

import ast
import json
import os
import subprocess
import sys

import pytest

from keras_spgan import cli, errors
from keras_spgan.quiet import _CPP_LOG_LINE
from tests.conftest import TINY_SPN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF_LOG_MARKERS = ("I0000", "W0000", "E0000", "oneDNN", "cuInit", "absl::InitializeLog", "cpu_feature_guard")


def python(*code_or_args, **kwargs):
    return subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO), timeout=kwargs.pop("timeout", 600), **kwargs)


def test_help_lists_every_job_without_importing_tensorflow():
    result = python("-c", "import sys; from keras_spgan import cli; code = cli.main(['--help']); "
                          "print('HEAVY', [m for m in ('tensorflow', 'keras') if m in sys.modules]); sys.exit(code)")
    assert result.returncode == 0, result.stderr
    for command in ("fit", "evaluate", "ablation", "synthesize", "deblur", "export", "serve", "prepare", "client",
                    "presets", "stills", "preset"):
        assert f"\n  {command} " in result.stdout
    assert "HEAVY []" in result.stdout


@pytest.mark.parametrize("command", [c for c in cli.COMMANDS if c != "export"] + [f"export {f}" for f in cli.EXPORTS])
def test_each_command_help_needs_no_tensorflow(command):
    result = python("-c", f"import sys; from keras_spgan import cli\n"
                          f"try:\n    cli.main({command.split()!r} + ['--help'])\nexcept SystemExit as e:\n"
                          f"    assert e.code == 0, e.code\n"
                          f"print('HEAVY', [m for m in ('tensorflow', 'keras') if m in sys.modules])")
    assert result.returncode == 0, result.stderr
    assert "usage: keras-spgan " + command in result.stdout and "HEAVY []" in result.stdout


def test_unknown_commands_and_missing_export_formats_exit_2(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert cli.main([]) == 2
    assert cli.main(["export"]) == 2 and "saved_model" in capsys.readouterr().err
    assert cli.main(["export", "--help"]) == 0 and "tflite" in capsys.readouterr().out


def test_a_two_step_fit_prints_no_tensorflow_log_lines(tmp_path):
    result = python("-m", "keras_spgan.cli", "fit", "--steps", "2", "--eval_every", "2", "--batch_size", "2",
                    "--crop", "32", "--val_windows", "2", "--val_crop", "32", "--spn_config", json.dumps(TINY_SPN),
                    "--model_dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "saved" in output and (tmp_path / "run" / "model.keras").is_file()
    assert not [marker for marker in TF_LOG_MARKERS if marker in output], output[-3000:]



def test_verbose_keeps_tensorflows_lines():
    quiet = python("-m", "training.fit", "--steps", "0")  # refused after TensorFlow was imported
    verbose = python("-m", "training.fit", "--steps", "0", "--verbose")
    assert quiet.returncode == verbose.returncode == 2
    assert "--steps: must be a positive integer" in quiet.stderr and "I0000" not in quiet.stderr
    assert "I0000" in verbose.stderr


def test_the_filter_drops_tensorflow_lines_only():
    lines = [b"I0000 00:00:1796197412.630500   29487 port.cc:153] oneDNN custom operations are on.\n",
             b"E0000 00:00:1796196015.507941   19335 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
             b"W0000 00:00:1796196015.507941   19335 dataset.cc:997] Input of GeneratorDatasetOp\n",
             b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"]
    kept = [b"step 2/2 (100%) | 0.50 steps/s\n", b"error: --steps: must be a positive integer, got 0\n",
            b"I0000 is not a log line without its time and source\n", b"\rstep 1/2"]
    assert all(_CPP_LOG_LINE.match(line) for line in lines)
    assert not any(_CPP_LOG_LINE.match(line) for line in kept)


def test_errors_print_one_line_and_map_to_exit_codes(tmp_path, capsys):
    # a usage error: 2, no traceback; --debug adds it
    assert cli.main(["deblur", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.mp4" in err and "Traceback" not in err
    assert cli.main(["deblur", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert errors.exit_code(errors.OutputError("full")) == 1
    assert errors.exit_code(errors.ConfigError("x", "bad")) == 2
    assert errors.exit_code(FileExistsError("there")) == 2
    from export.parity import ParityError
    from keras_spgan.data import DatasetError
    from keras_spgan.data.frames import FrameError
    from keras_spgan.presets import PresetError
    from serving.client import ServingClientError
    from serving.repository import ServingError

    for error_class in (DatasetError, FrameError, errors.ModelLoadError, PresetError, ParityError, ServingError,
                        ServingClientError, errors.OutputError, errors.ConfigError):
        assert issubclass(error_class, errors.KerasSpganError), error_class


def test_flagfiles_and_absl_style_booleans(tmp_path):
    import argparse

    from keras_spgan.flags import expand_flagfiles
    from training import fit

    inner = tmp_path / "inner.flags"
    inner.write_text("# the base recipe\n--crop=64\n--mixed_precision\n")
    outer = tmp_path / "outer.flags"
    outer.write_text(f"--flagfile={inner}\n\n--batch_size=8\n--nomixed_precision\n")
    parser = argparse.ArgumentParser()
    fit.add_arguments(parser)
    args = parser.parse_args(expand_flagfiles(["--flagfile", str(outer), "--lr", "3e-5"]))
    assert (args.crop, args.batch_size, args.mixed_precision, args.lr) == (64, 8, False, 3e-5)
    assert parser.parse_args(["--mixed_precision=true"]).mixed_precision is True
    assert parser.parse_args(["--cache", "false"]).cache is False
    with pytest.raises(FileNotFoundError, match="--flagfile"):
        expand_flagfiles(["--flagfile", str(tmp_path / "none.flags")])


def test_the_training_flags_are_the_config_fields():
    import argparse
    import dataclasses

    from training import fit
    from training.config import TrainConfig

    parser = argparse.ArgumentParser()
    fit.add_arguments(parser)
    flags = {action.dest for action in parser._actions} - {"help"}
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    assert flags == fields
    assert all(field.metadata.get("help") for field in dataclasses.fields(TrainConfig))


def _imports(path, package_names):
    """First-party modules a file imports, at its top or inside its functions (deferred imports
    count: a cycle through them is still a cycle), but not under `if __name__ == "__main__"`."""
    tree = ast.parse(open(path).read())
    main_blocks = [node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.dump(node.test)]
    skipped = {id(n) for block in main_blocks for n in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name.split(".")[0] in package_names}


def test_the_project_has_no_import_cycle():
    packages = ("keras_spgan", "training", "export", "serving")
    modules = {}
    for package in packages:
        for root, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                    modules[module] = path
    # Edges to a module's own packages are left out: Python runs those first, whatever the order.
    graph = {m: {i for i in _imports(p, packages) if i in modules and not (m + ".").startswith(i + ".")}
             for m, p in modules.items()}
    state, cycles = {}, []

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], cycles
