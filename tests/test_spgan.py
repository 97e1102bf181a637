import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_spgan as ks
from keras_spgan import losses
from tests.conftest import TINY_DISCRIMINATOR, TINY_SPN

BATCH = 4


def _data(seed=0, size=16):
    rng = np.random.default_rng(seed)
    blurry = rng.random((BATCH, 5, size, size, 1)).astype(np.float32)
    sharp = rng.random((BATCH, size, size, 1)).astype(np.float32)
    return blurry, sharp


def _spgan(space="gradient", **kwargs):
    return ks.SPGAN(ks.build_spn(**TINY_SPN), ks.build_discriminator(space, **TINY_DISCRIMINATOR), **kwargs)


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


@pytest.mark.parametrize("space", ["gradient", "pixel"])
@pytest.mark.parametrize("kind", ["minimax", "non_saturating"])
def test_one_train_step_updates_both_networks(space, kind):
    model = _spgan(space, adv_weight=1e-3, adversarial_loss=kind)
    model.compile()
    g_before, d_before = _weights(model.generator), _weights(model.discriminator)
    logs = model.train_on_batch(*_data(), return_dict=True)
    assert set(logs) == {"loss", "content_loss", "adv_loss", "d_loss", "d_real", "d_fake", "psnr"}
    assert all(np.isfinite(v) for v in logs.values())
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, _weights(model.generator)))
    assert all(not np.array_equal(a, b) for a, b in zip(d_before, _weights(model.discriminator)))
    assert int(model.g_optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1


def test_reported_losses_are_the_paper_formulas():
    model = _spgan(adv_weight=0.5)
    model.compile()
    blurry, sharp = _data()
    logs = model.test_on_batch(blurry, sharp, return_dict=True)
    restored = np.asarray(model.generator(blurry, training=False))
    real = tf.nn.softmax(model.discriminator(sharp, training=False)).numpy()
    fake = tf.nn.softmax(model.discriminator(restored, training=False)).numpy()  # inference BN: per image
    content = ((sharp - restored) ** 2).mean()
    adversarial = np.log(1 - fake[:, 1]).mean()  # eq. 4
    assert logs["content_loss"] == pytest.approx(content, rel=1e-5)
    assert logs["adv_loss"] == pytest.approx(adversarial, rel=1e-5)
    assert logs["loss"] == pytest.approx(content + 0.5 * adversarial, rel=1e-5)
    assert logs["d_loss"] == pytest.approx((-np.log(real[:, 1]) - np.log(fake[:, 0])).mean(), rel=1e-5)
    assert logs["d_real"] == pytest.approx(real[:, 1].mean(), rel=1e-5)


def test_losses_are_stable_for_confident_discriminators():
    logits = tf.constant([[200.0, -200.0], [-200.0, 200.0]])
    assert np.all(np.isfinite(losses.generator_adversarial_loss(logits, "minimax").numpy()))
    assert np.all(np.isfinite(losses.generator_adversarial_loss(logits, "non_saturating").numpy()))
    np.testing.assert_allclose(losses.discriminator_loss(logits[1:], logits[:1]).numpy(), [0.0], atol=1e-6)
    np.testing.assert_allclose(losses.generator_adversarial_loss(logits[:1], "non_saturating").numpy(), [400.0])


def test_zero_adversarial_weight_trains_the_generator_exactly_like_an_spn():
    blurry, sharp = _data()
    gan = _spgan(adv_weight=0.0)
    spn = ks.build_spn(**TINY_SPN)
    spn.set_weights(gan.generator.get_weights())
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    spn.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), loss="mse")
    for _ in range(3):
        gan.train_on_batch(blurry, sharp)
        spn.train_on_batch(blurry, sharp)
    for a, b in zip(gan.generator.get_weights(), spn.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_training_must_be_compiled_and_arguments_are_checked():
    with pytest.raises(ValueError, match="adversarial_loss"):
        _spgan(adversarial_loss="wasserstein")
    with pytest.raises(ValueError, match="adv_weight"):
        _spgan(adv_weight=-1)
    images = keras.Input((8, 8, 1))
    one_output = keras.Model(images, keras.layers.Dense(1)(keras.layers.Flatten()(images)))
    with pytest.raises(ValueError, match="2 logits"):
        ks.SPGAN(ks.build_spn(**TINY_SPN), one_output)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="different"):
        _spgan().compile(g_optimizer=shared, d_optimizer=shared)


def _train_one_step(strategy, weights, data, use_gan):
    with strategy.scope():
        if use_gan:
            model = _spgan(adv_weight=1e-2)
            if weights is not None:
                model.set_weights(weights)
            model.compile(
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
            )
        else:
            model = ks.build_spn(**TINY_SPN)
            if weights is not None:
                model.set_weights(weights)
            model.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), loss="mse")
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(BATCH)  # global batch
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False).history
    return model.get_weights(), {k: v[0] for k, v in history.items()}


@pytest.mark.parametrize("use_gan", [False, True], ids=["spn", "spgan"])
def test_two_replicas_train_like_one_device(use_gan, mirrored_strategy):
    # Same global batch on 1 and on 2 replicas: with global-batch loss scaling
    # and synchronized BatchNorm the updates and the reported losses agree.
    data = _data(seed=1)
    reference = _spgan(adv_weight=1e-2) if use_gan else ks.build_spn(**TINY_SPN)
    weights = reference.get_weights()
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = mirrored_strategy
    assert two.num_replicas_in_sync == 2
    w1, logs1 = _train_one_step(one, weights, data, use_gan)
    w2, logs2 = _train_one_step(two, weights, data, use_gan)
    moved = max(np.abs(a - b).max() for a, b in zip(weights, w1))
    assert moved > 1e-4, "the step must change the weights"
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, atol=2e-5)
    for name in logs1:
        assert logs2[name] == pytest.approx(logs1[name], rel=1e-4, abs=1e-6), name
