"""Training speed of the full-size SPN and SPGAN, fp32 and mixed precision.

  python benchmarks/training.py [--steps 10] [--out benchmarks/results/training.json]

Per (model, precision): steps/s and samples/s of `fit` at 128x128, batch 4 (the
paper's setting), on random data held in memory (the data pipeline has its own
benchmark), and the fraction of this machine's matmul throughput at the same
precision, measured in the same run: achieved conv FLOP/s (from XLA-free
analytic FLOP counts of the forward pass x 3 for forward + backward) over a
large matmul's FLOP/s. Mixed precision is bf16 on CPUs, fp16 on GPUs.

Each (model, precision) runs in a fresh process, as a training job does, and
the time is taken inside one `fit` call, from the end of its 2nd batch to the
end of its last (a callback's timestamps): steady-state steps only. Before,
a warm-up `fit` and a timed `fit` on another dataset were compared, and the
timed call's one-off work outside the steps (about 8 s at SPGAN's size)
counted as step time: it hid SPGAN's bf16 gain (measured 1.00x; per batch
2.1 s bf16 vs 3.6 s fp32).
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from flops import conv_flops, matmul_flops  # noqa: E402  (benchmarks/flops.py)
from keras_spgan import SPGAN, build_discriminator, build_spn  # noqa: E402
from keras_spgan.files import write_json  # noqa: E402

BATCH, CROP = 4, 128


def bench(model_name, precision, steps):
    keras.mixed_precision.set_global_policy(precision)
    spn = build_spn(frame_size=(CROP, CROP))
    model = spn
    if model_name == "spn":
        model.compile(keras.optimizers.Adam(1e-4, beta_1=0.5), loss="mse")
    else:
        model = SPGAN(spn, build_discriminator("gradient", input_size=(CROP, CROP)))
        model.compile()
    x = np.random.rand(BATCH * (steps + 2), 5, CROP, CROP, 1).astype("float32")
    y = np.random.rand(BATCH * (steps + 2), CROP, CROP, 1).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).cache()
    times = []
    ends = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    model.fit(data, verbose=0, callbacks=[ends])  # batches 1-2 trace and warm up
    seconds = (times[-1] - times[1]) / steps
    flops = 3 * conv_flops(spn) * BATCH
    if model_name != "spn":
        flops += 3 * conv_flops(model.discriminator) * 2 * BATCH
    keras.mixed_precision.set_global_policy("float32")
    return {"steps_per_s": 1 / seconds, "samples_per_s": BATCH / seconds, "conv_flops_per_step": float(flops),
            "achieved_flops": flops / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "training.json"))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "PRECISION"), help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args()
    if args.one:
        print(json.dumps(bench(*args.one, args.steps)))
        return
    gpu = bool(tf.config.list_physical_devices("GPU"))
    mixed = "mixed_float16" if gpu else "mixed_bfloat16"
    peak = {"float32": matmul_flops(tf.float32), mixed: matmul_flops(tf.float16 if gpu else tf.bfloat16)}
    results = {"machine": {"gpu": gpu, "cpus": os.cpu_count(), "matmul_flops": peak},
               "timing": "steady-state steps inside one fit call, one process per run", "runs": []}
    for model_name in ("spn", "spgan"):
        for precision in ("float32", mixed):
            command = [sys.executable, __file__, "--steps", str(args.steps), "--one", model_name, precision]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            run = json.loads(output.strip().splitlines()[-1])
            run.update(model=model_name, precision=precision,
                       fraction_of_matmul=run["achieved_flops"] / peak[precision])
            print(json.dumps(run), flush=True)
            results["runs"].append(run)
    for model_name in ("spn", "spgan"):
        speeds = {r["precision"]: r["steps_per_s"] for r in results["runs"] if r["model"] == model_name}
        results[f"{model_name}_mixed_speedup"] = speeds[mixed] / speeds["float32"]
        print(f"{model_name}: {mixed} {speeds[mixed] / speeds['float32']:.2f}x float32", flush=True)
    write_json(args.out, results)


if __name__ == "__main__":
    main()
