"""components/evaluation/metrics.py: each measure against an independent reference (numpy, scikit-image,
hand-computed values), and the streaming metrics against the per-photo measures."""
import math

import numpy as np
import pytest
import skimage.color
import skimage.metrics
import tensorflow as tf
import tf_keras as keras
from colornet.components.evaluation import metrics
from colornet.components.evaluation import report as report_lib
from colornet.components.model import lab
from photo_fixtures import bsds_val_files, rainbow_streaks, skimage_photo
from PIL import Image


def _batch(*images):
    """uint8 RGB photos of one size -> a float32 [n, h, w, 3] batch in [0, 1]."""
    return tf.constant(np.stack(images), tf.float32) / 255.0


def _numpy_colorfulness(rgb):
    red, green, blue = np.moveaxis(rgb.astype(np.float64), -1, 0)
    rg, yb = red - green, 0.5 * (red + green) - blue
    return math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())


@pytest.fixture(scope="module")
def coffee():
    return skimage_photo("coffee")


def test_psnr_and_ssim_match_scikit_image(coffee):
    noisy = np.clip(coffee.astype(int) + np.random.default_rng(0).integers(-12, 13, coffee.shape), 0, 255).astype(np.uint8)
    original, candidate = _batch(coffee), _batch(noisy)
    assert float(metrics.psnr(original, candidate)[0]) == pytest.approx(
        skimage.metrics.peak_signal_noise_ratio(coffee, noisy), abs=0.01)
    # TensorFlow's SSIM uses an 11x11 Gaussian window, as scikit-image does with gaussian_weights=True.
    reference = skimage.metrics.structural_similarity(coffee, noisy, channel_axis=-1, gaussian_weights=True,
                                                      sigma=1.5, use_sample_covariance=False, data_range=255)
    assert float(metrics.ssim(original, candidate)[0]) == pytest.approx(reference, abs=0.01)


def test_identical_photos_score_the_cap_and_known_errors_their_psnr(coffee):
    assert float(metrics.psnr(_batch(coffee), _batch(coffee))[0]) == metrics.MAX_PSNR
    half = tf.fill([1, 16, 16, 3], 0.5)
    assert float(metrics.psnr(half, half + 0.1)[0]) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 20 dB


def test_colorfulness_by_hand_and_against_numpy(coffee):
    # Half the pixels pure red, half black: rg is 255 or 0, yb 127.5 or 0; C = 1.3 * hypot(127.5, 63.75).
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, :, 0] = 255
    assert float(metrics.colorfulness(_batch(image))[0]) == pytest.approx(1.3 * math.hypot(127.5, 63.75), rel=1e-5)
    assert float(metrics.colorfulness(_batch(coffee))[0]) == pytest.approx(_numpy_colorfulness(coffee), rel=1e-4)
    gray = np.repeat(np.linspace(0, 255, 64 * 48).round().astype(np.uint8).reshape(64, 48, 1), 3, axis=-1)
    assert float(metrics.colorfulness(_batch(gray))[0]) == 0.0


def test_ab_measures_match_scikit_image(coffee):
    original_lab = tf.constant(skimage.color.rgb2lab(coffee)[None], tf.float32)
    gray_lab = metrics.with_ab(original_lab, 0.0)
    assert float(metrics.ab_mse(original_lab, gray_lab)[0]) == pytest.approx(
        np.mean(skimage.color.rgb2lab(coffee)[..., 1:] ** 2), rel=1e-4)
    ab = skimage.color.rgb2lab(coffee)[..., 1:]
    assert float(metrics.ab_spread(original_lab)[0]) == pytest.approx(ab.reshape(-1, 2).std(axis=0).mean(), rel=1e-4)
    np.testing.assert_allclose(metrics.mean_ab(original_lab)[0], ab.reshape(-1, 2).mean(axis=0), rtol=1e-4)
    tinted = metrics.with_ab(original_lab, [10.0, 20.0])
    assert float(metrics.ab_spread(tinted)[0]) == 0.0
    np.testing.assert_allclose(metrics.mean_ab(tinted)[0], [10.0, 20.0])


def _photos(count=6, size=32, seed=0):
    """Model-scaled (L, ab) of real photos: crops of scikit-image's samples at ``size``."""
    rng = np.random.default_rng(seed)
    lightness, ab = [], []
    for name in ("astronaut", "coffee", "chelsea"):
        photo = skimage_photo(name)
        for _ in range(count // 3):
            top, left = rng.integers(0, 200, size=2)
            lab_image = skimage.color.rgb2lab(photo[top:top + 4 * size:4, left:left + 4 * size:4])
            lightness.append(lab_image[..., :1] / 50.0 - 1.0)
            ab.append(lab_image[..., 1:] / 128.0)
    return tf.constant(np.stack(lightness), tf.float32), tf.constant(np.stack(ab), tf.float32)


def _streamed(metric_class, ab_true, prediction, batches=2):
    """A streaming metric over ``batches`` slices, as TFMA and Keras feed it (after a reset, as they do)."""
    metric = metric_class()
    metric.update_state(ab_true[:1], prediction[:1])
    metric.reset_state()
    for part_true, part_pred in zip(tf.split(ab_true, batches), tf.split(prediction, batches)):
        metric.update_state(part_true, part_pred)
    return float(metric.result())


def test_streaming_chroma_metrics_know_gray_and_the_best_constant():
    lightness, ab = _photos()
    ab_lab = ab.numpy().reshape(-1, 2) * 128.0
    constant = ab_lab.mean(axis=0)
    prediction = tf.concat([lightness, ab * 0.5], axis=-1)
    model_mse = np.mean((ab_lab - 0.5 * ab_lab) ** 2)
    gray_mse, constant_mse = np.mean(ab_lab ** 2), np.mean((ab_lab - constant) ** 2)
    assert _streamed(metrics.AbMse, ab, prediction) == pytest.approx(model_mse, rel=1e-4)
    assert _streamed(metrics.GrayAbMse, ab, prediction) == pytest.approx(gray_mse, rel=1e-4)
    assert _streamed(metrics.ConstantAbMse, ab, prediction) == pytest.approx(constant_mse, rel=1e-3)
    assert _streamed(metrics.AbMseVsConstant, ab, prediction) == pytest.approx(model_mse / constant_mse, rel=1e-3)
    # A model whose output is ab alone (as the Trainer compiles them) gets the same chroma metrics.
    assert _streamed(metrics.AbMse, ab, ab * 0.5) == pytest.approx(model_mse, rel=1e-4)


def test_any_constant_tint_scores_at_least_the_best_constant():
    lightness, ab = _photos()
    for tint in ([0.0, 0.0], [0.05, 0.1], [-0.1, 0.2]):
        constant_prediction = tf.concat([lightness, tf.broadcast_to(tint, ab.shape)], axis=-1)
        assert _streamed(metrics.AbMseVsConstant, ab, constant_prediction) >= 1.0 - 1e-6
        # E[x^2] - E[x]^2 in float32 leaves ~1e-5 of a variance: a few thousandths of a Lab unit.
        assert _streamed(metrics.PhotoColorStd, ab, constant_prediction) == pytest.approx(0.0, abs=0.01)
    truth = tf.concat([lightness, ab], axis=-1)
    assert _streamed(metrics.AbMseVsConstant, ab, truth) == 0.0


def test_streaming_photo_metrics_equal_the_per_photo_measures():
    lightness, ab = _photos()
    prediction = tf.concat([lightness, ab * 0.6], axis=-1)
    truth_lab = tf.concat([lightness * 50.0 + 50.0, ab * 128.0], axis=-1)
    model_lab = tf.concat([lightness * 50.0 + 50.0, ab * 0.6 * 128.0], axis=-1)
    from colornet.components.model import lab
    truth_rgb, model_rgb = lab.lab_to_rgb(truth_lab), lab.lab_to_rgb(model_lab)
    expected = {
        metrics.Psnr: np.mean(metrics.psnr(truth_rgb, model_rgb)),
        metrics.Ssim: np.mean(metrics.ssim(truth_rgb, model_rgb)),
        metrics.Colorfulness: np.mean(metrics.colorfulness(model_rgb)),
        metrics.TrueColorfulness: np.mean(metrics.colorfulness(truth_rgb)),
        metrics.AbSpread: np.mean(metrics.ab_spread(model_lab)),
        metrics.TrueAbSpread: np.mean(metrics.ab_spread(truth_lab)),
        metrics.TruePhotoColorStd: np.mean(np.std(metrics.mean_ab(truth_lab), axis=0)),
    }
    for metric_class, value in expected.items():
        assert _streamed(metric_class, ab, prediction) == pytest.approx(float(value), rel=1e-3), metric_class.__name__
    assert _streamed(metrics.ColorfulnessRatio, ab, prediction) == pytest.approx(
        expected[metrics.Colorfulness] / expected[metrics.TrueColorfulness], rel=1e-3)


def test_a_family_computes_its_sums_once_per_batch_and_never_reuses_another_batchs(monkeypatch):
    """TFMA updates every metric of a family with the same arrays: the family's statistics run once per batch
    (the Evaluator computed the 14 photo metrics' statistics 14 times), and a new batch gets its own sums."""
    lightness, ab = _photos()
    calls = []
    family = metrics.Psnr._family()
    original_sums = family._batch_sums
    monkeypatch.setattr(family, "_batch_sums", lambda self, *args: calls.append(1) or original_sums(self, *args))
    photo_metrics = [metric_class() for metric_class in metrics.STREAMING_METRICS if metric_class._family() is family]
    assert len(photo_metrics) == 14
    halves = [tf.concat([lightness, ab * 0.5], axis=-1).numpy(), tf.concat([lightness, ab * 0.9], axis=-1).numpy()]
    labels = ab.numpy()
    for prediction in halves:
        for metric in photo_metrics:
            metric.update_state(labels, prediction)
    assert len(calls) == 2
    # Each metric saw two different batches: the second one's own sums, not the first one's again.
    assert float(photo_metrics[0].result()) == pytest.approx(
        (_streamed(metrics.Psnr, ab, halves[0], batches=1) + _streamed(metrics.Psnr, ab, halves[1], batches=1)) / 2,
        rel=1e-4)


def test_side_by_side_puts_the_model_between_its_baselines():
    lightness, ab = _photos()
    values = metrics.side_by_side(lightness, ab, ab * 0.9)
    assert values["ab_mse/model"] < values["ab_mse/constant"] < values["ab_mse/gray"]
    assert values["psnr/model"] > values["psnr/gray"]
    assert values["colorfulness/gray"] < 1.0 < values["colorfulness/original"]
    assert values["ab_spread/constant"] == pytest.approx(0.0, abs=1e-3)
    assert values["ab_mse_vs_constant"] == pytest.approx(values["ab_mse/model"] / values["ab_mse/constant"])


# --- False color and the classifier test (semantic interpretability) ---


@pytest.fixture(scope="module")
def val_photos(shared_data):
    """Four BSDS500 validation photos at full size (481x321 or 321x481), uint8 RGB."""
    return [np.asarray(Image.open(path).convert("RGB")) for path in bsds_val_files(shared_data, 4)]


def _lab_batch(*rgb):
    return lab.rgb_to_lab(_batch(*rgb))


def _false_color(rgb):
    return float(metrics.false_color(_lab_batch(rgb))[0])


def test_rainbow_streaks_are_false_color_and_gray_or_a_constant_have_none(val_photos):
    for photo in val_photos:
        original = _false_color(photo)
        original_lab = _lab_batch(photo)
        gray = report_lib._rgb(metrics.with_ab(original_lab, 0.0))
        constant = report_lib._rgb(metrics.with_ab(original_lab, [5.0, 15.0]))
        assert original < 0.005  # a photo's own color edges come with lightness edges
        streaked = _false_color(rainbow_streaks(photo))
        assert streaked > 0.05 and streaked > 20 * max(original, metrics.FALSE_COLOR_FLOOR)
        assert _false_color(gray) == 0.0
        assert _false_color(constant) < 1e-4  # only where the gamut clips the tint
    # A chroma edge that comes with a lightness edge is an object's: a red square on a dark green field (its ab
    # step is 2.4 times its L step). The same square on a field of its own lightness is color without an edge.
    square = np.full((40, 40, 3), (20, 40, 20), np.uint8)
    square[10:30, 10:30] = (220, 40, 40)
    assert _false_color(square) == 0.0
    square[:10] = square[30:] = square[:, :10] = square[:, 30:] = (40, 110, 40)
    assert _false_color(square) > 0.05
    assert float(metrics.false_color_ratio(0.0, 0.0)) == 1.0  # both under the floor: as clean as the originals
    assert float(metrics.false_color_ratio(0.03, 0.002)) == pytest.approx(15.0)


def test_classifier_agreement_of_a_photo_and_its_gray_version():
    classifier = metrics.Classifier()
    cat = skimage_photo("chelsea")
    classes = classifier.top5(_batch(cat, report_lib._rgb(metrics.with_ab(_lab_batch(cat), 0.0))))
    assert int(classes[0, 0]) == 285  # Egyptian cat (test_efficientnet_lite0)
    top1, top5 = metrics.agreement(classes[:1], classes)
    assert top1.numpy().tolist() == top5.numpy().tolist() == [1.0, 1.0]  # itself, and gray still names the cat
    # By hand: top-1 equal; the reference's top-1 anywhere in the candidate's top 5; or neither.
    reference = tf.constant([[7, 1, 2, 3, 4]] * 3)
    candidate = tf.constant([[7, 0, 0, 0, 0], [9, 8, 7, 6, 5], [1, 2, 3, 4, 5]])
    top1, top5 = metrics.agreement(reference, candidate)
    assert top1.numpy().tolist() == [1.0, 0.0, 0.0] and top5.numpy().tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("comparison", ["classes", "stride16"])
def test_semantic_loss_is_zero_for_the_original_and_its_gradient_leads_gray_toward_its_colors(comparison):
    classifier = metrics.Classifier()
    coffee = tf.image.resize(_lab_batch(skimage_photo("coffee")), [224, 224])  # espresso (test_efficientnet_lite0)
    gray = metrics.with_ab(coffee, 0.0)

    def loss(candidate):
        return float(metrics.semantic_loss(classifier, coffee, candidate, comparison)[0])

    assert loss(coffee) == pytest.approx(0.0, abs=1e-4)
    assert loss(tf.concat([coffee[..., :1], coffee[..., 1:] * 0.5], -1)) < 0.5 * loss(gray)  # true hues, half chroma
    ab = tf.Variable(tf.zeros_like(coffee[..., 1:]))
    optimizer = keras.optimizers.Adam(1.0)
    descent = []
    for _ in range(10):
        with tf.GradientTape() as tape:
            value = metrics.semantic_loss(classifier, coffee, tf.concat([coffee[..., :1], ab], -1), comparison)[0]
        optimizer.apply_gradients([(tape.gradient(value, ab), ab)])
        descent.append(float(value))
    assert descent[0] == pytest.approx(loss(gray))
    assert descent[0] > 0.05 and min(descent) < 0.6 * descent[0]


def test_features_for_the_semantic_loss_skip_the_classifiers_head():
    """Lite0 up to stride 16 for the perceptual loss: a model of its own without the head's layers, sharing the
    whole network's weights (one Lite0 per ``Classifier``)."""
    classifier = metrics.Classifier(weights=None)
    rgb = tf.random.uniform([1, 64, 64, 3], seed=3)
    assert classifier.output(rgb, "stride16").shape == [1, 14, 14, 112]
    assert classifier.probabilities(rgb).shape == [1, 1000]
    features_model, classes_model = classifier._models["stride16"], classifier._models["probabilities"]
    assert len(features_model.layers) < len(classes_model.layers)
    assert {id(w) for w in features_model.weights} <= {id(w) for w in classes_model.weights}


def test_streaming_false_color_and_agreement_equal_the_per_photo_measures():
    lightness, ab = _photos(count=3, size=48)
    truth_lab = tf.concat([lightness * 50.0 + 50.0, ab * 128.0], axis=-1)
    truth_rgb8 = tf.image.convert_image_dtype(lab.lab_to_rgb(truth_lab), tf.uint8, saturate=True).numpy()
    streaked_lab = _lab_batch(*[rainbow_streaks(photo, period=8) for photo in truth_rgb8])
    prediction = tf.concat([lightness, streaked_lab[..., 1:] / 128.0], axis=-1)
    model_lab = tf.concat([lightness * 50.0 + 50.0, streaked_lab[..., 1:]], axis=-1)
    model_rate, true_rate = np.mean(metrics.false_color(model_lab)), np.mean(metrics.false_color(truth_lab))
    assert _streamed(metrics.FalseColor, ab, prediction, batches=3) == pytest.approx(float(model_rate), rel=1e-5)
    assert _streamed(metrics.TrueFalseColor, ab, prediction, batches=3) == pytest.approx(float(true_rate), abs=1e-7)
    assert _streamed(metrics.FalseColorVsOriginal, ab, prediction, batches=3) > 10.0

    classifier = metrics.Classifier()
    original = classifier.top5(lab.lab_to_rgb(truth_lab))
    gray_top1, _ = metrics.agreement(original, classifier.top5(lab.lab_to_rgb(metrics.with_ab(truth_lab, 0.0))))
    model_top1, model_top5 = metrics.agreement(original, classifier.top5(lab.lab_to_rgb(model_lab)))
    assert _streamed(metrics.Top1Agreement, ab, prediction, batches=3) == pytest.approx(float(np.mean(model_top1)))
    assert _streamed(metrics.Top5Agreement, ab, prediction, batches=3) == pytest.approx(float(np.mean(model_top5)))
    assert _streamed(metrics.GrayTop1Agreement, ab, prediction, batches=3) == pytest.approx(float(np.mean(gray_top1)))
    differences = np.asarray(model_top1) - np.asarray(gray_top1)
    upper = np.mean(differences) + 1.959964 * np.std(differences, ddof=1) / np.sqrt(len(differences))
    assert _streamed(metrics.Top1GainUpperBound, ab, prediction, batches=3) == pytest.approx(upper, abs=1e-5)
    truth = tf.concat([lightness, ab], axis=-1)
    assert _streamed(metrics.Top1GainOverGray, ab, truth, batches=3) == pytest.approx(1.0 - float(np.mean(gray_top1)))
    # TFMA stores and merges a metric's variables: Lite0's must not be among them.
    metric = metrics.Top1Agreement()
    metric.update_state(ab, truth)
    assert [variable.name.split("/")[-1] for variable in metric.variables] == ["sums:0"]


def test_side_by_side_with_a_classifier_adds_the_classifier_test_and_false_color():
    lightness, ab = _photos()
    values = metrics.side_by_side(lightness, ab, ab, metrics.Classifier())  # a model that knows the answer
    assert values["top1_agreement/model"] == values["top5_agreement/model"] == 1.0
    assert 0.0 <= values["top1_agreement/gray"] <= 1.0 and 0.0 <= values["top5_agreement/constant"] <= 1.0
    assert values["false_color/model"] == pytest.approx(values["false_color/original"])
    assert values["false_color/gray"] == 0.0
    assert "top1_agreement/model" not in metrics.side_by_side(lightness, ab, ab)
