"""Fast movers over held-out photos: footage where the optical flow misses, made from photographs.

Real footage is full of things that move fast and change shape while they move: riders crossing
a street, limbs, leaves. There the flow that aligns a window (`keras_spgan.align`) misses, and a
network that trusts its warped neighbours ghosts them: the aligned fine-tunes J7 and J8 gained
+0.9 dB on the held-out photo clips and lost up to 5 dB on such frames of real footage, and
neither the held-out clips nor the fast pans (a rigid scene, which the flow follows) showed it.
Real video is reserved for the independent check (`benchmarks/real_footage.py`), so this is the
same situation built from the held-out photos, to measure and choose models by:

- sharp footage: a held-out photo (coffee, chelsea) seen by a slowly drifting camera (1-3 px per
  frame), with four objects cut from the other held-out photo crossing it at 12-30 px per frame,
  each bending (a smooth displacement field up to 3-8 px that turns over every few frames) and
  turning, passing over one another;
- then blurred as the real-footage check blurs real clips: `keras_spgan.data.blur.shake` on every
  frame, a smooth random camera path per exposure, at three strengths (max_shift 2, 4, 8 px).

Measured on every frame of each 12-frame clip, restored from its window as `keras-spgan deblur`
runs it (ends replicated), RGB PSNR of whole frames.
"""

import dataclasses

import cv2
import numpy as np

PHOTOS = ("coffee", "chelsea")  # the background; the movers are cut from the other one
STRENGTHS = {"mild": 2.0, "medium": 4.0, "strong": 8.0}  # as benchmarks/real_footage.py
FRAMES = 12
SIZE = (192, 256)
MOVERS = 4
SPEED_PX = (12.0, 30.0)  # per frame
BEND_PX = (3.0, 8.0)
PROTOCOL = ("fast-movers-v1: coffee and chelsea x 3 shake strengths, 12 frames of 192x256, 4 bending movers at "
            "12-30 px per frame, every frame restored, RGB PSNR")


@dataclasses.dataclass
class MoverClip:
    name: str
    blurry: list  # FRAMES RGB uint8 frames
    sharp: list


def _smooth_field(rng, shape, scale):
    """(H, W) smooth noise, peak magnitude 1."""
    coarse = rng.normal(0, 1, (max(shape[0] // scale, 2), max(shape[1] // scale, 2))).astype(np.float32)
    field = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return field / (np.abs(field).max() + 1e-9)


def _mover(rng, source, size):
    """A feathered patch of `source`, its path and how it bends and turns."""
    height, width = size
    ph, pw = (int(rng.uniform(0.25, 0.5) * min(height, width)) for _ in range(2))
    top, left = int(rng.integers(0, source.shape[0] - ph)), int(rng.integers(0, source.shape[1] - pw))
    patch = source[top : top + ph, left : left + pw].astype(np.float32)
    if rng.random() < 0.5:  # half of them stand out from any background, as riders' clothes do
        patch = 255.0 - patch
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(mask, (pw // 2, ph // 2), (pw // 2 - 2, ph // 2 - 2), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.7)
    speed = rng.uniform(*SPEED_PX)
    direction = rng.uniform(0, 2 * np.pi)
    velocity = speed * np.array([np.cos(direction), np.sin(direction)])
    # Start so that the middle of the clip finds it in view.
    start = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height]) - velocity * FRAMES / 2
    bend = rng.uniform(*BEND_PX)
    fields = [(_smooth_field(rng, (ph, pw), 12) * bend, _smooth_field(rng, (ph, pw), 12) * bend) for _ in range(2)]
    return {"patch": patch, "mask": mask, "start": start, "velocity": velocity, "fields": fields,
            "omega": rng.uniform(0.6, 1.6), "phase": rng.uniform(0, 2 * np.pi), "spin": rng.uniform(-0.06, 0.06)}


def _place(image, mover, time):
    """`image` (float32 RGB) with `mover` drawn over it as it is at `time` (frames)."""
    ph, pw = mover["mask"].shape
    angle = mover["omega"] * time + mover["phase"]
    (ax, ay), (bx, by) = mover["fields"]
    rows, cols = np.mgrid[0:ph, 0:pw].astype(np.float32)
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    map_x, map_y = cols + cos * ax + sin * bx, rows + cos * ay + sin * by
    patch = cv2.remap(mover["patch"], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = cv2.remap(mover["mask"], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    centre = mover["start"] + mover["velocity"] * time
    turn = cv2.getRotationMatrix2D((pw / 2, ph / 2), np.degrees(mover["spin"] * time), 1.0)
    turn[:, 2] += centre - (pw / 2, ph / 2)
    height, width = image.shape[:2]
    layer = cv2.warpAffine(patch, turn, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask, turn, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return alpha[..., None] * layer + (1 - alpha[..., None]) * image


def sharp_footage(background, other, rng, frames=FRAMES, size=SIZE, movers=MOVERS):
    """`frames` sharp RGB uint8 frames: `background` under a slowly drifting camera, `movers` cut from `other`."""
    height, width = size
    scale = min(background.shape[0] / (height * 1.2), background.shape[1] / (width * 1.2))
    drift = rng.uniform(1.0, 3.0) * np.array([np.cos(d := rng.uniform(0, 2 * np.pi)), np.sin(d)])
    movers = [_mover(rng, other, size) for _ in range(movers)]
    made = []
    for t in range(frames):
        offset = np.array([background.shape[1], background.shape[0]]) / 2 + (drift * (t - frames / 2)) * scale
        matrix = np.float32([[scale, 0, offset[0] - scale * width / 2], [0, scale, offset[1] - scale * height / 2]])
        image = cv2.warpAffine(background.astype(np.float32), matrix, (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101)
        for mover in movers:
            image = _place(image, mover, float(t))
        made.append(np.clip(image + 0.5, 0, 255).astype(np.uint8))
    return made


def available():
    """Whether the held-out photos are installed (`pip install "keras-spgan[stills]"`)."""
    from keras_spgan.data import stills

    return len(stills.available(list(PHOTOS))) == len(PHOTOS)


def clips():
    """The fast-mover clips, in a fixed order (the same bytes every time)."""
    from keras_spgan.data import blur, stills

    photos = [stills.load(stills.available([name])[0]) for name in PHOTOS]
    made = []
    for index, name in enumerate(PHOTOS):
        sharp = sharp_footage(photos[index], photos[1 - index], np.random.default_rng([11, index]))
        for strength_index, (strength, shift) in enumerate(STRENGTHS.items()):
            rng = np.random.default_rng([11, index, strength_index])
            pairs = [blur.shake(frame, rng, steps=15, max_shift=shift, max_angle=0.5) for frame in sharp]
            made.append(MoverClip(f"{name}/{strength}", [p[0] for p in pairs], [p[1] for p in pairs]))
    return made


def measure(model, log=print, made=None, alignment=None):
    """{"protocol", "clips", "rgb": {"input", "model", "gain_db", "per_clip"}} for `model` (a preset,
    path, Runner or Keras SPN): mean RGB PSNR over each clip's frames, input and restored.
    `alignment`: None as the model was trained, or "flow" / "none" (`deblur_frames`)."""
    from keras_spgan.inference.stream import as_runner, deblur_frames
    from training.fast_pans import psnr, summarise

    runner = as_runner(model)
    per_clip = {}
    for clip in made or clips():
        restored = list(deblur_frames(clip.blurry, runner, alignment=alignment))
        per_clip[clip.name] = {"input": float(np.mean([psnr(b, s) for b, s in zip(clip.blurry, clip.sharp)])),
                               "model": float(np.mean([psnr(r, s) for r, s in zip(restored, clip.sharp)]))}
    return summarise(per_clip, PROTOCOL, log, what="fast movers rgb")
