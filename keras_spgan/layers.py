"""Small serializable layers the networks are assembled from.

Each one exists because the operation has no built-in Keras layer that works
with dynamic frame sizes, or because a raw `tf` op cannot be applied to a
KerasTensor in a functional graph (e.g. `tf.image.sobel_edges`).
"""

import keras

from keras_spgan.colour import replace_luma, rgb_to_y

# TensorFlow is imported inside the three layers that need it (padding, cropping and Sobel
# at run-time sizes, which TFLite and the SavedModel were measured with), not here: the SPN
# itself is keras.ops only, so it builds on any Keras backend (training/fit_jax.py trains it
# on JAX, where a GPU machine may have no TensorFlow).

PACKAGE = "keras_spgan"


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelectFrames(keras.layers.Layer):
    """Takes `count` consecutive frames starting at `start` from (B, T, H, W, C)."""

    def __init__(self, start, count, **kwargs):
        super().__init__(**kwargs)
        if start < 0 or count < 1:
            raise ValueError(f"SelectFrames needs start >= 0 and count >= 1, got {start}, {count}")
        self.start = int(start)
        self.count = int(count)

    def call(self, frames):
        return frames[:, self.start : self.start + self.count]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.count, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "start": self.start, "count": self.count}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelectFrame(keras.layers.Layer):
    """Takes frame `index` from (B, T, H, W, C), dropping the time axis."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, frames):
        return frames[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StackFrames(keras.layers.Layer):
    """Single-channel frames (B, T, H, W, 1) -> (B, H, W, T): time becomes the channel axis."""

    def call(self, frames):
        return keras.ops.transpose(keras.ops.squeeze(frames, axis=-1), (0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        if input_shape[-1] != 1:
            raise ValueError(f"StackFrames needs single-channel frames, got shape {input_shape}")
        return (input_shape[0], input_shape[2], input_shape[3], input_shape[1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelectChannels(keras.layers.Layer):
    """Takes `count` consecutive channels starting at `start` from (..., C)."""

    def __init__(self, start, count, **kwargs):
        super().__init__(**kwargs)
        if start < 0 or count < 1:
            raise ValueError(f"SelectChannels needs start >= 0 and count >= 1, got {start}, {count}")
        self.start = int(start)
        self.count = int(count)

    def call(self, x):
        return x[..., self.start : self.start + self.count]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.count)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "count": self.count}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NearestUpsample2x(keras.layers.Layer):
    """(B, H, W, C) -> (B, 2H, 2W, C), every pixel repeated 2 x 2.

    Keras' UpSampling2D does this with `repeat`, whose graph loses the static shape so that
    the TFLite converter cannot lower the convolution that follows (measured: "tf.Conv2D is
    neither a custom op nor a flex op"), and its bilinear mode does not trace at unknown
    frame sizes. Here: concatenate and reshape, which every converter keeps 4-D."""

    def call(self, x):
        shape = keras.ops.shape(x)  # static ints where known, tensors where not
        height, width, channels = shape[1], shape[2], x.shape[-1]
        x = keras.ops.reshape(keras.ops.concatenate([x, x], axis=-1), (-1, height, 2 * width, channels))
        return keras.ops.reshape(keras.ops.concatenate([x, x], axis=2), (-1, 2 * height, 2 * width, channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, None if height is None else 2 * height, None if width is None else 2 * width, channels)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RgbToY(keras.layers.Layer):
    """RGB [..., 3] in [0, 1] -> BT.601 Y [..., 1] (MATLAB `rgb2ycbcr`)."""

    def call(self, rgb):
        return rgb_to_y(rgb)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReplaceLuma(keras.layers.Layer):
    """[rgb (B, H, W, 3), y (B, H, W, 1)] -> RGB with the new Y and rgb's chroma, clipped to [0, 1]."""

    def call(self, inputs):
        rgb, luma = inputs
        return keras.ops.clip(replace_luma(rgb, luma), 0.0, 1.0)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectPadToMultiple(keras.layers.Layer):
    """Reflect-pads the spatial axes (-3, -2) at the bottom/right up to a multiple of `multiple`.

    Works on 4D frames and 5D frame stacks whose sizes are only known at run
    time. Reflection cannot pad by more than size - 1, so a side shorter than
    `multiple` - 1 pixels is rejected by TensorFlow at run time.
    """

    def __init__(self, multiple=4, **kwargs):
        super().__init__(**kwargs)
        if multiple < 1:
            raise ValueError(f"ReflectPadToMultiple needs multiple >= 1, got {multiple}")
        self.multiple = int(multiple)

    def call(self, x):
        import tensorflow as tf

        shape = tf.shape(x)
        rank = len(x.shape)
        # (m - n % m) % m rather than (-n) % m: the operands stay non-negative,
        # so converters that map FloorMod to a truncating mod (tf2onnx) agree.
        pad_h = (self.multiple - shape[rank - 3] % self.multiple) % self.multiple
        pad_w = (self.multiple - shape[rank - 2] % self.multiple) % self.multiple
        paddings = [[0, 0]] * (rank - 3) + [[0, pad_h], [0, pad_w], [0, 0]]
        return tf.pad(x, paddings, mode="REFLECT")

    def compute_output_shape(self, input_shape):
        def padded(n):
            return None if n is None else -(-n // self.multiple) * self.multiple

        return (*input_shape[:-3], padded(input_shape[-3]), padded(input_shape[-2]), input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropLike(keras.layers.Layer):
    """[x (B, H', W', C), reference (B, H, W, ...)] -> x cropped to H x W (top-left kept)."""

    def call(self, inputs):
        import tensorflow as tf

        x, reference = inputs
        shape = tf.shape(reference)
        return x[:, : shape[1], : shape[2]]

    def compute_output_shape(self, input_shapes):
        x, reference = input_shapes
        return (x[0], reference[1], reference[2], x[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantizeToUint8(keras.layers.Layer):
    """[0, 1] floats -> uint8 (clip, x255, round half away from zero)."""

    def call(self, x):
        x = keras.ops.clip(x, 0.0, 1.0) * 255.0
        return keras.ops.cast(keras.ops.round(x), "uint8")


@keras.saving.register_keras_serializable(package=PACKAGE)
class SobelMagnitude(keras.layers.Layer):
    """Gradient magnitude sqrt((dI/dx)^2 + (dI/dy)^2) per channel, from Sobel derivatives.

    The Sobel responses are divided by 8 so that they estimate the derivative
    in intensity per pixel (a ramp of slope a gives exactly a). Borders use
    reflection, as `tf.image.sobel_edges` does. `epsilon` keeps the gradient of
    the square root finite where the image is flat.

    Computed in float32 whatever the dtype policy: in float16 (mixed precision on GPUs)
    epsilon and the squares of small derivatives underflow to 0, the square root's gradient
    is infinite there, and every SPGAN generator step came out non-finite, so the loss
    scaling skipped them all.
    """

    def __init__(self, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, images):
        import tensorflow as tf

        edges = tf.image.sobel_edges(tf.cast(images, tf.float32)) / 8.0  # (B, H, W, C, 2): dy, dx
        magnitude = tf.sqrt(tf.reduce_sum(tf.square(edges), axis=-1) + self.epsilon)
        return tf.cast(magnitude, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
