"""What every exporter shares: loading the model, the interface description, the CLI frame,
and the flow itself (`write_checked`): convert into a temporary name, load it back, measure it
against the Keras model, refuse it on a parity failure, write the sidecar JSON, and only then
give it its name. Each format (saved_model.py, tflite.py, onnx.py) supplies its conversion and
its parity measurement."""

import dataclasses
import os
import re
from typing import Callable

from keras_spgan.errors import ConfigError

# What an on-device or serving developer needs to feed the model, in every sidecar.
FRAME_ORDER = "oldest first; the output is the centre frame, deblurred"
ENDS_OF_VIDEO = "replicate the first / last frame to fill the window at the ends of a video"


def load_spn(path):
    """The trained SPN at `path` (preset, training model dir or .keras file), or ConfigError on --model."""
    from keras_spgan.models.loading import ModelLoadError, load_generator

    if not path:
        raise ConfigError("model", "is required: a preset name, a training model dir or a .keras file")
    try:
        return load_generator(path)
    except ModelLoadError as error:
        raise ConfigError("model", str(error)) from None


def parse_input_size(text, flag="input_size"):
    """'HxW' -> (H, W); both at least 4 (the network pads to a multiple of 4 by reflection)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not match:
        raise ConfigError(flag, f"must be HEIGHTxWIDTH such as 720x1280, got {text!r}")
    height, width = int(match.group(1)), int(match.group(2))
    if height < 4 or width < 4:
        raise ConfigError(flag, f"height and width must be at least 4 pixels, got {text!r}")
    return height, width


def check_frame_size(spn, size, flag="input_size"):
    """An SPN built for one frame size accepts only inputs that pad to it."""
    if spn.frame_size and size and tuple(-(-v // 4) * 4 for v in size) != tuple(spn.frame_size):
        height, width = spn.frame_size
        raise ConfigError(flag, f"the model only takes {width}x{height} frames, got {size[1]}x{size[0]}")


def io_description(num_frames, frame_size=None, dtype="float32", value_range=(0.0, 1.0)):
    """Input/output layout of an exported RGB deblurrer, for sidecars and READMEs."""
    height, width = frame_size or (None, None)
    return {
        "input": {
            "name": "frames",
            "shape": [1 if frame_size else None, num_frames, height, width, 3],
            "layout": "batch, time, height, width, channels",
            "dtype": dtype,
            "colour": "RGB",
            "value_range": list(value_range),
            "frames_per_window": num_frames,
            "frame_order": FRAME_ORDER,
            "ends_of_video": ENDS_OF_VIDEO,
        },
        "output": {
            "name": "sharp",
            "shape": [1 if frame_size else None, height, width, 3],
            "layout": "batch, height, width, channels",
            "dtype": dtype,
            "colour": "RGB",
            "value_range": list(value_range),
        },
    }


def check_new_output(path, overwrite, flag="out"):
    if os.path.lexists(path) and not overwrite:
        raise ConfigError(flag, f"{path}: already exists (pass --overwrite to replace it)")


def run_export(export):
    """Runs `export()` for a command: TensorFlow's Python logging quieted; a failed parity check
    says that nothing was written (the spine prints it and exits 1)."""
    import tensorflow as tf
    from absl import logging

    from export.parity import ParityError

    logging.set_verbosity(logging.WARNING)  # SavedModel writing logs every function at INFO
    tf.get_logger().setLevel("ERROR")  # the TF1 loader's deprecation notice is expected
    try:
        export()
    except ParityError as error:
        raise ParityError(f"{error}\nnothing was written.") from None
    return 0


def add_model_flags(parser, parity=True, overwrite="Replace an existing --out file."):
    """The flags every exporter has."""
    from keras_spgan.flags import add_bool

    parser.add_argument("--model", help="trained model: a preset name (spn, spgan), a training model dir or a "
                                        ".keras file (SPN or SPGAN)")
    if parity:
        parser.add_argument("--parity_windows", type=int, default=8,
                            help="sample-data windows the export is checked on (default: 8)")
    add_bool(parser, "overwrite", False, overwrite)


@dataclasses.dataclass
class Conversion:
    """What one export format supplies to `write_checked`."""

    format: str
    write: Callable[[str], object]  # writes the converted model at a (temporary) path
    parity_rows: Callable[[str], list]  # parity.measure rows of the model written at that path
    details: dict  # the format's own sidecar fields
    sidecar_in_folder: str = None  # a folder format keeps its sidecar inside, at this relative path


def sidecar_path(out):
    """Where a file format's sidecar JSON goes: beside it."""
    return f"{out}.json"


def write_checked(spn, source, out, conversion, overwrite=False, log=print):
    """The export flow, the same for every format; returns the sidecar report. Nothing is left at
    `out` (or beside it) unless the converted model loaded back and passed parity."""
    from export import parity
    from keras_spgan.files import atomic_output, write_json

    with atomic_output(out, overwrite=overwrite) as partial:
        conversion.write(partial)
        rows = conversion.parity_rows(partial)
        log(parity.format_table(rows))
        parity.check(rows)
        report = {"format": conversion.format, **conversion.details,
                  "source_model": source if isinstance(source, str) else spn.name,
                  "spn": spn.get_config(), "parity": rows}
        inside = conversion.sidecar_in_folder
        write_json(os.path.join(partial, inside) if inside else sidecar_path(out), report)
    if getattr(spn, "alignment", "none") != "none":
        # Alignment runs outside the network (keras_spgan.align): whoever feeds the export must align.
        log(f"note: this model takes windows aligned by {spn.alignment} ({spn.alignment} in its report); "
            "keras-spgan deblur / evaluate read the report and align, a client of a server must "
            f"(keras-spgan client deblur --alignment {spn.alignment}, or keras_spgan.align.align_window)")
    return report
