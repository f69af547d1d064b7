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
* ``classification``: Zhang et al. ("Colorful Image Colorization", ECCV 2016): the model predicts a
  probability for each of ``ab_bins()`` (the in-gamut cells of a 10-unit ab grid) and is trained with
  cross-entropy against the true color soft-encoded on its ``SOFT_NEIGHBOURS`` nearest bins. A
  distribution keeps "blue or orange" as two modes instead of averaging them to brown; the network turns
  it into one color with the annealed mean (``network.AnnealedMean``). Its head predicts at half the
  model's size, so the labels are averaged 2x2 to meet it.

Which one colors better is measured by ``benchmarks/quality.py`` (ab-MSE and colorfulness on
bsds500/val), not assumed. Every loss returns one value per example, as Keras expects.
"""
import functools

import numpy as np
import tensorflow as tf
import tf_keras as keras

from . import lab, preprocessing

HUBER_DELTA = 10.0  # Lab units
REBALANCE_CHROMA = 20.0  # Lab units: a pixel this saturated counts twice
BIN_STEP = 10.0  # Lab units between ab bin centres (Zhang et al.'s grid)
SOFT_NEIGHBOURS = 5  # bins a true color is spread over
SOFT_SIGMA = 5.0  # Lab units: the Gaussian weighting of those bins by distance
REBALANCE_MIX = 0.5  # Zhang et al.'s lambda: the rebalancing prior is half the photos', half uniform


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


@functools.lru_cache(maxsize=None)
def ab_bins():
    """The ab bin centres ([Q, 2] float32, Lab units): the cells of a ``BIN_STEP`` grid that some sRGB color falls
    in (64 levels per channel): 261 bins (Zhang et al. count 313 on their grid). Colors outside sRGB get none."""
    levels = np.linspace(0.0, 1.0, 64, dtype=np.float32)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 1, 3)
    ab = lab.rgb_to_lab(tf.constant(rgb)).numpy().reshape(-1, 3)[:, 1:]
    cells = np.unique(np.round(ab / BIN_STEP).astype(np.int64), axis=0)
    return (cells * BIN_STEP).astype(np.float32)


NEIGHBOURHOOD = 2  # grid cells searched each side of a color's own cell: 5 x 5 candidates, all bins within 15 units


@functools.lru_cache(maxsize=None)
def _bin_grid():
    """``ab_bins`` as a lookup table over their grid, padded by ``NEIGHBOURHOOD`` cells: (table [rows, cols] int32,
    bin index or -1 where the cell is no bin; the grid coordinate of its [0, 0] cell)."""
    cells = np.round(ab_bins() / BIN_STEP).astype(np.int64)
    origin = cells.min(axis=0) - NEIGHBOURHOOD
    table = np.full(cells.max(axis=0) - origin + NEIGHBOURHOOD + 1, -1, np.int32)
    table[tuple((cells - origin).T)] = np.arange(len(cells))
    return table, origin


def _nearest_bins(y_true, half_size_shape, count):
    """The true ab / 128 ([batch, 2h, 2w, 2] or flattened) averaged 2x2 to the head's [h, w], and each pixel's
    ``count`` nearest bins: (negative squared distances, indices), [pixels, count] each.

    The bins are cells of a regular grid, so a color's nearest bins are among the ``(2 NEIGHBOURHOOD + 1)^2``
    cells around its own: 25 distances per pixel instead of one per bin (261), looked up in ``_bin_grid``.
    Cells that are no bin get a distance no soft weight survives (exp(-10^7)); a bin beyond the neighbourhood
    (15+ units away) is never among the nearest of an sRGB color."""
    ab = tf.reshape(tf.cast(y_true, tf.float32), [half_size_shape[0], 2 * half_size_shape[1], 2 * half_size_shape[2], 2])
    ab = tf.reshape(tf.nn.avg_pool2d(ab, 2, 2, "VALID") * preprocessing.AB_SCALE, [-1, 1, 2])
    table, origin = _bin_grid()
    offsets = np.stack(np.meshgrid(*[np.arange(-NEIGHBOURHOOD, NEIGHBOURHOOD + 1)] * 2, indexing="ij"), -1).reshape(-1, 2)
    own = tf.clip_by_value(tf.cast(tf.round(ab / BIN_STEP), tf.int32) - origin, NEIGHBOURHOOD,
                           np.array(table.shape, np.int32) - NEIGHBOURHOOD - 1)
    candidates = own + offsets.astype(np.int32)  # [pixels, 25, 2] table coordinates
    bins = tf.gather_nd(tf.constant(table), candidates)
    distance = tf.reduce_sum(tf.square(ab - tf.cast(candidates + origin, tf.float32) * BIN_STEP), axis=-1)
    negative_distance, chosen = tf.math.top_k(tf.where(bins >= 0, -distance, -1e9), count)
    return negative_distance, tf.maximum(tf.gather(bins, chosen, batch_dims=1), 0)


def bin_counts(y_true):
    """How many pixels of the true ab / 128 ([batch, h, w, 2], h and w even) fall nearest to each bin, at the
    head's half size: [Q] float64. The photos' color prior for ``rebalancing_weights``."""
    shape = tf.shape(y_true)
    _, nearest = _nearest_bins(y_true, [shape[0], shape[1] // 2, shape[2] // 2], 1)
    return np.bincount(nearest.numpy().ravel(), minlength=len(ab_bins())).astype(np.float64)


def rebalancing_weights(counts, mix=REBALANCE_MIX):
    """Zhang et al.'s class rebalancing: per bin, 1 / ((1 - mix) * prior + mix / Q), scaled so that the prior's
    expected weight is 1, where the prior is ``counts`` smoothed by a Gaussian of ``SOFT_SIGMA`` over the bins.
    Near-gray bins hold most pixels of most photos: unweighted, the cross-entropy is lowest for a model that
    keeps near gray wherever it is unsure, and saturated colors are never worth predicting."""
    centres = ab_bins()
    kernel = np.exp(-np.sum(np.square(centres[:, None] - centres[None]), axis=-1) / (2.0 * SOFT_SIGMA ** 2))
    prior = kernel @ (np.asarray(counts, np.float64) / max(np.sum(counts), 1.0))
    prior /= prior.sum()
    weights = 1.0 / ((1.0 - mix) * prior + mix / len(centres))
    return (weights / np.sum(prior * weights)).astype(np.float32)


class BinClassification(keras.losses.Loss):
    """Cross-entropy of the bin logits ([batch, h, w, Q]) against the true ab / 128 ([batch, 2h, 2w, 2] or
    flattened), soft-encoded on its ``SOFT_NEIGHBOURS`` nearest bins with Gaussian weights; each pixel weighted
    by its nearest bin's ``weights`` (``rebalancing_weights``; none: 1)."""

    def __init__(self, weights=None, name="bin_classification"):
        super().__init__(name=name)
        self.weights = None if weights is None else np.asarray(weights, np.float32)

    def call(self, y_true, logits):
        shape = tf.shape(logits)
        negative_distance, nearest = _nearest_bins(y_true, shape, SOFT_NEIGHBOURS)
        soft = tf.nn.softmax(negative_distance / (2.0 * SOFT_SIGMA ** 2), axis=-1)  # exp(-d^2 / 2 sigma^2), summing to 1
        log_probabilities = tf.nn.log_softmax(tf.reshape(tf.cast(logits, tf.float32), [-1, len(ab_bins())]))
        cross_entropy = -tf.reduce_sum(soft * tf.gather(log_probabilities, nearest, batch_dims=1), axis=-1)
        if self.weights is not None:
            cross_entropy *= tf.gather(tf.constant(self.weights), nearest[:, 0])
        return _per_example(tf.reshape(cross_entropy, [shape[0], -1]))


def get_loss(name, bin_weights=None):
    """The Keras loss for ``name`` (one of ``LOSSES``); ``bin_weights`` rebalances ``classification``."""
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if name == "huber":
        return huber
    if name == "rebalanced":
        return rebalanced_mse
    if name == "classification":
        return BinClassification(bin_weights)
    raise ValueError(f"unknown loss {name!r}")
