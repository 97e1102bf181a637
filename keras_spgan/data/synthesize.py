"""Turn sharp footage into a blurry/sharp dataset in DVD layout.

    python -m keras_spgan.data.synthesize IN OUT --mode average --frames 7
    python -m keras_spgan.data.synthesize IN OUT --mode shake --max_shift 6 --object_motion 20

IN is a video file, a folder of frames, or a folder holding several of either
(each one a sharp video). OUT receives quantitative_datasets/<video>/{input,GT}/
as the readers expect (`--data_format dvd`), and split.json naming the test
videos (--test NAME, repeatable; default: a fixed tenth of them, at least one). It is written under a temporary
name and renamed when complete; an existing OUT is refused without --overwrite.

--mode average  high-frame-rate footage (120-240 fps): every output frame is the
                mean of --frames consecutive input frames (optionally in linear
                light with --gamma), its ground truth the middle one. DVD and
                GoPro were made this way. A last group shorter than --frames
                is dropped.
--mode shake    ordinary footage or stills: each frame is blurred by a random
                smooth camera trajectory, optionally with a moving object.
                Its ground truth is the frame at mid-exposure, or with
                --target centroid at the trajectory's mean pose, where the
                blur is centred (the blurry frame tells where that is; it
                does not tell the mid-exposure pose).
"""

import json
import os
import sys

import numpy as np

from keras_spgan.data import blur
from keras_spgan.data.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, FrameError, list_frames, natural_key, read_rgb, write_rgb
from keras_spgan.data.layouts import default_test_names
from keras_spgan.data.video import iter_video_rgb, probe
from keras_spgan import cli
from keras_spgan.errors import ConfigError
from keras_spgan.files import atomic_output
from keras_spgan.progress import ProgressLine


def find_sources(path):
    """[(name, kind, path)] for the sharp videos under `path`; kind is "video" or "frames"."""
    if os.path.isfile(path):
        if not path.lower().endswith(VIDEO_EXTENSIONS):
            raise FrameError(f"{path}: not a video file ({', '.join(VIDEO_EXTENSIONS)})")
        return [(os.path.splitext(os.path.basename(path))[0], "video", path)]
    if not os.path.isdir(path):
        raise FrameError(f"{path}: no such file or folder")
    if list_frames(path):
        return [(os.path.basename(os.path.abspath(path)), "frames", path)]
    sources = []
    for name in sorted(os.listdir(path), key=natural_key):
        full = os.path.join(path, name)
        if os.path.isfile(full) and name.lower().endswith(VIDEO_EXTENSIONS):
            sources.append((os.path.splitext(name)[0], "video", full))
        elif os.path.isdir(full) and list_frames(full):
            sources.append((name, "frames", full))
    if not sources:
        raise FrameError(f"{path}: no videos ({', '.join(VIDEO_EXTENSIONS)}) or frame folders "
                         f"({', '.join(IMAGE_EXTENSIONS)}) found")
    return sources


def _frames(kind, path):
    if kind == "video":
        yield from iter_video_rgb(path)
    else:
        for frame in list_frames(path):
            yield read_rgb(frame)


def _expected_pairs(kind, path, args):
    """Output frames a source will give (for a video, as its header says)."""
    if kind == "video":
        count = probe(path).count or 0
    else:
        count = len(list_frames(path))
    return max(count // args.frames if args.mode == "average" else count, 1)


def _pairs(frames, args, rng):
    """Yields (blurry, sharp) uint8 pairs from a stream of sharp frames."""
    if args.mode == "average":
        group = []
        for frame in frames:
            group.append(frame)
            if len(group) == args.frames:
                yield blur.average_frames(group, args.gamma), group[len(group) // 2]
                group = []
    else:
        for frame in frames:
            yield blur.shake(frame, rng, steps=args.steps, max_shift=args.max_shift, max_angle=args.max_angle,
                             object_motion=args.object_motion, gamma=args.gamma, target=args.target)


def synthesize(args):
    sources = find_sources(args.input)
    unknown = sorted(set(args.test or ()) - {name for name, _, _ in sources})
    if unknown:
        raise FrameError(f"--test: no source video named {unknown}; sources: {', '.join(n for n, _, _ in sources)}")
    rng = np.random.default_rng(args.seed)
    with atomic_output(args.output.rstrip(os.sep), overwrite=args.overwrite) as partial:
        for number, (name, kind, path) in enumerate(sources, start=1):
            clip = os.path.join(partial, "quantitative_datasets", name)
            os.makedirs(os.path.join(clip, "input"))
            os.makedirs(os.path.join(clip, "GT"))
            print(f"[{number}/{len(sources)}] {name}", file=sys.stderr)
            progress = ProgressLine(_expected_pairs(kind, path, args), unit="frames")  # rate and ETA
            count = 0
            for count, (blurry, sharp) in enumerate(_pairs(_frames(kind, path), args, rng), start=1):
                blurry = blur.add_noise(blurry, args.noise, rng)
                write_rgb(os.path.join(clip, "input", f"{count - 1:05d}.jpg"), blurry, args.jpeg_quality)
                write_rgb(os.path.join(clip, "GT", f"{count - 1:05d}.jpg"), sharp, args.jpeg_quality)
                progress.update()
            progress.close()
            print(f"{name}: {count} frames", file=sys.stderr)
            if count == 0:
                raise FrameError(f"{path}: too few frames (--mode {args.mode} needs at least {args.frames})")
        names = [name for name, _, _ in sources]
        test = args.test or (default_test_names(names) if len(names) > 1 else names)
        with open(os.path.join(partial, "split.json"), "w") as f:
            json.dump({"test": test}, f)
        print(f"test split: {', '.join(test)} (split.json)", file=sys.stderr)
    return args.output


def add_arguments(parser):
    parser.add_argument("input", help="sharp video file, frame folder, or folder of them")
    parser.add_argument("output", help="dataset folder to create (DVD layout)")
    parser.add_argument("--mode", choices=("average", "shake"), default="average")
    parser.add_argument("--frames", type=int, default=7, help="average: sharp frames per blurry frame (odd)")
    parser.add_argument("--gamma", type=float, default=None, help="average in linear light: x**gamma (GoPro: 2.2)")
    parser.add_argument("--noise", type=float, default=0.0, help="Gaussian noise sigma on the [0, 1] scale")
    parser.add_argument("--steps", type=int, default=15, help="shake: sub-frames per exposure")
    parser.add_argument("--max_shift", type=float, default=6.0, help="shake: largest camera shift (pixels)")
    parser.add_argument("--max_angle", type=float, default=1.0, help="shake: largest rotation (degrees)")
    parser.add_argument("--object_motion", type=float, default=0.0, help="shake: object travel per exposure (pixels)")
    parser.add_argument("--target", choices=blur.TARGETS, default="mid",
                        help="shake: the sharp frame at mid-exposure (as DVD's) or at the mean camera pose, where "
                             "the blur is centred (a target the blurry frame determines; the presets' training set's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jpeg_quality", type=int, default=95)
    parser.add_argument("--test", action="append", default=None, metavar="NAME",
                        help="a source video for the test split (repeatable; default: a fixed tenth of them, "
                             "at least one, written to split.json)")
    parser.add_argument("--overwrite", action="store_true")


def check_args(args):
    if args.frames < 1 or args.frames % 2 == 0:
        raise ConfigError("frames", f"must be a positive odd number, got {args.frames}")
    if args.steps < 1:
        raise ConfigError("steps", f"must be positive, got {args.steps}")
    if args.gamma is not None and args.gamma <= 0:
        raise ConfigError("gamma", f"must be positive, got {args.gamma}")
    if args.noise < 0:
        raise ConfigError("noise", f"must be >= 0, got {args.noise}")
    if not 1 <= args.jpeg_quality <= 100:
        raise ConfigError("jpeg_quality", f"must be in 1..100, got {args.jpeg_quality}")


def run(args):
    check_args(args)
    synthesize(args)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def main(argv=None):
    """`keras-spgan synthesize ...` (argv without the command name)."""
    return cli.main(["synthesize", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
