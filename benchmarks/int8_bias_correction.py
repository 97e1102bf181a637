"""What int8 bias correction (export/quantization.py, `correct_output_bias`) does on the shipped presets.

  python benchmarks/int8_bias_correction.py [--presets spn spgan] [--size 360x640] [--out ...]

Per preset: the default int8 export (equalized, float head) converted once without and once with
the correction, from the same 8 calibration windows of the sample's training clips; then both run
on 6 windows of the sample's test clips: PSNR (BT.601 Y) from the float32 Keras output and against
the sharp frames, and the mean output shift from the float32 output.
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np


def measure(name, size, calibration_count=8, window_count=6):
    import keras_spgan as ks
    from export import parity, quantization, tflite
    from export.windows import parity_windows, representative_windows
    from keras_spgan.inference.runners import KerasRunner, TFLiteRunner

    spn = ks.from_preset(name)
    calibration = representative_windows(None, spn.num_frames, size, calibration_count)
    model = tflite.deployable_model(spn, size, equalize_on=calibration)
    uncorrected = quantization.convert_int8(model, calibration)
    shift = quantization.correct_output_bias(model, uncorrected, calibration)
    corrected = quantization.convert_int8(model, calibration) if shift else uncorrected
    windows, targets = parity_windows(spn.num_frames, window_count, size)
    keras_outputs = parity.run_all(KerasRunner(spn), windows)
    result = {"calibration_shift": shift}
    with tempfile.TemporaryDirectory() as folder:
        for tag, content in (("uncorrected", uncorrected), ("corrected", corrected)):
            path = os.path.join(folder, f"{tag}.tflite")
            with open(path, "wb") as f:
                f.write(content)
            outputs = parity.run_all(TFLiteRunner(path), windows)
            row = parity.measure(tag, "int8", outputs, keras_outputs, targets)
            result[tag] = {key: row[key] for key in ("psnr_vs_keras_db", "psnr_vs_target_db", "keras_psnr_vs_target_db")}
            result[tag]["mean_shift_from_float32"] = float(np.mean(np.subtract(outputs, keras_outputs)))
    return result


def main():
    from keras_spgan.files import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["spn", "spgan"])
    parser.add_argument("--size", default="360x640", help="HxW of the exported model")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "int8_bias_correction.json"))
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    results = {"size": list(size), "calibration_windows": 8, "windows": 6, "presets": {},
               "machine": {"cpus": os.cpu_count(), "gpu": False}}  # LiteRT and Keras on the CPU
    for name in args.presets:
        results["presets"][name] = measure(name, size)
        print(name, json.dumps(results["presets"][name]), flush=True)
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
