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


def rgb_to_lab(rgb):
    """sRGB in [0, 1] -> Lab."""
    rgb = tf.convert_to_tensor(rgb, tf.float32)
    linear = tf.where(rgb > 0.04045, tf.pow((rgb + 0.055) / 1.055, 2.4), rgb / 12.92)
    xyz = _matmul_channels(linear, _XYZ_FROM_RGB) / tf.constant(_D65_WHITE)
    f = tf.where(xyz > _EPSILON, tf.pow(tf.maximum(xyz, _EPSILON), 1.0 / 3.0), _KAPPA * xyz + 16.0 / 116.0)
    fx, fy, fz = tf.unstack(f, axis=-1)
    y = xyz[..., 1]
    lightness = tf.where(y > _EPSILON, 116.0 * fy - 16.0, 903.3 * y)
    return tf.stack([lightness, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab):
    """Lab -> sRGB, clipped to [0, 1] (out-of-gamut colors are clipped, as scikit-image does)."""
    lab = tf.convert_to_tensor(lab, tf.float32)
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = tf.maximum(fy - b / 200.0, 0.0)
    f = tf.stack([fx, fy, fz], axis=-1)
    xyz = tf.where(f > 0.2068966, tf.pow(f, 3.0), (f - 16.0 / 116.0) / _KAPPA) * tf.constant(_D65_WHITE)
    linear = _matmul_channels(xyz, _RGB_FROM_XYZ)
    rgb = tf.where(linear > 0.0031308, 1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055, 12.92 * linear)
    return tf.clip_by_value(rgb, 0.0, 1.0)
