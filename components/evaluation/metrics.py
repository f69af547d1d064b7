"""Per-photo colorization metrics, each also computed for the grayscale baseline.

Images are RGB arrays of shape [height, width, 3], either uint8 (0-255) or floats in [0, 1];
every function accepts both and converts with ``to_float_rgb``. Lab values come from
scikit-image (D65), which components/lab.py matches (tests/test_lab.py).

The grayscale baseline is what a model gets for free: the original's lightness with no
chroma (ab = 0). A colorizer is only useful where it beats that baseline.

- PSNR (dB, higher is better) and SSIM (higher, 1 = identical) compare RGB with the original.
- ab-MSE (Lab units squared, lower is better): mean over pixels and both chroma channels of
  the squared difference between the candidate's ab and the original's ab. For the gray
  baseline it equals mean(ab_original ** 2).
- Colorfulness (Hasler & Suesstrunk 2003) on 0-255 RGB: 0 for a gray image, ~15 "slightly
  colorful", ~60 "highly colorful", > 100 "extremely". Compare a candidate with the original's,
  not with zero: higher is not better past the original.
"""
import numpy as np
import skimage.color
import skimage.metrics

METRICS = ("psnr", "ssim", "ab_mse", "colorfulness")


def to_float_rgb(image) -> np.ndarray:
    """uint8 RGB -> float64 in [0, 1]; float RGB is checked to be in [0, 1] and returned as float64."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape [height, width, 3], got {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"expected uint8 or float RGB, got {image.dtype}")
    if image.min() < 0.0 or image.max() > 1.0:
        raise ValueError("float RGB must lie in [0, 1]")
    return image.astype(np.float64)


def to_uint8_rgb(image) -> np.ndarray:
    """Any accepted RGB image -> uint8 (rounded)."""
    return np.round(to_float_rgb(image) * 255.0).astype(np.uint8)


def gray_baseline(original) -> np.ndarray:
    """The original's lightness with ab = 0, back in RGB as uint8: the input a colorizer sees."""
    lab = skimage.color.rgb2lab(to_float_rgb(original))
    lab[..., 1:] = 0.0
    return to_uint8_rgb(skimage.color.lab2rgb(lab))


def psnr(original, candidate) -> float:
    """Peak signal-to-noise ratio in dB over RGB in [0, 1]; ``inf`` when the images are identical."""
    original, candidate = _same_shape(original, candidate)
    if np.array_equal(original, candidate):
        return float("inf")
    return float(skimage.metrics.peak_signal_noise_ratio(original, candidate, data_range=1.0))


def ssim(original, candidate) -> float:
    """Structural similarity over RGB in [0, 1] (scikit-image defaults: 7x7 window, channels averaged)."""
    original, candidate = _same_shape(original, candidate)
    return float(skimage.metrics.structural_similarity(original, candidate, data_range=1.0, channel_axis=-1))


def ab_mse(original, candidate) -> float:
    """Mean squared error between the candidate's and the original's a and b channels, in Lab units."""
    original, candidate = _same_shape(original, candidate)
    difference = skimage.color.rgb2lab(candidate)[..., 1:] - skimage.color.rgb2lab(original)[..., 1:]
    return float(np.mean(difference ** 2))


def colorfulness(image) -> float:
    """Hasler & Suesstrunk (2003): sigma_rgyb + 0.3 * mu_rgyb, on RGB scaled to 0-255.

    rg = R - G and yb = (R + G) / 2 - B are opponent channels; sigma_rgyb is the root of the
    summed variances, mu_rgyb the root of the summed squared means.
    """
    red, green, blue = np.moveaxis(to_float_rgb(image) * 255.0, -1, 0)
    rg = red - green
    yb = 0.5 * (red + green) - blue
    sigma = np.sqrt(rg.var() + yb.var())
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sigma + 0.3 * mean)


def all_metrics(original, candidate) -> dict[str, float]:
    """Every metric of ``candidate`` against ``original``, keyed as in ``METRICS``."""
    return {
        "psnr": psnr(original, candidate),
        "ssim": ssim(original, candidate),
        "ab_mse": ab_mse(original, candidate),
        "colorfulness": colorfulness(candidate),
    }


def _same_shape(original, candidate) -> tuple[np.ndarray, np.ndarray]:
    original, candidate = to_float_rgb(original), to_float_rgb(candidate)
    if original.shape != candidate.shape:
        raise ValueError(f"images differ in shape: {original.shape} vs {candidate.shape}")
    return original, candidate
