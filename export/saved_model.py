"""A SavedModel for TF Serving: `python -m export.saved_model --model runs/spn --out models --name deblur`.

Writes `OUT/NAME/VERSION/` (TF Serving's layout; VERSION defaults to the next
free number) with three signatures, all with dynamic batch, height and width:

  serving_default  frames uint8 (B, T, H, W, 3) RGB  -> sharp uint8 (B, H, W, 3) RGB centre frame
  float            frames float32 in [0, 1]          -> sharp float32 in [0, 1]
  luma             frames float32 (B, T, H, W, 1) Y  -> sharp float32 (B, H, W, 1) Y
                   (BT.601 studio-swing Y, for callers who convert colour themselves)

Before the version folder appears under its final name, the export is loaded
with the TF1 session loader (the C++ loader TF Serving uses), run, and checked
against the Keras model on the sample data; the parity report goes into
`VERSION/assets.extra/keras_spgan.json`. A failed check leaves nothing behind.
"""

import os

import numpy as np

from export import common, parity
from keras_spgan import cli
from keras_spgan.data.frames import to_uint8
from keras_spgan.errors import ConfigError

REPORT_FILE = os.path.join("assets.extra", "keras_spgan.json")

def build_models(spn):
    """The Keras models behind the three signatures; they share the SPN's weights."""
    import keras

    from keras_spgan.archs.rgb import rgb_outputs
    from keras_spgan.layers import CropLike, ReflectPadToMultiple, SelectFrame

    models = {}
    for name, dtype in (("serving_default", "uint8"), ("float", "float32")):
        frames = keras.Input((spn.num_frames, None, None, 3), dtype=dtype, name="frames")
        models[name] = keras.Model(frames, rgb_outputs(frames, spn, spn.num_frames, dtype), name=f"{name}_rgb")
    luma = keras.Input((spn.num_frames, None, None, 1), name="frames")
    sharp = spn(ReflectPadToMultiple(4, name="pad")(luma))
    sharp = CropLike(name="crop")([sharp, SelectFrame(spn.num_frames // 2, name="centre_y")(luma)])
    models["luma"] = keras.Model(luma, sharp, name="luma")
    return models


def write_saved_model(spn, path):
    """Writes the SavedModel with the three signatures to `path`."""
    import keras
    import tensorflow as tf

    models = build_models(spn)
    archive = keras.export.ExportArchive()
    # No archive.track(model): the endpoints capture every variable they use
    # anyway, and tracking the Keras variables too stores each weight twice
    # (2x the files and 2x the memory in TF Serving, keras-team/keras#23553).
    for name, model in models.items():
        channels = 1 if name == "luma" else 3
        dtype = tf.uint8 if name == "serving_default" else tf.float32
        spec = tf.TensorSpec((None, spn.num_frames, None, None, channels), dtype, name="frames")
        archive.add_endpoint(name, _endpoint(model), input_signature=[spec])
    archive.write_out(path, verbose=False)
    return models


def _endpoint(model):
    return lambda frames: {"sharp": model(frames, training=False)}


def run_with_session_loader(path, signature, inputs):
    """Runs one signature on each array of `inputs` through the TF1 SavedModel
    loader, which is how TF Serving's C++ server loads and runs models."""
    import tensorflow as tf

    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        sig = meta.signature_def[signature]
        return [session.run(sig.outputs["sharp"].name, {sig.inputs["frames"].name: x}) for x in inputs]


def parity_rows(spn, models, path, count):
    """Parity of the SavedModel written at `path` from `models` (loaded back, both loaders)
    with those Keras models."""
    from export.windows import parity_windows
    from keras_spgan.inference.runners import KerasRunner, SavedModelRunner

    windows, targets = parity_windows(spn.num_frames, count)
    keras_outputs = parity.run_all(KerasRunner(spn), windows)
    runner = SavedModelRunner(path)
    rows = [parity.measure("saved_model:float", "float32", parity.run_all(runner, windows), keras_outputs, targets)]
    # serving_default through the C++-style session loader, against the Keras uint8 model.
    uint8_keras = models["serving_default"]
    as_uint8 = [to_uint8(w) for w in windows]
    served = [y[0] / 255.0 for y in run_with_session_loader(path, "serving_default", [w[None] for w in as_uint8])]
    expected = [np.asarray(uint8_keras(w[None], training=False))[0] / 255.0 for w in as_uint8]
    rows.append(parity.measure("saved_model:serving_default", "uint8", served, expected, targets))
    # luma: Y in, Y out, against the same Keras graph.
    luma_keras = models["luma"]
    luma_windows = [to_luma(w) for w in windows]
    signature = runner.loaded.signatures["luma"]
    luma_served = [signature(frames=w[None])["sharp"].numpy()[0] for w in luma_windows]
    luma_expected = [np.asarray(luma_keras(w[None], training=False))[0] for w in luma_windows]
    luma_targets = [to_luma(t) for t in targets]
    rows.append(parity.measure("saved_model:luma", "float32", luma_served, luma_expected, luma_targets))
    return rows


def to_luma(rgb):
    """BT.601 Y (..., 1) of RGB in [0, 1], as float32."""
    from keras_spgan.colour import rgb_to_y

    return np.asarray(rgb_to_y(rgb), np.float32)


def next_version(base):
    versions = [int(n) for n in os.listdir(base) if n.isdigit()] if os.path.isdir(base) else []
    return max(versions, default=0) + 1


def export(model, out, name, version=None, overwrite=False, parity_windows=8, log=print):
    """Exports `model` (a path, or an SPN) to out/name/version; returns (path, report)."""
    spn = common.load_spn(model) if isinstance(model, str) else model
    if not name or os.sep in name or name.startswith("."):
        raise ConfigError("name", f"must be a plain folder name, got {name!r}")
    base = os.path.join(out, name)
    version = next_version(base) if version is None else version
    if version < 1:
        raise ConfigError("version", f"must be a positive integer, got {version}")
    target = os.path.join(base, str(version))
    common.check_new_output(target, overwrite)
    if parity_windows < 1:
        raise ConfigError("parity_windows", f"must be at least 1, got {parity_windows}")
    models = {}

    def write(path):
        models.update(write_saved_model(spn, path))

    report = common.write_checked(spn, model, target, common.Conversion(
        format="saved_model",
        write=write,
        parity_rows=lambda path: parity_rows(spn, models, path, parity_windows),
        details={"signatures": {
            "serving_default": common.io_description(spn.num_frames, dtype="uint8", value_range=(0, 255)),
            "float": common.io_description(spn.num_frames),
            "luma": "frames float32 (B, T, H, W, 1) BT.601 studio-swing Y -> sharp float32 (B, H, W, 1) Y",
        }},
        sidecar_in_folder=REPORT_FILE), overwrite=overwrite, log=log)
    log(f"wrote {target} (TF Serving: --model_base_path={os.path.abspath(base)} --model_name={name})")
    return target, report


def add_arguments(parser):
    common.add_model_flags(parser, overwrite="replace an existing OUT/NAME/VERSION")
    parser.add_argument("--out", default="models", help="TF Serving model base folder; the export goes to "
                                                         "OUT/NAME/VERSION (default: models)")
    parser.add_argument("--name", default="deblur", help="model name (TF Serving's --model_name; default: deblur)")
    parser.add_argument("--version", type=int, help="version number; default: one more than the newest in OUT/NAME")

def run(args):
    return common.run_export(lambda: export(args.model, args.out, args.name, args.version, args.overwrite,
                                            args.parity_windows))

if __name__ == "__main__":
    cli.alias("export saved_model")
