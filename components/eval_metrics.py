"""Keras metrics the Evaluator (TFMA) computes on the ``evaluate`` signature.

Labels are Transform's ``ab`` (ab / 128, [batch, size * size * 2]); predictions are the
``evaluate`` signature's ``lab`` output: per pixel the model's input L (scaled to [-1, 1])
and its predicted ab / 128, [batch, size * size * 3]. Everything is measured at the model's
working size.

* ``AbMse``: mean squared ab error in Lab units.
* ``AbMseVsGray``: that error divided by the grayscale baseline's (predicting ab = 0, whose
  error is mean(ab^2) over the same photos, measured in the same pass, never a constant).
  Below 1 means the model beats gray: the Evaluator's first blessing criterion.
* ``Psnr``: mean over photos of the PSNR (dB, RGB in [0, 1]) of L + predicted ab -> RGB
  against the original photo (L + true ab -> RGB).
* ``GrayPsnr``: the same for the grayscale baseline (L + ab = 0), for comparison.
"""
import tensorflow as tf
import tf_keras as keras

from colornet.components import lab, preprocessing

_MIN_MSE = 1e-10  # caps a perfect photo's PSNR at 100 dB instead of infinity


def _lab_parts(y_true, y_pred):
    """(L in [0, 100] [batch, pixels, 1], true ab, predicted ab clipped as serving does), Lab units."""
    batch = tf.shape(y_pred)[0]
    prediction = tf.reshape(tf.cast(y_pred, tf.float32), [batch, -1, 3])
    lightness = (prediction[..., :1] + 1.0) * 50.0
    ab_pred = tf.clip_by_value(prediction[..., 1:] * preprocessing.AB_SCALE, -128.0, 127.0)
    ab_true = tf.reshape(tf.cast(y_true, tf.float32), [batch, -1, 2]) * preprocessing.AB_SCALE
    return lightness, ab_true, ab_pred


class AbMse(keras.metrics.Metric):
    """Mean squared ab error in Lab units over every pixel of every photo."""

    def __init__(self, name="ab_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.squared_error = self.add_weight("squared_error", initializer="zeros", dtype=tf.float64)
        self.gray_squared_error = self.add_weight("gray_squared_error", initializer="zeros", dtype=tf.float64)
        self.count = self.add_weight("count", initializer="zeros", dtype=tf.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        _, ab_true, ab_pred = _lab_parts(y_true, y_pred)
        ab_true, ab_pred = tf.cast(ab_true, tf.float64), tf.cast(ab_pred, tf.float64)
        self.squared_error.assign_add(tf.reduce_sum(tf.square(ab_true - ab_pred)))
        self.gray_squared_error.assign_add(tf.reduce_sum(tf.square(ab_true)))
        self.count.assign_add(tf.cast(tf.size(ab_true), tf.float64))

    def result(self):
        return tf.math.divide_no_nan(self.squared_error, self.count)


class AbMseVsGray(AbMse):
    """Model ab-MSE / grayscale-baseline ab-MSE on the same photos (< 1: better than gray)."""

    def __init__(self, name="ab_mse_vs_gray", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return tf.math.divide_no_nan(self.squared_error, self.gray_squared_error)


def photo_psnr(rgb_true, rgb_pred):
    """PSNR in dB of each photo ([batch, pixels, 3], RGB in [0, 1]) -> [batch]."""
    mse = tf.reduce_mean(tf.square(tf.cast(rgb_true, tf.float64) - tf.cast(rgb_pred, tf.float64)), axis=[1, 2])
    return -10.0 * tf.math.log(tf.maximum(mse, _MIN_MSE)) / tf.math.log(tf.constant(10.0, tf.float64))


class Psnr(keras.metrics.Metric):
    """Mean per-photo PSNR of L + predicted ab, as RGB, against the original photo."""

    def __init__(self, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_weight("total", initializer="zeros", dtype=tf.float64)
        self.photos = self.add_weight("photos", initializer="zeros", dtype=tf.float64)

    def _predicted_ab(self, ab_pred):
        return ab_pred

    def update_state(self, y_true, y_pred, sample_weight=None):
        lightness, ab_true, ab_pred = _lab_parts(y_true, y_pred)
        original = lab.lab_to_rgb(tf.concat([lightness, ab_true], axis=-1))
        colorized = lab.lab_to_rgb(tf.concat([lightness, self._predicted_ab(ab_pred)], axis=-1))
        psnr = photo_psnr(original, colorized)
        self.total.assign_add(tf.reduce_sum(psnr))
        self.photos.assign_add(tf.cast(tf.size(psnr), tf.float64))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.photos)


class GrayPsnr(Psnr):
    """``Psnr`` of the grayscale baseline (ab = 0) on the same photos."""

    def __init__(self, name="gray_psnr", **kwargs):
        super().__init__(name=name, **kwargs)

    def _predicted_ab(self, ab_pred):
        return tf.zeros_like(ab_pred)
