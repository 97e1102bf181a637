"""The built-in sample dataset: small, synthetic, deterministic, in DVD layout.

Each clip is rendered as a fast (7 sub-frames per frame) camera panning and
shaking over a large procedural scene (multi-scale texture, hard-edged
shapes, stripes, a checkerboard and text) while a few objects move on their
own. Every output frame is the mean of its 7 sub-frames and its ground truth
the middle one, exactly how DVD was made from 240 fps footage. So the blur is
a mix of camera shake (uniform) and object motion (local), what SPN is for.

It is built on first use under the cache directory (see
`layouts.default_cache_dir`) into a temporary folder that is renamed when
complete, and it is the same, byte for byte, on every build: everything
random comes from one seeded generator.
"""

import json
import os

import cv2
import numpy as np

from keras_spgan.data import blur
from keras_spgan.data.frames import to_uint8, write_rgb
from keras_spgan.data.layouts import default_cache_dir
from keras_spgan.files import atomic_output

VERSION = 1
SEED = 20240501
NUM_CLIPS = 6
TEST_CLIPS = ("clip_04", "clip_05")
NUM_FRAMES = 14
FRAME_SIZE = (144, 192)  # (height, width): larger than the default 128 crop
SUBFRAMES = 7


def _texture(rng, height, width):
    """Coloured multi-scale value noise in [0, 1]."""
    image = np.zeros((height, width, 3))
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
        noise = rng.random((cells, int(cells * width / height) + 1, 3))
        image += weight * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image, 0, 1)


def _scene(rng, height, width):
    """A large canvas with texture, edges and text, RGB uint8."""
    canvas = to_uint8(_texture(rng, height, width))
    for _ in range(25):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        kind = rng.integers(0, 4)
        if kind == 0:
            cv2.rectangle(canvas, (x, y), (x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60))), colour, -1)
        elif kind == 1:
            cv2.circle(canvas, (x, y), int(rng.integers(4, 30)), colour, -1, lineType=cv2.LINE_AA)
        elif kind == 2:
            end = (x + int(rng.integers(-80, 80)), y + int(rng.integers(-80, 80)))
            cv2.line(canvas, (x, y), end, colour, int(rng.integers(1, 4)), lineType=cv2.LINE_AA)
        else:
            text = "".join(chr(c) for c in rng.integers(65, 91, 5))
            cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.4, 1.2), colour, 2, cv2.LINE_AA)
    # Stripes and a checkerboard: high frequencies in known orientations.
    y, x = int(rng.integers(0, height - 40)), int(rng.integers(0, width - 40))
    canvas[y : y + 40, x : x + 40] = (np.indices((40, 40)).sum(axis=0) // 5 % 2 * 255)[..., None]
    y, x = int(rng.integers(0, height - 30)), int(rng.integers(0, width - 60))
    canvas[y : y + 30, x : x + 60] = (np.arange(60) // 3 % 2 * 220 + 20)[None, :, None]
    return canvas


def _render_clip(rng):
    """Sharp sub-frames of one clip: a camera path over a scene plus moving objects."""
    height, width = FRAME_SIZE
    scene = _scene(rng, height * 2, width * 2)
    steps = NUM_FRAMES * SUBFRAMES
    pan = rng.uniform(-0.8, 0.8, 2)  # pixels per sub-frame
    shake = blur.smooth_trajectory(rng, steps, max_shift=4.0, max_angle=1.0)
    start = np.array([height / 2, width / 2]) - pan * steps / 2
    objects = [
        (blur.object_sprite(scene[:height, :width], rng), rng.uniform(-3, 3, 2), rng.uniform(0, [height, width]))
        for _ in range(2)
    ]
    for t in range(steps):
        top, left = start + pan * t + shake[t, :2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), float(shake[t, 2]), 1.0)
        matrix[:, 2] -= (left, top)
        frame = cv2.warpAffine(scene, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        frame = frame.astype(np.float64)
        for (patch, mask, _), velocity, origin in objects:
            position = origin + velocity * t
            frame = blur.paste(frame, patch, mask, position[0] % height - patch.shape[0] / 2,
                                position[1] % width - patch.shape[1] / 2)
        yield to_uint8(frame / 255.0)


def build(target):
    """Renders the dataset into `target` (DVD layout plus split.json)."""
    rng = np.random.default_rng(SEED)
    for c in range(NUM_CLIPS):
        clip = os.path.join(target, "quantitative_datasets", f"clip_{c:02d}")
        os.makedirs(os.path.join(clip, "input"))
        os.makedirs(os.path.join(clip, "GT"))
        subframes = list(_render_clip(rng))
        for f in range(NUM_FRAMES):
            group = subframes[f * SUBFRAMES : (f + 1) * SUBFRAMES]
            write_rgb(os.path.join(clip, "input", f"{f:05d}.jpg"), blur.average_frames(group))
            write_rgb(os.path.join(clip, "GT", f"{f:05d}.jpg"), group[SUBFRAMES // 2])
    with open(os.path.join(target, "split.json"), "w") as f:
        json.dump({"test": list(TEST_CLIPS)}, f)


def sample_data_dir(cache_dir=None):
    """Path of the sample dataset, built first if it is not in the cache yet."""
    target = os.path.join(cache_dir or default_cache_dir(), f"sample-v{VERSION}")
    if os.path.isdir(target):
        return target
    with atomic_output(target, keep_first=True) as partial:  # another process may build it too
        build(partial)
    return target
