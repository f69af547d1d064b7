"""The variants (the article's three layer for layer; the U-Nets); the losses; the classifier's input."""
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from skimage import color

from colornet.components.model import losses, network as model_lib
from colornet.schemas.config import LOSSES, VARIANTS, ModelConfig
from colornet.schemas import features

# (filters, strides) of each Conv2D and "up" for each UpSampling2D, in order, from the article.
ALPHA = [(8, 2), (8, 1), (16, 1), (16, 2), (32, 1), (32, 2), "up", (32, 1), "up", (16, 1), "up", (2, 1)]
BETA = [(64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (256, 1), (128, 1),
        "up", (64, 1), "up", (32, 1), (2, 1), "up"]
FUSION_ENCODER = [(64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1)]
FUSION_DECODER = [(256, 1), (128, 1), "up", (64, 1), "up", (32, 1), (16, 1), (2, 1), "up"]


def _layout(model):
    layout = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layout.append((layer.filters, layer.strides[0]))
        elif isinstance(layer, keras.layers.UpSampling2D):
            layout.append("up")
    return layout


def _config(variant, **overrides):
    return ModelConfig(variant=variant, image_size=32, backbone="mobilenet_v2", backbone_size=32,
                                 **overrides)


@pytest.mark.parametrize("variant, layout", [("alpha", ALPHA), ("beta", BETA)])
def test_alpha_and_beta_follow_the_article(variant, layout):
    model = model_lib.build_model(_config(variant))
    assert _layout(model) == layout
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.activation.__name__ for layer in conv_layers] == ["relu"] * (len(conv_layers) - 1) + ["tanh"]


def test_fusion_tiles_the_classifier_output_over_the_encoder_grid():
    model = model_lib.build_model(_config("fusion"))
    assert sorted(model.input_names) == [features.L, features.EMBEDDING]
    assert _layout(model) == FUSION_ENCODER + FUSION_DECODER
    fuse = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1)]
    assert len(fuse) == 1 and fuse[0].input_shape == (None, 4, 4, 256 + 1000)
    repeat = next(layer for layer in model.layers if isinstance(layer, keras.layers.RepeatVector))
    assert repeat.n == 4 * 4


@pytest.mark.parametrize("variant", VARIANTS)
def test_output_is_ab_over_128_at_the_input_size(variant):
    model = model_lib.build_model(_config(variant))
    lightness = tf.random.uniform([2, 32, 32, 1], -1.0, 1.0, seed=1)
    inputs = {features.L: lightness, features.EMBEDDING: tf.fill([2, 1000], 1e-3)}
    ab = model({name: inputs[name] for name in model.input_names})
    assert ab.shape == (2, 32, 32, 2) and ab.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(ab))) <= 1.0


def test_classifier_without_weights_says_so_and_embeds_a_batch(caplog):
    with caplog.at_level(logging.WARNING):
        backbone = model_lib.build_backbone(_config("fusion"))
    assert "carries no semantic information" in caplog.text  # weights=None must be said out loud
    embedding = model_lib.classifier_embedding(backbone, tf.zeros([3, 32, 32, 1]))
    assert embedding.shape == (3, 1000)


def test_missing_backbone_weights_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        model_lib.build_backbone(_config("fusion", backbone_weights=str(tmp_path / "absent.h5")))


def test_backbone_weights_from_a_remote_file_system_are_loaded(tmp_path):
    """Kubeflow and Dataflow steps pass gs://... paths; Keras reads local files only. TensorFlow's
    in-memory file system (ram://) stands in for a bucket here."""
    source = model_lib.build_backbone(_config("fusion"))
    local = tmp_path / "classifier.h5"
    source.save_weights(str(local))
    remote = f"ram://weights/{tmp_path.name}/classifier.h5"
    tf.io.gfile.makedirs(os.path.dirname(remote))
    tf.io.gfile.copy(str(local), remote, overwrite=True)
    loaded = model_lib.build_backbone(_config("fusion", backbone_weights=remote))
    for expected, actual in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(expected, actual)


def test_fusion_fuses_lite0s_imagenet_scores_by_default():
    """The article's fusion input with no weights to download: Lite0 recognises a gray espresso."""
    import skimage.data

    config = ModelConfig(variant="fusion", image_size=224)
    assert config.backbone == "efficientnet_lite0"
    rgb = tf.image.resize(skimage.data.coffee()[None] / 255.0, [224, 224]).numpy()[0]
    lab_lightness = tf.constant(color.rgb2lab(rgb)[None, ..., :1] / 50.0 - 1.0, tf.float32)  # the model's L
    scores = model_lib.classifier_embedding(model_lib.build_backbone(config), lab_lightness).numpy()[0]
    assert scores.argmax() == 967 and scores.max() > 0.5


@pytest.mark.parametrize("stages", [0, 2])
def test_lite0_unet_trains_only_the_decoder_and_the_stages_asked_for(stages):
    model = model_lib.build_model(_config("lite0_unet", encoder_trainable_stages=stages))
    encoder = model.get_layer("efficientnet_lite0")
    trained = {weight.name.split("/")[0] for weight in encoder.trainable_weights}
    if stages == 0:
        assert not trained
    else:  # stages 6 and 7 (blocks 11-15) and the head conv; never a batch norm, never block 10
        assert {"block11_expand_conv", "block15_project_conv", "conv_head"} <= trained
        assert not {name for name in trained if "bn" in name or name.startswith(("block10_", "conv_stem"))}
    decoder_weights = len(model.trainable_weights) - len(encoder.trainable_weights)
    assert decoder_weights > 0
    assert encoder.get_layer("conv_stem").get_weights()[0].std() > 0.05  # ImageNet's, not an initializer's
    lightness = np.random.default_rng(0).uniform(-1.0, 1.0, (2, 32, 32, 1)).astype(np.float32)
    np.testing.assert_array_equal(model({features.L: lightness}).numpy(), 0.0)  # untrained, it paints gray


def test_classifier_sees_the_gray_photo_of_that_lightness():
    lightness = np.linspace(0.0, 100.0, 11)
    expected = color.lab2rgb(np.stack([lightness, 0 * lightness, 0 * lightness], -1)[None])[0]
    gray = model_lib.gray_rgb(tf.constant((lightness / 50.0 - 1.0)[:, None], tf.float32)).numpy()
    np.testing.assert_allclose(gray, expected, atol=2e-3)


def test_huber_is_quadratic_then_linear_in_lab_units():
    delta = losses.HUBER_DELTA / 128.0
    y_true = np.zeros([1, 1, 2, 2], np.float32)
    y_pred = np.array([[[[delta / 2, 0.0], [3 * delta, 0.0]]]], np.float32)
    expected = np.mean([0.5 * (delta / 2) ** 2, 0.0, delta * (3 * delta - 0.5 * delta), 0.0])
    np.testing.assert_allclose(losses.huber(tf.constant(y_true), tf.constant(y_pred)).numpy(), [expected], rtol=1e-5)


def test_rebalanced_weighs_saturated_pixels_more():
    chroma = losses.REBALANCE_CHROMA / 128.0
    y_true = np.array([[[[0.0, 0.0], [chroma, 0.0]]]], np.float32)  # a gray pixel and a colorful one
    error = 0.1
    y_pred = y_true + error
    expected = np.mean([error ** 2, error ** 2, 2 * error ** 2, 2 * error ** 2])
    np.testing.assert_allclose(losses.rebalanced_mse(tf.constant(y_true), tf.constant(y_pred)).numpy(),
                               [expected], rtol=1e-5)


# The classification loss trains a Lite0 network (17 s): slow here, as the default run trains it already in
# test_bin_classifier_serves_ab_paints_gray_untrained_and_learns_a_color.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name == "classification" else name
                                  for name in LOSSES])
def test_every_loss_compiles_and_trains(name):
    config = _config("lite0_unet" if name == "classification" else "alpha", loss=name)
    model = model_lib.compile_model(model_lib.build_model(config), config)
    lightness = tf.random.uniform([4, 32, 32, 1], -1.0, 1.0, seed=2)
    history = model.fit({features.L: lightness}, tf.zeros([4, 32, 32, 2]) + 0.2, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_bin_classifier_serves_ab_paints_gray_untrained_and_learns_a_color():
    config = _config("lite0_unet", loss="classification", learning_rate=3e-3)
    model = model_lib.compile_model(model_lib.build_model(config), config)
    lightness = tf.random.uniform([4, 32, 32, 1], -1.0, 1.0, seed=3)
    assert model.output_shape == (None, 32, 32, 2)
    np.testing.assert_allclose(model({features.L: lightness}).numpy(), 0.0, atol=0.01)  # untrained: gray within 1.3 Lab units
    orange = tf.constant([40.0, 60.0]) / 128.0
    model.fit({features.L: lightness}, tf.zeros([4, 32, 32, 2]) + orange, epochs=40, verbose=0)
    painted = model({features.L: lightness}).numpy().reshape(-1, 2).mean(axis=0) * 128.0
    np.testing.assert_allclose(painted, [40.0, 60.0], atol=8.0)


@pytest.mark.slow  # 27-44 s each: three Lite0 networks trained 8 steps at 64 px
@pytest.mark.parametrize("comparison, logged", [("classes", "semantic_divergence"), ("stride16", "feature_distance")])
def test_the_semantic_loss_trains_beside_the_regression_and_stays_out_of_the_model(comparison, logged):
    keras.utils.set_random_seed(5)
    config = _config("lite0_unet", semantic_weight=0.5, semantic_comparison=comparison, learning_rate=3e-3)
    model = model_lib.compile_model(model_lib.build_model(config), config)
    plain = model_lib.build_model(_config("lite0_unet"))
    assert [w.shape for w in model.weights] == [w.shape for w in plain.weights]  # no classifier of its own inside
    lightness = tf.random.uniform([4, 32, 32, 1], -1.0, 1.0, seed=4)
    target = tf.zeros([4, 32, 32, 2]) + tf.constant([0.3, -0.3])
    history = model.fit({features.L: lightness}, target, validation_data=({features.L: lightness}, target), epochs=8,
                        verbose=0).history
    assert history[logged][0] > 0.0 and history[f"val_{logged}"][-1] > 0.0
    # The regression term still drives it ("loss" is the regression's own): one step can go either way, eight not.
    assert history["loss"][-1] < 0.9 * history["loss"][0], history["loss"]


def test_the_semantic_loss_needs_a_lite0_regression():
    with pytest.raises(ValueError, match="semantic_weight needs the lite0_unet variant with a regression loss"):
        _config("lite0_unet", semantic_weight=0.5, loss="classification")
    with pytest.raises(ValueError, match="semantic_weight needs"):
        _config("unet", semantic_weight=0.5)
    with pytest.raises(ValueError, match="semantic_comparison stride16 compares nothing without a semantic_weight"):
        _config("lite0_unet", semantic_comparison="stride16")


def test_annealed_mean_goes_from_the_mean_to_the_mode_as_it_cools():
    bins = model_lib.losses.ab_bins()
    blue, orange = (int(np.argmin(np.sum(np.square(bins - color), axis=-1))) for color in ([10.0, -50.0], [30.0, 60.0]))
    probabilities = np.full(len(bins), 1e-9)
    probabilities[[blue, orange]] = [0.4, 0.6]
    logits = tf.constant(np.log(probabilities)[None], tf.float32)
    mean = model_lib.AnnealedMean(1.0)(logits).numpy()[0] * 128.0
    np.testing.assert_allclose(mean, 0.4 * bins[blue] + 0.6 * bins[orange], atol=0.01)  # brown-gray: neither
    np.testing.assert_allclose(model_lib.AnnealedMean(0.05)(logits).numpy()[0] * 128.0, bins[orange], atol=0.5)


def test_bin_classification_prefers_the_true_colors_bins():
    bins = model_lib.losses.ab_bins()
    truth = tf.zeros([1, 4, 4, 2]) + tf.constant([30.0, 60.0]) / 128.0
    distance = np.sum(np.square(bins - [30.0, 60.0]), axis=-1)
    near, far = (tf.constant(np.broadcast_to(logits, (1, 2, 2, len(bins))), tf.float32)
                 for logits in (-distance / 50.0, -np.sum(np.square(bins + [30.0, 60.0]), axis=-1) / 50.0))
    assert float(model_lib.losses.BinClassification().call(truth, near)[0]) < float(
        model_lib.losses.BinClassification().call(truth, far)[0]) - 1.0
    assert 200 < len(bins) < 330 and np.all(np.abs(bins) <= 110)  # sRGB's ab cells of a 10-unit grid


def test_nearest_bins_by_grid_lookup_are_the_nearest_of_all_bins():
    # Every sRGB color, including the gamut's corners and edges where cells are missing around it.
    levels = np.linspace(0.0, 1.0, 9, dtype=np.float32)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, 27, 27, 3)
    truth = np.repeat(np.repeat(color.rgb2lab(rgb)[..., 1:].astype(np.float32), 2, 1), 2, 2) / 128.0
    negative_distance, nearest = losses._nearest_bins(tf.constant(truth), [1, 27, 27], 5)
    every_distance = np.sum(np.square(truth[0, ::2, ::2].reshape(-1, 1, 2) * 128.0 - losses.ab_bins()), -1)
    np.testing.assert_allclose(-negative_distance.numpy(), np.sort(every_distance, axis=-1)[:, :5], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.take_along_axis(every_distance, nearest.numpy(), -1), -negative_distance.numpy(),
                               rtol=1e-4, atol=1e-3)


def test_rebalancing_weighs_rare_colors_up_and_keeps_the_mean_weight_one():
    bins = model_lib.losses.ab_bins()
    gray = int(np.argmin(np.sum(np.square(bins), axis=-1)))
    blue = int(np.argmin(np.sum(np.square(bins - [10.0, -60.0]), axis=-1)))
    truth = np.zeros([4, 8, 8, 2], np.float32)
    truth[0, :2, :2] = np.array([10.0, -60.0]) / 128.0  # one blue 2x2 patch: 1 of the 64 half-size pixels
    counts = model_lib.losses.bin_counts(tf.constant(truth))
    assert counts.sum() == 64 and counts[gray] == 63 and counts[blue] == 1
    weights = model_lib.losses.rebalancing_weights(counts)
    assert weights[blue] > 5 * weights[gray]
    # With mix 1 every bin weighs the same: no rebalancing.
    np.testing.assert_allclose(model_lib.losses.rebalancing_weights(counts, mix=1.0), 1.0, rtol=1e-5)
    # A uniform prior needs almost none (the smoothing thins it at the gamut's edge).
    np.testing.assert_allclose(model_lib.losses.rebalancing_weights(np.ones(len(bins))), 1.0, rtol=0.2)


def test_unet_sees_the_row_and_the_whole_photo():
    model = model_lib.build_model(ModelConfig(variant="unet", image_size=32))
    coordinates = model_lib.AddRowCoordinate()(tf.zeros([2, 4, 3, 1]))
    np.testing.assert_allclose(coordinates[0, :, 0, 1], [-1.0, -1.0 / 3, 1.0 / 3, 1.0], atol=1e-6)
    assert coordinates.shape == (2, 4, 3, 2)
    assert sum(isinstance(layer, model_lib.AddRowCoordinate) for layer in model.layers) == 1
    # Skip connections at 1/2 and 1/4 of the size, and the global branch pooled over the whole photo.
    concatenated = [layer.input_shape for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert [shape[1][1] for shape in concatenated] == [4, 8, 16]
    assert any(isinstance(layer, keras.layers.GlobalAveragePooling2D) for layer in model.layers)
    # The global branch makes a pixel's color depend on the photo far outside its receptive field.
    lightness = tf.random.uniform([1, 32, 32, 1], -1.0, 1.0, seed=3)
    changed = tf.concat([lightness[:, :16], -lightness[:, 16:]], axis=1)
    corner = (model({features.L: lightness}, training=False)[0, :2, :2]
              - model({features.L: changed}, training=False)[0, :2, :2])
    assert float(tf.reduce_max(tf.abs(corner))) > 0.0


def test_unet_can_fuse_the_classifier_and_only_unet_chooses():
    plain = model_lib.build_model(ModelConfig(variant="unet", image_size=32))
    fused = model_lib.build_model(ModelConfig(variant="unet", image_size=32, classifier=True,
                                              backbone="mobilenet_v2", backbone_size=32))
    assert plain.input_names == [features.L] and sorted(fused.input_names) == [features.L, features.EMBEDDING]
    assert fused.count_params() > plain.count_params()
    with pytest.raises(ValueError, match="unet option"):
        ModelConfig(variant="beta", classifier=True)


def test_one_cycle_warms_up_then_decays_to_a_thousandth():
    schedule = model_lib.OneCycle(2e-3, total_steps=100)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 99, 100)]
    assert rates[0] == pytest.approx(2e-3 / 25) and rates[1] < rates[2] == pytest.approx(2e-3)
    assert rates[2] > rates[3] > rates[4] and rates[5] == pytest.approx(2e-3 / 1000)
    config = ModelConfig(variant="alpha", image_size=32, lr_schedule="one_cycle", learning_rate=2e-3)
    model = model_lib.compile_model(model_lib.build_model(config), config, total_steps=100)
    model.fit({features.L: tf.zeros([4, 32, 32, 1])}, tf.zeros([4, 32, 32, 2]), epochs=1, verbose=0)
    # The one step taken used the schedule's rate for step 0.
    assert int(model.optimizer.iterations) == 1
    assert float(model.optimizer.learning_rate) == pytest.approx(float(schedule(0)))
