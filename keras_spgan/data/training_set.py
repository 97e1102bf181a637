"""Build a training set of hand-held-looking clips from still photographs.

    python -m keras_spgan.data.training_set                 # the presets' set, into the cache
    python -m keras_spgan.data.training_set --stills my_photos/ --videos my_sharp_videos/ --out my_set

Every still is filmed by a virtual camera (`keras_spgan.data.camera`): pan,
zoom, rotation and hand-shake of random length, speed and acceleration,
objects cut from other photos moving on their own, exposure integrated in
linear light (or, for a share, on gamma-encoded values), then sensor noise
and JPEG / MPEG-4 compression at random strengths, each on a share of the
clips (--noisy_share, --compressed_share; the rest are clean, as a user's
sharp-but-shaken footage often is). Blur lengths run from none to --max_blur
pixels (DVD and GoPro reach about 20 px at 720p). A share (--hand_jitter) of the clips are blurred
by hand jitter during each exposure rather than by the motion between frames,
as a steady-ish camera in shaky hands is.

Sources: the permissively licensed photos that scikit-image, scikit-learn and
matplotlib ship (`keras_spgan.data.stills`, needs `pip install
"keras-spgan[stills]"`), procedural scenes (those of the built-in sample), and
your own stills (--stills) or sharp videos (--videos: one still every
--video_stride frames). Held-out photos (--held_out) never reach the training
split: they make the test split (split.json), the clips validation and the
model card measure, with blur lengths on a fixed grid from 0 to --max_blur.

The output is in DVD layout (`--data_format dvd`), frames as PNG (compression
is part of the blur model, so the files themselves are lossless), with
`sources.json` (every source, its licence, its clips) and `clips.json` (the
drawn motion, noise and compression of every clip). The same arguments give
the same bytes. With no --out it goes to the cache, under a name made of the
arguments, and is reused when it exists.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np

from keras_spgan import cli
from keras_spgan.data import camera, sample, stills
from keras_spgan.data.blur import TARGETS
from keras_spgan.data.frames import IMAGE_EXTENSIONS, FrameError, list_frames, write_rgb
from keras_spgan.data.layouts import default_cache_dir
from keras_spgan.data.video import iter_video_rgb
from keras_spgan.errors import ConfigError
from keras_spgan.files import atomic_output
from keras_spgan.progress import ProgressLine

# 2: exposure gain and flat regions (walls, sky) in the virtual scenes.
# 3: hand jitter (--hand_jitter): blur that does not come with motion between frames.
#    With --hand_jitter 0 a set is version 2's, byte for byte, under version 2's name.
# 4: fewer noisy (0.7 -> 0.3) and compressed (0.7 -> 0.4) clips, half of them blurred on
#    gamma-encoded values. With version 3's shares (VERSION_3) a set is version 3's, byte for byte.
# 5: noise and compression keep each frame's local brightness (--keep_brightness; see
#    keras_spgan.data.camera): version 4's noisy and MPEG-4 inputs were up to 7 levels off their
#    targets in flat regions, and the presets trained on them learned a tone curve. The same
#    clips, motion and noise otherwise: with --no-keep_brightness (and --short_shutter 0) a set is
#    version 4's, byte for byte.
# 6: short shutters (--short_shutter): a share of the clips move 2-12 px (objects up to 40 px)
#    between frames whatever their blur. Until version 5 the motion between frames was always
#    at most 4x the blur, and the presets trained on them read the blur off the motion:
#    measured, -2.5 to -3.9 dB on held-out photos filmed moving 20 px per frame with 2 px of blur.
#    The same clips otherwise: with --short_shutter 0 a set is version 5's, byte for byte.
# 7: sharp targets at the exposure's mean camera pose (--target centroid), not its middle one.
#    With hand shake the two differ by up to a few pixels, which nothing in the blurry frames
#    tells: measured on version 6's clips, a perfect deblurrer that puts the scene where the
#    blur is scores 21-24 dB against some middle-pose targets whose inputs score 23-24, so the
#    MSE-optimal network hedges by blurring. The same clips otherwise: with --target mid a set
#    is version 6's, byte for byte.
# 8: faster short-shutter pans (--short_shutter_motion 24, was 12) on a larger share of the clips
#    (--short_shutter 0.5, was 0.4). Every preset up to version 7 lost most on sharp frames of a
#    camera moving 10-20 px per frame (`training.fast_pans`: -0.6 to -1.3 dB for the spn preset,
#    up to -6 for spgan), faster than any version-7 clip moved. Real pans reach 20-30 px per frame
#    at 720p. The same clips otherwise: with --short_shutter_motion 12 --short_shutter 0.4 a set
#    is version 7's, byte for byte.
VERSION = 8
VERSION_7 = {"short_shutter": 0.4, "short_shutter_motion": 12.0}
VERSION_3 = {"noisy_share": 0.7, "compressed_share": 0.7, "srgb_blur_share": 0.0}
VERSION_4 = {"keep_brightness": False}
VERSION_5 = {"short_shutter": 0.0}
VERSION_6 = {"target": "mid"}
# The arguments that rebuild each version (over DEFAULTS): builtin:stills-vN.
VERSIONS = {8: {}, 7: VERSION_7, 6: {**VERSION_7, **VERSION_6}, 5: {**VERSION_7, **VERSION_6, **VERSION_5},
            4: {**VERSION_7, **VERSION_6, **VERSION_5, **VERSION_4},
            3: {**VERSION_7, **VERSION_6, **VERSION_5, **VERSION_4, **VERSION_3},
            2: {**VERSION_7, **VERSION_6, **VERSION_5, **VERSION_4, **VERSION_3, "hand_jitter": 0.0}}
DEFAULTS = {
    "target": "centroid",
    "short_shutter": 0.5,
    "short_shutter_motion": 24.0,
    "hand_jitter": 0.5,
    "noisy_share": 0.3,
    "compressed_share": 0.4,
    "srgb_blur_share": 0.5,
    "keep_brightness": True,
    "clips_per_still": 60,
    "procedural": 120,
    "held_out_clips": 8,
    "frames": 10,
    "size": (192, 256),
    "max_blur": 24.0,
    "seed": 0,
    "video_stride": 30,
}


def _user_sources(folders, kind, stride):
    """[(name, image, licence, credit)] from folders of images or of videos."""
    found = []
    for folder in folders:
        if not os.path.isdir(folder):
            raise FrameError(f"--{kind}: {folder}: no such folder")
        if kind == "stills":
            for path in list_frames(folder):
                found.append((os.path.splitext(os.path.basename(path))[0], stills.read_still(path), "yours", path))
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            for index, frame in enumerate(iter_video_rgb(path)):
                if index % stride == 0:
                    found.append((f"{os.path.splitext(name)[0]}_f{index}", frame, "yours", path))
    if folders and not found:
        raise FrameError(f"--{kind}: no images or videos in {', '.join(folders)}")
    return found


def gather_sources(args):
    """(training sources, held-out sources, records for sources.json)."""
    user = _user_sources(args.stills, "stills", args.video_stride) + _user_sources(
        args.videos, "videos", args.video_stride)
    bundled = [] if args.no_bundled else stills.available()
    if not args.no_bundled and not bundled and not user:
        raise FrameError('no bundled stills installed (pip install "keras-spgan[stills]") and no --stills / --videos')
    sources = [(s.name, stills.load(s), s.licence, s.credit) for s in bundled] + user
    held_out = set(args.held_out)
    unknown = held_out - {name for name, *_ in sources}
    if unknown:
        raise FrameError(f"--held_out: no source named {sorted(unknown)}")
    train = [s for s in sources if s[0] not in held_out]
    test = [s for s in sources if s[0] in held_out]
    rng = np.random.default_rng([args.seed, 1])
    for index in range(args.procedural):
        canvas = sample._scene(rng, 2 * args.size[0], 2 * args.size[1])
        train.append((f"procedural_{index:03d}", canvas, "generated by keras-spgan", "keras_spgan.data.sample"))
    if not train:
        raise FrameError("every source is held out: nothing left to train on")
    return train, test


def _write_clip(root, name, blurry, sharp):
    clip = os.path.join(root, "quantitative_datasets", name)
    for folder, frames in (("input", blurry), ("GT", sharp)):
        os.makedirs(os.path.join(clip, folder))
        for index, frame in enumerate(frames):
            path = os.path.join(clip, folder, f"{index:05d}.png")
            write_rgb(path, frame)  # checked: a full disk is an OSError (then an OutputError)


def plan_clips(train, test, args):
    """[(clip name, source, object pool, fixed blur or None, seed)] in a fixed order."""
    plan = []
    photos = [s for s in train if not s[0].startswith("procedural_")] or train
    for index, source in enumerate(train):
        count = 1 if source[0].startswith("procedural_") else args.clips_per_still
        for k in range(count):
            plan.append((f"{source[0]}_{k:03d}", source, photos, None, [args.seed, 2, index, k], "train"))
    grid = np.linspace(0.0, args.max_blur, args.held_out_clips) if args.held_out_clips > 1 else [args.max_blur / 2]
    for index, source in enumerate(test):
        for k, blur in enumerate(grid):
            plan.append((f"heldout_{source[0]}_{k:02d}", source, [source], float(blur), [args.seed, 3, index, k],
                         "test"))
    return plan


def render(entry, args):
    """One clip of `plan_clips`: (blurry, sharp uint8 frames (T, H, W, 3), its clips.json record).

    Every clip draws from its own seed, so clips can be rendered in any order or in parallel
    (training/fit_jax.py renders the set in memory on many cores) and still be these bytes."""
    name, source, pool, blur, seed, split = entry
    rng = np.random.default_rng(seed)
    params = camera.draw_params(rng, max_blur=args.max_blur, blur=blur, hand_jitter=args.hand_jitter,
                                jitter_rng=np.random.default_rng([*seed, 7]), noisy=args.noisy_share,
                                compressed=args.compressed_share, srgb_blur=args.srgb_blur_share,
                                short_shutter=args.short_shutter,
                                short_shutter_motion=args.short_shutter_motion)
    objects = [p[1] for p in pool if p[0] != source[0]] or [source[1]]
    blurry, sharp, params = camera.render_clip(source[1], rng, params, args.frames, tuple(args.size), objects,
                                               keep_brightness=args.keep_brightness, target=args.target)
    record = {"source": source[0], "split": split, **vars(params)}
    for key in _NEWER_FIELDS[_version(args)]:
        del record[key]  # an older version's records, byte for byte
    return blurry, sharp, record


def build(target, args, log=print):
    """Writes the training set into `target` (which must not exist)."""
    train, test = gather_sources(args)
    plan = plan_clips(train, test, args)
    os.makedirs(target)
    progress = ProgressLine(len(plan), unit="clips")
    records = {}
    for entry in plan:
        blurry, sharp, records[entry[0]] = render(entry, args)
        _write_clip(target, entry[0], blurry, sharp)
        progress.update()
    progress.close()
    test_names = [n for n, r in records.items() if r["split"] == "test"]
    with open(os.path.join(target, "split.json"), "w") as f:
        json.dump({"test": test_names}, f)
    with open(os.path.join(target, "clips.json"), "w") as f:
        json.dump(records, f, indent=1)
    summary = {
        "version": _version(args),
        "arguments": _arguments(args),
        "clips": {"train": len(plan) - len(test_names), "test": len(test_names)},
        "frames": len(plan) * args.frames,
        "sources": [
            {"name": name, "licence": licence, "credit": credit, "held_out": any(t[0] == name for t in test),
             "clips": sum(1 for r in records.values() if r["source"] == name)}
            for name, _, licence, credit in train + test
        ],
    }
    with open(os.path.join(target, "sources.json"), "w") as f:
        json.dump(summary, f, indent=1)
    photos = sorted({s["name"] for s in summary["sources"] if not s["name"].startswith("procedural_")})
    log(f"made {len(plan)} clips ({summary['clips']['train']} train, {summary['clips']['test']} held-out test) of "
        f"{args.frames} frames, {summary['frames']} blurry/sharp pairs at {args.size[0]}x{args.size[1]}, from "
        f"{len(photos)} photos ({', '.join(photos)}) and {args.procedural} procedural scenes; held out: "
        f"{', '.join(sorted(set(args.held_out))) or 'none'}")
    return summary


def _version(args):
    if args.short_shutter_motion != VERSION_7["short_shutter_motion"]:
        return VERSION  # the first version with other short-shutter motion
    if args.target == "centroid":
        return 7
    if args.short_shutter:
        return 6
    if args.keep_brightness:
        return 5
    if any(getattr(args, k) != v for k, v in VERSION_3.items()):
        return 4
    return 3 if args.hand_jitter else 2


_SHUTTER = ("motion", "object_speed")
_NEWER_FIELDS = {2: ("jitter", "blur_space", *_SHUTTER), 3: ("blur_space", *_SHUTTER), 4: _SHUTTER, 5: _SHUTTER,
                 6: (), 7: (), 8: ()}  # of clips.json's records
_MOTION = ("short_shutter_motion",)
_NEWER_ARGUMENTS = {2: ("hand_jitter", *VERSION_3, *VERSION_4, *VERSION_5, *VERSION_6, *_MOTION),
                    3: (*VERSION_3, *VERSION_4, *VERSION_5, *VERSION_6, *_MOTION),
                    4: (*VERSION_4, *VERSION_5, *VERSION_6, *_MOTION), 5: (*VERSION_5, *VERSION_6, *_MOTION),
                    6: (*VERSION_6, *_MOTION), 7: _MOTION, 8: ()}


# What defines a set (its name in the cache and sources.json): not --out / --overwrite, nor the
# command line's own flags (--debug, --verbose), so that `keras-spgan stills` and builtin:stills
# build the same set under the same name.
_SET_ARGUMENTS = (*DEFAULTS, "stills", "videos", "held_out", "no_bundled")


def _arguments(args):
    keys = [k for k in _SET_ARGUMENTS if k not in _NEWER_ARGUMENTS[_version(args)]]  # older versions' names
    return {k: (list(v) if isinstance(v, (tuple, list)) else v)
            for k, v in sorted((k, getattr(args, k)) for k in keys)}


def default_path(args):
    digest = hashlib.sha256(json.dumps(_arguments(args), sort_keys=True).encode()).hexdigest()[:10]
    return os.path.join(default_cache_dir(), f"stills-v{_version(args)}-{digest}")


def make(args, log=print):
    """Builds (or reuses, in the cache) the set for `args`; returns its path."""
    target = args.out or default_path(args)
    if os.path.exists(target) and args.out is None:
        log(f"reusing {target}")
        return target
    with atomic_output(target, overwrite=args.overwrite) as partial:
        build(partial, args, log)
    return target


def default_args(**overrides):
    """The command's arguments with no flags given (the presets' set), `overrides` set on them."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = check_args(parser.parse_args([]))
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def stills_data_dir(**overrides):
    """The presets' training set (built first if it is not in the cache): path."""
    return make(default_args(**overrides))


def _size(text):
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 192x256, got {text!r}") from None
    if height < 32 or width < 32 or height % 4 or width % 4:
        raise argparse.ArgumentTypeError(f"both sides must be multiples of 4 and at least 32, got {text!r}")
    return (height, width)


def add_arguments(parser):
    parser.add_argument("--out", help="dataset folder to create (default: in the cache, reused if there)")
    parser.add_argument("--stills", action="append", default=[], help="a folder of your own sharp photos")
    parser.add_argument("--videos", action="append", default=[], help="a folder of your own sharp videos")
    parser.add_argument("--video_stride", type=int, default=DEFAULTS["video_stride"],
                        help="--videos: one still every N frames")
    parser.add_argument("--no_bundled", action="store_true", help="do not use the photos the packages ship")
    parser.add_argument("--held_out", action="append", default=None,
                        help=f"a source to keep out of training (default: {', '.join(stills.HELD_OUT)})")
    parser.add_argument("--clips_per_still", type=int, default=DEFAULTS["clips_per_still"])
    parser.add_argument("--procedural", type=int, default=DEFAULTS["procedural"],
                        help="procedural scenes (one clip each)")
    parser.add_argument("--held_out_clips", type=int, default=DEFAULTS["held_out_clips"],
                        help="clips per held-out source (blur 0 .. --max_blur)")
    parser.add_argument("--frames", type=int, default=DEFAULTS["frames"], help="frames per clip")
    parser.add_argument("--size", type=_size, default=DEFAULTS["size"], help="frame size HEIGHTxWIDTH")
    parser.add_argument("--max_blur", type=float, default=DEFAULTS["max_blur"], help="longest blur (pixels)")
    parser.add_argument("--hand_jitter", type=float, default=DEFAULTS["hand_jitter"],
                        help="share of the clips whose blur is (partly) hand jitter, independent of the motion "
                             "between frames (0, with version 3's shares: version 2's set)")
    parser.add_argument("--noisy_share", type=float, default=DEFAULTS["noisy_share"],
                        help="share of the clips with sensor noise (version 3: 0.7)")
    parser.add_argument("--compressed_share", type=float, default=DEFAULTS["compressed_share"],
                        help="share of the clips with JPEG / MPEG-4 compression (version 3: 0.7)")
    parser.add_argument("--srgb_blur_share", type=float, default=DEFAULTS["srgb_blur_share"],
                        help="share of the clips averaged on gamma-encoded values rather than linear light "
                             "(version 3: 0)")
    parser.add_argument("--keep_brightness", action=argparse.BooleanOptionalAction, default=DEFAULTS["keep_brightness"],
                        help="noise and compression leave each frame's local brightness as it was "
                             "(--no-keep_brightness --short_shutter 0 --target mid: version 4)")
    parser.add_argument("--short_shutter", type=float, default=DEFAULTS["short_shutter"],
                        help="share of the clips filmed with a short shutter: 2 to --short_shutter_motion px of camera "
                             "motion (objects up to 40) between frames, whatever the blur (version 7: 0.4; 0, "
                             "with --target mid --short_shutter_motion 12: version 5)")
    parser.add_argument("--short_shutter_motion", type=float, default=DEFAULTS["short_shutter_motion"],
                        help="fastest camera motion between frames of the short-shutter clips, pixels "
                             "(drawn log-uniformly from 2; version 7: 12)")
    parser.add_argument("--target", choices=TARGETS, default=DEFAULTS["target"],
                        help="where each sharp target is filmed from: the exposure's mean camera pose, where the "
                             "blurry frame is, or its middle pose (mid: version 6)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--overwrite", action="store_true")


def check_args(args):
    if args.held_out is None:
        args.held_out = [] if args.no_bundled else list(stills.HELD_OUT)
    for flag in ("clips_per_still", "frames", "video_stride"):
        if getattr(args, flag) < 1:
            raise ConfigError(flag, f"must be positive, got {getattr(args, flag)}")
    for flag in ("procedural", "held_out_clips"):
        if getattr(args, flag) < 0:
            raise ConfigError(flag, f"must be >= 0, got {getattr(args, flag)}")
    if args.frames < 5:
        raise ConfigError("frames", f"must be at least 5 (the SPN's window), got {args.frames}")
    for flag in ("hand_jitter", "noisy_share", "compressed_share", "srgb_blur_share", "short_shutter"):
        if not 0 <= getattr(args, flag) <= 1:
            raise ConfigError(flag, f"must be in [0, 1], got {getattr(args, flag)}")
    if not args.short_shutter_motion >= camera.SHORT_SHUTTER_MOTION[0]:
        raise ConfigError("short_shutter_motion",
                          f"must be at least {camera.SHORT_SHUTTER_MOTION[0]:g} px, got {args.short_shutter_motion}")
    if not args.max_blur > 0:
        raise ConfigError("max_blur", f"must be > 0, got {args.max_blur}")
    return args


def run(args):
    check_args(args)
    print(make(args, log=lambda line: print(line, file=sys.stderr)))
    return 0


def main(argv=None):
    """`keras-spgan stills ...` (argv without the command name)."""
    return cli.main(["stills", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    cli.alias("stills")
