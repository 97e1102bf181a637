"""TFLite / LiteRT models for phones:

    python -m export.tflite --model runs/spn --quantize int8 --input_size 720x1280 --out spn.tflite

The model takes one window of RGB frames float32 (1, T, H, W, 3) in [0, 1]
and returns the RGB centre frame float32 (1, H, W, 3) in [0, 1], for every
`--quantize`:

  none     float32 weights and activations
  float16  float16 weights, float32 compute (or float16 on GPU delegates)
  dynamic  int8 weights, activations quantized on the fly
  int8     int8 weights and activations, calibrated on `--representative_data`,
           except the head (one 3x3 conv to one channel, 0.1% of the work), the
           residual add and the colour conversion back to RGB, which stay float32
           (see export/quantization.py for why and what it buys);
           `--integer_only` makes every op int8, for integer-only accelerators.
           Float32 in and out, so callers feed the same floats as for the others

TFLite's CONV_3D kernel is float only: a converter left alone keeps every
Conv3D of an "int8" model in float, silently. So the network is first folded
(`fold_temporal_convs`: each Conv3D becomes the exactly equivalent Conv2D over
frames stacked as channels) and the int8 model's ops are checked: any float
convolution but the head's fails the export.

Beside FILE.tflite, FILE.tflite.json describes the input and output (layout,
value range, frames per window) and holds the parity report.
"""

import tempfile

import numpy as np

from export import common, parity
from export.tflite_ops import float_compute_ops, list_ops  # noqa: F401  (also public here, as before)
from keras_spgan import cli
from keras_spgan.errors import ConfigError

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
PRECISION = {"none": "float32", "float16": "float16", "dynamic": "dynamic", "int8": "int8"}
# Ops whose float form in an int8 model means the network was not quantized.

def deployable_model(spn, frame_size, fold=True, equalize_on=None):
    """RGB window (1, T, H, W, 3) -> RGB centre frame, with the Conv3Ds folded into Conv2Ds.
    `equalize_on`: RGB windows to equalize the activations' channel ranges on (for int8;
    needs `fold`, which makes the copy that gets rescaled)."""
    import keras

    from export.quantization import equalize_activation_ranges
    from keras_spgan.archs.rgb import rgb_outputs
    from keras_spgan.archs.spn import fold_temporal_convs
    from keras_spgan.colour import rgb_to_y

    frames = keras.Input((spn.num_frames, *frame_size, 3), batch_size=1, name="frames")
    generator = fold_temporal_convs(spn) if fold else spn
    if equalize_on is not None and fold:
        height, width = (d // 4 * 4 for d in frame_size)  # the SPN itself takes multiples of 4
        equalize_activation_ranges(generator, [np.asarray(rgb_to_y(w[:, :height, :width])) for w in equalize_on])
    return keras.Model(frames, rgb_outputs(frames, generator, spn.num_frames), name="deblur")


def convert(spn, quantize, frame_size, calibration=None, fold=True, integer_only=False, equalize=True):
    """The .tflite flatbuffer (bytes) of `spn` for `frame_size`; int8 needs calibration windows
    (and equalizes the activations' channel ranges on them unless `equalize` is False, then
    takes back the mean output shift that rounding leaves, see export/quantization.py)."""
    import tensorflow as tf

    from export.quantization import convert_int8, correct_output_bias

    if quantize not in QUANTIZATIONS:
        raise ConfigError("quantize", f"must be one of {QUANTIZATIONS}, got {quantize!r}")
    if quantize == "int8":
        if not calibration:
            raise ConfigError("representative_data", "int8 needs calibration windows")
        model = deployable_model(spn, frame_size, fold, equalize_on=calibration if equalize else None)
        content = convert_int8(model, calibration, integer_only)
        # Folding made a copy whose head bias can move; without it the caller's model would.
        if fold and correct_output_bias(model, content, calibration):
            content = convert_int8(model, calibration, integer_only)
        return content
    model = deployable_model(spn, frame_size, fold)
    with tempfile.TemporaryDirectory() as saved:
        # Keras 3 -> SavedModel -> converter is the route that works on TF 2.21 (platform facts).
        model.export(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def export(model, quantize, input_size, out, representative_data=None, calibration_windows=32,
           parity_windows=8, overwrite=False, log=print, integer_only=False):
    """Converts, checks and writes `out` and its sidecar; returns the report."""
    from export.windows import parity_windows as sample_windows
    from export.windows import representative_windows
    from keras_spgan.inference.runners import KerasRunner, TFLiteRunner

    if not out or not out.endswith(".tflite"):
        raise ConfigError("out", f"must be a .tflite file, got {out!r}")
    common.check_new_output(out, overwrite)
    if quantize not in QUANTIZATIONS:
        raise ConfigError("quantize", f"must be one of {QUANTIZATIONS}, got {quantize!r}")
    if integer_only and quantize != "int8":
        raise ConfigError("integer_only", f"applies to --quantize int8 only, not {quantize!r}")
    size = common.parse_input_size(input_size) if isinstance(input_size, str) else tuple(input_size)
    for flag, value in (("calibration_windows", calibration_windows), ("parity_windows", parity_windows)):
        if value < 1:
            raise ConfigError(flag, f"must be at least 1, got {value}")
    spn = common.load_spn(model) if isinstance(model, str) else model
    common.check_frame_size(spn, size)
    calibration = None
    if quantize == "int8":
        calibration = representative_windows(representative_data, spn.num_frames, size, calibration_windows)
        log(f"calibrating int8 on {len(calibration)} windows of {size[1]}x{size[0]} "
            f"from {representative_data or 'the built-in sample'}")
    content = convert(spn, quantize, size, calibration, integer_only=integer_only)
    failures = float_compute_ops(content, float_head=not integer_only) if quantize == "int8" else []
    if failures:
        raise parity.ParityError(f"the int8 model still computes in float: {', '.join(failures)}")

    ops = list_ops(content)

    def write(path):
        with open(path, "wb") as f:
            f.write(content)

    def parity_rows(path):
        windows, targets = sample_windows(spn.num_frames, parity_windows, size)
        keras_outputs = parity.run_all(KerasRunner(spn), windows)
        outputs = parity.run_all(TFLiteRunner(path), windows)
        return [parity.measure(f"tflite:{quantize}", PRECISION[quantize], outputs, keras_outputs, targets)]

    report = common.write_checked(spn, model, out, common.Conversion(
        format="tflite", write=write, parity_rows=parity_rows,
        details={
            "quantize": quantize,
            "integer_only": integer_only,
            "float_ops": sorted({f"{name}({','.join(floats)})" for name, floats in ops if floats}),
            **common.io_description(spn.num_frames, size),
            "ops": sorted({name for name, _ in ops}),
            "size_bytes": len(content),
        }), overwrite=overwrite, log=log)
    log(f"wrote {out} ({len(content) / 1e6:.2f} MB) and {common.sidecar_path(out)}")
    return report


def add_arguments(parser):
    from keras_spgan.flags import add_bool

    common.add_model_flags(parser)
    parser.add_argument("--quantize", default="none", choices=list(QUANTIZATIONS), help="weight / activation precision")
    parser.add_argument("--input_size", default="256x256",
                        help="frame size HEIGHTxWIDTH the model takes (TFLite shapes are fixed; default: 256x256)")
    parser.add_argument("--out", help="output .tflite file")
    parser.add_argument("--representative_data", help="int8 calibration frames: a folder of frames, of videos, or a "
                                                      "dataset dir; default: the built-in sample's training clips")
    parser.add_argument("--calibration_windows", type=int, default=32, help="int8: windows used for calibration")
    add_bool(parser, "integer_only", False, "int8: quantize the head too, so every op is int8 (for integer-only "
                                            "accelerators; costs about 0.1 dB)")

def run(args):
    return common.run_export(lambda: export(args.model, args.quantize, args.input_size, args.out,
                                            args.representative_data, args.calibration_windows, args.parity_windows,
                                            args.overwrite, integer_only=args.integer_only))

if __name__ == "__main__":
    cli.alias("export tflite")
