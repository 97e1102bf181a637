"""keras-spgan: video deblurring with the Spatiotemporal Pyramid Network (SPN) and SPGAN.

The public names below are imported on first use (PEP 562), so that `import keras_spgan.errors`
or the command line's `--help` does not import TensorFlow.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_PUBLIC = {
    "ABLATION_SCALES": "keras_spgan.archs", "PAPER_SCALES": "keras_spgan.archs", "SPN": "keras_spgan.archs",
    "Discriminator": "keras_spgan.archs", "RGBDeblurrer": "keras_spgan.archs",
    "build_discriminator": "keras_spgan.archs", "build_rgb_deblurrer": "keras_spgan.archs",
    "build_spn": "keras_spgan.archs",
    "SPGAN": "keras_spgan.models", "ModelLoadError": "keras_spgan.models", "load_generator": "keras_spgan.models",
    "load_model": "keras_spgan.models",
    "deblur_video": "keras_spgan.deblur", "load_runner": "keras_spgan.inference",
    "deblur_frames": "keras_spgan.inference.stream",
    "PresetError": "keras_spgan.presets", "default_preset": "keras_spgan.presets",
    "from_preset": "keras_spgan.presets", "list_presets": "keras_spgan.presets",
    "KerasSpganError": "keras_spgan.errors", "align_window": "keras_spgan.align",
}
_SUBMODULES = ("colour", "losses", "metrics")

__all__ = sorted(_PUBLIC) + list(_SUBMODULES)


def _check_backend():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(f"keras_spgan needs the TensorFlow backend of Keras, but KERAS_BACKEND is "
                          f"{keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow")


def __getattr__(name):
    if name in _SUBMODULES:
        _check_backend()
        return importlib.import_module(f"keras_spgan.{name}")
    if name in _PUBLIC:
        if _PUBLIC[name] not in ("keras_spgan.errors", "keras_spgan.align"):  # these need no TensorFlow
            _check_backend()
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'keras_spgan' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
