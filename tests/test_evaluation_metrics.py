"""components/quality/metrics.py: known values, and behaviour on real photos."""
import math

import numpy as np
import pytest
import skimage.color

from colornet.components.evaluation import metrics
from photo_fixtures import skimage_photo


@pytest.fixture(scope="module")
def coffee():
    return skimage_photo("coffee")


def test_identical_images_score_perfectly(coffee):
    scores = metrics.all_metrics(coffee, coffee.copy())
    assert scores["psnr"] == math.inf
    assert scores["ssim"] == pytest.approx(1.0)
    assert scores["ab_mse"] == 0.0
    assert scores["colorfulness"] == pytest.approx(metrics.colorfulness(coffee))


def test_uint8_and_float_inputs_agree(coffee):
    noisy = np.clip(coffee.astype(int) + np.random.default_rng(0).integers(-8, 9, coffee.shape), 0, 255).astype(np.uint8)
    from_uint8 = metrics.all_metrics(coffee, noisy)
    from_float = metrics.all_metrics(coffee / 255.0, noisy.astype(np.float32) / 255.0)
    for name in metrics.METRICS:
        assert from_float[name] == pytest.approx(from_uint8[name], rel=1e-4), name


def test_psnr_of_a_known_error():
    original = np.full((16, 16, 3), 0.5)
    candidate = original + 0.1  # MSE 0.01 on a [0, 1] range -> 20 dB
    assert metrics.psnr(original, candidate) == pytest.approx(20.0)


def test_gray_image_has_zero_colorfulness():
    gray = np.repeat(np.linspace(0, 255, 64 * 48, dtype=np.float64).reshape(64, 48, 1), 3, axis=-1)
    assert metrics.colorfulness(gray.round().astype(np.uint8)) == 0.0


def test_colorfulness_by_hand():
    # Half the pixels pure red (255, 0, 0), half black.
    # rg = R - G: 255 or 0 -> mean 127.5, variance 127.5^2.
    # yb = (R + G) / 2 - B: 127.5 or 0 -> mean 63.75, variance 63.75^2.
    # sigma = sqrt(127.5^2 + 63.75^2), mu = sqrt(127.5^2 + 63.75^2): C = 1.3 * 142.5478...
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, :, 0] = 255
    assert metrics.colorfulness(image) == pytest.approx(1.3 * math.hypot(127.5, 63.75))


def test_colorfulness_ranks_real_photos(coffee):
    assert metrics.colorfulness(metrics.gray_baseline(coffee)) < 1.0
    assert metrics.colorfulness(skimage_photo("astronaut")) > 20.0


def test_gray_baseline_keeps_lightness_and_drops_chroma(coffee):
    gray = metrics.gray_baseline(coffee)
    assert gray.dtype == np.uint8 and gray.shape == coffee.shape
    gray_lab, original_lab = skimage.color.rgb2lab(gray), skimage.color.rgb2lab(coffee)
    assert np.abs(gray_lab[..., 0] - original_lab[..., 0]).max() < 0.5  # uint8 rounding only
    assert np.abs(gray_lab[..., 1:]).max() < 1.0


def test_gray_baseline_ab_mse_is_the_mean_squared_chroma(coffee):
    mean_squared_chroma = np.mean(skimage.color.rgb2lab(coffee)[..., 1:] ** 2)
    assert metrics.ab_mse(coffee, metrics.gray_baseline(coffee)) == pytest.approx(mean_squared_chroma, rel=0.01)
    # Exactly so without the uint8 rounding of the baseline:
    exact_gray = skimage.color.lab2rgb(skimage.color.rgb2lab(coffee) * [1, 0, 0])
    assert metrics.ab_mse(coffee, exact_gray) == pytest.approx(mean_squared_chroma, rel=1e-3)


def test_gray_baseline_of_a_gray_photo_is_nearly_the_photo():
    gray_photo = np.repeat(skimage_photo("camera")[..., None], 3, axis=-1)
    baseline = metrics.gray_baseline(gray_photo)
    assert np.abs(baseline.astype(int) - gray_photo).max() <= 1
    assert metrics.psnr(gray_photo, baseline) > 50.0


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((4, 4, 4)), np.full((4, 4, 3), 2.0), np.zeros((4, 4, 3), int)])
def test_rejects_what_is_not_rgb(bad):
    with pytest.raises(ValueError):
        metrics.colorfulness(bad)


def test_rejects_images_of_different_sizes(coffee):
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(coffee, coffee[:-1])
