"""preprocessing_fn under tf.Transform's Beam implementation on real photos: the compact stored form
(``example_codec``) decodes to shapes and ranges the models expect, and to scikit-image's L and ab
within the stored precision."""
import io
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import tensorflow_transform.beam as tft_beam
from PIL import Image
from skimage import color
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from colornet.components.model import example_codec, network as model_lib, preprocessing, transform
from colornet.schemas.config import ModelConfig
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


def _decoded(results, size):
    """Transform's stored outputs for several photos -> decoded features as numpy arrays."""
    stored = {name: tf.constant([result[name] for result in results]) for name in results[0]}
    return {name: value.numpy() for name, value in example_codec.decode(stored, size).items()}


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


def test_transform_gives_scikit_images_lab_within_the_stored_precision(photos):
    crop, _ = photos
    decoded = _decoded(_transform([_encode(crop, "PNG")], size=48), 48)  # same size: the resize is the identity
    expected = color.rgb2lab(crop / 255.0)
    lightness = (decoded[features.L].reshape(48, 48) + 1.0) * 50.0
    ab = decoded[features.AB].reshape(48, 48, 2) * 128.0
    # Stored as uint8: L in steps of 100/255 (error <= 0.196), ab in whole units (error <= 0.5).
    assert np.abs(lightness - expected[..., 0]).max() <= 50.0 / 255.0 + 1e-3
    assert np.abs(ab - expected[..., 1:]).max() <= 0.5 + 1e-3
    assert np.abs(lightness - expected[..., 0]).mean() > 0.01  # quantized indeed: not the float values


def test_any_photo_is_stored_as_one_small_png_that_decodes_to_the_model_size_in_range(photos):
    crop, jpeg = photos
    results = _transform([jpeg, _encode(crop, "PNG")], size=32)
    assert len(results) == 2
    for result in results:
        assert set(result) == {features.LAB_PNG}
        assert tf.io.decode_png(result[features.LAB_PNG]).shape == (32, 32, 3)
    decoded = _decoded(results, 32)
    assert decoded[features.L].shape == (2, 32 * 32) and decoded[features.AB].shape == (2, 32 * 32 * 2)
    assert decoded[features.L].dtype == np.float32 and decoded[features.AB].dtype == np.float32
    assert -1.0 <= decoded[features.L].min() and decoded[features.L].max() <= 1.0
    assert np.abs(decoded[features.AB]).max() <= 1.0
    assert decoded[features.AB].std() > 0.01  # a color photo: not gray


@pytest.mark.slow  # a Transform run with a classifier (~45 s)
def test_fusion_examples_carry_the_classifier_embedding_of_each_photo(photos, tmp_path):
    # A classifier weights file, as a user would configure one. Randomly initialized MobileNetV2
    # features are ~1e-11 (a flat softmax for every photo), so its top layer is scaled up until
    # different photos get clearly different class scores.
    settings = {"variant": "fusion", "backbone": "mobilenet_v2", "backbone_size": 32}
    keras.utils.set_random_seed(3)  # the random classifier, and so how far apart two photos' scores are
    backbone = model_lib.build_backbone(ModelConfig(image_size=32, **settings))
    top = backbone.layers[-1]
    top.kernel.assign(tf.random.normal(top.kernel.shape, stddev=1e12, seed=3))
    weights = str(tmp_path / "classifier.h5")
    backbone.save_weights(weights)

    crop, jpeg = photos
    results = _transform([jpeg, _encode(crop, "PNG")], size=32,
                         model_settings={**settings, "backbone_weights": weights})
    assert set(results[0]) == {features.LAB_PNG, features.EMBEDDING_F16}
    embeddings = _decoded(results, 32)[features.EMBEDDING]
    for encoded, embedding in zip([jpeg, _encode(crop, "PNG")], embeddings):
        # Computed in Transform from the float32 L (before L is quantized for storage), stored as float16.
        lightness, _ = preprocessing.model_lab(preprocessing.decode_rgb(encoded), 32)
        expected = model_lib.classifier_embedding(backbone, lightness[None])[0].numpy()
        np.testing.assert_allclose(embedding, expected, rtol=2.0 ** -11, atol=1e-7)
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-3
