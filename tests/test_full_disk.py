"""Issue 16.6: every writer on a full disk fails with a clear error, leaves no partial output and
keeps the previous output byte for byte (checkpoints, best weights, exports, synthesized data,
evaluation reports). `deblur`'s own full-disk test is in test_deblur.py."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_spgan as ks
from keras_spgan.errors import OutputError
from keras_spgan.files import atomic_output
from tests import data_trees
from tests.conftest import TINY_SPN, fill

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tree(folder):
    """{relative path: bytes} of every file under `folder` but the filler."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if name != ".filler":
                with open(path, "rb") as f:
                    found[os.path.relpath(path, folder)] = f.read()
    return found


def compiled_tiny_spn():
    model = ks.build_spn(**TINY_SPN)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(np.zeros((1, 5, 16, 16, 1), "float32"), np.zeros((1, 16, 16, 1), "float32"), verbose=0)
    return model


def test_atomic_output_reports_a_full_disk_and_keeps_the_old_file(small_filesystem):
    path = small_filesystem / "report.json"
    path.write_text("old")
    fill(small_filesystem)
    with pytest.raises(OutputError, match=r"report.json: could not be written \(No space left on device\); "
                                          r"the previous report.json is unchanged"):
        with atomic_output(str(path), overwrite=True) as partial:
            with open(partial, "w") as f:
                f.write("x" * 1_000_000)
    assert path.read_text() == "old"
    assert sorted(os.listdir(small_filesystem)) == [".filler", "report.json"]


def test_a_checkpoint_too_big_for_the_disk_is_refused_before_writing(small_filesystem):
    from training.checkpoints import CheckpointManager

    model = compiled_tiny_spn()
    manager = CheckpointManager(str(small_filesystem / "run"))
    manager.save(model, 1, {"epoch": 0})
    before = tree(small_filesystem)
    fill(small_filesystem, leave=50_000)
    with pytest.raises(OutputError, match="MB free, checkpoint 2 needs about"):
        manager.save(model, 2, {"epoch": 0})
    assert tree(small_filesystem) == before
    assert manager.latest()[0] == 1


def test_a_checkpoint_that_fails_midway_keeps_the_previous_one(small_filesystem, monkeypatch):
    """HDF5 runs out of space inside save_weights: the error is ours, the old checkpoint stays."""
    from training import checkpoints

    model = compiled_tiny_spn()
    manager = checkpoints.CheckpointManager(str(small_filesystem / "run"))
    manager.save(model, 1, {"epoch": 0})
    before = tree(small_filesystem)
    fill(small_filesystem, leave=100_000)
    monkeypatch.setattr(checkpoints, "require_free_space", lambda *args: None)  # as if the estimate were wrong
    with pytest.raises(OutputError, match="ckpt-000000002: could not be written \\(No space left on device\\)"):
        manager.save(model, 2, {"epoch": 0})
    assert tree(small_filesystem) == before
    restored = compiled_tiny_spn()
    assert manager.restore(restored, manager.latest()[1])["step"] == 1


def test_fit_on_a_full_disk_exits_1_with_an_error_line(small_filesystem):
    fill(small_filesystem, leave=60_000)
    result = subprocess.run(
        [sys.executable, "-m", "training.fit", "--steps", "2", "--eval_every", "2", "--batch_size", "2", "--crop",
         "32", "--val_windows", "2", "--val_crop", "32", "--spn_config", '{"pyramid_filters": 4, "fusion_filters": 8, '
         '"num_res_blocks": 1}', "--model_dir", str(small_filesystem / "run"), "--strategy", "default"],
        capture_output=True, text=True, cwd=REPO, timeout=600, env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "error: " in result.stderr and "Traceback" not in result.stderr
    assert "MB free" in result.stderr or "No space left on device" in result.stderr
    leftovers = [n for _, dirs, files in os.walk(small_filesystem / "run") for n in dirs + files if ".partial-" in n]
    assert leftovers == []


def test_export_onto_a_full_disk_keeps_the_previous_version(small_filesystem, tmp_path):
    from export import saved_model

    model = ks.build_spn(**TINY_SPN)
    models = tmp_path / "models"
    saved_model.export(model, str(models), "deblur", version=1, parity_windows=1, log=lambda *_: None)
    # The same export again, into a small disk where the old one is copied.
    target = small_filesystem / "deblur"
    subprocess.run(["cp", "-r", str(models / "deblur"), str(target)], check=True)
    before = tree(small_filesystem)
    fill(small_filesystem, leave=20_000)
    with pytest.raises(OutputError, match="could not be written"):
        saved_model.export(model, str(small_filesystem), "deblur", version=1, overwrite=True, parity_windows=1,
                           log=lambda *_: None)
    assert tree(small_filesystem) == before


def test_synthesize_onto_a_full_disk_exits_1_and_keeps_the_old_tree(small_filesystem, tmp_path, capsys):
    from keras_spgan.data import synthesize

    source = tmp_path / "videos"
    os.makedirs(source)
    data_trees.write_video(str(source / "street.avi"), 21, height=120, width=160)
    out = small_filesystem / "out"
    os.makedirs(out / "old")
    (out / "old" / "kept.txt").write_text("old data")
    before = tree(small_filesystem)
    fill(small_filesystem, leave=30_000)
    assert synthesize.main([str(source), str(out), "--mode", "average", "--frames", "3", "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "could not be written" in err and "the previous out is unchanged" in err
    assert tree(small_filesystem) == before


def test_evaluation_reports_onto_a_full_disk(small_filesystem):
    from training.evaluate import write_outputs

    old = small_filesystem / "table.json"
    old.write_text("old table")
    fill(small_filesystem)
    result = {"rows": {"spn": {"clip": {"psnr": 30.0 + i}} for i in range(20_000)}}  # ~1 MB of JSON
    with pytest.raises(OutputError, match="table.json: could not be written"):
        write_outputs(result, [str(old)])
    assert old.read_text() == "old table"
