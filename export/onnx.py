"""ONNX: `python -m export.onnx --model runs/spn --out spn.onnx`.

Keras' own `model.export(format="onnx")` (tf2onnx underneath), opset chosen by
tf2onnx. Input `frames` float32 (B, T, H, W, 3) RGB in [0, 1] with dynamic
batch, height and width; output the RGB centre frame (B, H, W, 3). Checked with
onnxruntime against the Keras model before it is written; FILE.onnx.json
describes the interface and holds the parity report.
"""


import warnings

from export import common, parity
from keras_spgan import cli
from keras_spgan.errors import ConfigError

def write_onnx(spn, path):
    import numpy as np
    import tensorflow as tf

    from keras_spgan.archs.rgb import build_rgb_deblurrer

    model = build_rgb_deblurrer(spn)
    model(np.zeros((1, spn.num_frames, 8, 8, 3), np.float32))  # Keras' ONNX export wants a called model
    spec = tf.TensorSpec((None, spn.num_frames, None, None, 3), tf.float32, name="frames")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)  # inside Keras' tf2onnx shim
        model.export(path, format="onnx", input_signature=[spec], verbose=False)


def export(model, out, parity_windows=8, overwrite=False, log=print):
    from export.windows import parity_windows as sample_windows
    from keras_spgan.inference.runners import KerasRunner, OnnxRunner

    if not out or not out.endswith(".onnx"):
        raise ConfigError("out", f"must be an .onnx file, got {out!r}")
    common.check_new_output(out, overwrite)
    if parity_windows < 1:
        raise ConfigError("parity_windows", f"must be at least 1, got {parity_windows}")
    spn = common.load_spn(model) if isinstance(model, str) else model

    def parity_rows(path):
        windows, targets = sample_windows(spn.num_frames, parity_windows)
        return [parity.measure("onnx", "float32", parity.run_all(OnnxRunner(path), windows),
                               parity.run_all(KerasRunner(spn), windows), targets)]

    report = common.write_checked(spn, model, out, common.Conversion(
        format="onnx", write=lambda path: write_onnx(spn, path), parity_rows=parity_rows,
        details=common.io_description(spn.num_frames)), overwrite=overwrite, log=log)
    log(f"wrote {out} and {out}.json")
    return report


def add_arguments(parser):
    common.add_model_flags(parser)
    parser.add_argument("--out", help="output .onnx file")

def run(args):
    return common.run_export(lambda: export(args.model, args.out, args.parity_windows, args.overwrite))

if __name__ == "__main__":
    cli.alias("export onnx")
