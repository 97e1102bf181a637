import keras
import numpy as np
import pytest

import keras_spgan as ks
from tests.conftest import TINY_DISCRIMINATOR, TINY_SPN


def _round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.models.load_model(path)


def _perturb_batchnorm(model):
    """Non-default moving statistics, so that a lost BN variable would show."""
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([np.random.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])


@pytest.mark.parametrize("scales", [(1,), (3, 5), (1, 3, 5, 7)])
def test_spn(scales, tmp_path):
    spn = ks.build_spn(scales, kernel_size=5, **TINY_SPN)
    _perturb_batchnorm(spn)
    loaded = _round_trip(spn, tmp_path)
    assert type(loaded) is ks.SPN and loaded.get_config() == spn.get_config()
    x = np.random.rand(2, max(scales), 16, 16, 1).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(spn(x)))


@pytest.mark.parametrize("io_dtype", ["float32", "uint8"])
def test_rgb_deblurrer(io_dtype, tmp_path):
    model = ks.build_rgb_deblurrer(ks.build_spn(**TINY_SPN), io_dtype=io_dtype)
    _perturb_batchnorm(model)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is ks.RGBDeblurrer and type(loaded.spn) is ks.SPN
    x = np.random.randint(0, 256, (1, 5, 13, 9, 3)).astype(io_dtype)
    if io_dtype == "float32":
        x /= 255
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


@pytest.mark.parametrize("space", ["gradient", "pixel"])
def test_discriminator(space, tmp_path):
    d = ks.build_discriminator(space, output_activation="softmax", **TINY_DISCRIMINATOR)
    _perturb_batchnorm(d)
    loaded = _round_trip(d, tmp_path)
    assert type(loaded) is ks.Discriminator and loaded.get_config() == d.get_config()
    x = np.random.rand(2, 16, 16, 1).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(d(x)))


def test_spgan_with_optimizer_state(tmp_path):
    model = ks.SPGAN(ks.build_spn(**TINY_SPN), ks.build_discriminator(**TINY_DISCRIMINATOR), adv_weight=0.1,
                     adversarial_loss="non_saturating")
    model.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), d_optimizer=keras.optimizers.Adam(3e-4))
    x = np.random.rand(4, 5, 16, 16, 1).astype(np.float32)
    y = np.random.rand(4, 16, 16, 1).astype(np.float32)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is ks.SPGAN
    assert loaded.adv_weight == 0.1 and loaded.adversarial_loss == "non_saturating"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(np.asarray(loaded.discriminator(y)), np.asarray(model.discriminator(y)))
    assert float(loaded.d_optimizer.learning_rate) == pytest.approx(3e-4)
    assert int(loaded.g_optimizer.iterations) == 2 and int(loaded.d_optimizer.iterations) == 2
    loaded.fit(x, y, batch_size=2, epochs=1, verbose=0)  # training continues
    assert int(loaded.d_optimizer.iterations) == 4
