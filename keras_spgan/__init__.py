"""keras-spgan: video deblurring with the Spatiotemporal Pyramid Network (SPN) and SPGAN."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's C++ INFO lines (oneDNN, CPU features, CUDA stubs) bury our CLIs'
# output; warnings and errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 to see all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"keras_spgan needs the TensorFlow backend of Keras, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow"
    )

from keras_spgan import colour, losses, metrics  # noqa: E402
from keras_spgan.archs import (  # noqa: E402
    ABLATION_SCALES,
    PAPER_SCALES,
    SPN,
    Discriminator,
    RGBDeblurrer,
    build_discriminator,
    build_rgb_deblurrer,
    build_spn,
)
from keras_spgan.models import SPGAN, ModelLoadError, load_generator, load_model  # noqa: E402
from keras_spgan.deblur import deblur_video  # noqa: E402
from keras_spgan.inference import load_runner  # noqa: E402
from keras_spgan.inference.stream import deblur_frames  # noqa: E402
from keras_spgan.presets import PresetError, default_preset, from_preset, list_presets  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ABLATION_SCALES", "PAPER_SCALES", "SPN", "SPGAN", "Discriminator", "RGBDeblurrer",
    "build_discriminator", "build_rgb_deblurrer", "build_spn", "colour", "losses", "metrics",
    "ModelLoadError", "load_generator", "load_model", "deblur_video", "deblur_frames", "load_runner",
    "PresetError", "default_preset", "from_preset", "list_presets",
]
