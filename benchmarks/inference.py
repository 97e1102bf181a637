"""Deblurring speed of the full-size SPN on 1280x720 frames, per backend and precision.

  python -m training.fit --strategy default              # a trained model: runs/spn (a few minutes)
  python benchmarks/inference.py --model runs/spn [--windows 6] [--out benchmarks/results/inference.json]

Per backend: seconds per 720p frame (median over --windows, after a warm-up),
achieved conv FLOP/s as a fraction of the same machine's large-matmul FLOP/s
at that precision (measured in the same run; int8 has no TF matmul to compare
with and is given against fp32), file size where there is a file, and PSNR
(BT.601 Y) of the output against the float32 Keras output and against the
sharp target, next to float32's. Then peak RSS of `keras-spgan deblur`-style
streaming at 720p whole-frame and at 4K with --tile, each in a process of its
own. Data: --windows windows spread over the built-in sample's two test clips,
resized to 1280x720. int8 comes three ways: the default export (channel
ranges equalized, float head), integer-only, and integer-only without the
equalization (plain post-training quantization), to show what each part buys.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

HEIGHT, WIDTH = 720, 1280
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def windows_720p(count):
    from keras_spgan.data import load_clips, sample_data_dir, window_indices
    from keras_spgan.data.frames import read_rgb

    def load(path):
        return cv2.resize(read_rgb(path), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255

    clips = load_clips(sample_data_dir(), "dvd", split="test")
    per_clip = [(count + len(clips) - 1 - n) // len(clips) for n in range(len(clips))]  # sums to count
    picks = [(clip, c) for clip, k in zip(clips, per_clip)
             for c in np.linspace(2, clip.num_frames - 3, k).round().astype(int)]
    windows = [np.stack([load(clip.blurry[i]) for i in window_indices(clip.num_frames, 5, c)]) for clip, c in picks]
    return windows, [load(clip.sharp[c]) for clip, c in picks]


def spn_flops(spn, height, width):
    from flops import conv_flops  # benchmarks/flops.py

    from keras_spgan.archs.spn import SPN

    return conv_flops(SPN.from_config({**spn.get_config(), "frame_size": [height, width]}))


def keras_backends(spn):
    """name -> (precision, function windows -> outputs) for the in-process TF backends."""
    import keras
    import tensorflow as tf

    from keras_spgan.archs.rgb import rgb_outputs
    from keras_spgan.archs.spn import fold_temporal_convs
    from keras_spgan.inference.runners import with_precision

    def wrap(generator, jit=False):
        frames = keras.Input((5, None, None, 3), name="frames")
        model = keras.Model(frames, rgb_outputs(frames, generator, 5))
        call = tf.function(lambda x: model(x, training=False), jit_compile=jit, reduce_retracing=True, autograph=False)
        return lambda x: np.asarray(call(x))

    folded = fold_temporal_convs(spn)
    return {
        "keras fp32 (Conv3D)": ("float32", wrap(spn)),
        "keras fp32 folded (Conv2D)": ("float32", wrap(folded)),
        "keras fp32 folded + XLA": ("float32", wrap(folded, jit=True)),
        "keras bf16 (--precision bfloat16)": ("bfloat16", wrap(with_precision(spn, "bfloat16"))),
    }


def file_backends(spn, model_path, workdir, calibration):
    """name -> (precision, function, file) for the exported forms, exported here."""
    from export import onnx as onnx_export
    from export import saved_model, tflite
    from keras_spgan.inference.runners import load_runner

    found = {}
    target, _ = saved_model.export(spn, workdir, "spn", parity_windows=1, log=lambda *_: None)
    found["SavedModel (float signature)"] = ("float32", load_runner(target), target)
    onnx_path = os.path.join(workdir, "spn.onnx")
    onnx_export.export(spn, onnx_path, parity_windows=1, log=lambda *_: None)
    found["ONNX Runtime fp32"] = ("float32", load_runner(onnx_path), onnx_path)
    variants = [(q, {}, f"TFLite {q} (XNNPACK)") for q in tflite.QUANTIZATIONS] + [
        ("int8", dict(integer_only=True), "TFLite int8 integer-only (XNNPACK)"),
        ("int8", dict(integer_only=True, equalize=False), "TFLite int8 integer-only, not equalized (XNNPACK)"),
    ]
    for n, (quantize, options, name) in enumerate(variants):
        path = os.path.join(workdir, f"spn_{n}_{quantize}.tflite")
        content = tflite.convert(spn, quantize, (HEIGHT, WIDTH), calibration if quantize == "int8" else None,
                                 **options)
        with open(path, "wb") as f:
            f.write(content)
        precision = {"none": "float32", "float16": "float32", "dynamic": "int8", "int8": "int8"}[quantize]
        found[name] = (precision, load_runner(path), path)  # every usable core
    # Thread scaling of the fastest form (XNNPACK's thread pool vs one thread).
    int8_path = found["TFLite int8 (XNNPACK)"][2]
    found["TFLite int8 (XNNPACK), 1 thread"] = ("int8", load_runner(int8_path, num_threads=1), int8_path)
    return found


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def time_backend(run, windows):
    run(windows[0][None])  # trace / allocate
    seconds, outputs = [], []
    for window in windows:
        window = window[None]
        start = time.perf_counter()
        outputs.append(np.asarray(run(window))[0])
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), outputs


def peak_rss(model_path, height, width, tile, frames=3):
    """Peak RSS (MB) of a process streaming `frames` synthetic frames through deblur_frames."""
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork + exec, so a
    # child of this (large) process would report the parent's peak.
    code = f"""
import numpy as np
from keras_spgan.inference.stream import deblur_frames
frames = (np.random.default_rng(i).integers(0, 256, ({height}, {width}, 3), dtype=np.uint8) for i in range({frames}))
for _ in deblur_frames(frames, {model_path!r}, tile={tile!r}): pass
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024)
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure_rss(spn):
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "spn.keras")
        spn.save(path)
        return {
            "720p whole frame": peak_rss(path, HEIGHT, WIDTH, None),
            "720p tile 256": peak_rss(path, HEIGHT, WIDTH, 256),
            "4K (2160x3840) tile 512": peak_rss(path, 2160, 3840, 512, frames=2),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/spn", help="trained SPN: training dir or .keras file")
    parser.add_argument("--windows", type=int, default=6, help="720p windows timed and scored per backend")
    parser.add_argument("--calibration_windows", type=int, default=8)
    parser.add_argument("--skip_rss", action="store_true")
    parser.add_argument("--rss_only", action="store_true", help="only measure peak RSS, updating --out")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "inference.json"))
    args = parser.parse_args()

    import tensorflow as tf
    from flops import matmul_flops

    from export.parity import psnr_y
    from export.windows import representative_windows
    from keras_spgan.models.loading import load_generator

    if not os.path.exists(args.model):
        sys.exit(f"{args.model}: no such model; train one first: python -m training.fit --strategy default")
    spn = load_generator(args.model)
    if args.rss_only:
        with open(args.out) as f:
            result = json.load(f)
        result["peak_rss_mb"] = measure_rss(spn)
        print("peak RSS (MB):", result["peak_rss_mb"], flush=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        return
    windows, targets = windows_720p(max(args.windows, 1))
    flops = spn_flops(spn, HEIGHT, WIDTH)
    reference = {"float32": matmul_flops(tf.float32), "bfloat16": matmul_flops(tf.bfloat16)}
    reference["int8"] = reference["float32"]
    result = {
        "model": args.model, "frame": [HEIGHT, WIDTH], "cpu_count": os.cpu_count(), "spn_conv_flops": float(flops),
        "matmul_flops": {k: v for k, v in reference.items() if k != "int8"}, "backends": {},
    }
    print(f"SPN: {flops / 1e12:.2f} TFLOP per 720p frame; matmul {reference['float32'] / 1e9:.0f} GFLOP/s fp32, "
          f"{reference['bfloat16'] / 1e9:.0f} bf16", flush=True)
    backends = {name: (p, run, None) for name, (p, run) in keras_backends(spn).items()}
    with tempfile.TemporaryDirectory() as workdir:
        calibration = representative_windows(None, 5, (HEIGHT, WIDTH), args.calibration_windows)
        backends.update(file_backends(spn, args.model, workdir, calibration))
        fp32_outputs = None
        for name, (precision, run, path) in backends.items():
            seconds, outputs = time_backend(run, windows)
            if fp32_outputs is None:
                fp32_outputs = outputs
            row = {
                "precision": precision, "seconds_per_frame": seconds,
                "fraction_of_matmul": flops / seconds / reference[precision],
                "matmul_reference": "float32" if precision == "int8" else precision,
                "size_mb": _size(path) / 1e6 if path else None,
                "psnr_vs_fp32_db": float(np.mean([psnr_y(r, o) for r, o in zip(fp32_outputs, outputs)])),
                "psnr_vs_target_db": float(np.mean([psnr_y(t, o) for t, o in zip(targets, outputs)])),
            }
            result["backends"][name] = row
            print(f"{name:<32} {seconds:6.2f} s/frame  {row['fraction_of_matmul']:5.0%} of {row['matmul_reference']} "
                  f"matmul  vs fp32 {row['psnr_vs_fp32_db']:6.2f} dB  vs sharp {row['psnr_vs_target_db']:.3f} dB"
                  + (f"  {row['size_mb']:.1f} MB" if path else ""), flush=True)
    fp32_target = result["backends"]["keras fp32 (Conv3D)"]["psnr_vs_target_db"]
    for row in result["backends"].values():
        row["target_psnr_change_db"] = row["psnr_vs_target_db"] - fp32_target
    if not args.skip_rss:
        result["peak_rss_mb"] = measure_rss(spn)
        print("peak RSS (MB):", result["peak_rss_mb"], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
