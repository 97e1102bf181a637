"""Test setup: quiet TensorFlow, two logical CPUs for tf.distribute tests, seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must happen before TensorFlow initialises its devices: two logical CPUs make
# MirroredStrategy(["/cpu:0", "/cpu:1"]) a real 2-replica strategy here.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)

# Tiny widths so that every test builds and runs in well under a second.
TINY_SPN = dict(pyramid_filters=4, fusion_filters=8, num_res_blocks=1)
TINY_DISCRIMINATOR = dict(groups=((4, 1), (8, 1)), dense_units=16)


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One 2-replica strategy for the whole session: a second MirroredStrategy in
    a process reuses the first one's collective keys and fails as soon as the
    models differ (tensorflow/tensorflow#62790)."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
