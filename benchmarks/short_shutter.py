"""Held-out photos filmed with a short shutter: does a model read the blur off the motion between frames?

    python benchmarks/short_shutter.py [--models spgan spn runs/presets/spn-v6] [--out benchmarks/results/short_shutter.json]

The fast-pan clips of `training.fast_pans` (held-out photos coffee and chelsea, never trained on,
clean, camera drifting 10-20 px per frame with 1-2 px of blur, plus two ordinary cases for
contrast), which every preset is also measured and chosen on. For each model: the centre frame's
RGB PSNR, input and restored from its five frames, and restored from five copies of the centre
frame (no motion to read), both through `keras_spgan.deblur_frames` as `keras-spgan deblur` runs them.
Until version 5 of the training set every motion between frames came with at least a
quarter of it as blur; a network that learned that link damages sharp frames of fast pans.
"""

import argparse
import datetime
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # training/, run from anywhere

from keras_spgan.files import write_json  # noqa: E402
from training import fast_pans  # noqa: E402


def run(models, log=print):
    from keras_spgan.inference.stream import as_runner

    results = {"cases": {}, "models": list(models)}
    runners = {m: as_runner(m) for m in models}  # each model loaded once
    for clip in fast_pans.clips():
        row = {"motion_px_per_frame": clip.motion_px_per_frame, "input": fast_pans.psnr(clip.blurry[3], clip.sharp[3])}
        for name, runner in runners.items():
            restored = fast_pans.restore_centre(runner, clip)
            alone = fast_pans.restore_centre(runner, clip, [clip.blurry[3]] * 5)
            row[name] = {"restored": fast_pans.psnr(restored, clip.sharp[3]),
                         "centre_frame_only": fast_pans.psnr(alone, clip.sharp[3])}
        results["cases"][clip.name] = row
        log(f"{clip.name} ({row['motion_px_per_frame']:.0f} px/frame): input {row['input']:.2f} dB, " + ", ".join(
            f"{n} {row[n]['restored']:.2f} (centre frame only {row[n]['centre_frame_only']:.2f})" for n in models))
    return results


def earlier_runs(path):
    """The runs already in `path`, newest first: the presets change, their history stays."""
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        last = json.load(f)
    return [{k: v for k, v in last.items() if k != "previous"}, *last.get("previous", [])]


def write_results(path, results, note):
    """`results` with the machine, the date and `note`, and the runs already in `path` under
    "previous", written to `path` (atomically)."""
    results.update(machine={"gpu": False, "cpus": os.cpu_count()}, date=datetime.date.today().isoformat(),
                   note=note, previous=earlier_runs(path))
    write_json(path, results)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["spgan", "spn"], help="preset names or folders, run dirs")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "short_shutter.json"))
    parser.add_argument("--note", default="", help="what the models are (kept with the numbers)")
    args = parser.parse_args()
    write_results(args.out, run(args.models), args.note)


if __name__ == "__main__":
    main()
