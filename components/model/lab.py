"""sRGB <-> CIE Lab in TensorFlow ops, matching scikit-image's ``rgb2lab``/``lab2rgb`` (D65, 2 degrees).

Transform (training data), the serving signatures and the quality tools all call these
functions, so the color space a model learns in is exactly the one it is served in.
Inputs and outputs are float32 tensors whose last axis holds the three channels; any
leading shape works. RGB is in [0, 1]; L in [0, 100], a and b roughly in [-128, 127].
"""
import numpy as np
import tensorflow as tf

# sRGB (linear) -> XYZ, and the D65 white point, as scikit-image defines them.
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_RGB_FROM_XYZ = tuple(map(tuple, np.linalg.inv(np.array(_XYZ_FROM_RGB))))
_D65_WHITE = (0.95047, 1.0, 1.08883)
_EPSILON = 0.008856  # (6/29)^3: below it the cube root is replaced by a line
_KAPPA = 7.787       # slope of that line


def _matmul_channels(pixels, matrix):
    """Applies a 3x3 matrix to the last axis: out[..., i] = sum_j matrix[i][j] * pixels[..., j]."""
    return tf.tensordot(pixels, tf.constant(matrix, tf.float32), axes=[[-1], [1]])


def _power(base, exponent):
    """``base ** exponent`` for a positive ``base``, as exp(exponent * log(base)).

    TensorFlow's CPU Pow kernel computes one element at a time, while Exp and Log are vectorized:
    on a full-resolution photo this is ~7x faster (``benchmarks/serve_latency.py``), and equal to
    Pow within float32 rounding (~1e-6 relative).
    """
    return tf.exp(exponent * tf.math.log(base))


def _linear_from_srgb(rgb):
    """sRGB in [0, 1] -> linear RGB (the sRGB transfer curve, inverted)."""
    return tf.where(rgb > 0.04045, _power((rgb + 0.055) / 1.055, 2.4), rgb / 12.92)


def _lab_f(t):
    """CIE Lab's f: the cube root above ``_EPSILON``, a line below it."""
    return tf.where(t > _EPSILON, _power(tf.maximum(t, _EPSILON), 1.0 / 3.0), _KAPPA * t + 16.0 / 116.0)


def _lightness(y, fy):
    """L from relative luminance Y (the white's Y is 1) and its ``_lab_f``."""
    return tf.where(y > _EPSILON, 116.0 * fy - 16.0, 903.3 * y)


def rgb_to_lab(rgb):
    """sRGB in [0, 1] -> Lab."""
    rgb = tf.convert_to_tensor(rgb, tf.float32)
    xyz = _matmul_channels(_linear_from_srgb(rgb), _XYZ_FROM_RGB) / tf.constant(_D65_WHITE)
    fx, fy, fz = tf.unstack(_lab_f(xyz), axis=-1)
    return tf.stack([_lightness(xyz[..., 1], fy), 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lightness_of_srgb8(rgb8):
    """L of 8-bit sRGB pixels (uint8 [..., 3]): ``rgb_to_lab(rgb8 / 255)[..., 0]`` at a fraction of its cost.

    Serving needs only the L of a full-resolution photo (ab comes from the model). Y is a sum of
    one term per channel, each a function of that channel's 8-bit value: three 256-entry tables
    replace the transfer curve and the matrix, and one cube root per pixel is left.
    """
    levels = tf.image.convert_image_dtype(tf.cast(tf.range(256), tf.uint8), tf.float32)
    contributions = _linear_from_srgb(levels)[:, None] * tf.constant(_XYZ_FROM_RGB[1])  # [256, 3]: Y per level
    indices = tf.cast(rgb8, tf.int32)
    y = sum(tf.gather(contributions[:, channel], indices[..., channel]) for channel in range(3))
    return _lightness(y, _lab_f(y))[..., None]


def lab_to_rgb(lab):
    """Lab -> sRGB, clipped to [0, 1] (out-of-gamut colors are clipped, as scikit-image does)."""
    lab = tf.convert_to_tensor(lab, tf.float32)
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = tf.maximum(fy - b / 200.0, 0.0)
    f = tf.stack([fx, fy, fz], axis=-1)
    xyz = tf.where(f > 0.2068966, f * f * f, (f - 16.0 / 116.0) / _KAPPA) * tf.constant(_D65_WHITE)
    linear = _matmul_channels(xyz, _RGB_FROM_XYZ)
    rgb = tf.where(linear > 0.0031308, 1.055 * _power(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
                   12.92 * linear)
    return tf.clip_by_value(rgb, 0.0, 1.0)
