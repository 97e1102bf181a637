"""One way to run any form of a trained model: Keras, SavedModel, TFLite or ONNX.

    runner = load_runner("runs/spn")            # or model.keras, a SavedModel
    sharp = runner(windows)                     # dir, model.tflite, model.onnx
    # windows: float32 (B, T, H, W, 3) RGB in [0, 1]; sharp: (B, H, W, 3)

Every runner has `num_frames` (T), `frame_size` ((H, W) when the model only
takes one size, as TFLite models do, else None), `alignment` (how the windows it
is given must be aligned, `keras_spgan.align`: a Keras model's config says, an
exported one's report beside it; "none" for a model served remotely unless the
caller says) and `kind`.
A runner computes the network only: `deblur_pairs` aligns the windows first. Deblurring,
evaluation and the export parity checks all go through this interface, so
they measure exactly what a deployed model computes.
"""

import os

import numpy as np

from keras_spgan.errors import ModelLoadError

SAVED_MODEL_FILE = "saved_model.pb"
FLOAT_SIGNATURE = "float"  # the SavedModel signature taking and returning [0, 1] floats
OUTPUT_KEY = "sharp"


class Runner:
    kind = None
    num_frames = None
    frame_size = None
    alignment = "none"

    def __call__(self, windows):
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 5 or windows.shape[1] != self.num_frames or windows.shape[-1] != 3:
            raise ValueError(
                f"{self.source}: expects RGB windows (batch, {self.num_frames}, H, W, 3), got shape {windows.shape}"
            )
        if self.frame_size and tuple(windows.shape[2:4]) != tuple(self.frame_size):
            height, width = self.frame_size
            raise ValueError(
                f"{self.source}: takes {width}x{height} frames only, got {windows.shape[3]}x{windows.shape[2]} "
                "(tile the frames to that size, or export the model again with that --input_size)"
            )
        return self._run(windows)

    def __repr__(self):
        return f"<{type(self).__name__} {self.source}: {self.num_frames} frames, size {self.frame_size or 'any'}>"


def exported_alignment(sidecar):
    """The alignment an exported model was trained for, from the report its export wrote beside
    it (`export.common.write_checked`: the SPN's config); "none" without one."""
    import json

    try:
        with open(sidecar) as f:
            return json.load(f).get("spn", {}).get("alignment", "none")
    except (OSError, ValueError, AttributeError):
        return "none"


PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def with_precision(spn, precision):
    """A copy of `spn` computing in `precision` (bfloat16: CPUs with AVX512-BF16 / AMX;
    float16: GPUs); its head and global residual stay float32."""
    import keras

    from keras_spgan.archs.spn import SPN

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return spn
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        copy = SPN.from_config(spn.get_config())
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(spn.get_weights())
    return copy


class KerasRunner(Runner):
    kind = "keras"

    def __init__(self, generator, source="model", precision="float32"):
        import tensorflow as tf

        from keras_spgan.archs.rgb import build_rgb_deblurrer

        self.source = source
        self.precision = precision
        generator = with_precision(generator, precision)
        self.generator = generator
        self.num_frames = generator.num_frames
        self.alignment = getattr(generator, "alignment", "none")
        self.model = build_rgb_deblurrer(generator)
        self._call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def _run(self, windows):
        return np.asarray(self._call(windows), dtype=np.float32)


class SavedModelRunner(Runner):
    kind = "saved_model"

    def __init__(self, path):
        import tensorflow as tf

        self.source = path
        try:
            # Keep the loaded object: its functions reference its variables.
            self.loaded = tf.saved_model.load(path)
        except Exception as error:
            raise ModelLoadError(f"{path}: cannot be loaded as a SavedModel: {error}") from error
        if FLOAT_SIGNATURE not in self.loaded.signatures:
            raise ModelLoadError(
                f"{path}: a SavedModel without the {FLOAT_SIGNATURE!r} signature "
                f"(has {sorted(self.loaded.signatures)}); export it with python -m export.saved_model"
            )
        self.signature = self.loaded.signatures[FLOAT_SIGNATURE]
        self.alignment = exported_alignment(os.path.join(path, "assets.extra", "keras_spgan.json"))
        spec = self.signature.structured_input_signature[1]["frames"]
        self.num_frames = int(spec.shape[1])

    def _run(self, windows):
        return self.signature(frames=windows)[OUTPUT_KEY].numpy()


def tflite_interpreter(path=None, content=None, num_threads=None, delegates=True):
    """LiteRT's interpreter (tf.lite's, deprecated, only when LiteRT is not installed).

    delegates=False reads the model as written, without XNNPACK folding ops
    into DELEGATE nodes: what an op listing needs."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # pragma: no cover - depends on the install
        from tensorflow.lite.python.interpreter import Interpreter, OpResolverType
    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(model_path=path, model_content=content, num_threads=num_threads,
                       experimental_op_resolver_type=resolver)


def usable_cpus():
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class TFLiteRunner(Runner):
    """A .tflite model through LiteRT with XNNPACK, on `num_threads` threads (default: every usable
    core; LiteRT's own default is one thread, 1.7x slower on 2 cores for the int8 SPN)."""

    kind = "tflite"

    def __init__(self, path, num_threads=None, content=None):
        """`content`: the .tflite bytes, for a model not written to a file (then `path` is None)."""
        self.source = path if content is None else "<.tflite in memory>"
        self.num_threads = num_threads or usable_cpus()
        try:
            self.interpreter = tflite_interpreter(path, content=content, num_threads=self.num_threads)
            self.interpreter.allocate_tensors()
        except Exception as error:
            raise ModelLoadError(f"{self.source}: cannot be loaded as a TFLite model: {error}") from error
        (self.input,) = self.interpreter.get_input_details()
        (self.output,) = self.interpreter.get_output_details()
        _, self.num_frames, height, width, _ = (int(v) for v in self.input["shape"])
        self.frame_size = (height, width)
        if path:
            self.alignment = exported_alignment(f"{path}.json")

    def _run(self, windows):
        # TFLite models are exported for batch 1 (what a phone runs).
        outputs = []
        for window in windows:
            self.interpreter.set_tensor(self.input["index"], window[None])
            self.interpreter.invoke()
            outputs.append(self.interpreter.get_tensor(self.output["index"])[0])
        return np.stack(outputs).astype(np.float32)


class OnnxRunner(Runner):
    kind = "onnx"

    def __init__(self, path):
        import onnxruntime

        self.source = path
        try:
            self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ModelLoadError(f"{path}: cannot be loaded as an ONNX model: {error}") from error
        (self.input,) = self.session.get_inputs()
        self.num_frames = int(self.input.shape[1])
        self.alignment = exported_alignment(f"{path}.json")

    def _run(self, windows):
        return self.session.run(None, {self.input.name: windows})[0].astype(np.float32)


class SelfEnsembleRunner(Runner):
    """Self-ensemble (test-time augmentation, as EDVR and BasicSR test with): the mean of
    `runner`'s outputs on the windows as they are, flipped left-right, upside down and both,
    each output flipped back. Four times the compute. Flips keep the frame size, so it works
    for fixed-size models too; the network is trained on flipped crops, and averaging the
    four outputs cancels part of what it invents (on the tests' fresh clips of held-out
    photos, spgan: clean 3 px blur -0.95 -> -0.53 dB, 10 px +1.19 -> +1.19 dB)."""

    FLIPS = ((), (3,), (2,), (2, 3))  # axes of (batch, T, H, W, 3) windows

    def __init__(self, runner):
        self.runner = runner
        self.kind = f"{runner.kind}, self-ensemble x{len(self.FLIPS)}"
        self.source, self.num_frames, self.frame_size = runner.source, runner.num_frames, runner.frame_size
        self.alignment = getattr(runner, "alignment", "none")

    def _run(self, windows):
        total = 0.0
        for axes in self.FLIPS:
            flipped = np.ascontiguousarray(np.flip(windows, axes)) if axes else windows
            outputs = np.asarray(self.runner(flipped), np.float32)
            # The output (batch, H, W, 3) has no time axis: each window axis is one lower there.
            total = total + (np.flip(outputs, tuple(a - 1 for a in axes)) if axes else outputs)
        return (total / len(self.FLIPS)).astype(np.float32)


def saved_model_versions(base):
    """Version numbers, ascending, of the SavedModels in TF Serving's base folder DIR/NAME
    (numeric folders holding a saved_model.pb; the newest is served by default)."""
    return sorted(
        int(n) for n in os.listdir(base) if n.isdigit() and os.path.isfile(os.path.join(base, n, SAVED_MODEL_FILE))
    )


def load_runner(path, num_threads=None, precision="float32"):
    """A runner for the model at `path`: a preset name or folder, a training model dir or `.keras` file, a SavedModel
    dir (or TF Serving's base dir of numeric versions), a `.tflite` or an `.onnx` file.
    `precision` (float32, bfloat16, float16) applies to Keras models; exports carry their own."""
    from keras_spgan import presets
    from keras_spgan.models.loading import load_generator

    runner = None
    if presets.is_preset(path) or not os.path.exists(path):
        pass  # load_generator loads presets and names what is missing
    elif os.path.isdir(path):
        if os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
            runner = SavedModelRunner(path)
        else:
            versions = saved_model_versions(path)
            if versions:
                runner = SavedModelRunner(os.path.join(path, str(versions[-1])))
    elif path.endswith(".tflite"):
        runner = TFLiteRunner(path, num_threads)
    elif path.endswith(".onnx"):
        runner = OnnxRunner(path)
    if runner is None:
        return KerasRunner(load_generator(path), source=path, precision=precision)
    if precision != "float32":
        raise ModelLoadError(f"{path}: an exported {runner.kind} model has its own precision; "
                             f"precision={precision!r} applies to Keras models only")
    return runner
