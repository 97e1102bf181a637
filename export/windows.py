"""Frame windows for calibration (int8) and for the parity checks of every export.

Parity runs on the built-in sample's test clips (never seen in calibration,
which uses its training clips or the user's `--representative_data`).
A window is float32 (T, H, W, 3) RGB in [0, 1], replicate-padded at the ends
of a clip as in evaluation; a fixed-size model gets centre crops (or mirrored
padding, for frames smaller than the model's input).
"""

import os

import numpy as np

from keras_spgan.data import DatasetError, load_clips, sample_data_dir, window_indices
from keras_spgan.data.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, FrameError, list_frames, read_rgb
from keras_spgan.data.video import iter_video_rgb
from keras_spgan.errors import ConfigError

MAX_VIDEO_FRAMES = 300  # frames decoded per representative video (from its start)


def fit_to_size(frames, size):
    """Centre-crops (or symmetric-pads) the spatial axes (-3, -2) of `frames` to `size`."""
    if size is None:
        return frames
    out = frames
    for axis, wanted in zip((-3, -2), size):
        have = out.shape[axis]
        if have > wanted:
            start = (have - wanted) // 2
            out = np.take(out, np.arange(start, start + wanted), axis=axis)
        elif have < wanted:
            pad = [(0, 0)] * out.ndim
            pad[axis] = ((wanted - have) // 2, wanted - have - (wanted - have) // 2)
            out = np.pad(out, pad, mode="symmetric")
    return out


def _spread(sequences, count):
    """`count` (sequence, centre) pairs spread evenly over all frames of `sequences`."""
    centres = [(s, c) for s, seq in enumerate(sequences) for c in range(len(seq))]
    if not centres:
        return []
    picks = np.linspace(0, len(centres) - 1, min(count, len(centres))).round().astype(int)
    return [centres[i] for i in picks]


def _window(sequence, centre, num_frames, size):
    frames = [sequence[i] for i in window_indices(len(sequence), num_frames, centre)]
    frames = [read_rgb(f) if isinstance(f, str) else f for f in frames]
    return fit_to_size(np.stack(frames).astype(np.float32) / 255.0, size)


def parity_windows(num_frames, count=8, size=None, data_dir=None):
    """(windows, sharp targets) from the sample's test clips: two lists of arrays."""
    clips = load_clips(data_dir or sample_data_dir(), "dvd", split="test")
    picks = _spread([clip.blurry for clip in clips], count)
    windows = [_window(clips[s].blurry, c, num_frames, size) for s, c in picks]
    targets = [fit_to_size(read_rgb(clips[s].sharp[c]).astype(np.float32) / 255.0, size) for s, c in picks]
    return windows, targets


def _sequences(folder):
    """Frame sequences in `folder`: its own images, its videos, or a dataset's blurry clips."""
    names = os.listdir(folder)
    if any(n.lower().endswith(IMAGE_EXTENSIONS) for n in names):
        return [list_frames(folder)]
    videos = sorted(n for n in names if n.lower().endswith(VIDEO_EXTENSIONS))
    if videos:
        sequences = []
        for name in videos:
            frames = []
            for frame in iter_video_rgb(os.path.join(folder, name)):
                frames.append(frame)
                if len(frames) == MAX_VIDEO_FRAMES:
                    break
            sequences.append(frames)
        return sequences
    if not any(os.path.isdir(os.path.join(folder, n)) for n in names):
        return []
    return [clip.blurry for clip in load_clips(folder, split="train")]


def representative_windows(folder, num_frames, size, count=32):
    """Calibration windows of `size` from `folder` (None: the sample's training clips)."""
    flag = "representative_data"
    if folder is None:
        sequences = [clip.blurry for clip in load_clips(sample_data_dir(), "dvd", split="train")]
    elif not os.path.isdir(folder):
        raise ConfigError(flag, f"{folder}: no such directory")
    else:
        try:
            sequences = _sequences(folder)
        except (DatasetError, FrameError) as error:
            raise ConfigError(flag, f"{folder}: no usable frames ({error})") from None
    picks = _spread(sequences, count)
    if not picks:
        raise ConfigError(
            flag, f"{folder}: no frames; give a folder of frames (.jpg/.png), of videos, or a dataset dir"
        )
    try:
        return [_window(sequences[s], c, num_frames, size) for s, c in picks]
    except FrameError as error:
        raise ConfigError(flag, str(error)) from None
