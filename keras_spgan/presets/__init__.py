"""Pretrained models shipped inside the package, in the keras-hub preset form.

    spn = keras_spgan.from_preset("spn")                 # the generator (an SPN)
    deblur = keras_spgan.from_preset("spgan", rgb=True)  # RGB frames in, RGB centre frame out
    keras_spgan.list_presets()                           # {"spn": "<description>", ...}

One folder per preset under this package:

    config.json     the model's Keras config (`keras.saving.serialize_keras_object`)
    weights.h5      its weights in model.weights order, stored as float16 (half the
                    wheel; the float32 model loaded from them is measured against the
                    trained one in metadata.json's "storage" entry)
    metadata.json   training data and licences, steps, the recipe command, measured
                    PSNR / SSIM, date, keras-spgan version

A folder with the same three files works wherever a preset name does.
`DEFAULT_PRESET` is what `keras-spgan deblur` uses without --model.
"""

import json
import os

import numpy as np

from keras_spgan.errors import KerasSpganError

PRESETS_DIR = os.path.dirname(os.path.abspath(__file__))
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.h5"
METADATA_FILE = "metadata.json"
DEFAULT_FILE = "default.json"  # {"preset": NAME, "why": "..."}


class PresetError(KerasSpganError, ValueError):
    """An unknown preset name or a broken preset folder; the message lists the presets."""


def _is_preset_folder(path):
    return all(os.path.isfile(os.path.join(path, f)) for f in (CONFIG_FILE, WEIGHTS_FILE))


def list_presets():
    """{name: description} of the presets shipped with this install."""
    found = {}
    for name in sorted(os.listdir(PRESETS_DIR)):
        folder = os.path.join(PRESETS_DIR, name)
        if os.path.isdir(folder) and _is_preset_folder(folder):
            found[name] = metadata(folder).get("description", "")
    return found


def default_preset():
    """The preset used when no model is given (see default.json for why)."""
    path = os.path.join(PRESETS_DIR, DEFAULT_FILE)
    if not os.path.isfile(path):
        raise PresetError(f"no default preset in this install ({path} is missing); pass a model")
    with open(path) as f:
        return json.load(f)["preset"]


def is_preset(name_or_path):
    """True for a shipped preset's name or a preset folder."""
    if not isinstance(name_or_path, str):
        return False
    if os.path.isdir(name_or_path):
        return _is_preset_folder(name_or_path)
    return os.sep not in name_or_path and _is_preset_folder(os.path.join(PRESETS_DIR, name_or_path))


def preset_dir(name_or_path):
    """The folder of a preset name or a preset folder path; PresetError listing the presets otherwise."""
    if isinstance(name_or_path, str) and os.path.isdir(name_or_path):
        if _is_preset_folder(name_or_path):
            return name_or_path
        raise PresetError(f"{name_or_path}: not a preset folder (it needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    if is_preset(name_or_path):
        return os.path.join(PRESETS_DIR, name_or_path)
    names = ", ".join(list_presets()) or "none in this install"
    raise PresetError(f"{name_or_path!r}: not a preset nor a preset folder; presets: {names}")


def metadata(name_or_path):
    path = os.path.join(preset_dir(name_or_path), METADATA_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def from_preset(name_or_path, rgb=False):
    """The preset's SPN (float32), or with `rgb=True` its RGB deblurrer."""
    import keras

    from keras_spgan.archs.rgb import build_rgb_deblurrer

    folder = preset_dir(name_or_path)
    with open(os.path.join(folder, CONFIG_FILE)) as f:
        spn = keras.saving.deserialize_keras_object(json.load(f))
    spn.set_weights(read_weights(os.path.join(folder, WEIGHTS_FILE), spn))
    return build_rgb_deblurrer(spn) if rgb else spn


def read_weights(path, model):
    """Weights stored by `write_weights`, as float32 arrays in `model.weights` order."""
    import h5py

    with h5py.File(path, "r") as f:
        count = int(f.attrs["count"])
        arrays = [np.asarray(f[f"{i:04d}"], dtype=np.float32) for i in range(count)]
        names = [f[f"{i:04d}"].attrs["path"] for i in range(count)]
    expected = [w.path for w in model.weights]
    if [n.split("/", 1)[-1] for n in names] != [n.split("/", 1)[-1] for n in expected]:
        raise PresetError(f"{path}: its weights do not match the model of its {CONFIG_FILE}")
    return arrays


def write_weights(path, model, dtype="float16"):
    """Every weight of `model` in order, float variables stored as `dtype`."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["count"] = len(model.weights)
        for i, weight in enumerate(model.weights):
            value = np.asarray(weight.numpy())
            if np.issubdtype(value.dtype, np.floating):
                value = value.astype(dtype)
            dataset = f.create_dataset(f"{i:04d}", data=value)
            dataset.attrs["path"] = weight.path


def save_preset(spn, folder, meta):
    """Writes a preset folder (config, float16 weights, metadata)."""
    import keras

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, CONFIG_FILE), "w") as f:
        json.dump(keras.saving.serialize_keras_object(spn), f, indent=1)
    write_weights(os.path.join(folder, WEIGHTS_FILE), spn)
    with open(os.path.join(folder, METADATA_FILE), "w") as f:
        json.dump(meta, f, indent=1)


def steps_to_best(record):
    """All training steps (every stage) behind the weights a training record ships: its best step's."""
    steps = record.get("steps", 0)
    return record.get("total_steps", steps) - steps + record.get("best_step", steps)


def add_arguments(parser):
    """No flags: `keras-spgan presets` lists the shipped presets."""


def run(args):
    """`keras-spgan presets`: the shipped presets, their measured gains and the default."""
    shipped = list_presets()
    if not shipped:
        print("no presets in this install")
        return 0
    default = default_preset() if os.path.isfile(os.path.join(PRESETS_DIR, DEFAULT_FILE)) else None
    for name, description in shipped.items():
        meta = metadata(name)
        held_out = meta.get("evaluation", {}).get("held_out_photos", {}).get("rgb", {})
        gain = f"{held_out['gain_db']:+.2f} dB RGB PSNR on held-out photo clips" if held_out else "not measured"
        pans = meta.get("evaluation", {}).get("fast_pans", {}).get("rgb")
        if pans:
            gain += f", {pans['gain_db']:+.2f} dB on fast pans"
        training = meta.get("training")
        steps = steps_to_best(training) if training else None
        print(f"{name}{' (default)' if name == default else ''}: {description}")
        print(f"    {gain}; {steps} training steps; {os.path.join(PRESETS_DIR, name)}")
    return 0


def main(argv=None):
    from keras_spgan import cli

    return cli.main(["presets", *(argv or [])])
