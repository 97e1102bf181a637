import re
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_spgan as ks
from tests.conftest import TINY_SPN

FULL_SPN_PARAMS = 7_859_393


@pytest.mark.parametrize("scales", ks.ABLATION_SCALES)
@pytest.mark.parametrize("size", [(16, 16), (12, 24), (32, 8)])
def test_output_shape_for_every_ablation(scales, size):
    spn = ks.build_spn(scales, **TINY_SPN)
    assert spn.num_frames == max(scales)
    frames = np.random.rand(2, max(scales), *size, 1).astype(np.float32)
    assert spn(frames).shape == (2, *size, 1)


def _path_features(spn):
    names = [f"pyramid_s{s}" for s in spn.scales]
    model = keras.Model(spn.input, [spn.get_layer(n).output for n in names])
    return lambda x: dict(zip(spn.scales, (np.asarray(f) for f in model(x))))


@pytest.mark.parametrize(
    "scales, changed_frame, blind_paths",
    [
        ((1, 3, 5), 0, (1, 3)),  # frame 1 of 5: only the 5-frame path sees it
        ((1, 3, 5), 4, (1, 3)),
        ((1, 3, 5), 1, (1,)),  # frame 2 of 5: the 3- and 5-frame paths
        ((1, 3, 5), 2, ()),  # the centre frame: every path
        ((1, 3, 5, 7), 0, (1, 3, 5)),
        ((3, 5), 0, (3,)),
    ],
)
def test_temporal_receptive_field_of_each_path(scales, changed_frame, blind_paths):
    spn = ks.build_spn(scales, **TINY_SPN)
    features = _path_features(spn)
    frames = np.random.rand(1, spn.num_frames, 16, 16, 1).astype(np.float32)
    changed = frames.copy()
    changed[:, changed_frame] = np.random.rand(16, 16, 1)
    before, after = features(frames), features(changed)
    for scale in scales:
        difference = np.abs(before[scale] - after[scale]).max()
        if scale in blind_paths:
            assert difference == 0.0, f"path {scale} must not see frame {changed_frame}"
        else:
            assert difference > 0.0, f"path {scale} must see frame {changed_frame}"
    # ...and what a path sees reaches the output.
    assert np.abs(np.asarray(spn(frames)) - np.asarray(spn(changed))).max() > 0


def test_paper_layout_and_parameter_count():
    spn = ks.build_spn()
    assert spn.scales == (1, 3, 5) and spn.num_frames == 5
    assert spn.get_layer("pyramid_s1_conv2d").filters == 16
    assert spn.get_layer("pyramid_s3_conv3d").kernel_size == (3, 3, 3)
    assert spn.get_layer("pyramid_s5_conv3d").kernel_size == (5, 3, 3)
    assert spn.get_layer("fusion_conv").filters == 64
    assert [spn.get_layer(f"down{i}_conv").filters for i in (1, 2)] == [128, 256]
    assert sum(layer.name.endswith("_add") and layer.name.startswith("res") for layer in spn.layers) == 6
    assert [spn.get_layer(f"up{i}_deconv").filters for i in (1, 2)] == [128, 64]
    assert spn.get_layer("head_conv").activation.__name__ == "tanh"
    assert spn.count_params() == FULL_SPN_PARAMS


def test_readme_states_the_parameter_count():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert re.search(rf"\b{FULL_SPN_PARAMS:,}\b", readme), "README must state the full SPN's parameter count"


def test_weights_are_initialised_from_n_0_001():
    spn = ks.build_spn()
    kernel = np.asarray(spn.get_layer("res1_a_conv").kernel)  # 3*3*256*256 weights
    assert abs(kernel.mean()) < 1e-3
    assert kernel.std() == pytest.approx(0.01, rel=0.02)


def test_fresh_spn_is_close_to_identity_on_the_centre_frame():
    # Global residual + small init: an untrained SPN returns roughly the centre Y.
    spn = ks.build_spn(**TINY_SPN)
    frames = np.random.rand(2, 5, 16, 16, 1).astype(np.float32)
    assert np.abs(np.asarray(spn(frames)) - frames[:, 2]).max() < 0.05


def test_tiny_spn_overfits_a_fixed_pair():
    rng = np.random.default_rng(0)
    texture = rng.random((8, 8)).astype(np.float32)
    sharp = np.kron(texture, np.ones((4, 4), np.float32))  # 32 x 32 blocks: strong edges
    shifted = np.stack([np.roll(sharp, s, axis=1) for s in range(-2, 3)])
    kernel = np.ones(5, np.float32) / 5  # horizontal motion blur
    blurry = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 2, shifted)
    x = np.repeat(blurry[None, ..., None], 2, axis=0)
    y = np.repeat(sharp[None, ..., None], 2, axis=0)
    spn = ks.build_spn(**TINY_SPN)
    spn.compile(keras.optimizers.Adam(1e-3), loss="mse")
    before = spn.evaluate(x, y, verbose=0)
    history = spn.fit(x, y, epochs=100, verbose=0).history["loss"]
    after = spn.evaluate(x, y, verbose=0)
    assert history[0] / history[-1] > 10
    assert before / after > 10, "the inference-mode (BN moving statistics) loss must fall too"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scales=(1, 2)), "odd"),
        (dict(scales=()), "odd"),
        (dict(scales=(3, 3)), "distinct"),
        (dict(scales="abc"), "scales"),
        (dict(pyramid_filters=0), "pyramid_filters"),
        (dict(fusion_filters=2.5), "fusion_filters"),
        (dict(num_res_blocks=-1), "num_res_blocks"),
        (dict(kernel_size=4), "kernel_size"),
        (dict(init_stddev=0), "init_stddev"),
        (dict(bn_momentum=1.0), "bn_momentum"),
        (dict(frame_size=(30, 32)), "frame_size"),
        (dict(upsampling="deconv"), "upsampling"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ks.build_spn(**kwargs)


def test_fixed_frame_size():
    spn = ks.build_spn(frame_size=(16, 24), **TINY_SPN)
    assert spn.input.shape == (None, 5, 16, 24, 1)
    assert spn(np.zeros((1, 5, 16, 24, 1), np.float32)).shape == (1, 16, 24, 1)


@pytest.mark.parametrize("scales", ks.ABLATION_SCALES)
def test_folded_network_computes_the_same_function_without_conv3d(scales):
    from keras_spgan.archs.spn import fold_temporal_convs

    # Large weights so that every path, Conv3D ones included, moves the output.
    spn = ks.build_spn(scales, **TINY_SPN, init_stddev=0.2)
    folded = fold_temporal_convs(spn)
    assert not [layer for layer in folded.layers if isinstance(layer, keras.layers.Conv3D)]
    frames = np.random.rand(2, spn.num_frames, 12, 20, 1).astype(np.float32)
    expected = np.asarray(spn(frames))
    assert np.abs(expected - frames[:, spn.num_frames // 2]).max() > 0.1  # the network does something
    np.testing.assert_allclose(np.asarray(folded(frames)), expected, atol=2e-5)
    # A copy: training the SPN afterwards does not change the folded model.
    spn.get_layer("head_conv").bias.assign([1.0])
    np.testing.assert_allclose(np.asarray(folded(frames)), expected, atol=2e-5)


def _parity_spread(image):
    """Largest difference between the means of the four (row, column) parity classes."""
    means = [image[r::2, c::2].mean() for r in (0, 1) for c in (0, 1)]
    return max(means) - min(means)


def test_resize_upsampling_draws_no_checkerboard_on_a_flat_frame():
    """The paper's stride-2 3x3 ConvTranspose gives the four output parities different numbers
    of taps: a periodic pattern over a flat frame. Bilinear resize + conv has none."""
    flat = np.full((1, 5, 32, 32, 1), 0.7, np.float32)
    spreads = {}
    for upsampling in ("transpose", "resize"):
        spn = ks.build_spn(**TINY_SPN, init_stddev=0.2, upsampling=upsampling)
        out = np.asarray(spn(flat))[0, 8:-8, 8:-8, 0]  # away from the zero-padded borders
        spreads[upsampling] = _parity_spread(out)
        assert spn.get_config()["upsampling"] == upsampling
    assert spreads["transpose"] > 1e-3 and spreads["resize"] < 1e-6, spreads


def test_resize_spn_round_trips_and_folds(tmp_path):
    from keras_spgan.archs.spn import fold_temporal_convs

    spn = ks.build_spn(**TINY_SPN, init_stddev=0.2, upsampling="resize")
    assert {"up1_resize", "up1_conv", "up2_resize", "up2_conv"} <= {layer.name for layer in spn.layers}
    frames = np.random.default_rng(0).random((1, 5, 16, 24, 1)).astype(np.float32)
    spn.save(tmp_path / "resize.keras")
    loaded = keras.saving.load_model(tmp_path / "resize.keras")
    assert loaded.upsampling == "resize"
    np.testing.assert_allclose(np.asarray(loaded(frames)), np.asarray(spn(frames)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(fold_temporal_convs(spn)(frames)), np.asarray(spn(frames)), atol=1e-4)
    config = ks.build_spn(**TINY_SPN).get_config()
    del config["upsampling"]  # a preset saved before the option: the paper's ConvTranspose
    assert ks.SPN.from_config(config).upsampling == "transpose"


def test_transfer_weights_maps_a_conv_transpose_to_the_resize_conv_of_equal_mean_response():
    from keras_spgan.archs.spn import transfer_weights

    source = ks.build_spn(**TINY_SPN, init_stddev=0.2)
    target = transfer_weights(source, ks.build_spn(**TINY_SPN, upsampling="resize"))
    for name in ("fusion_conv", "res1_a_conv", "up1_bn", "head_conv"):  # the shared layers: copied
        for a, b in zip(source.get_layer(name).get_weights(), target.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    # One up-sampling layer alone on a flat input: the resize conv gives everywhere the mean
    # of what the ConvTranspose gives over its four parities.
    flat = np.full((1, 8, 8, 16), 0.3, np.float32)
    deconv, conv = source.get_layer("up2_deconv"), target.get_layer("up2_conv")
    transposed = np.asarray(deconv(flat))[0, 4:-4, 4:-4]
    resized = np.asarray(conv(keras.layers.UpSampling2D(2, interpolation="nearest")(flat)))[0, 4:-4, 4:-4]
    np.testing.assert_allclose(resized.mean((0, 1)), transposed.mean((0, 1)), rtol=1e-4, atol=1e-6)
    assert resized.std((0, 1)).max() < 1e-6 < transposed.std((0, 1)).max()
    back = transfer_weights(target, ks.build_spn(**TINY_SPN))  # and back again, exactly
    np.testing.assert_allclose(back.get_layer("up2_deconv").kernel, deconv.kernel, rtol=1e-6)
    with pytest.raises(ValueError, match="num_res_blocks"):
        transfer_weights(source, ks.build_spn(pyramid_filters=4, fusion_filters=8, num_res_blocks=2))
