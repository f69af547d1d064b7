"""Training losses on ab / 128 (the model's tanh output), chosen by ``ModelConfig.loss``; and the ab
error in Lab units that the training metric and the Evaluator's metrics share.

* ``mse``: the tutorial's loss. A regression to the mean: where a region could be blue or
  orange, the cheapest answer is their average, a desaturated brown ("everything turns brown").
* ``huber``: quadratic below ``HUBER_DELTA`` Lab units of error, linear above. Large errors
  (the wrong hue on a colorful object) pull less, so predictions move from the mean toward
  the median of plausible colors.
* ``rebalanced``: MSE with each pixel weighted by its true chroma, ``1 + |ab| / REBALANCE_CHROMA``.
  A cheap stand-in for Zhang et al.'s class rebalancing: the rare saturated pixels weigh
  more than the common near-gray ones, so predicting gray everywhere costs more.

Which one colors better is measured by ``benchmarks/quality.py`` (ab-MSE and colorfulness on
bsds500/val), not assumed. Every loss returns one value per example, as Keras expects.
"""
import tensorflow as tf
import tf_keras as keras

from . import preprocessing

HUBER_DELTA = 10.0  # Lab units
REBALANCE_CHROMA = 20.0  # Lab units: a pixel this saturated counts twice


def ab_squared_error(ab_true_scaled, ab_pred_scaled):
    """Squared ab error in Lab units per element, from ab / 128 tensors (the model's scale).

    Both are clipped as serving clips ab (``preprocessing.unscale_ab``), so every measure of a
    model's ab error (``network.AbMseLab`` while training, the Evaluator's ``AbMse``) sees what is
    served.
    """
    return tf.square(preprocessing.unscale_ab(ab_true_scaled) - preprocessing.unscale_ab(ab_pred_scaled))


def _per_example(values):
    return tf.reduce_mean(values, axis=list(range(1, len(values.shape))))


def huber(y_true, y_pred):
    """Huber on ab / 128, with the quadratic-to-linear switch at ``HUBER_DELTA`` Lab units."""
    error = tf.abs(tf.cast(y_true, y_pred.dtype) - y_pred)
    delta = HUBER_DELTA / preprocessing.AB_SCALE
    quadratic = tf.minimum(error, delta)
    return _per_example(0.5 * tf.square(quadratic) + delta * (error - quadratic))


def rebalanced_mse(y_true, y_pred):
    """Squared ab error weighted by ``1 + chroma / REBALANCE_CHROMA`` of the true color."""
    y_true = tf.cast(y_true, y_pred.dtype)
    chroma = tf.norm(y_true, axis=-1, keepdims=True) * preprocessing.AB_SCALE
    weight = 1.0 + chroma / REBALANCE_CHROMA
    return _per_example(weight * tf.square(y_true - y_pred))


def get_loss(name):
    """The Keras loss for ``name`` (one of ``LOSSES``)."""
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if name == "huber":
        return huber
    if name == "rebalanced":
        return rebalanced_mse
    raise ValueError(f"unknown loss {name!r}")
