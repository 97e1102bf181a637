"""Dataset layouts -> lists of `Clip`s, validated before any training starts.

    dvd     <root>/quantitative_datasets/<video>/{input,GT}/*.jpg   (Su et al. 2017)
            <root>/qualitative_datasets/<video>/input/*.jpg          (no ground truth)
            split by video name: DVD_TEST_VIDEOS are the test split, the rest train.
    gopro   <root>/{train,test}/<sequence>/{blur | blur_gamma, sharp}/*.png   (Nah et al. 2017)
    frames  <root>/{blurry,sharp}/<clip>/*.{png,jpg}   (or images directly in blurry/ and sharp/)
    pairs   <root>/{blurry,sharp}/<clip>.{mp4,avi,mkv,...}: same-named video files
            (decoded once into frames under the cache directory, never into <root>)

Any root may hold `split.json`, {"test": ["<clip>", ...]}, to choose its test
clips (the built-in datasets do). Without it, every layout but gopro (whose
folders are its split) takes the same rule: the standard test videos if the
tree has any of them (DVD's 10), else a fixed tenth of the clips chosen by a
hash of their names (logged); a tree of one clip uses it for both splits.
"""

import dataclasses
import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from keras_spgan.data import frames as frame_files
from keras_spgan.data.frames import FrameError
from keras_spgan.data.video import iter_video_rgb
from keras_spgan.errors import KerasSpganError
from keras_spgan.files import atomic_output

log = logging.getLogger(__name__)

DATA_FORMATS = ("dvd", "gopro", "frames", "pairs")
SPLITS = ("train", "test", "all", "qualitative")
# The 10 test videos of the DVD split used by DBN, STFAN and the SPN paper.
DVD_TEST_VIDEOS = (
    "IMG_0030", "IMG_0049", "IMG_0021", "720p_240fps_2", "IMG_0032",
    "IMG_0033", "IMG_0031", "IMG_0003", "IMG_0039", "IMG_0037",
)


class DatasetError(KerasSpganError, ValueError):
    """A dataset that cannot be used as given; the message names the path."""


@dataclasses.dataclass(frozen=True)
class Clip:
    """One video: its blurry frames and, when known, the sharp ones (same order)."""

    name: str
    blurry: tuple
    sharp: tuple | None = None
    size: tuple | None = None  # (height, width), set by validate()

    @property
    def num_frames(self):
        return len(self.blurry)

    @property
    def folder(self):
        return os.path.dirname(self.blurry[0]) if self.blurry else self.name


def _require_dir(path, what):
    if not os.path.isdir(path):
        raise DatasetError(f"{path}: {what} not found")
    return path


def _subdirs(path):
    return sorted((d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))), key=frame_files.natural_key)


def _frames_clip(name, blurry_dir, sharp_dir=None):
    _require_dir(blurry_dir, "blurry frame folder")
    blurry = tuple(frame_files.list_frames(blurry_dir))
    sharp = None
    if sharp_dir is not None:
        _require_dir(sharp_dir, "sharp frame folder")
        sharp = tuple(frame_files.list_frames(sharp_dir))
    return Clip(name, blurry, sharp)


def _split_file(root):
    path = os.path.join(root, "split.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            test = json.load(f)["test"]
        if not isinstance(test, list) or not all(isinstance(n, str) for n in test):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise DatasetError(f'{path}: must be JSON of the form {{"test": ["clip name", ...]}}') from None
    return set(test)


TEST_SHARE = 0.1  # of the clips, when neither split.json nor standard test names choose them


def default_test_names(names):
    """A fixed tenth of `names` (at least one), chosen by a hash of each name: the same
    clips whatever the order or the other names."""
    count = max(1, round(TEST_SHARE * len(names)))
    return sorted(sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())[:count])


def test_clip_names(clips, root, standard=()):
    """The test clips' names and why: split.json if present, else the `standard` test
    names present, else a deterministic tenth of the clips (at least one; a tree of one
    clip uses it for both splits). The last two are logged, naming the clips."""
    names = [c.name for c in clips]
    from_file = _split_file(root)
    if from_file is not None:
        unknown = from_file - set(names)
        if unknown:
            raise DatasetError(f"{root}: split.json names clips that do not exist: {sorted(unknown)}")
        return from_file
    chosen = set(standard) & set(names)
    if chosen:
        return chosen
    if len(names) < 2:
        log.warning("%s has one clip and no split.json: it is used for training and for validation", root)
        return set(names)
    chosen = set(default_test_names(names))
    log.warning("%s has no split.json%s: the test split is %s (a fixed choice; write split.json "
                '{"test": [...]} to choose)', root, " and none of the standard test videos" if standard else "",
                ", ".join(sorted(chosen)))
    return chosen


def _select(clips, split, root, standard=()):
    if split == "all":
        return clips
    test_names = test_clip_names(clips, root, standard)
    if len(clips) < 2 and test_names == {c.name for c in clips}:
        return clips  # one clip: both splits
    return [c for c in clips if (c.name in test_names) == (split == "test")]


def read_dvd(root, split="train"):
    if split == "qualitative":
        base = _require_dir(os.path.join(root, "qualitative_datasets"), "DVD qualitative_datasets folder")
        return [_frames_clip(v, os.path.join(base, v, "input")) for v in _subdirs(base)]
    base = _require_dir(os.path.join(root, "quantitative_datasets"), "DVD quantitative_datasets folder")
    clips = [_frames_clip(v, os.path.join(base, v, "input"), os.path.join(base, v, "GT")) for v in _subdirs(base)]
    return _select(clips, split, root, standard=DVD_TEST_VIDEOS)


def read_gopro(root, split="train", blur="blur"):
    if blur not in ("blur", "blur_gamma"):
        raise DatasetError(f"GoPro blur must be 'blur' or 'blur_gamma', got {blur!r}")
    splits = ("train", "test") if split == "all" else (split,)
    if split == "qualitative":
        raise DatasetError(f"{root}: GoPro has no qualitative split")
    clips = []
    for name in splits:
        base = _require_dir(os.path.join(root, name), f"GoPro {name} folder")
        clips += [
            _frames_clip(s, os.path.join(base, s, blur), os.path.join(base, s, "sharp")) for s in _subdirs(base)
        ]
    return clips


def read_frames(root, split="train"):
    blurry_root = _require_dir(os.path.join(root, "blurry"), "blurry folder")
    sharp_root = _require_dir(os.path.join(root, "sharp"), "sharp folder")
    if frame_files.list_frames(blurry_root):  # a single clip, images directly in blurry/
        return [_frames_clip(os.path.basename(os.path.abspath(root)), blurry_root, sharp_root)]
    clips = [_frames_clip(c, os.path.join(blurry_root, c), os.path.join(sharp_root, c)) for c in _subdirs(blurry_root)]
    return _select(clips, split, root)


def default_cache_dir():
    """Where derived data goes: $KERAS_SPGAN_CACHE, else $XDG_CACHE_HOME/keras_spgan, else ~/.cache/keras_spgan."""
    if os.environ.get("KERAS_SPGAN_CACHE"):
        return os.environ["KERAS_SPGAN_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keras_spgan")


def _extract_video(path, cache_dir):
    """Decodes a video into PNG frames once; the cache key covers path, size and mtime."""
    stat = os.stat(path)
    key = hashlib.sha256(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = os.path.join(cache_dir, "video_frames", key)
    if not os.path.isdir(target):
        with atomic_output(target, keep_first=True) as partial:  # another process may decode it too
            os.makedirs(partial)
            count = 0
            for count, image in enumerate(iter_video_rgb(path), start=1):
                frame_files.write_rgb(os.path.join(partial, f"{count - 1:06d}.png"), image)
            if count == 0:
                raise DatasetError(f"{path}: no frames could be decoded")
    return target


def read_pairs(root, split="train", cache_dir=None):
    blurry_root = _require_dir(os.path.join(root, "blurry"), "blurry folder")
    sharp_root = _require_dir(os.path.join(root, "sharp"), "sharp folder")
    videos = sorted((n for n in os.listdir(blurry_root) if n.lower().endswith(frame_files.VIDEO_EXTENSIONS)),
                    key=frame_files.natural_key)
    cache_dir = cache_dir or default_cache_dir()
    clips = []
    for name in videos:
        sharp_path = os.path.join(sharp_root, name)
        if not os.path.isfile(sharp_path):
            raise DatasetError(f"{sharp_path}: sharp video missing for {os.path.join(blurry_root, name)}")
        clips.append(
            _frames_clip(
                os.path.splitext(name)[0],
                _extract_video(os.path.join(blurry_root, name), cache_dir),
                _extract_video(sharp_path, cache_dir),
            )
        )
    return _select(clips, split, root)


def detect_format(root):
    """The layout of `root`, when it is unambiguous."""
    _require_dir(root, "data_dir")
    if os.path.isdir(os.path.join(root, "quantitative_datasets")) or os.path.isdir(
        os.path.join(root, "qualitative_datasets")
    ):
        return "dvd"
    if os.path.isdir(os.path.join(root, "train")) or os.path.isdir(os.path.join(root, "test")):
        return "gopro"
    blurry = os.path.join(root, "blurry")
    if os.path.isdir(blurry) and os.path.isdir(os.path.join(root, "sharp")):
        has_videos = any(n.lower().endswith(frame_files.VIDEO_EXTENSIONS) for n in os.listdir(blurry))
        return "pairs" if has_videos else "frames"
    raise DatasetError(
        f"{root}: cannot tell the dataset layout; expected quantitative_datasets/ (dvd), train/ or test/ "
        f"(gopro), or blurry/ + sharp/ (frames, pairs). Pass --data_format explicitly."
    )


def validate(clips, min_frames=1, root="dataset", workers=8):
    """Checks every frame's header; returns the clips with `size` set.

    Raises DatasetError naming the path for: an empty split, a clip with no
    frames, blurry/sharp count mismatch, unreadable or truncated images,
    frames of different sizes within a clip, clips shorter than `min_frames`.
    """
    if not clips:
        raise DatasetError(f"{root}: the split has no clips")
    for clip in clips:
        if not clip.blurry:
            raise DatasetError(f"{clip.name}: no frames found in its blurry folder")
        if clip.sharp is not None and len(clip.sharp) != len(clip.blurry):
            raise DatasetError(
                f"{clip.folder}: {len(clip.blurry)} blurry frames but {len(clip.sharp)} sharp frames in "
                f"{os.path.dirname(clip.sharp[0]) if clip.sharp else 'its sharp folder'}"
            )
        if clip.num_frames < min_frames:
            raise DatasetError(
                f"{clip.folder}: {clip.num_frames} frames, fewer than the {min_frames} a training window needs"
            )
    paths = [p for clip in clips for p in clip.blurry + (clip.sharp or ())]
    try:
        with ThreadPoolExecutor(workers) as pool:
            sizes = dict(zip(paths, pool.map(frame_files.probe, paths)))
    except FrameError as e:
        raise DatasetError(str(e)) from None
    checked = []
    for clip in clips:
        first = clip.blurry[0]
        for path in clip.blurry + (clip.sharp or ()):
            if sizes[path] != sizes[first]:
                raise DatasetError(
                    f"{path}: frame size {sizes[path][1]}x{sizes[path][0]} differs from {first} "
                    f"({sizes[first][1]}x{sizes[first][0]})"
                )
        checked.append(dataclasses.replace(clip, size=sizes[first]))
    return checked


def load_clips(data_dir, data_format=None, split="train", min_frames=1, gopro_blur="blur", cache_dir=None):
    """Reads and validates one split of a dataset; `data_format=None` detects it."""
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    data_format = data_format or detect_format(data_dir)
    if data_format not in DATA_FORMATS:
        raise DatasetError(f"data_format must be one of {DATA_FORMATS}, got {data_format!r}")
    _require_dir(data_dir, "data_dir")
    if data_format == "dvd":
        clips = read_dvd(data_dir, split)
    elif data_format == "gopro":
        clips = read_gopro(data_dir, split, gopro_blur)
    elif data_format == "frames":
        clips = read_frames(data_dir, split)
    else:
        clips = read_pairs(data_dir, split, cache_dir)
    return validate(clips, min_frames=min_frames, root=f"{data_dir} ({data_format}, {split} split)")
