"""evaluate_folder, saved_model_colorizer and the ``evaluate`` command on real photos and real SavedModels."""
import argparse
import io
import json

import numpy as np
import pytest
import skimage.color
import tensorflow as tf
from colornet.components.evaluation import commands, metrics
from colornet.components.evaluation import report as report_lib
from colornet.components.model import lab
from colornet.schemas import serving_contract as contract
from colornet.serving.images import image_files
from photo_fixtures import make_photo_folder, rainbow_streaks
from PIL import Image

TINT_AB = (20.0, 30.0)  # the tint stand-in paints every pixel with this chroma


class _StandInColorizer(tf.Module):
    """The serving signature of the real model (``images`` -> ``colorized`` PNG) around a simple transform."""

    def __init__(self, transform):
        super().__init__()
        self._transform = transform

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, images):
        def colorize_one(data):
            rgb = tf.image.convert_image_dtype(tf.io.decode_image(data, channels=3, expand_animations=False),
                                               tf.float32)
            return tf.io.encode_png(tf.image.convert_image_dtype(self._transform(rgb), tf.uint8, saturate=True))
        return {contract.COLORIZED_OUTPUT: tf.map_fn(colorize_one, images, fn_output_signature=tf.string)}


def _tint(rgb):
    lightness = lab.rgb_to_lab(rgb)[..., :1]
    ab = tf.ones_like(lightness) * tf.constant(TINT_AB)
    return lab.lab_to_rgb(tf.concat([lightness, ab], axis=-1))


def _save(transform, directory):
    module = _StandInColorizer(transform)
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})


@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
    """A Pusher-style base directory: version 1 returns its input unchanged, version 2 (the latest) tints it."""
    base = tmp_path_factory.mktemp("models")
    _save(tf.identity, base / "1")
    _save(_tint, base / "2")
    (base / "10-not-a-version").mkdir()
    return base


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_data):
    return make_photo_folder(tmp_path_factory.mktemp("photos"), shared_data)


@pytest.fixture(scope="module")
def classifier():
    """One Lite0 for the module's evaluations (``evaluate_folder`` builds its own without one)."""
    return metrics.Classifier()


def _paths(report):
    return [record["path"] for record in report["photos"]]


def test_identity_model_scores_exactly_the_gray_baseline(model_base, photos):
    # No classifier given: evaluate_folder builds its own.
    report = report_lib.evaluate_folder(report_lib.saved_model_colorizer(model_base / "1"), photos, batch_size=2)
    assert _paths(report) == ["astronaut.png", "camera_bw.png", *[f"nested/{p.name}" for p in
                                                                  sorted((photos / "nested").iterdir())]]
    assert [item["path"] for item in report["unreadable"]] == ["broken.jpg"]
    for record in report["photos"]:
        assert record["model"] == record["gray"]
    summary = report["summary"]
    assert summary["photos"] == 4 and summary["already_gray"] == 1
    assert summary["model"] == summary["gray"]
    assert summary["model_beats_gray"] == {name: 0.0 for name in report_lib.MEASURES}
    assert summary["ratios"]["ab_mse_vs_gray"] == 1.0 and summary["ratios"]["ab_mse_vs_constant"] > 1.0
    assert summary["intervals"]["ab_mse_vs_gray"] == [1.0, 1.0] and summary["ratios"]["top1_gain_over_gray"] == 0.0
    assert summary["model"]["false_color"] == 0.0 < summary["original"]["false_color"]
    json.loads(json.dumps(report))  # JSON-able


def test_latest_version_is_used_and_tints(model_base, photos):
    assert report_lib.resolve_saved_model_dir(model_base) == model_base / "2"
    report = report_lib.evaluate_folder(report_lib.saved_model_colorizer(model_base), photos, max_images=2)
    assert _paths(report) == ["astronaut.png"]  # the first 2 files: the second is broken.jpg
    astronaut = report["photos"][0]
    assert astronaut["model"]["colorfulness"] > astronaut["gray"]["colorfulness"] + 10
    # One tint everywhere: chroma varies within the photo only where the gamut clips it (near black and white).
    assert astronaut["model"]["ab_spread"] < 0.5 * astronaut["original"]["ab_spread"]
    # The same tint done with scikit-image (out-of-gamut colors clip in both) scores the same.
    original = np.asarray(Image.open(photos / "astronaut.png").convert("RGB"))
    tinted_lab = skimage.color.rgb2lab(original)
    tinted_lab[..., 1:] = TINT_AB
    tinted = (skimage.color.lab2rgb(tinted_lab) * 255).round().astype(np.uint8)
    expected = np.mean((skimage.color.rgb2lab(tinted)[..., 1:] - skimage.color.rgb2lab(original)[..., 1:]) ** 2)
    assert astronaut["model"]["ab_mse"] == pytest.approx(expected, rel=0.01)


def test_the_best_constant_is_the_folders_mean_color_and_no_tint_beats_it(photos, classifier):
    constant = report_lib.constant_color(image_files(photos))
    colored = [report_lib.read_rgb(path.read_bytes()) for path in sorted((photos / "nested").glob("*.jpg"))]
    colored.append(report_lib.read_rgb((photos / "astronaut.png").read_bytes()))
    pixels = np.concatenate([skimage.color.rgb2lab(photo)[..., 1:].reshape(-1, 2) for photo in colored])
    np.testing.assert_allclose(constant, pixels.mean(axis=0), atol=0.05)  # the B&W photo is left out

    def paint(tint):
        def colorize(images):
            outputs = []
            for data in images:
                lab_image = skimage.color.rgb2lab(report_lib.read_rgb(data))
                lab_image[..., 1:] = tint
                outputs.append(report_lib.encode_png((skimage.color.lab2rgb(lab_image) * 255).round().astype(np.uint8)))
            return outputs
        return colorize

    for tint in (constant, constant + [6.0, -4.0], (0.0, 15.0)):
        summary = report_lib.evaluate_folder(paint(tint), photos, classifier=classifier)["summary"]
        assert summary["ratios"]["ab_mse_vs_constant"] > 0.99  # uint8 rounding of the PNGs only
        # Every photo gets the same mean color, but for what the gamut clips.
        assert summary["photo_color_std"]["model"] < 0.25 * summary["photo_color_std"]["original"]


def test_an_oracle_beats_both_baselines_everywhere(photos, classifier):
    """A colorize_fn that knows the answer: the metrics must show it."""
    originals = {}
    for path in image_files(photos):
        try:
            original = report_lib.read_rgb(path.read_bytes())
        except OSError:
            continue
        gray = report_lib._rgb(metrics.with_ab(report_lib._lab(original), 0.0))
        originals[report_lib.encode_png(gray)] = report_lib.encode_png(original)
    report = report_lib.evaluate_folder(lambda images: [originals[data] for data in images], photos,
                                        classifier=classifier)
    summary = report["summary"]
    assert summary["model"]["psnr"] == metrics.MAX_PSNR and summary["model"]["ssim"] == pytest.approx(1.0)
    assert summary["model"]["ab_mse"] == 0.0 < summary["constant"]["ab_mse"] < summary["gray"]["ab_mse"]
    assert summary["model_beats_gray"]["ab_mse"] == summary["model_beats_constant"]["ab_mse"] == 1.0
    assert summary["ratios"]["colorfulness_vs_original"] == pytest.approx(1.0)
    assert summary["photo_color_std"]["model"] == pytest.approx(summary["photo_color_std"]["original"])
    # The originals' own classes and false color (PNG round trips are lossless).
    assert summary["model"]["top1"] == summary["model"]["top5"] == 1.0
    assert summary["model"]["false_color"] == summary["original"]["false_color"]
    assert summary["ratios"]["false_color_vs_original"] == 1.0
    assert summary["intervals"]["ab_mse_vs_constant"] == [0.0, 0.0]


def test_rainbow_streaks_are_reported_far_above_the_originals_false_color(photos, classifier):
    def streaks(images):
        return [report_lib.encode_png(rainbow_streaks(report_lib.read_rgb(data))) for data in images]
    report = report_lib.evaluate_folder(streaks, photos, classifier=classifier)
    summary = report["summary"]
    assert summary["ratios"]["false_color_vs_original"] > 10.0
    assert summary["gray"]["false_color"] == 0.0 and summary["constant"]["false_color"] < 1e-4
    assert summary["model_beats_gray"]["false_color"] == 0.0  # gray is nearer the originals' few such pixels
    assert "false color" in report_lib.headline(report)


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_photos():
    rng = np.random.default_rng(3)
    model, constant = rng.gamma(4.0, 40.0, size=100), rng.gamma(4.0, 42.0, size=100)
    wide = report_lib.bootstrap_interval(model[:14], constant[:14])
    narrow = report_lib.bootstrap_interval(model, constant)
    assert wide[0] < model[:14].mean() / constant[:14].mean() < wide[1]
    assert narrow[0] < model.mean() / constant.mean() < narrow[1]
    assert narrow[1] - narrow[0] < 0.6 * (wide[1] - wide[0])  # about sqrt(14 / 100) as wide
    assert report_lib.bootstrap_interval([0.0, 1.0, 1.0, 0.0]) == pytest.approx([0.0, 1.0])  # a fraction's


def test_a_colorizer_that_changes_the_size_is_an_error(photos):
    def shrink(images):
        return [report_lib.encode_png(report_lib.read_rgb(data)[1:]) for data in images]
    with pytest.raises(ValueError, match="must keep the size"):
        report_lib.evaluate_folder(shrink, photos, max_images=1)


def test_gray_input_is_an_rgb_png_of_the_lightness(photos):
    seen = []

    def record_inputs(images):
        seen.extend(images)
        return images
    report_lib.evaluate_folder(record_inputs, photos, max_images=1)
    with Image.open(io.BytesIO(seen[0])) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        gray = np.asarray(image)
    assert float(metrics.colorfulness(tf.constant(gray[None], tf.float32) / 255.0)[0]) < 1.0


def test_missing_models_and_photos_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        report_lib.resolve_saved_model_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no photos"):
        report_lib.evaluate_folder(lambda images: images, tmp_path)


def test_evaluate_command_prints_the_table_and_writes_both_files(model_base, photos, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="colornet")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["evaluate", "--model", str(model_base), "--images", str(photos), "--max-images", "4",
                              "--json", str(tmp_path / "out" / "report.json"),
                              "--gallery", str(tmp_path / "out" / "gallery.html")])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "2 color photos evaluated; 1 already black-and-white" in printed
    assert "the best constant color's (95 % interval" in printed and "classifier top-1 agrees" in printed
    for label in report_lib.METRIC_LABELS.values():
        assert label in printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"] == str(model_base / "2")
    assert len(report["photos"]) == 3
    assert (tmp_path / "out" / "gallery.html").read_text().count("<section>") == 3


@pytest.mark.slow  # a Lite0 model trained, exported and served, and a Transform graph: ~1 min alone, 2.5 at load 3
def test_a_bin_classifier_is_measured_at_the_temperature_asked_for(tmp_path, photos, shared_data):
    """``saved_model_colorizer(path, temperature)`` re-tempers the exported model's annealed mean (how
    benchmarks/quality.py measures one training at several temperatures); a model without one is refused."""
    from export_fixtures import SIZE, tiny_model, training_photos, write_transform_output
    from colornet.components.model import export, network
    from colornet.schemas.config import ModelConfig

    tf.keras.utils.set_random_seed(0)
    config = ModelConfig(variant="lite0_unet", image_size=SIZE, loss="classification", backbone_weights="none",
                         learning_rate=3e-3)
    model = network.compile_model(network.build_model(config), config)
    lightness = tf.random.uniform([4, SIZE, SIZE, 1], -1.0, 1.0, seed=1)
    two_colors = tf.concat([tf.zeros([2, SIZE, SIZE, 2]) + [0.3, 0.45], tf.zeros([2, SIZE, SIZE, 2]) - [0.1, 0.4]], 0)
    model.fit({"L": lightness}, two_colors, epochs=20, verbose=0)  # one photo could be either: two modes
    tft_output = write_transform_output(tmp_path / "transform_graph", training_photos(shared_data))
    path = export.export_serving_model(model, tft_output, SIZE, str(tmp_path / "bins"))
    gray_photo = (photos / "astronaut.png").read_bytes()

    def chroma(temperature):
        colorized = report_lib.read_rgb(report_lib.saved_model_colorizer(path, temperature)([gray_photo])[0])
        return float(np.abs(skimage.color.rgb2lab(colorized)[..., 1:]).mean())

    assert chroma(0.1) > chroma(1.0) + 1.0  # the mode is more vivid than the mean of two colors
    alpha = export.export_serving_model(tiny_model(), tft_output, SIZE, str(tmp_path / "alpha"))
    with pytest.raises(ValueError, match="not a bin classifier"):
        report_lib.saved_model_colorizer(alpha, 0.5)
