"""Held-out photos filmed with a short shutter: does a model read the blur off the motion between frames?

    python benchmarks/short_shutter.py [--models spgan spn runs/presets/spn-v6] [--out benchmarks/results/short_shutter.json]

Fresh clips of the held-out photos coffee and chelsea (never trained on), clean, camera
drifting 10-20 px per frame with 1-2 px of blur (exposures of 0.1-0.2 of the frame
interval), plus two ordinary cases for contrast (8 px at exposure 0.5; 2 px of hand jitter
from a still camera). For each model: the centre frame's RGB PSNR, input and restored from
its five frames, and restored from five copies of the centre frame (no motion to read),
both through `keras_spgan.deblur_frames` as `keras-spgan deblur` runs them.
Until version 5 of the training set every motion between frames came with at least a
quarter of it as blur; a network that learned that link damages sharp frames of fast pans.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import keras_spgan as ks  # noqa: E402
from keras_spgan.data import camera, stills  # noqa: E402
from keras_spgan.files import write_json  # noqa: E402

# (blur px, exposure, jitter): camera motion between frames is about blur / exposure.
CASES = ((2.0, 0.1, 0.0), (1.0, 0.1, 0.0), (2.0, 0.2, 0.0), (8.0, 0.5, 0.0), (2.0, 1.0, 1.0))
PHOTOS = ("coffee", "chelsea")


def psnr(a, b):
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def run(models, log=print):
    results = {"cases": {}, "models": list(models)}
    from keras_spgan.inference.stream import as_runner

    runners = {m: as_runner(m) for m in models}  # each model loaded once
    for photo_name in PHOTOS:
        photo = stills.load(stills.available([photo_name])[0])
        for blur, exposure, jitter in CASES:
            params = camera.ClipParams(blur=blur, exposure=exposure, scale=1.0, shake=0.3, objects=0, noise=0.0,
                                       compression="none", jitter=jitter)
            blurry, sharp, _ = camera.render_clip(photo, np.random.default_rng(5), params, 7, (192, 256))
            key = f"{photo_name}/blur{blur:g}_exposure{exposure:g}" + ("_still_camera" if jitter else "")
            row = {"motion_px_per_frame": 0.0 if jitter else blur / exposure, "input": psnr(blurry[3], sharp[3])}
            for name, runner in runners.items():
                restored = list(ks.deblur_frames(blurry[1:6], runner))[2]  # frame 3 from frames 1-5
                alone = list(ks.deblur_frames([blurry[3]] * 5, runner))[2]
                row[name] = {"restored": psnr(restored, sharp[3]), "centre_frame_only": psnr(alone, sharp[3])}
            results["cases"][key] = row
            log(f"{key} ({row['motion_px_per_frame']:.0f} px/frame): input {row['input']:.2f} dB, " + ", ".join(
                f"{n} {row[n]['restored']:.2f} (centre frame only {row[n]['centre_frame_only']:.2f})" for n in models))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["spgan", "spn"], help="preset names or folders, run dirs")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "short_shutter.json"))
    args = parser.parse_args()
    results = run(args.models)
    results["machine"] = {"gpu": False, "cpus": os.cpu_count()}
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
