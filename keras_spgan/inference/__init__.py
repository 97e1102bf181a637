"""Running trained models: any exported form behind one interface (see `runners`).

Names are imported on first use (PEP 562), so that importing a submodule does not import TensorFlow.
"""

import importlib

_PUBLIC = {"KerasRunner": "runners", "Runner": "runners", "load_runner": "runners"}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"keras_spgan.inference.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_spgan.inference' has no attribute {name!r}")
