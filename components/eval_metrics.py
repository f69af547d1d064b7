"""Keras metrics the Evaluator (TFMA) computes on the ``evaluate`` signature's flattened ab.

Labels and predictions are ab / 128, shape [batch, size * size * 2].

* ``AbMse``: mean squared ab error in Lab units.
* ``AbMseVsGray``: that error divided by the grayscale baseline's (predicting ab = 0,
  whose error is mean(ab^2) over the same photos). Below 1 means the model beats gray; the
  baseline is measured on the eval split in the same pass, never a constant.
"""
import tensorflow as tf
import tf_keras as keras

from colornet.components import preprocessing


class AbMse(keras.metrics.Metric):
    """Mean squared ab error in Lab units over every pixel of every photo."""

    def __init__(self, name="ab_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.squared_error = self.add_weight("squared_error", initializer="zeros", dtype=tf.float64)
        self.gray_squared_error = self.add_weight("gray_squared_error", initializer="zeros", dtype=tf.float64)
        self.count = self.add_weight("count", initializer="zeros", dtype=tf.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(y_true, tf.float64) * preprocessing.AB_SCALE
        y_pred = tf.cast(y_pred, tf.float64) * preprocessing.AB_SCALE
        self.squared_error.assign_add(tf.reduce_sum(tf.square(y_true - y_pred)))
        self.gray_squared_error.assign_add(tf.reduce_sum(tf.square(y_true)))
        self.count.assign_add(tf.cast(tf.size(y_true), tf.float64))

    def result(self):
        return tf.math.divide_no_nan(self.squared_error, self.count)


class AbMseVsGray(AbMse):
    """Model ab-MSE / grayscale-baseline ab-MSE on the same photos (< 1: better than gray)."""

    def __init__(self, name="ab_mse_vs_gray", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return tf.math.divide_no_nan(self.squared_error, self.gray_squared_error)
