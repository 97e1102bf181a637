"""Does the input pipeline keep up with training? (issue 3's benchmark)

Builds a DVD-like tree of 1280x720 JPEGs in a temporary folder, then measures
in one run, on this machine:
  * training windows/s of `training_dataset` (T = 5, 128x128 crops, augmentation on);
  * samples/s of the full-size SPN's training step (batch 4, 128x128, float32).
The goal is a ratio >= 3. Results go to benchmarks/results/data_pipeline.json.

    python benchmarks/data_pipeline.py [--videos 3 --frames 24 --batches 60 --steps 8]
"""

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_spgan as ks  # noqa: E402
from keras_spgan.data import load_clips, training_dataset  # noqa: E402
from keras_spgan.files import write_json  # noqa: E402


def make_tree(root, videos, frames, rng):
    base = cv2.resize(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8), (1280, 720), interpolation=cv2.INTER_CUBIC)
    for v in range(videos):
        for sub, blur in (("input", 9), ("GT", 1)):
            folder = os.path.join(root, "quantitative_datasets", f"video_{v}", sub)
            os.makedirs(folder)
            for f in range(frames):
                image = np.roll(base, 7 * f + 50 * v, axis=1)
                image = cv2.blur(image, (blur, 1)) if blur > 1 else image
                cv2.imwrite(os.path.join(folder, f"{f:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])


def pipeline_rate(clips, batches, batch_size):
    dataset = training_dataset(clips, 5, batch_size=batch_size, crop=128, seed=0)
    iterator = iter(dataset)
    for _ in range(5):  # warm-up: autotune, file cache
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def train_rate(steps, batch_size):
    spn = ks.build_spn()
    spn.compile(keras.optimizers.Adam(1e-4, beta_1=0.5), loss="mse")
    x = np.random.rand(batch_size, 5, 128, 128, 1).astype(np.float32)
    y = np.random.rand(batch_size, 128, 128, 1).astype(np.float32)
    for _ in range(2):
        spn.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        spn.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "data_pipeline.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        make_tree(root, args.videos, args.frames, np.random.default_rng(0))
        clips = load_clips(root, "dvd", "all", min_frames=5)
        windows_per_s = pipeline_rate(clips, args.batches, 4)
    samples_per_s = train_rate(args.steps, 4)
    result = {
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "tensorflow": tf.__version__, "keras": keras.__version__},
        "setup": {"frames": "1280x720 JPEG q95", "window": 5, "crop": 128, "batch": 4, "augment": True},
        "pipeline_windows_per_s": round(windows_per_s, 2),
        "spn_train_samples_per_s": round(samples_per_s, 3),
        "ratio": round(windows_per_s / samples_per_s, 1),
        "goal_ratio": 3.0,
    }
    write_json(args.output, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
