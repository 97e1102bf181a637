"""Fast pans of held-out photos: the short-shutter clips that the training set's test split lacks.

Most video is filmed with a short shutter: the camera (or an object) moves many pixels between
frames while each frame is barely blurred. A model that reads the blur off the motion between
frames damages such sharp frames by several dB (the presets trained on versions up to 5 of the
set: -5 to -6 dB at 10 px per frame and 1 px of blur), and the held-out clips of the training
set, on a grid of blur lengths, hardly show it. So every preset is also measured on these clips
(`training.preset`) and the default preset is chosen on both (`training.preset.choose_default`);
`benchmarks/short_shutter.py` reports them with the centre frame alone beside.

Fresh clips of the held-out photos coffee and chelsea (never trained on), clean, the camera
drifting 10-20 px per frame with 1-2 px of blur (exposures of 0.1-0.2 of the frame interval),
plus two ordinary cases for contrast (8 px at exposure 0.5; 2 px of hand jitter from a still
camera). Each clip is measured on its centre frame, restored from the five frames around it.
"""

import dataclasses

import numpy as np

# (blur px, exposure, jitter): the camera moves about blur / exposure pixels between frames.
CASES = ((2.0, 0.1, 0.0), (1.0, 0.1, 0.0), (2.0, 0.2, 0.0), (8.0, 0.5, 0.0), (2.0, 1.0, 1.0))
PHOTOS = ("coffee", "chelsea")
SIZE = (192, 256)
# What the numbers in a preset's metadata were measured with; presets measured with another
# protocol are not compared (`training.preset.choose_default`).
PROTOCOL = "fast-pans-v1: coffee and chelsea x 5 cases, 192x256, frame 3 restored from frames 1-5, RGB PSNR"


@dataclasses.dataclass
class FastPan:
    name: str
    motion_px_per_frame: float
    blurry: list  # 7 RGB uint8 frames
    sharp: list


def available():
    """Whether the held-out photos are installed (`pip install "keras-spgan[stills]"`)."""
    from keras_spgan.data import stills

    return len(stills.available(list(PHOTOS))) == len(PHOTOS)


def clips():
    """The fast-pan clips, in a fixed order (the same bytes every time)."""
    from keras_spgan.data import camera, stills

    made = []
    for photo_name in PHOTOS:
        photo = stills.load(stills.available([photo_name])[0])
        for blur, exposure, jitter in CASES:
            params = camera.ClipParams(blur=blur, exposure=exposure, scale=1.0, shake=0.3, objects=0, noise=0.0,
                                       compression="none", jitter=jitter)
            blurry, sharp, _ = camera.render_clip(photo, np.random.default_rng(5), params, 7, SIZE)
            name = f"{photo_name}/blur{blur:g}_exposure{exposure:g}" + ("_still_camera" if jitter else "")
            made.append(FastPan(name, 0.0 if jitter else blur / exposure, blurry, sharp))
    return made


def psnr(a, b):
    """RGB PSNR in dB of two uint8 frames, whole (the protocol of the fast pans and of real footage)."""
    # Imported here: TensorFlow is not loaded at import (`keras-spgan preset --help` stays light).
    from keras_spgan import metrics

    return float(metrics.psnr(a, b, space="rgb", data_range=255.0))


def restore_centre(model, clip, frames=None):
    """Frame 3 of `clip` restored from frames 1-5 (or from `frames`), as `keras-spgan deblur` runs it."""
    from keras_spgan.inference.stream import deblur_frames

    return list(deblur_frames(clip.blurry[1:6] if frames is None else frames, model))[2]


def measure(model, log=print, made=None):
    """{"protocol", "clips", "rgb": {"input", "model", "gain_db", "per_clip"}} for `model` (a preset,
    path, Runner or Keras SPN): RGB PSNR of each clip's centre frame, input and restored."""
    from keras_spgan.inference.stream import as_runner

    runner = as_runner(model)
    per_clip = {}
    for clip in made or clips():
        per_clip[clip.name] = {"motion_px_per_frame": clip.motion_px_per_frame,
                               "input": psnr(clip.blurry[3], clip.sharp[3]),
                               "model": psnr(restore_centre(runner, clip), clip.sharp[3])}
    return summarise(per_clip, PROTOCOL, log)


def summarise(per_clip, protocol, log=print, what="rgb"):
    """The report of `measure` from {clip: {"input", "model", ...}} (RGB PSNR, dB); logs the means
    and the worst clip. Shared with `training.fast_movers`."""
    inputs = float(np.mean([row["input"] for row in per_clip.values()]))
    outputs = float(np.mean([row["model"] for row in per_clip.values()]))
    worst = min(per_clip, key=lambda k: per_clip[k]["model"] - per_clip[k]["input"])
    log(f"  {what}: input {inputs:.2f} dB, model {outputs:.2f} dB ({outputs - inputs:+.2f} dB; worst {worst} "
        f"{per_clip[worst]['model'] - per_clip[worst]['input']:+.2f} dB)")
    return {"protocol": protocol, "clips": len(per_clip),
            "rgb": {"input": inputs, "model": outputs, "gain_db": outputs - inputs, "per_clip": per_clip}}
