"""Datasets: layouts (DVD, GoPro, frames, pairs), tf.data pipelines, blur synthesis, sample data.

Names are imported on first use (PEP 562): the layouts and frame tools need no TensorFlow, the
pipelines do, and a command's --help must not pay for it.
"""

import importlib

_PUBLIC = {
    "DATA_FORMATS": "layouts", "DVD_TEST_VIDEOS": "layouts", "Clip": "layouts", "DatasetError": "layouts",
    "default_cache_dir": "layouts", "detect_format": "layouts", "load_clips": "layouts",
    "evaluation_dataset": "pipeline", "num_training_windows": "pipeline", "training_dataset": "pipeline",
    "validation_dataset": "pipeline", "window_indices": "pipeline",
    "resolve_data_dir": "builtin", "sample_data_dir": "sample",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"keras_spgan.data.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_spgan.data' has no attribute {name!r}")
