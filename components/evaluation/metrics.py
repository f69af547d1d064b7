"""Every measure of colorization quality, defined once, in TensorFlow ops.

The same definitions serve three places: the offline report (``report.py``: full-resolution photos
decoded from the served PNGs), the Trainer (TensorBoard, per epoch, at the model's size) and the
TFX Evaluator (TFMA, at the model's size, through the Keras metric classes below).

A model is judged beside two baselines that need no model at all:

* gray: the photo's lightness with ab = 0 (what the input already is);
* the best constant color: every pixel gets the mean (a, b) of the photos being evaluated. No
  constant does better on ab-MSE, and photos are warm on average, so a model that only learned a
  beige tint beats gray on every metric but not this baseline. ab-MSE below the constant's means
  the model explains color that varies with the content of the photo.

Per-photo measures (``[batch, height, width, 3]`` RGB in [0, 1] or Lab, float32; each returns [batch]):

* ``psnr`` (dB, higher is better; capped at 100 dB for identical photos) and ``ssim`` (1 = identical;
  TensorFlow's 11x11 Gaussian window) on RGB;
* ``ab_mse``: mean squared ab difference in Lab units;
* ``colorfulness`` (Hasler & Suesstrunk 2003, on 0-255 RGB): 0 for a gray photo, ~15 "slightly
  colorful", ~33 "moderately", ~60 "highly"; compare a candidate with the original's, not with 0;
* ``ab_spread``: how much chroma varies within the photo (the std of a and of b, averaged); a tint
  has none;
* ``false_color``: the fraction of pixels on a strong chroma edge with no lightness edge nearby,
  the mark of rainbow streaks (bands of green, magenta, blue over snow, water or rock). Photos have
  a few such pixels of their own (chroma bleeding, JPEG's subsampled chroma), so a candidate's rate
  is compared with its original's; gray and any constant color have none.

And one semantic measure (Zhang et al., ECCV 2016, "semantic interpretability"): an ImageNet
classifier (EfficientNet-Lite0, ``Classifier``) names the original's top-1 class, and a candidate
agrees if its own top-1 is the same (``top1``), or if the original's top-1 is among its top 5
(``top5``). Gray photos already agree often (the classifier is good on gray) and a tint scores as
gray does; color that explains the photo agrees more often.
"""
import weakref

import tensorflow as tf
import tf_keras as keras

from ..model import efficientnet_lite0, lab, losses, preprocessing

MAX_PSNR = 100.0  # dB: what identical photos score (instead of infinity)
# False color (calibrated on bsds500/val, see README "Quality"): a chroma edge of at least FALSE_COLOR_AB_EDGE Lab
# units per pixel that is over FALSE_COLOR_STEEPER times as steep as the steepest lightness edge within
# FALSE_COLOR_REACH pixels. Rates under FALSE_COLOR_FLOOR (of the pixels) are treated as that floor in ratios.
FALSE_COLOR_AB_EDGE = 6.0
FALSE_COLOR_STEEPER = 3.0
FALSE_COLOR_REACH = 2
FALSE_COLOR_FLOOR = 1e-3
CLASSIFIER_SIZE = 224  # Lite0's ImageNet resolution: every photo is resized (squashed) to it, whole
Z_95 = 1.959964  # the standard normal's 97.5th percentile: two-sided 95 % intervals
KL_EPSILON = 1e-7  # keeps log(p) finite where Lite0 gives a class (rounded) zero probability


def psnr(rgb_true, rgb_pred):
    """PSNR in dB of each photo of a batch, RGB in [0, 1]."""
    mse = tf.reduce_mean(tf.square(tf.cast(rgb_true, tf.float32) - tf.cast(rgb_pred, tf.float32)), axis=[1, 2, 3])
    return tf.minimum(-10.0 * tf.math.log(mse) / tf.math.log(10.0), MAX_PSNR)


def ssim(rgb_true, rgb_pred):
    """Structural similarity of each photo of a batch, RGB in [0, 1] (photos of at least 11x11 pixels)."""
    return tf.image.ssim(tf.cast(rgb_true, tf.float32), tf.cast(rgb_pred, tf.float32), max_val=1.0)


def ab_mse(lab_true, lab_pred):
    """Mean squared ab difference of each photo, in Lab units."""
    return tf.reduce_mean(tf.square(lab_true[..., 1:] - lab_pred[..., 1:]), axis=[1, 2, 3])


def colorfulness(rgb):
    """Hasler & Suesstrunk's colorfulness of each photo: sigma_rgyb + 0.3 * mu_rgyb on 0-255 RGB.

    rg = R - G and yb = (R + G) / 2 - B are opponent channels; sigma_rgyb is the root of their
    summed variances over the photo, mu_rgyb the root of their summed squared means.
    """
    red, green, blue = tf.unstack(tf.cast(rgb, tf.float32) * 255.0, axis=-1)
    rg, yb = red - green, 0.5 * (red + green) - blue
    sigma = tf.sqrt(tf.math.reduce_variance(rg, axis=[1, 2]) + tf.math.reduce_variance(yb, axis=[1, 2]))
    mean = tf.sqrt(tf.square(tf.reduce_mean(rg, axis=[1, 2])) + tf.square(tf.reduce_mean(yb, axis=[1, 2])))
    return sigma + 0.3 * mean


def ab_spread(lab_image):
    """Within-photo chroma spread: the standard deviations of a and of b over the photo, averaged."""
    return tf.reduce_mean(tf.math.reduce_std(lab_image[..., 1:], axis=[1, 2]), axis=-1)


def _gradient(channels):
    """Per-pixel gradient magnitude over all channels together (Sobel / 8: units per pixel): [batch, h, w]."""
    edges = tf.image.sobel_edges(channels) / 8.0
    return tf.sqrt(tf.reduce_sum(tf.square(edges), axis=[-2, -1]))


def false_color(lab_image):
    """Each photo's fraction of pixels on a strong chroma edge (>= ``FALSE_COLOR_AB_EDGE``) over
    ``FALSE_COLOR_STEEPER`` times as steep as any lightness edge within ``FALSE_COLOR_REACH`` pixels: color
    changing where the picture hardly does. Real chroma edges come with lightness edges (objects differ in
    both; bsds500/val: 0.02 % of the pixels at full size, 0.10 % at 64 px), rainbow streaks do not (a rainbow
    of period 24 px over those photos: 34 %). An edge between two saturated colors of nearly the same
    lightness (red on green) counts too, which is why a candidate is compared with its original's rate."""
    chroma_edge = _gradient(lab_image[..., 1:])
    window = 2 * FALSE_COLOR_REACH + 1
    lightness_edge = tf.nn.max_pool2d(_gradient(lab_image[..., :1])[..., None], window, 1, "SAME")[..., 0]
    unexplained = tf.logical_and(chroma_edge >= FALSE_COLOR_AB_EDGE, chroma_edge > FALSE_COLOR_STEEPER * lightness_edge)
    return tf.reduce_mean(tf.cast(unexplained, tf.float32), axis=[1, 2])


def false_color_ratio(candidate_rate, original_rate):
    """A false-color rate over the originals' own, both floored at ``FALSE_COLOR_FLOOR`` (fewer such pixels than
    that are invisible, and a ratio to a near-zero rate would be noise)."""
    return tf.maximum(candidate_rate, FALSE_COLOR_FLOOR) / tf.maximum(original_rate, FALSE_COLOR_FLOOR)


class Classifier:
    """EfficientNet-Lite0's ImageNet classes of photos, for the semantic measure.

    A plain object on purpose: a Keras metric holding it does not track Lite0's variables as its own
    (TFMA merges and stores a metric's variables). Built once per holder, lazily, outside any
    ``tf.function`` being traced (``init_scope``), since TFMA constructs metrics just to read their names.
    """

    def __init__(self, weights="imagenet"):
        self._weights = weights
        self._lite0 = None
        self._models = {}  # Lite0 up to each output asked for: features at stride 16 need not run its head

    # Called from metrics' update_state, which Keras runs through AutoGraph: converting Lite0's call each
    # batch took seconds (measured 9 s for 3 photos, against 0.2 s called plainly).
    @tf.autograph.experimental.do_not_convert
    def output(self, rgb, name):
        """RGB [batch, h, w, 3] in [0, 1] -> Lite0's output ``name`` (``efficientnet_lite0.build_lite0``'s:
        ``probabilities`` [batch, 1000], or features such as ``stride16``), differentiable in ``rgb``."""
        if name not in self._models:
            with tf.init_scope():
                if self._lite0 is None:
                    self._lite0 = efficientnet_lite0.build_lite0(self._weights)
                    self._lite0.trainable = False
                self._models[name] = keras.Model(self._lite0.input, self._lite0.output[name])
        resized = tf.image.resize(tf.cast(rgb, tf.float32), [CLASSIFIER_SIZE, CLASSIFIER_SIZE], antialias=True)
        return self._models[name](resized * 2.0 - 1.0, training=False)

    def probabilities(self, rgb):
        """RGB [batch, h, w, 3] in [0, 1] -> ImageNet class probabilities [batch, 1000] (differentiable in ``rgb``)."""
        return self.output(rgb, "probabilities")

    def top5(self, rgb):
        """RGB [batch, h, w, 3] in [0, 1] -> the 5 likeliest ImageNet classes of each photo, [batch, 5] int32."""
        return tf.math.top_k(self.probabilities(rgb), k=5).indices


def agreement(reference_top5, candidate_top5):
    """(top-1, top-5) agreement of each photo, as 0./1. float32 [batch]: the candidate's top-1 class is the
    reference's (the original's) top-1; the reference's top-1 is among the candidate's top 5."""
    reference = reference_top5[:, :1]
    top1 = tf.cast(tf.equal(candidate_top5[:, 0], reference[:, 0]), tf.float32)
    top5 = tf.cast(tf.reduce_any(tf.equal(candidate_top5, reference), axis=1), tf.float32)
    return top1, top5


def agreements(classifier, original_lab, candidates_lab):
    """{side: (top-1, top-5) agreement [batch]} of each candidate's Lab photos with the originals' (``agreement``),
    ``classifier`` (a ``Classifier``) running once on the originals and once per candidate."""
    original = classifier.top5(lab.lab_to_rgb(original_lab))
    return {side: agreement(original, classifier.top5(lab.lab_to_rgb(candidate)))
            for side, candidate in candidates_lab.items()}


def semantic_divergence(classifier, original_lab, candidate_lab):
    """KL(original's class probabilities || candidate's) of each photo, [batch] in nats: how much less the
    ``classifier`` (a ``Classifier``) recognises in the candidate than in the original, as a smooth quantity a
    colorizer can be trained to lower (``network.SemanticColorizer``); the classifier test counts only top-1
    flips. Differentiable in ``candidate_lab``; the original's side is a constant."""
    original = tf.stop_gradient(classifier.probabilities(lab.lab_to_rgb(original_lab)))
    candidate = classifier.probabilities(lab.lab_to_rgb(candidate_lab))
    log_ratio = tf.math.log(original + KL_EPSILON) - tf.math.log(candidate + KL_EPSILON)
    return tf.reduce_sum(original * log_ratio, axis=-1)


def feature_distance(classifier, original_lab, candidate_lab, layer):
    """Mean squared difference of the ``classifier``'s (Lite0's) features at ``layer`` (e.g. ``stride16``) between
    each original and its candidate, [batch]: a perceptual loss (Johnson et al., ECCV 2016) through the network of
    the classifier test. Unlike ``semantic_divergence``, it does not accept a brown cast as readily as the true
    colors (README "Quality" has the calibration). Differentiable in ``candidate_lab``; the original's side is a
    constant."""
    original = tf.stop_gradient(classifier.output(lab.lab_to_rgb(original_lab), layer))
    candidate = classifier.output(lab.lab_to_rgb(candidate_lab), layer)
    return tf.reduce_mean(tf.square(candidate - original), axis=[1, 2, 3])


def semantic_loss(classifier, original_lab, candidate_lab, comparison):
    """What ``ModelConfig.semantic_comparison`` names, per photo [batch]: ``classes``, ``semantic_divergence``;
    a feature output of Lite0 (``stride8``, ...), ``feature_distance`` there."""
    if comparison == "classes":
        return semantic_divergence(classifier, original_lab, candidate_lab)
    return feature_distance(classifier, original_lab, candidate_lab, comparison)


def mean_ab(lab_image):
    """Each photo's mean (a, b): [batch, 2]."""
    return tf.reduce_mean(lab_image[..., 1:], axis=[1, 2])


def with_ab(lab_image, ab):
    """The photos' own L with ``ab`` (broadcast: a constant (a, b), or zeros for gray)."""
    lightness = lab_image[..., :1]
    return tf.concat([lightness, tf.broadcast_to(tf.cast(ab, tf.float32), tf.shape(lab_image[..., 1:]))], axis=-1)


# --- Streaming metrics at the model's size: the Trainer's TensorBoard and the Evaluator (TFMA). ---
#
# Labels are Transform's ``ab`` (ab / 128, [batch, pixels * 2] or [batch, size, size, 2]).
# Predictions end with ab / 128 per pixel; with three channels per pixel the first is the model's
# input L in [-1, 1] (the ``evaluate`` signature's ``lab`` output), which the photo metrics need.


def _pixels(y_true, y_pred):
    """(L [batch, pixels, 0 or 1], ab true, ab predicted [batch, pixels, 2]) in Lab units."""
    ab_true = tf.reshape(tf.cast(y_true, tf.float32), [tf.shape(y_true)[0], -1, 2])
    prediction = tf.reshape(tf.cast(y_pred, tf.float32), [tf.shape(ab_true)[0], tf.shape(ab_true)[1], -1])
    lightness = preprocessing.unscale_lightness(prediction[..., :-2])
    return lightness, preprocessing.unscale_ab(ab_true), preprocessing.unscale_ab(prediction[..., -2:])


class _Statistics(keras.metrics.Metric):
    """Sums of ``_STATISTICS`` over the batches seen; each subclass reports one function of them.

    One accumulator per family (chroma statistics over pixels; per-photo statistics; the classifier
    test), so a metric and its baselines come out of the same pass over the same photos.

    The metrics of a family are computed side by side, and both TFMA (every metric of a combiner, one
    after the other, with the same label and prediction arrays) and ``side_by_side`` update each of
    them with the same batch. So a family keeps the sums of its last batch, keyed by that batch's own
    arrays, and computes them once per batch, not once per metric: the photo family has 14 metrics, and
    the Evaluator spent most of its CPU computing its statistics 14 times over
    (benchmarks/results/beam_stages_evaluator_*.json; the classifier family alone went from 2.2 to 0.32
    Evaluator CPU-s per eval photo, beam_stages_semantic_*.json).
    """

    _STATISTICS = ()
    # Set on each family's class (``_family``): (weak references to the last batch's labels and
    # predictions, its sums). Weak, so that the cache keeps no batch alive (a dead reference matches
    # nothing); replaced as a whole, never updated in place.
    _last_batch = (lambda: None, lambda: None, None)

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.sums = self.add_weight("sums", shape=[len(self._STATISTICS)], initializer="zeros", dtype=tf.float64)

    def reset_state(self):
        # Keras' default assigns a scalar 0 to every variable, which a vector of sums does not accept.
        self.sums.assign(tf.zeros_like(self.sums))

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._batch_values(y_true, y_pred)
        self.sums.assign_add(tf.cast(tf.stack([values[name] for name in self._STATISTICS]), tf.float64))

    @classmethod
    def _family(cls):
        """The class that defines this metric's ``_STATISTICS`` (holder of the family's last batch)."""
        return next(klass for klass in cls.__mro__ if "_STATISTICS" in vars(klass))

    @tf.autograph.experimental.do_not_convert  # plain Python identity tests (and Lite0's call, see ``top5``)
    def _batch_values(self, y_true, y_pred):
        """{statistic: this batch's sum}, computed once per family and batch."""
        family = self._family()
        labels, predictions, sums = family._last_batch
        if labels() is y_true and predictions() is y_pred:
            return sums
        sums = self._batch_sums(*_pixels(y_true, y_pred))
        try:
            family._last_batch = (weakref.ref(y_true), weakref.ref(y_pred), sums)
        except TypeError:  # Python lists: no object to key on, nothing shared
            pass
        return sums

    def _sum(self, name):
        return self.sums[self._STATISTICS.index(name)]


class _ChromaStatistics(_Statistics):
    """ab-MSE of the model, of gray and of the best constant, from pixel sums (no L needed, so the
    Trainer can compile these on a model whose output is ab alone)."""

    _STATISTICS = ("squared_error", "squared_ab", "a", "b", "pixels")

    def _batch_sums(self, lightness, ab_true, ab_pred):
        del lightness
        return {"squared_error": tf.reduce_sum(losses.ab_squared_error(ab_true / preprocessing.AB_SCALE,
                                                                          ab_pred / preprocessing.AB_SCALE)),
                "squared_ab": tf.reduce_sum(tf.square(ab_true)),
                "a": tf.reduce_sum(ab_true[..., 0]), "b": tf.reduce_sum(ab_true[..., 1]),
                "pixels": tf.cast(tf.shape(ab_true)[0] * tf.shape(ab_true)[1], tf.float32)}

    def _model(self):
        return tf.math.divide_no_nan(self._sum("squared_error"), 2.0 * self._sum("pixels"))

    def _gray(self):
        return tf.math.divide_no_nan(self._sum("squared_ab"), 2.0 * self._sum("pixels"))

    def _constant(self):
        """mean((ab - mean ab)^2) = mean(ab^2) - mean(a)^2 / 2 - mean(b)^2 / 2: exact, in one pass."""
        mean_a = tf.math.divide_no_nan(self._sum("a"), self._sum("pixels"))
        mean_b = tf.math.divide_no_nan(self._sum("b"), self._sum("pixels"))
        return self._gray() - 0.5 * (tf.square(mean_a) + tf.square(mean_b))


def _square_photos(lightness, *abs_):
    """Lab photos [batch, size, size, 3] of the model's square size, one per ab ([batch, pixels, 2])."""
    size = tf.cast(tf.sqrt(tf.cast(tf.shape(lightness)[1], tf.float32)) + 0.5, tf.int32)
    return [tf.reshape(tf.concat([lightness, ab], axis=-1), [-1, size, size, 3]) for ab in abs_]


class _PhotoStatistics(_Statistics):
    """Per-photo PSNR, SSIM, colorfulness, chroma spread and false color of the model and of gray (or of the
    originals), and the spread of the photos' mean colors, summed over photos (needs the prediction's L)."""

    _STATISTICS = ("photos", "psnr", "gray_psnr", "ssim", "gray_ssim", "colorfulness", "true_colorfulness",
                   "ab_spread", "true_ab_spread", "false_color", "true_false_color",
                   "mean_a", "mean_b", "mean_a_squared", "mean_b_squared",
                   "true_mean_a", "true_mean_b", "true_mean_a_squared", "true_mean_b_squared")

    def _batch_sums(self, lightness, ab_true, ab_pred):
        truth, model = _square_photos(lightness, ab_true, ab_pred)
        truth_rgb, model_rgb, gray_rgb = (lab.lab_to_rgb(image) for image in (truth, model, with_ab(truth, 0.0)))
        means, true_means = mean_ab(model), mean_ab(truth)
        per_photo = {
            "psnr": psnr(truth_rgb, model_rgb), "gray_psnr": psnr(truth_rgb, gray_rgb),
            "ssim": ssim(truth_rgb, model_rgb), "gray_ssim": ssim(truth_rgb, gray_rgb),
            "colorfulness": colorfulness(model_rgb), "true_colorfulness": colorfulness(truth_rgb),
            "ab_spread": ab_spread(model), "true_ab_spread": ab_spread(truth),
            "false_color": false_color(model), "true_false_color": false_color(truth),
            "mean_a": means[:, 0], "mean_b": means[:, 1],
            "mean_a_squared": tf.square(means[:, 0]), "mean_b_squared": tf.square(means[:, 1]),
            "true_mean_a": true_means[:, 0], "true_mean_b": true_means[:, 1],
            "true_mean_a_squared": tf.square(true_means[:, 0]), "true_mean_b_squared": tf.square(true_means[:, 1]),
        }
        sums = {name: tf.reduce_sum(values) for name, values in per_photo.items()}
        return {**sums, "photos": tf.cast(tf.shape(ab_true)[0], tf.float32)}

    def _mean(self, name):
        return tf.math.divide_no_nan(self._sum(name), self._sum("photos"))

    def _photo_color_std(self, prefix=""):
        """Spread of the photos' mean (a, b) across photos: a tint gives every photo the same mean."""
        variances = [self._mean(f"{prefix}mean_{c}_squared") - tf.square(self._mean(f"{prefix}mean_{c}"))
                     for c in ("a", "b")]
        return 0.5 * (tf.sqrt(tf.maximum(variances[0], 0.0)) + tf.sqrt(tf.maximum(variances[1], 0.0)))


class _SemanticStatistics(_Statistics):
    """Top-1 and top-5 agreement with the originals' top-1 class (``Classifier``) of the model and of gray,
    summed over photos.

    The family shares one ``Classifier`` per process (one Lite0 build and copy of its weights, on the first
    batch; TFMA makes new metric objects for every copy of its combiner, and a classifier per object built
    Lite0 20 times for 5 photos). With the family's last-batch sums (``_Statistics``), Lite0 runs once per
    photo and candidate (original, model, gray).
    """

    _STATISTICS = ("photos", "top1", "top5", "gray_top1", "gray_top5", "both_top1")
    _classifier = Classifier()

    def _batch_sums(self, lightness, ab_true, ab_pred):
        truth, model = _square_photos(lightness, ab_true, ab_pred)
        (top1, top5), (gray_top1, gray_top5) = agreements(
            self._classifier, truth, {"model": model, "gray": with_ab(truth, 0.0)}).values()
        sums = {"top1": top1, "top5": top5, "gray_top1": gray_top1, "gray_top5": gray_top5,
                "both_top1": top1 * gray_top1}
        return {**{name: tf.reduce_sum(values) for name, values in sums.items()},
                "photos": tf.cast(tf.shape(ab_true)[0], tf.float32)}

    def _mean(self, name):
        return tf.math.divide_no_nan(self._sum(name), self._sum("photos"))

    def _gain(self):
        return self._mean("top1") - self._mean("gray_top1")

    def _gain_upper_bound(self):
        """The upper end of the top-1 gain's 95 % interval: the photos' paired differences (model minus gray:
        -1, 0 or +1 each; squared, ``top1 + gray_top1 - 2 * both_top1``), their mean plus 1.96 standard errors.
        A gate on the gain itself refuses good models by chance: on 100 photos its interval is ~0.2 wide."""
        squared = self._mean("top1") + self._mean("gray_top1") - 2.0 * self._mean("both_top1")
        variance = tf.maximum(squared - tf.square(self._gain()), 0.0)  # of one photo's difference
        return self._gain() + Z_95 * tf.sqrt(tf.math.divide_no_nan(variance, self._sum("photos") - 1.0))


def _metric_class(class_name, family, name, result, doc):
    """A Keras metric class reporting ``result(self)`` of ``family``'s sums, importable by name (TFMA)."""
    def __init__(self, name=name, **kwargs):
        family.__init__(self, name=name, **kwargs)

    # Plain graph code: AutoGraph has nothing to convert in ``result`` (and cannot parse a lambda).
    result = tf.autograph.experimental.do_not_convert(result)
    # ``metric_name``: TFMA names a metric after its class (snake case) unless its config says otherwise, and
    # GrayTop1Agreement would come out as gray_top1agreement; the Evaluator passes this name.
    return type(class_name, (family,), {"__init__": __init__, "result": result, "__doc__": doc, "metric_name": name,
                                        "__module__": __name__, "__qualname__": class_name})


AbMse = _metric_class("AbMse", _ChromaStatistics, "ab_mse", lambda self: self._model(),
                      "Mean squared ab error of the model, Lab units.")
GrayAbMse = _metric_class("GrayAbMse", _ChromaStatistics, "gray_ab_mse", lambda self: self._gray(),
                          "ab-MSE of the gray photos (ab = 0): mean(ab^2).")
ConstantAbMse = _metric_class("ConstantAbMse", _ChromaStatistics, "constant_ab_mse", lambda self: self._constant(),
                              "ab-MSE of the best constant color (the photos' mean ab everywhere).")
AbMseVsGray = _metric_class("AbMseVsGray", _ChromaStatistics, "ab_mse_vs_gray",
                            lambda self: tf.math.divide_no_nan(self._model(), self._gray()),
                            "Model ab-MSE / gray's (< 1: beats gray).")
AbMseVsConstant = _metric_class("AbMseVsConstant", _ChromaStatistics, "ab_mse_vs_constant",
                                lambda self: tf.math.divide_no_nan(self._model(), self._constant()),
                                "Model ab-MSE / the best constant's (< 1: colors beyond a tint).")
Psnr = _metric_class("Psnr", _PhotoStatistics, "psnr", lambda self: self._mean("psnr"), "Mean PSNR, dB.")
GrayPsnr = _metric_class("GrayPsnr", _PhotoStatistics, "gray_psnr", lambda self: self._mean("gray_psnr"),
                         "Mean PSNR of the gray photos, dB.")
Ssim = _metric_class("Ssim", _PhotoStatistics, "ssim", lambda self: self._mean("ssim"), "Mean SSIM.")
GraySsim = _metric_class("GraySsim", _PhotoStatistics, "gray_ssim", lambda self: self._mean("gray_ssim"),
                         "Mean SSIM of the gray photos.")
Colorfulness = _metric_class("Colorfulness", _PhotoStatistics, "colorfulness", lambda self: self._mean("colorfulness"),
                             "Mean colorfulness of the colorized photos.")
TrueColorfulness = _metric_class("TrueColorfulness", _PhotoStatistics, "true_colorfulness",
                                 lambda self: self._mean("true_colorfulness"), "Mean colorfulness of the originals.")
ColorfulnessRatio = _metric_class(
    "ColorfulnessRatio", _PhotoStatistics, "colorfulness_ratio",
    lambda self: tf.math.divide_no_nan(self._sum("colorfulness"), self._sum("true_colorfulness")),
    "Colorfulness of the colorized photos / the originals' (1: as vivid as the originals).")
AbSpread = _metric_class("AbSpread", _PhotoStatistics, "ab_spread", lambda self: self._mean("ab_spread"),
                         "Mean within-photo chroma spread of the colorized photos.")
TrueAbSpread = _metric_class("TrueAbSpread", _PhotoStatistics, "true_ab_spread",
                             lambda self: self._mean("true_ab_spread"), "Mean within-photo chroma spread of the originals.")
PhotoColorStd = _metric_class("PhotoColorStd", _PhotoStatistics, "photo_color_std",
                              lambda self: self._photo_color_std(),
                              "Std across photos of the colorized photos' mean a and b, averaged (0 for a tint).")
TruePhotoColorStd = _metric_class("TruePhotoColorStd", _PhotoStatistics, "true_photo_color_std",
                                  lambda self: self._photo_color_std("true_"),
                                  "Std across photos of the originals' mean a and b, averaged.")
FalseColor = _metric_class("FalseColor", _PhotoStatistics, "false_color", lambda self: self._mean("false_color"),
                           "Mean fraction of false-color pixels (``false_color``) of the colorized photos.")
TrueFalseColor = _metric_class("TrueFalseColor", _PhotoStatistics, "true_false_color",
                               lambda self: self._mean("true_false_color"),
                               "Mean fraction of false-color pixels of the originals (their own rate).")
FalseColorVsOriginal = _metric_class(
    "FalseColorVsOriginal", _PhotoStatistics, "false_color_vs_original",
    lambda self: false_color_ratio(self._mean("false_color"), self._mean("true_false_color")),
    "False-color rate of the colorized photos / the originals' (``false_color_ratio``; 1: as clean).")
Top1Agreement = _metric_class("Top1Agreement", _SemanticStatistics, "top1_agreement", lambda self: self._mean("top1"),
                              "Fraction of photos whose colorized top-1 class is the original's.")
Top5Agreement = _metric_class("Top5Agreement", _SemanticStatistics, "top5_agreement", lambda self: self._mean("top5"),
                              "Fraction of photos whose original top-1 class is in the colorized photo's top 5.")
GrayTop1Agreement = _metric_class("GrayTop1Agreement", _SemanticStatistics, "gray_top1_agreement",
                                  lambda self: self._mean("gray_top1"),
                                  "Fraction of photos whose gray version's top-1 class is the original's.")
Top1GainOverGray = _metric_class("Top1GainOverGray", _SemanticStatistics, "top1_gain_over_gray",
                                 _SemanticStatistics._gain,
                                 "Top-1 agreement of the model minus gray's (< 0: color that misleads the classifier).")
Top1GainUpperBound = _metric_class("Top1GainUpperBound", _SemanticStatistics, "top1_gain_upper_bound",
                                   _SemanticStatistics._gain_upper_bound,
                                   "The upper end of the top-1 gain's 95 % interval over the photos (< 0: the model's "
                                   "color misleads the classifier more than gray, beyond chance).")

# Every streaming metric, in report order; the Evaluator computes them all.
STREAMING_METRICS = (AbMse, GrayAbMse, ConstantAbMse, AbMseVsGray, AbMseVsConstant, Psnr, GrayPsnr, Ssim, GraySsim,
                     Colorfulness, TrueColorfulness, ColorfulnessRatio, AbSpread, TrueAbSpread, PhotoColorStd,
                     TruePhotoColorStd, FalseColor, TrueFalseColor, FalseColorVsOriginal, Top1Agreement,
                     Top5Agreement, GrayTop1Agreement, Top1GainOverGray, Top1GainUpperBound)


def side_by_side(lightness_scaled, ab_true_scaled, ab_pred_scaled, classifier=None):
    """The model beside gray and the best constant color on a set of photos held in memory (the
    Trainer's TensorBoard pass): {"ab_mse/model": ..., "ab_mse/gray": ..., "ab_mse/constant": ...,
    "ab_mse_vs_constant": ..., "psnr/...", "ssim/...", "colorfulness/model|original", "false_color/...",
    and with a ``Classifier``: "top1_agreement/model|gray|constant", "top5_agreement/..."}.

    Inputs are at the model's scales, [photos, size, size, 1 or 2]. The constant is these photos'
    mean ab, known here before measuring, so its PSNR and SSIM are exact too.
    """
    constant = tf.reduce_mean(tf.cast(ab_true_scaled, tf.float32), axis=[0, 1, 2], keepdims=True)
    candidates = {"model": ab_pred_scaled, "gray": tf.zeros_like(ab_true_scaled),
                  "constant": tf.broadcast_to(constant, tf.shape(ab_true_scaled))}

    per_side = (AbMse, Psnr, Ssim, Colorfulness, AbSpread, PhotoColorStd, FalseColor)
    of_originals = {TrueColorfulness: "colorfulness", TrueAbSpread: "ab_spread", TruePhotoColorStd: "photo_color_std",
                    TrueFalseColor: "false_color"}  # from the model side's sums: the same originals
    values = {}
    for side, ab in candidates.items():
        # One prediction tensor per side, given to every metric: each family computes its sums once (``_Statistics``).
        prediction = tf.concat([tf.cast(lightness_scaled, tf.float32), tf.cast(ab, tf.float32)], axis=-1)
        for metric_class in per_side + (tuple(of_originals) if side == "model" else ()):
            metric = metric_class()
            metric.update_state(ab_true_scaled, prediction)
            key = f"{of_originals[metric_class]}/original" if metric_class in of_originals else f"{metric.name}/{side}"
            values[key] = float(metric.result())
    values["ab_mse_vs_constant"] = values["ab_mse/model"] / values["ab_mse/constant"]
    values["ab_mse_vs_gray"] = values["ab_mse/model"] / values["ab_mse/gray"]
    if classifier is not None:
        def lab_photos(ab):
            return preprocessing.lab_from_model(tf.cast(lightness_scaled, tf.float32), tf.cast(ab, tf.float32))
        sides = agreements(classifier, lab_photos(ab_true_scaled),
                           {side: lab_photos(ab) for side, ab in candidates.items()})
        for side, (top1, top5) in sides.items():
            values[f"top1_agreement/{side}"] = float(tf.reduce_mean(top1))
            values[f"top5_agreement/{side}"] = float(tf.reduce_mean(top5))
    return values
