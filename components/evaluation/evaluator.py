"""The TFX Evaluator's side of colornet: the TFMA metrics and when a model is blessed.

Metrics are Keras metrics that TFMA computes on the ``evaluate`` signature. Labels are
Transform's ``ab`` (ab / 128, [batch, size * size * 2]); predictions are the signature's ``lab``
output: per pixel the model's input L (scaled to [-1, 1]) and its predicted ab / 128,
[batch, size * size * 3]. Everything is measured at the model's working size, with ab clipped as
serving clips it.

* ``AbMse``: mean squared ab error in Lab units (``losses.ab_squared_error``, as in training).
* ``AbMseVsGray``: that error divided by the grayscale baseline's (predicting ab = 0, whose
  error is mean(ab^2) over the same photos, measured in the same pass). Below 1: beats gray.
* ``Psnr``: mean over photos of the PSNR (dB, RGB in [0, 1]) of L + predicted ab -> RGB
  against the original photo (L + true ab -> RGB); ``GrayPsnr``: the same for ab = 0.
"""
import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
import tf_keras as keras

from ...pipeline.config import BlessingConfig
from ...schemas import features
from ...schemas import serving_contract as contract
from ..model import lab, losses, preprocessing

_MIN_MSE = 1e-10  # caps a perfect photo's PSNR at 100 dB instead of infinity


def eval_config(blessing=BlessingConfig()):
    """TFMA: ab-MSE, its ratio to the grayscale baseline and PSNR, with the blessing thresholds.

    Blessed only if (a) ab-MSE / gray ab-MSE is strictly below ``blessing.max_ab_mse_vs_gray`` and
    (b) ab-MSE is not worse than the last blessed model's, re-measured on the same eval split, by
    more than ``blessing.regression_tolerance`` Lab units^2. TFX skips (b) when there is no blessed
    model yet. ``psnr`` and ``gray_psnr`` are reported, not thresholded.
    """
    # TFMA's upper bound is inclusive; "beats gray" is strict (a model that predicts ab = 0 is gray).
    beats_gray = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        upper_bound={"value": float(np.nextafter(blessing.max_ab_mse_vs_gray, -np.inf))}))
    no_regression = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": blessing.regression_tolerance}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=contract.EVALUATE_SIGNATURE,
            preprocessing_function_names=[contract.TRANSFORM_SIGNATURE],
            label_key=features.AB,
            prediction_key=contract.EVAL_OUTPUT)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="AbMse", module=__name__, threshold=no_regression),
            tfma.MetricConfig(class_name="AbMseVsGray", module=__name__, threshold=beats_gray),
            tfma.MetricConfig(class_name="Psnr", module=__name__),
            tfma.MetricConfig(class_name="GrayPsnr", module=__name__),
        ])],
    )


def _scaled_parts(y_true, y_pred):
    """(L [batch, pixels, 1], true ab / 128, predicted ab / 128 [batch, pixels, 2]), the model's scales."""
    batch = tf.shape(y_pred)[0]
    prediction = tf.reshape(tf.cast(y_pred, tf.float32), [batch, -1, 3])
    ab_true = tf.reshape(tf.cast(y_true, tf.float32), [batch, -1, 2])
    return prediction[..., :1], ab_true, prediction[..., 1:]


class AbMse(keras.metrics.Metric):
    """Mean squared ab error in Lab units over every pixel of every photo."""

    def __init__(self, name="ab_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.squared_error = self.add_weight("squared_error", initializer="zeros", dtype=tf.float64)
        self.gray_squared_error = self.add_weight("gray_squared_error", initializer="zeros", dtype=tf.float64)
        self.count = self.add_weight("count", initializer="zeros", dtype=tf.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        _, ab_true, ab_pred = _scaled_parts(y_true, y_pred)
        squared = tf.cast(losses.ab_squared_error(ab_true, ab_pred), tf.float64)
        gray_squared = tf.cast(losses.ab_squared_error(ab_true, tf.zeros_like(ab_pred)), tf.float64)
        self.squared_error.assign_add(tf.reduce_sum(squared))
        self.gray_squared_error.assign_add(tf.reduce_sum(gray_squared))
        self.count.assign_add(tf.cast(tf.size(squared), tf.float64))

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
        lightness, ab_true, ab_pred = _scaled_parts(y_true, y_pred)
        original = lab.lab_to_rgb(preprocessing.lab_from_model(lightness, ab_true))
        colorized = lab.lab_to_rgb(preprocessing.lab_from_model(lightness, self._predicted_ab(ab_pred)))
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
