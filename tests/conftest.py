"""Test setup: quiet TensorFlow, two logical CPUs for tf.distribute tests, seeds."""

import os
import subprocess

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


@pytest.fixture(scope="session")
def trained_tiny_spn(tmp_path_factory):
    """(SPN, .keras path): a tiny SPN trained for 60 steps on the sample data, so that
    it changes its input (an untrained SPN is nearly the identity, which would make
    exports, tiling and streaming look exact whatever they do)."""
    from keras_spgan import build_spn
    from keras_spgan.data import load_clips, sample_data_dir, training_dataset

    keras.utils.set_random_seed(7)
    spn = build_spn(**TINY_SPN, init_stddev=0.05, synchronized_bn=False)
    data = training_dataset(load_clips(sample_data_dir(), "dvd", split="train"), spn.num_frames,
                            batch_size=8, crop=32, seed=1)
    spn.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    spn.fit(data, steps_per_epoch=60, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path_factory.mktemp("trained") / "spn.keras")
    spn.save(path)
    return spn, path


@pytest.fixture
def small_filesystem(tmp_path):
    """A 4 MB tmpfs (root only; skipped where mounting is not allowed): a full disk with `fill`."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], capture_output=True)


def fill(folder, leave=0):
    """Fills `folder`'s file system until `leave` bytes are free (a file named .filler)."""
    import shutil

    with open(os.path.join(folder, ".filler"), "wb") as f:
        while shutil.disk_usage(folder).free > leave:
            try:
                f.write(b"\0" * min(shutil.disk_usage(folder).free - leave, 4096))
                f.flush()
            except OSError:
                break
