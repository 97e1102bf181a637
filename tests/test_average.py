"""training.average: the weighted mean of SPNs' weights, its record, and what it refuses."""

import json
import os
from types import SimpleNamespace

import keras
import numpy as np

from keras_spgan import build_spn, load_generator, presets
from tests.conftest import TINY_SPN
from training import average
from training.preset import recipe, training_data, training_record


def _perturbed_copy(trained_tiny_spn, path, scale=0.05):
    """The tiny SPN with every float weight moved: a second model of the same architecture."""
    spn = keras.saving.load_model(trained_tiny_spn[1])
    rng = np.random.default_rng(3)
    spn.set_weights([w + scale * rng.standard_normal(w.shape).astype(w.dtype) * (np.abs(w).mean() + 1e-3)
                     for w in spn.get_weights()])
    spn.save(path)
    return spn, str(path)


def test_the_average_is_the_weighted_mean_of_the_weights_and_a_model_folder(tmp_path, trained_tiny_spn):
    first, first_path = trained_tiny_spn
    second, second_path = _perturbed_copy(trained_tiny_spn, tmp_path / "other.keras")
    out = tmp_path / "soup"
    assert average.main([first_path, second_path, "--weights", "3", "1", "--out", str(out)]) == 0

    soup = load_generator(str(out))  # the folder works as --model / --init_from
    assert len(soup.weights) == len(first.weights)
    for mixed, a, b in zip(soup.weights, first.weights, second.weights, strict=True):
        np.testing.assert_allclose(np.array(mixed), 0.75 * np.array(a) + 0.25 * np.array(b), rtol=1e-5, atol=1e-6)
    record = json.loads((out / "average.json").read_text())
    assert [m["weight"] for m in record["models"]] == [0.75, 0.25]
    assert [m["model"] for m in record["models"]] == [first_path, second_path]
    assert record["command"].endswith(f"--weights 3.0 1.0 --out {out}")

    # Equal weights by default; a model averaged with itself restores exactly as it did.
    same = tmp_path / "same"
    assert average.main([first_path, first_path, "--out", str(same)]) == 0
    clip = np.random.default_rng(0).uniform(size=(1, 5, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.array(load_generator(str(same))(clip)), np.array(first(clip)), atol=1e-6)


def test_a_preset_made_from_an_average_records_what_was_averaged(tmp_path, trained_tiny_spn):
    spn, path = trained_tiny_spn
    photos = [{"name": "coffee", "licence": "CC0", "held_out": True}]
    shipped = str(tmp_path / "stage")
    presets.save_preset(spn, shipped, {
        "training": {"steps": 900, "best_step": 700, "total_steps": 1900},
        "training_data": {"dataset": "builtin:stills-v7", "photos": photos},
    })
    out = str(tmp_path / "soup")
    assert average.main([shipped, path, "--out", out]) == 0

    record = training_record(out)
    assert record["steps"] == record["best_step"] == 1900 - 900 + 700  # the longest history averaged
    assert [m["weight"] for m in record["averaged"]] == [0.5, 0.5]
    assert record["averaged"][0]["run"]["best_step"] == 700
    data = training_data(out, log=print)
    assert data["dataset"] == ["builtin:stills-v7", None] and data["photos"] == photos
    command = recipe(SimpleNamespace(run=out, recipe="training/recipes/spn-v7.flags"))
    assert command == (f"python -m training.fit --flagfile training/recipes/spn-v7.flags && "
                       f"python -m training.average {shipped} {path} --out {out}")


def test_bad_averages_are_refused_naming_the_argument(tmp_path, trained_tiny_spn, capsys):
    path = trained_tiny_spn[1]
    other_architecture = build_spn(**{**TINY_SPN, "num_res_blocks": 2})
    other_path = str(tmp_path / "deeper.keras")
    other_architecture.save(other_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    out = str(tmp_path / "soup")
    bad = (([path, "--out", out], "--models: give at least two"),
           ([path, path, "--weights", "1", "--out", out], "--weights: 1 weight(s) for 2 models"),
           ([path, path, "--weights", "1", "-1", "--out", out], "--weights: must be >= 0"),
           ([path, path, "--weights", "0", "0", "--out", out], "--weights: must be >= 0 and not all 0"),
           ([path, other_path, "--out", out], "--models: model 2 is another architecture"),
           ([path, str(tmp_path / "nope"), "--out", out], "--models: " + str(tmp_path / "nope")),
           ([path, path, "--out", str(kept)], "--out: " + str(kept) + " exists"))
    for argv, message in bad:
        assert average.main(argv) == 2
        assert message in capsys.readouterr().err
    assert not os.path.exists(out) and os.listdir(kept) == []
    assert sorted(os.listdir(tmp_path)) == ["deeper.keras", "kept"]  # nothing half-written


def test_checkpoints_of_a_run_average_with_the_runs_record(tmp_path):
    """A soup of two checkpoints of one run (stage 8 of the presets): each model's record is its
    run's (data, flags), with the checkpoint's step as the step its weights are from."""
    from tests.test_training_loop import train

    run = tmp_path / "run"
    train(run, steps=4)
    checkpoints = [str(run / "checkpoints" / f"ckpt-00000000{step}") for step in (2, 4)]
    out = tmp_path / "soup"
    assert average.main([*checkpoints, "--out", str(out)]) == 0
    models = json.loads((out / "average.json").read_text())["models"]
    assert [m["training"]["best_step"] for m in models] == [2, 4]
    assert all(m["training"]["checkpoint"] == c and m["training"]["config"]["model"] == "spn"
               for m, c in zip(models, checkpoints))
    recorded = training_data(str(run), log=print)
    assert recorded["folder"] and all(m["training_data"] == recorded for m in models)
    assert training_record(str(out))["best_step"] == 4
