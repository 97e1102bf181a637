import numpy as np
import pytest

from keras_spgan import colour, metrics


def test_psnr_of_known_mse():
    a = np.zeros((4, 4, 1), np.float32)
    b = a.copy()
    b[0, 0, 0] = 0.1  # MSE = 0.01 / 16
    expected = 10 * np.log10(1.0 / (0.01 / 16))
    assert float(metrics.psnr(a, b)) == pytest.approx(expected, abs=1e-4)


def test_psnr_on_0_255_data_equals_unit_range():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (2, 8, 8, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 5, a.shape), 0, 255).astype(np.float32)
    p255 = np.asarray(metrics.psnr(a, b, space="rgb", data_range=255))
    p1 = np.asarray(metrics.psnr(a / 255, b / 255, space="rgb"))
    np.testing.assert_allclose(p255, p1, rtol=1e-5)
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(p255, 10 * np.log10(255**2 / mse), rtol=1e-5)


def test_psnr_y_space_uses_bt601_luma():
    rng = np.random.default_rng(2)
    a = rng.random((8, 8, 3)).astype(np.float32)
    b = rng.random((8, 8, 3)).astype(np.float32)
    ya, yb = np.asarray(colour.rgb_to_y(a)), np.asarray(colour.rgb_to_y(b))
    expected = 10 * np.log10(1 / ((ya - yb) ** 2).mean())
    assert float(metrics.psnr(a, b, space="y")) == pytest.approx(expected, rel=1e-5)


def test_border_crop_ignores_border_errors():
    a = np.full((1, 12, 12, 1), 0.5, np.float32)
    b = a.copy()
    b[:, :2] = 0.0  # errors only in the top 2 rows
    b[:, 5, 5] = 0.6  # and one inner pixel
    expected = 10 * np.log10(1 / (0.01 / 64))
    assert float(metrics.psnr(a, b, crop_border=2)[0]) == pytest.approx(expected, abs=1e-3)
    assert float(metrics.psnr(a, b)[0]) < expected - 10


def test_identical_images_have_infinite_psnr_and_unit_ssim():
    a = np.random.default_rng(3).random((16, 16, 1)).astype(np.float32)
    assert np.isinf(float(metrics.psnr(a, a)))
    assert float(metrics.ssim(a, a)) == pytest.approx(1.0, abs=1e-6)


def test_ssim_of_constant_images_is_the_luminance_term():
    # For constant images the contrast/structure term is 1 and SSIM reduces to
    # (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), C1 = (0.01 * L)^2.
    a = np.full((16, 16, 1), 0.5, np.float32)
    b = np.full((16, 16, 1), 0.6, np.float32)
    c1 = 0.01**2
    expected = (2 * 0.5 * 0.6 + c1) / (0.5**2 + 0.6**2 + c1)
    assert float(metrics.ssim(a, b)) == pytest.approx(expected, abs=1e-6)


def _reference_ssim(x, y):
    """Wang et al.'s SSIM written out: 11x11 Gaussian (sigma 1.5), 'valid' windows."""
    coords = np.arange(11) - 5
    g = np.exp(-(coords**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()

    def filt(img):
        h, w = img.shape
        out = np.empty((h - 10, w - 10))
        for i in range(h - 10):
            for j in range(w - 10):
                out[i, j] = (img[i : i + 11, j : j + 11] * window).sum()
        return out

    c1, c2 = 0.01**2, 0.03**2
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return ssim_map.mean()


def test_ssim_matches_a_direct_implementation():
    rng = np.random.default_rng(4)
    x = rng.random((24, 20)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    ours = float(metrics.ssim(x[..., None].astype(np.float32), y[..., None].astype(np.float32)))
    assert ours == pytest.approx(_reference_ssim(x, y), abs=1e-6)


def test_ssim_rgb_is_the_mean_over_channels():
    rng = np.random.default_rng(5)
    x = rng.random((16, 16, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
    per_channel = [_reference_ssim(x[..., c].astype(np.float64), y[..., c].astype(np.float64)) for c in range(3)]
    assert float(metrics.ssim(x, y, space="rgb")) == pytest.approx(np.mean(per_channel), abs=1e-6)
    batch = np.asarray(metrics.ssim(np.stack([x, y]), np.stack([y, y]), space="rgb"))
    assert batch.shape == (2,) and batch[1] == pytest.approx(1.0)


def test_bad_arguments_are_named():
    a = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="space"):
        metrics.psnr(a, a, space="lab")
    with pytest.raises(ValueError, match="3 channels"):
        metrics.psnr(a[..., :2], a[..., :2], space="rgb")
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(a, a[:8])
    with pytest.raises(ValueError, match="crop_border"):
        metrics.psnr(a, a, crop_border=-1)
    with pytest.raises(ValueError, match="11 x 11"):
        metrics.ssim(a[:8, :8], a[:8, :8])


def test_keras_metric_averages_clipped_predictions():
    metric = metrics.PSNR(space="y")
    a = np.full((2, 4, 4, 1), 0.5, np.float32)
    b = a.copy()
    b[0] = 0.6
    b[1] = 1.4  # clipped to 1.0
    metric.update_state(a, b)
    expected = np.mean([10 * np.log10(1 / 0.01), 10 * np.log10(1 / 0.25)])
    assert float(metric.result()) == pytest.approx(expected, abs=1e-4)
    assert metrics.PSNR.from_config(metric.get_config()).space == "y"
