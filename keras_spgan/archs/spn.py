"""SPN: the Spatiotemporal Pyramid Network (the paper's generator).

Y frames (B, T, H, W, 1) in [0, 1] -> sharp Y of the centre frame (B, H, W, 1).

    pyramid module    one path per temporal scale s, each `pyramid_filters` wide:
                      s = 1: Conv2D on the centre frame;
                      s > 1: Conv3D over the s frames around the centre, kernel
                      s in time and 'valid' there, so one slice comes out.
                      fusion: concatenate -> Conv2D to `fusion_filters`.
    reconstruction    2 x (Conv stride 2 + BN + ReLU)  F -> 2F -> 4F at H/4
                      `num_res_blocks` x residual block at 4F
                      2 x (up x2 + BN + ReLU) 4F -> 2F -> F, the up-sampling a
                      ConvTranspose (the paper) or nearest-neighbour resize + Conv
                      Conv to 1 channel, tanh
    global residual   output = centre Y + reconstruction

Choices the paper leaves open (listed in the README too), all arguments here:
spatial kernels 3x3; ReLU after every pyramid path and after fusion; residual
blocks are conv-BN-ReLU-conv-BN + identity (SRResNet style); the transposed
convs carry BN + ReLU like the down-sampling convs; N(0, 0.01) means standard
deviation 0.01. `upsampling="resize"` (not the paper's) replaces each stride-2
ConvTranspose by a nearest-neighbour x2 resize and a 3x3 Conv: a 3x3 kernel at stride 2
gives the four output parities different numbers of taps, which draws a
period-2/4 checkerboard over flat regions (Odena et al., Distill 2016); measured
on the `spn` preset: bright walls and clipped highlights. Nearest, not bilinear:
Keras' bilinear UpSampling2D cannot trace with unknown frame sizes (it compares
the symbolic size in Python), which deblur and the SavedModel signature need;
and our own nearest layer (layers.NearestUpsample2x), because Keras' loses the
static shape that TFLite needs to convert the convolution after it.
BatchNormalization is synchronized across replicas under a
`tf.distribute` strategy so that N replicas train exactly like one device.
H and W must be multiples of 4 (the RGB wrapper pads any size for you).
"""

import keras

from keras_spgan.align import check_alignment
from keras_spgan.layers import PACKAGE, NearestUpsample2x, SelectChannels, SelectFrame, SelectFrames, StackFrames

PAPER_SCALES = (1, 3, 5)
UPSAMPLING = ("transpose", "resize")
ABLATION_SCALES = ((1,), (5,), (1, 3), (3, 5), (1, 3, 5), (1, 3, 5, 7))


def validate_scales(scales):
    """Returns `scales` as a sorted tuple of distinct odd positive ints, or raises ValueError."""
    try:
        values = tuple(int(s) for s in scales)
    except (TypeError, ValueError):
        raise ValueError(f"scales must be a sequence of odd positive integers, got {scales!r}") from None
    if not values or any(s < 1 or s % 2 == 0 for s in values) or len(set(values)) != len(values):
        raise ValueError(f"scales must be distinct odd positive integers such as (1, 3, 5), got {scales!r}")
    return tuple(sorted(values))


def _check_positive(name, value):
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_frame_size(frame_size, multiple):
    if frame_size is None:
        return None
    height, width = (int(v) for v in frame_size)
    if height < 1 or width < 1 or height % multiple or width % multiple:
        raise ValueError(f"frame_size must be positive multiples of {multiple}, got {frame_size!r}")
    return height, width


class _Blocks:
    """Layer factories sharing the initializer and BN settings of one network."""

    def __init__(self, kernel_size, init_stddev, bn_momentum, synchronized_bn):
        self.kernel_size = kernel_size
        self.bn_momentum = bn_momentum
        self.init_stddev = init_stddev
        self.synchronized_bn = synchronized_bn

    def init(self):
        return keras.initializers.RandomNormal(mean=0.0, stddev=self.init_stddev)

    def conv(self, filters, name, strides=1, use_bias=True, activation=None, dtype=None):
        return keras.layers.Conv2D(
            filters, self.kernel_size, strides=strides, padding="same", use_bias=use_bias,
            activation=activation, kernel_initializer=self.init(), name=name, dtype=dtype,
        )

    def bn_relu(self, x, name):
        x = keras.layers.BatchNormalization(momentum=self.bn_momentum, synchronized=self.synchronized_bn, name=f"{name}_bn")(x)
        return keras.layers.ReLU(name=f"{name}_relu")(x)

    def conv_bn_relu(self, x, filters, name, strides=1):
        return self.bn_relu(self.conv(filters, f"{name}_conv", strides, use_bias=False)(x), name)

    def up_bn_relu(self, x, filters, name, upsampling):
        if upsampling == "transpose":
            x = keras.layers.Conv2DTranspose(
                filters, self.kernel_size, strides=2, padding="same", use_bias=False,
                kernel_initializer=self.init(), name=f"{name}_deconv",
            )(x)
        else:
            x = NearestUpsample2x(name=f"{name}_resize")(x)
            x = self.conv(filters, f"{name}_conv", use_bias=False)(x)
        return self.bn_relu(x, name)

    def residual_block(self, x, name):
        filters = x.shape[-1]
        y = self.conv_bn_relu(x, filters, f"{name}_a")
        y = self.conv(filters, f"{name}_b_conv", use_bias=False)(y)
        y = keras.layers.BatchNormalization(momentum=self.bn_momentum, synchronized=self.synchronized_bn, name=f"{name}_b_bn")(y)
        return keras.layers.Add(name=f"{name}_add")([x, y])

    def pyramid_path(self, frames, scale, filters, centre):
        """One temporal scale; its output is named `pyramid_s{scale}` (tests probe it)."""
        name = f"pyramid_s{scale}"
        if scale == 1:
            x = SelectFrame(centre, name=f"{name}_centre")(frames)
            x = self.conv(filters, f"{name}_conv2d")(x)
        else:
            x = SelectFrames(centre - scale // 2, scale, name=f"{name}_frames")(frames)
            pad = self.kernel_size // 2
            x = keras.layers.ZeroPadding3D(((0, 0), (pad, pad), (pad, pad)), name=f"{name}_pad")(x)
            x = keras.layers.Conv3D(
                filters, (scale, self.kernel_size, self.kernel_size), padding="valid",
                kernel_initializer=self.init(), name=f"{name}_conv3d",
            )(x)
            x = SelectFrame(0, name=f"{name}_squeeze")(x)
        return keras.layers.ReLU(name=name)(x)

    def stacked_pyramid_path(self, stacked, scale, filters, centre):
        """`pyramid_path` on frames stacked as channels (B, H, W, T): each Conv3D,
        whose kernel spans all its frames and is 'valid' in time, is exactly a
        Conv2D over those frames' channels. Same layer names, so weights map."""
        name = f"pyramid_s{scale}"
        x = SelectChannels(centre - scale // 2, scale, name=f"{name}_frames")(stacked)
        x = self.conv(filters, f"{name}_conv2d" if scale == 1 else f"{name}_conv3d")(x)
        return keras.layers.ReLU(name=name)(x)


def _spn_outputs(frames, blocks, scales, pyramid_filters, fusion_filters, num_res_blocks, upsampling="transpose",
                 stacked=False):
    """The SPN graph from Y frames (B, T, H, W, 1) to the sharp centre Y (B, H, W, 1).

    stacked=True builds the same function with the frames stacked as channels
    and no Conv3D (see `fold_temporal_convs`)."""
    centre = max(scales) // 2
    if stacked:
        channels = StackFrames(name="stack_frames")(frames)
        paths = [blocks.stacked_pyramid_path(channels, s, pyramid_filters, centre) for s in scales]
        centre_y = SelectChannels(centre, 1, name="centre_y", dtype="float32")(channels)
    else:
        paths = [blocks.pyramid_path(frames, s, pyramid_filters, centre) for s in scales]
        centre_y = SelectFrame(centre, name="centre_y", dtype="float32")(frames)
    x = paths[0] if len(paths) == 1 else keras.layers.Concatenate(name="pyramid_concat")(paths)
    x = blocks.conv(fusion_filters, "fusion_conv", activation="relu")(x)

    x = blocks.conv_bn_relu(x, 2 * fusion_filters, "down1", strides=2)
    x = blocks.conv_bn_relu(x, 4 * fusion_filters, "down2", strides=2)
    for i in range(num_res_blocks):
        x = blocks.residual_block(x, f"res{i + 1}")
    x = blocks.up_bn_relu(x, 2 * fusion_filters, "up1", upsampling)
    x = blocks.up_bn_relu(x, fusion_filters, "up2", upsampling)
    # The head runs in float32 even under a mixed-precision policy: the
    # residual is small and is added to the input luma.
    residual = blocks.conv(1, "head_conv", activation="tanh", dtype="float32")(x)
    return keras.layers.Add(name="global_residual", dtype="float32")([centre_y, residual])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SPN(keras.Model):
    """Spatiotemporal Pyramid Network. See the module docstring for the layout.

    Args:
        scales: temporal scales of the pyramid paths; the ablations of the paper
            are (1,), (5,), (1, 3), (3, 5), (1, 3, 5) and (1, 3, 5, 7). The model
            takes T = max(scales) frames and restores the centre one.
        pyramid_filters: width of each pyramid path (paper: 16).
        fusion_filters: width F after fusion (paper: 64); the reconstruction
            module runs at F, 2F and 4F.
        num_res_blocks: residual blocks at 4F (paper: 6).
        kernel_size: spatial kernel size of every convolution (paper: not given; 3).
        init_stddev: standard deviation of the N(0, s) weight initialisation.
        bn_momentum: momentum of the BatchNorm moving statistics. 0.9 (PyTorch's
            default) rather than Keras' 0.99: with N(0, 0.01) weights the
            activations are far from the initial moving variance of 1, and
            0.99 keeps inference-mode outputs wrong for thousands of steps.
        synchronized_bn: synchronize BatchNorm statistics across replicas.
        frame_size: optional fixed (H, W), multiples of 4; None accepts any.
        upsampling: "transpose" (the paper's stride-2 ConvTranspose) or "resize"
            (nearest-neighbour x2 then Conv: no checkerboard; see the module docstring).
        alignment: "none", or "flow": the network is trained on, and so must be given,
            windows whose frames are warped onto the centre frame by optical flow
            (`keras_spgan.align`). The network does not align: whoever feeds it does
            (deblurring, evaluation and training's pipelines read this attribute).
    """

    def __init__(
        self,
        scales=PAPER_SCALES,
        pyramid_filters=16,
        fusion_filters=64,
        num_res_blocks=6,
        kernel_size=3,
        init_stddev=0.01,
        bn_momentum=0.9,
        synchronized_bn=True,
        frame_size=None,
        upsampling="transpose",
        alignment="none",
        **kwargs,
    ):
        scales = validate_scales(scales)
        alignment = check_alignment(alignment)
        pyramid_filters = _check_positive("pyramid_filters", pyramid_filters)
        fusion_filters = _check_positive("fusion_filters", fusion_filters)
        num_res_blocks = int(num_res_blocks)
        if num_res_blocks < 0:
            raise ValueError(f"num_res_blocks must be >= 0, got {num_res_blocks}")
        kernel_size = _check_positive("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if not init_stddev > 0:
            raise ValueError(f"init_stddev must be > 0, got {init_stddev!r}")
        frame_size = _check_frame_size(frame_size, 4)
        if not 0.0 <= bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum!r}")
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}")

        num_frames = max(scales)
        height, width = frame_size or (None, None)
        blocks = _Blocks(kernel_size, float(init_stddev), float(bn_momentum), bool(synchronized_bn))
        frames = keras.Input((num_frames, height, width, 1), name="frames")
        outputs = _spn_outputs(frames, blocks, scales, pyramid_filters, fusion_filters, num_res_blocks, upsampling)

        kwargs.setdefault("name", "spn_" + "-".join(str(s) for s in scales))
        super().__init__(inputs=frames, outputs=outputs, **kwargs)

        self.scales = scales
        self.num_frames = num_frames
        self.pyramid_filters = pyramid_filters
        self.fusion_filters = fusion_filters
        self.num_res_blocks = num_res_blocks
        self.kernel_size = kernel_size
        self.init_stddev = float(init_stddev)
        self.bn_momentum = float(bn_momentum)
        self.synchronized_bn = bool(synchronized_bn)
        self.frame_size = frame_size
        self.upsampling = upsampling
        self.alignment = alignment

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "scales": list(self.scales),
            "pyramid_filters": self.pyramid_filters,
            "fusion_filters": self.fusion_filters,
            "num_res_blocks": self.num_res_blocks,
            "kernel_size": self.kernel_size,
            "init_stddev": self.init_stddev,
            "bn_momentum": self.bn_momentum,
            "synchronized_bn": self.synchronized_bn,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "upsampling": self.upsampling,
            "alignment": self.alignment,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_spn(scales=PAPER_SCALES, **sizes):
    """Builds an SPN; `sizes` are the keyword arguments of `SPN` (widths, blocks, kernel...)."""
    return SPN(scales=scales, **sizes)


def fold_temporal_convs(spn):
    """The same network as `spn` without Conv3D: a plain functional model with
    the same input (B, T, H, W, 1) and output (B, H, W, 1), its frames stacked
    as channels and each Conv3D rewritten as the exactly equivalent Conv2D
    (kernel (kt, kh, kw, cin, cout) -> (kh, kw, kt * cin, cout)).

    Why: TFLite's CONV_3D kernel is float only, so an int8 model keeps every
    Conv3D in float; the Conv2D form quantizes like the rest of the network.
    Weights are copied, not shared: later training of `spn` does not reach it.
    """
    if not isinstance(spn, SPN):
        raise TypeError(f"fold_temporal_convs needs a keras_spgan SPN, got {type(spn).__name__}")
    blocks = _Blocks(spn.kernel_size, spn.init_stddev, spn.bn_momentum, spn.synchronized_bn)
    height, width = spn.frame_size or (None, None)
    frames = keras.Input((spn.num_frames, height, width, 1), name="frames")
    outputs = _spn_outputs(
        frames, blocks, spn.scales, spn.pyramid_filters, spn.fusion_filters, spn.num_res_blocks, spn.upsampling,
        stacked=True
    )
    folded = keras.Model(frames, outputs, name=f"{spn.name}_folded")
    for layer in folded.layers:
        if layer.weights:
            weights = spn.get_layer(layer.name).get_weights()
            layer.set_weights([_fold_kernel(w) if w.ndim == 5 else w for w in weights])
    return folded


def _fold_kernel(kernel):
    kt, kh, kw, cin, cout = kernel.shape
    return kernel.transpose(1, 2, 0, 3, 4).reshape(kh, kw, kt * cin, cout)


def transfer_weights(source, target):
    """Copies `source`'s weights into `target`, two SPNs of the same sizes that may differ in
    `upsampling`; returns `target`. A ConvTranspose kernel K (kh, kw, out, in) becomes the
    Conv kernel flip(K) / 4 (kh, kw, in, out) of a resize: on a flat input the transposed
    conv's output averages sum(K) / 4 over its four parities, the resize + conv gives
    sum(K / 4) everywhere (the checkerboard, removed). Starts a `resize` network from a
    trained `transpose` one close to where it was; fine-tune after (the BN layers adapt).
    """
    sizes = ("scales", "pyramid_filters", "fusion_filters", "num_res_blocks", "kernel_size")
    for key in sizes:
        if getattr(source, key) != getattr(target, key):
            raise ValueError(f"transfer_weights: {key} differs ({getattr(source, key)!r} vs {getattr(target, key)!r})")
    names = {layer.name for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name in names:
            layer.set_weights(source.get_layer(layer.name).get_weights())
            continue
        stem, _, kind = layer.name.rpartition("_")
        other = f"{stem}_deconv" if kind == "conv" else f"{stem}_conv"
        (kernel,) = source.get_layer(other).get_weights()
        if kind == "conv":  # from a ConvTranspose: (kh, kw, out, in) -> (kh, kw, in, out), flipped, / 4
            layer.set_weights([kernel[::-1, ::-1].transpose(0, 1, 3, 2) / 4.0])
        else:  # back to a ConvTranspose: the inverse map
            layer.set_weights([(kernel * 4.0)[::-1, ::-1].transpose(0, 1, 3, 2)])
    return target
