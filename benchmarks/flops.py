"""What the benchmarks compare against: this machine's matmul FLOP/s, and a model's conv FLOPs."""

import time

import keras
import numpy as np
import tensorflow as tf


def matmul_flops(dtype, size=2048, repeats=10):
    """FLOP/s of a large square matmul at `dtype`: the machine's practical peak for dense math."""
    a = tf.cast(tf.random.normal([size, size], dtype=tf.float32), dtype)
    run = tf.function(lambda x: tf.matmul(x, x))
    run(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = run(a)
    out.numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def conv_flops(model):
    """Multiply-adds x 2 of every Conv / Conv3D / Conv2DTranspose in one forward pass of a
    model with static spatial shapes (per sample)."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Conv2DTranspose)):
            kernel = np.prod(layer.kernel.shape)
            out = layer.output.shape
            positions = np.prod([d for d in out[1:-1] if d is not None] or [1])
            if isinstance(layer, keras.layers.Conv2DTranspose):  # MACs scale with the input positions
                positions //= int(np.prod(layer.strides))
            total += 2 * kernel * positions
    return total
