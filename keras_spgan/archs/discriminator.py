"""The VGG-like discriminator of SPGAN (paper Table 1), in gradient or pixel space.

    input       Y image (B, H, W, 1) in [0, 1]
    space       "gradient": sqrt((dI/dx)^2 + (dI/dy)^2) from Sobel derivatives (SPGAN)
                "pixel": the intensities themselves (the SPGAN-plain ablation)
    features    14 x (Conv 3x3 + BN + ReLU): 2 x 64, 3 x 128, 4 x 256, 5 x 512
    head        FC 4096 + BN + ReLU, FC 2 -> logits (class 1 = real/sharp)

Down-sampling, which the paper does not give: a 2x2 max-pool after each of the
four groups, as in VGG, so a 128 x 128 crop reaches the head at 8 x 8 x 512.
The head then either global-average-pools (default: any input size, 2.1 M
head weights) or flattens (`pooling="flatten"`, needs a fixed `input_size`:
134 M head weights at 128 x 128, as a literal VGG would have).
The last layer emits logits; the losses apply the softmax in log space, which
is the numerically stable form of the paper's "FC 2 + softmax". Ask for
`output_activation="softmax"` to get probabilities instead.
"""

import keras

from keras_spgan.layers import PACKAGE, SobelMagnitude

PAPER_GROUPS = ((64, 2), (128, 3), (256, 4), (512, 5))
SPACES = ("gradient", "pixel")
POOLINGS = ("avg", "flatten")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Discriminator(keras.Model):
    """Args:
        space: "gradient" (SPGAN) or "pixel" (SPGAN-plain).
        groups: (filters, number of convs) per group; paper: PAPER_GROUPS.
        dense_units: width of the hidden fully connected layer (paper: 4096).
        pooling: "avg" (global average pooling) or "flatten".
        input_size: fixed (H, W); required by "flatten", optional otherwise.
        kernel_size, init_stddev, bn_momentum, synchronized_bn: as in `SPN`.
        output_activation: None (logits) or "softmax".
    """

    def __init__(
        self,
        space="gradient",
        groups=PAPER_GROUPS,
        dense_units=4096,
        pooling="avg",
        input_size=None,
        kernel_size=3,
        init_stddev=0.01,
        bn_momentum=0.9,
        synchronized_bn=True,
        output_activation=None,
        **kwargs,
    ):
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        groups = tuple((int(f), int(n)) for f, n in groups)
        if not groups or any(f < 1 or n < 1 for f, n in groups):
            raise ValueError(f"groups must be non-empty (filters, convs) pairs of positive ints, got {groups!r}")
        if pooling == "flatten" and input_size is None:
            raise ValueError("pooling='flatten' needs a fixed input_size=(H, W)")
        if input_size is not None:
            input_size = tuple(int(v) for v in input_size)
            factor = 2 ** len(groups)
            if len(input_size) != 2 or any(v < factor or v % factor for v in input_size):
                raise ValueError(f"input_size must be two multiples of {factor}, got {input_size!r}")
        if not 0.0 <= bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum!r}")
        if output_activation not in (None, "softmax"):
            raise ValueError(f"output_activation must be None or 'softmax', got {output_activation!r}")

        def init():
            return keras.initializers.RandomNormal(stddev=float(init_stddev))

        height, width = input_size or (None, None)
        images = keras.Input((height, width, 1), name="images")
        x = SobelMagnitude(name="sobel_magnitude")(images) if space == "gradient" else images
        layer = 0
        for g, (filters, convs) in enumerate(groups):
            for _ in range(convs):
                layer += 1
                x = keras.layers.Conv2D(
                    filters, kernel_size, padding="same", use_bias=False,
                    kernel_initializer=init(), name=f"conv{layer}",
                )(x)
                x = keras.layers.BatchNormalization(momentum=bn_momentum, synchronized=synchronized_bn, name=f"conv{layer}_bn")(x)
                x = keras.layers.ReLU(name=f"conv{layer}_relu")(x)
            x = keras.layers.MaxPooling2D(2, name=f"pool{g + 1}")(x)
        if pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
        else:
            x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(dense_units, use_bias=False, kernel_initializer=init(), name="fc1")(x)
        x = keras.layers.BatchNormalization(momentum=bn_momentum, synchronized=synchronized_bn, name="fc1_bn")(x)
        x = keras.layers.ReLU(name="fc1_relu")(x)
        outputs = keras.layers.Dense(
            2, activation=output_activation, kernel_initializer=init(), name="fc2", dtype="float32"
        )(x)

        kwargs.setdefault("name", f"discriminator_{space}")
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.space = space
        self.groups = groups
        self.dense_units = int(dense_units)
        self.pooling = pooling
        self.input_size = input_size
        self.kernel_size = int(kernel_size)
        self.init_stddev = float(init_stddev)
        self.bn_momentum = float(bn_momentum)
        self.synchronized_bn = bool(synchronized_bn)
        self.output_activation = output_activation

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "space": self.space,
            "groups": [list(g) for g in self.groups],
            "dense_units": self.dense_units,
            "pooling": self.pooling,
            "input_size": list(self.input_size) if self.input_size else None,
            "kernel_size": self.kernel_size,
            "init_stddev": self.init_stddev,
            "bn_momentum": self.bn_momentum,
            "synchronized_bn": self.synchronized_bn,
            "output_activation": self.output_activation,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_discriminator(space="gradient", **kwargs):
    """Builds the SPGAN discriminator; `kwargs` are those of `Discriminator`."""
    return Discriminator(space=space, **kwargs)
