"""preprocessing_fn under tf.Transform's Beam implementation on real photos: shapes, ranges, and
the same L and ab as scikit-image."""
import io
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from PIL import Image
from skimage import color
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from colornet.components.model import network as model_lib, transform
from colornet.pipeline.config import ModelConfig
from colornet.schemas import features

# As the raw schema declares it (shape [1]): a dense [batch, 1] tensor in preprocessing_fn.
RAW_SPEC = {features.IMAGE: tf.io.FixedLenFeature([1], tf.string)}


def _transform(encoded_photos, size, model_settings=None):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    instances = [{features.IMAGE: [photo]} for photo in encoded_photos]
    with tft_beam.Context(temp_dir=tempfile.mkdtemp(), force_tf_compat_v1=False):
        (transformed, _), _ = (instances, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: transform.preprocessing_fn(
                inputs, {"image_size": size, "variant": "beta", **(model_settings or {})}))
    return transformed


def _encode(rgb, image_format):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, image_format)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(shared_data):
    """A 48x48 crop of a real photo (PNG, lossless) and a whole photo as its JPEG bytes."""
    path = sorted((shared_data / "bsds500" / "val").glob("*.jpg"))[0]
    rgb = np.asarray(Image.open(path).convert("RGB"))
    return rgb[100:148, 200:248], path.read_bytes()


def test_transform_gives_scikit_images_lab(photos):
    crop, _ = photos
    (result,) = _transform([_encode(crop, "PNG")], size=48)  # same size: the resize is the identity
    expected = color.rgb2lab(crop / 255.0)
    lightness = np.reshape(result[features.L], [48, 48])
    ab = np.reshape(result[features.AB], [48, 48, 2])
    np.testing.assert_allclose((lightness + 1.0) * 50.0, expected[..., 0], atol=1e-3)
    np.testing.assert_allclose(ab * 128.0, expected[..., 1:], atol=1e-3)


def test_any_photo_becomes_flat_l_and_ab_at_the_model_size_in_range(photos):
    crop, jpeg = photos
    results = _transform([jpeg, _encode(crop, "PNG")], size=32)
    assert len(results) == 2
    for result in results:
        assert set(result) == {features.L, features.AB}
        assert result[features.L].shape == (32 * 32,) and result[features.AB].shape == (32 * 32 * 2,)
        assert result[features.L].dtype == np.float32
        assert -1.0 <= result[features.L].min() and result[features.L].max() <= 1.0
        assert np.abs(result[features.AB]).max() <= 1.0
        assert result[features.AB].std() > 0.01  # a color photo: not gray


def test_fusion_examples_carry_the_classifier_embedding_of_each_photo(photos, tmp_path):
    # A classifier weights file, as a user would configure one. Randomly initialized MobileNetV2
    # features are ~1e-11 (a flat softmax for every photo), so its top layer is scaled up until
    # different photos get clearly different class scores.
    settings = {"variant": "fusion", "backbone": "mobilenet_v2", "backbone_size": 32}
    backbone = model_lib.build_backbone(ModelConfig(image_size=32, **settings))
    top = backbone.layers[-1]
    top.kernel.assign(tf.random.normal(top.kernel.shape, stddev=1e12, seed=3))
    weights = str(tmp_path / "classifier.h5")
    backbone.save_weights(weights)

    crop, jpeg = photos
    results = _transform([jpeg, _encode(crop, "PNG")], size=32,
                         model_settings={**settings, "backbone_weights": weights})
    for result in results:
        lightness = np.reshape(result[features.L], [1, 32, 32, 1])
        expected = model_lib.classifier_embedding(backbone, tf.constant(lightness))[0].numpy()
        np.testing.assert_allclose(result[features.EMBEDDING], expected, atol=1e-4)
    assert np.abs(results[0][features.EMBEDDING] - results[1][features.EMBEDDING]).max() > 1e-3

