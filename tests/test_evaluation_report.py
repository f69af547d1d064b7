"""evaluate_folder, saved_model_colorizer and the ``evaluate`` command on real photos and real SavedModels."""
import argparse
import io
import json
import math

import numpy as np
import pytest
import skimage.color
import tensorflow as tf
from PIL import Image

from colornet.components.model import lab
from colornet.schemas import serving_contract as contract
from colornet.serving.images import image_files
from colornet.components.evaluation import commands, metrics, report as report_lib
from photo_fixtures import make_photo_folder

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


def _paths(report):
    return [record["path"] for record in report["photos"]]


def test_identity_model_scores_exactly_the_gray_baseline(model_base, photos):
    report = report_lib.evaluate_folder(report_lib.saved_model_colorizer(model_base / "1"), photos, batch_size=2)
    assert _paths(report) == ["astronaut.png", "camera_bw.png", *[f"nested/{p.name}" for p in
                                                                  sorted((photos / "nested").iterdir())]]
    assert [item["path"] for item in report["unreadable"]] == ["broken.jpg"]
    for record in report["photos"]:
        assert record["model"] == record["gray"]
    summary = report["summary"]
    assert summary["photos"] == 4 and summary["already_gray"] == 1
    assert summary["model"] == summary["gray"]
    assert summary["model_beats_gray"] == {name: 0.0 for name in metrics.METRICS}
    json.loads(json.dumps(report))  # JSON-able


def test_latest_version_is_used_and_tints(model_base, photos):
    assert report_lib.resolve_saved_model_dir(model_base) == model_base / "2"
    report = report_lib.evaluate_folder(report_lib.saved_model_colorizer(model_base), photos, max_images=2)
    assert _paths(report) == ["astronaut.png"]  # the first 2 files: the second is broken.jpg
    astronaut = report["photos"][0]
    assert astronaut["model"]["colorfulness"] > astronaut["gray"]["colorfulness"] + 10
    # The same tint done with scikit-image (out-of-gamut colors clip in both) scores the same.
    original = np.asarray(Image.open(photos / "astronaut.png").convert("RGB"))
    tinted_lab = skimage.color.rgb2lab(metrics.gray_baseline(original))
    tinted_lab[..., 1:] = TINT_AB
    expected = metrics.ab_mse(original, metrics.to_uint8_rgb(skimage.color.lab2rgb(tinted_lab)))
    assert astronaut["model"]["ab_mse"] == pytest.approx(expected, rel=0.01)


def test_an_oracle_beats_gray_everywhere(photos):
    """A colorize_fn that knows the answer: the metrics must show it."""
    originals = {}
    for path in image_files(photos):
        try:
            original = report_lib.read_rgb(path.read_bytes())
        except OSError:
            continue
        originals[report_lib.encode_png(metrics.gray_baseline(original))] = report_lib.encode_png(original)
    report = report_lib.evaluate_folder(lambda images: [originals[data] for data in images], photos)
    summary = report["summary"]
    assert summary["model"]["psnr"] == math.inf and summary["model"]["ssim"] == pytest.approx(1.0)
    assert summary["model"]["ab_mse"] == 0.0 < summary["gray"]["ab_mse"]
    assert summary["model_beats_gray"]["ab_mse"] == 1.0
    assert summary["model"]["colorfulness"] == pytest.approx(summary["original"]["colorfulness"])


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
    assert metrics.colorfulness(gray) < 1.0


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
    for label in report_lib.METRIC_LABELS.values():
        assert label in printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"] == str(model_base / "2")
    assert len(report["photos"]) == 3
    assert (tmp_path / "out" / "gallery.html").read_text().count("<section>") == 3
