"""Full-integer (int8) TFLite conversion of a folded SPN, with its two accuracy fixes.

Plain post-training int8 quantization of the SPN loses 0.06-0.6 dB against the
sharp frames (depending on the content) although every layer's rounding error
is nominal (RMSE ~0.29 of a quantization step, measured with TFLite's
QuantizationDebugger). Two things make it worse than it needs to be:

1. Activations are quantized per tensor, and their channels' ranges differ
   (in the residual stream of the trained SPN: channel maxima from 5 to 43):
   the small channels get few levels. `equalize_activation_ranges` rescales
   every channel to the same range - exact in float, because each activation
   is produced by a conv/BatchNorm (scale its output channel by 1/s; ReLU
   commutes with a positive scale) and read only by convolutions (scale their
   input channel by s). The residual stream is one group: its producer
   (down2) and every block's last BatchNorm share one scale per channel, the
   residual adds being linear. This is the activation-only form of SmoothQuant
   / cross-layer equalization (alpha = 1 measured better than 0.5 and 0.8).
2. The head's residual goes through TANH, whose int8 output step is fixed at
   1/128 (two levels of an 8-bit frame), and is added to the input luma, so
   that step lands in the output as it is. The head (a 3x3 conv to one channel:
   0.1% of the network's multiply-adds) and what follows it (the residual add
   and the colour conversion back to RGB) stay in float32.

What rounding leaves on average is then taken back: `correct_output_bias`
measures the mean shift of the int8 model's output from the float model's on
calibration windows and moves the head conv's bias against it (bias
correction, Nagel et al., "Data-Free Quantization", 2019). A tiny trained SPN
with resize upsampling came out +0.0019 (half a level of an 8-bit frame) too
bright everywhere: 54 dB from float32 yet 0.35 dB worse against the sharp
frames, nearly all of it that shift. The shipped presets have it too
(benchmarks/int8_bias_correction.py, 640x360): spn +0.47 of an 8-bit level
from float32, corrected -0.03 (54.7 dB from float32, was 52.0); spgan +0.36,
corrected -0.01 (56.1 dB, was 54.2); against the sharp frames of the sample's
test clips (24.7 dB: their error dwarfs the offset) within 0.004 dB.

Measured on the full-size SPN at 1280x720 (benchmarks/inference.py, 6 windows):
plain int8 40.6 dB from float32 and -0.070 dB against the sharp frames,
0.87 s/frame; equalized 42.3 dB, +0.053 dB, 0.88 s; equalized + float head
44.6 dB, +0.068 dB, 0.90 s. `integer_only=True` keeps every op in int8 (still
equalized), for accelerators that run integer ops only.
"""

import dataclasses
import tempfile
import warnings

import numpy as np

from export.tflite_ops import HEAD_LAYER, head_nodes


def _in_axis(layer):
    import keras

    # Conv2D kernels are (kh, kw, in, out); Conv2DTranspose kernels are (kh, kw, out, in).
    return -1 if isinstance(layer, keras.layers.Conv2DTranspose) else -2


@dataclasses.dataclass(frozen=True)
class Group:
    """One activation that can be rescaled per channel: the layers that produce it (their
    output channels), the convolutions that read it (their input channels) and the layers
    whose outputs are its quantized tensors. `side_by_side`: the producers' channels are
    concatenated (the pyramid paths) rather than shared (the residual stream)."""

    producers: list
    consumers: list
    probed: list
    side_by_side: bool = False


def equalization_groups(folded):
    """The `Group`s of an SPN (folded or not), from its layer names."""
    names = {layer.name for layer in folded.layers}
    blocks = sum(1 for n in names if n.startswith("res") and n.endswith("_add"))
    paths = sorted((n for n in names if n.startswith("pyramid_s") and n.count("_") == 1), key=lambda n: int(n[9:]))
    res = [f"res{i}" for i in range(1, blocks + 1)]
    up1, up2 = (f"up{i}_deconv" if f"up{i}_deconv" in names else f"up{i}_conv" for i in (1, 2))  # SPN upsampling
    return [
        Group([f"{p}_conv3d" if f"{p}_conv3d" in names else f"{p}_conv2d" for p in paths], ["fusion_conv"], paths,
              side_by_side=True),
        Group(["fusion_conv"], ["down1_conv"], ["fusion_conv"]),
        Group(["down1_bn"], ["down2_conv"], ["down1_relu"]),
        # The residual stream: whatever is added to it is in the same channel space.
        Group(["down2_bn"] + [f"{r}_b_bn" for r in res], [f"{r}_a_conv" for r in res] + [up1],
              ["down2_relu"] + [f"{r}_b_bn" for r in res] + [f"{r}_add" for r in res]),
        *[Group([f"{r}_a_bn"], [f"{r}_b_conv"], [f"{r}_a_relu"]) for r in res],
        Group(["up1_bn"], [up2], ["up1_relu"]),
        Group(["up2_bn"], [HEAD_LAYER], ["up2_relu"]),
    ]


def channel_maxima(model, layer_names, y_windows):
    """{layer name: max |output| per channel} of `model` over `y_windows` (N, T, H, W, 1),
    one window at a time (a 720p window's activations are ~2 GB)."""
    import keras

    probe = keras.Model(model.input, [model.get_layer(n).output for n in layer_names])
    maxima = {}
    for window in y_windows:
        for name, out in zip(layer_names, probe(window[None], training=False)):
            m = np.asarray(keras.ops.max(keras.ops.abs(out), axis=(0, 1, 2)))
            maxima[name] = np.maximum(maxima[name], m) if name in maxima else m
    return maxima


def equalize_activation_ranges(spn, y_windows):
    """Rescales `spn` (an SPN or its `fold_temporal_convs` form) in place so that within
    each activation every channel spans the same range on `y_windows`; the function the
    network computes does not change (up to float rounding). Returns `spn`."""
    groups = equalization_groups(spn)
    maxima = channel_maxima(spn, sorted({n for g in groups for n in g.probed}), y_windows)
    for group in groups:
        stacked = [maxima[n] for n in group.probed]
        ranges = np.concatenate(stacked) if group.side_by_side else np.max(stacked, axis=0)
        alive = ranges > 0  # a channel never active on the data keeps its weights
        if not alive.any():
            continue
        scale = np.ones_like(ranges)
        scale[alive] = ranges[alive] / np.exp(np.mean(np.log(ranges[alive])))  # geometric mean 1
        start = 0
        for name in group.producers:
            layer = spn.get_layer(name)
            weights = layer.get_weights()
            count = weights[0].shape[-1]
            part = scale[start:start + count] if group.side_by_side else scale
            start += count
            weights[0] = weights[0] / part  # conv kernel (..., out) or BatchNorm gamma
            weights[1] = weights[1] / part  # conv bias or BatchNorm beta
            layer.set_weights(weights)
        for name in group.consumers:
            layer = spn.get_layer(name)
            weights = layer.get_weights()
            shape = [1] * weights[0].ndim
            shape[_in_axis(layer)] = -1
            weights[0] = weights[0] * scale.reshape(shape)
            layer.set_weights(weights)
    return spn


# Below this mean output shift (a tenth of an 8-bit level) a second conversion is not worth its time.
MIN_OUTPUT_SHIFT = 0.1 / 255


def head_conv(model):
    """The generator's head conv layer inside the deployable (RGB -> RGB) `model`."""
    for layer in model.layers:
        if layer.name == HEAD_LAYER:
            return layer
        if hasattr(layer, "layers") and any(inner.name == HEAD_LAYER for inner in layer.layers):
            return layer.get_layer(HEAD_LAYER)
    raise ValueError(f"no {HEAD_LAYER} layer in {model.name}")


def correct_output_bias(model, content, calibration, max_windows=8):
    """Moves the head conv's bias of the deployable Keras `model` against the mean shift of
    the int8 `content`'s output from the model's own on calibration windows; returns the shift
    (0.0 and the model untouched where it is below MIN_OUTPUT_SHIFT). Pixels clipped at 0 or 1
    in either output are left out of the mean: clipping hides a shift there."""
    from keras_spgan.inference.runners import TFLiteRunner

    windows = [np.asarray(w, np.float32)[None] for w in calibration[:max_windows]]
    int8 = TFLiteRunner(None, content=content)

    def float_outputs():
        return np.stack([np.asarray(model(window))[0] for window in windows])

    quantized = np.stack([int8(window)[0] for window in windows])
    reference = float_outputs()
    inside = (np.minimum(quantized, reference) > 0.01) & (np.maximum(quantized, reference) < 0.99)
    shift = float(np.mean((quantized - reference)[inside])) if inside.any() else 0.0
    if abs(shift) < MIN_OUTPUT_SHIFT:
        return 0.0
    head = head_conv(model)
    kernel, bias = head.get_weights()
    # The head's TANH and the colour conversion make the output's response to the bias not
    # quite 1: measure it (a small step keeps it linear).
    step = 0.01
    head.set_weights([kernel, bias + step])
    response = float(np.mean((float_outputs() - reference)[inside])) / step
    if not response > 0.05:  # a saturated TANH: moving the bias cannot take the shift back
        head.set_weights([kernel, bias])
        return 0.0
    head.set_weights([kernel, bias - shift / response])
    return shift


def convert_int8(model, calibration, integer_only=False):
    """int8 .tflite bytes of the deployable Keras `model` (RGB window -> RGB frame),
    calibrated on `calibration` windows; float32 in and out."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved:
        # Keras 3 -> SavedModel -> converter is the route that works on TF 2.21 (platform facts).
        model.export(saved, verbose=False)

        def converter(quantized_ops):
            result = tf.lite.TFLiteConverter.from_saved_model(saved)
            result.optimizations = [tf.lite.Optimize.DEFAULT]
            result.representative_dataset = lambda: ([w[None].astype(np.float32)] for w in calibration)
            result.target_spec.supported_ops = quantized_ops
            return result

        if integer_only:
            # Fail the conversion rather than fall back to float for an op without an int8 kernel.
            return converter([tf.lite.OpsSet.TFLITE_BUILTINS_INT8]).convert()
        float_model = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
        with warnings.catch_warnings():  # the debugger builds a tf.lite.Interpreter, deprecated for LiteRT's
            warnings.simplefilter("ignore", UserWarning)
            # The public way to keep chosen ops in float (selective quantization).
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter([tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]),
                debug_dataset=lambda: ([w[None].astype(np.float32)] for w in calibration[:1]),
                debug_options=tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_nodes=head_nodes(float_model)),
            )
            return debugger.get_nondebug_quantized_model()
