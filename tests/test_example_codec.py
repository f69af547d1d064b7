"""The compact stored form of transformed examples: what goes in comes back within the stored
precision, out-of-range values are clipped as serving clips them, and the Trainer's fused decode
(warp before dequantizing, under XLA) gives the same numbers as warping the decoded floats, in the
layout of the plain decode."""
import numpy as np
import tensorflow as tf

from colornet.components.model import augmentation, example_codec, preprocessing
from colornet.schemas import features

SIZE = 16
L_STEP = 2.0 / 255.0  # one stored level of L on the model's [-1, 1] scale
AB_STEP = 1.0 / 128.0  # one Lab unit of ab on the model's ab / 128 scale


def _photos(count=3, seed=0):
    """Model-scaled L in [-1, 1] and ab / 128 in (-1, 1), smooth enough to look like photos."""
    rng = np.random.default_rng(seed)
    lightness = np.clip(rng.normal(0.0, 0.5, [count, SIZE, SIZE, 1]), -1.0, 1.0).astype(np.float32)
    ab = rng.uniform(-0.6, 0.6, [count, SIZE, SIZE, 2]).astype(np.float32)
    return lightness, ab


def _stored(lightness, ab, embedding=None):
    stored = {features.LAB_PNG: tf.stack([example_codec.encode_lab(one_l, one_ab) for one_l, one_ab in zip(lightness, ab)])}
    if embedding is not None:
        stored[features.EMBEDDING_F16] = example_codec.encode_embedding(embedding)
    return stored


def test_lab_and_embedding_come_back_within_the_stored_precision():
    lightness, ab = _photos()
    embedding = tf.nn.softmax(tf.random.normal([3, 1000], stddev=4.0, seed=1)).numpy()
    stored = _stored(lightness, ab, embedding)
    assert stored[features.LAB_PNG].dtype == tf.string and stored[features.EMBEDDING_F16].dtype == tf.int64
    decoded = {name: value.numpy() for name, value in example_codec.decode(stored, SIZE).items()}
    assert decoded[features.L].shape == (3, SIZE * SIZE) and decoded[features.AB].shape == (3, SIZE * SIZE * 2)
    assert np.abs(decoded[features.L] - lightness.reshape(3, -1)).max() <= L_STEP / 2 + 1e-6
    assert np.abs(decoded[features.AB] - ab.reshape(3, -1)).max() <= AB_STEP / 2 + 1e-6
    np.testing.assert_allclose(decoded[features.EMBEDDING], embedding, rtol=2.0 ** -11, atol=2.0 ** -25)
    assert decoded[features.EMBEDDING].dtype == np.float32


def test_a_photo_is_a_png_of_its_stored_levels():
    lightness = np.full([SIZE, SIZE, 1], -0.2, np.float32)   # L = 40
    ab = np.full([SIZE, SIZE, 2], [-10.0 / 128, 30.0 / 128], np.float32)
    levels = tf.io.decode_png(example_codec.encode_lab(lightness, ab)).numpy()
    np.testing.assert_array_equal(levels[0, 0], [round(40 * 2.55), 128 - 10, 128 + 30])


def test_levels_of_real_photos_come_back_exactly(shared_data):
    for path in sorted((shared_data / "bsds500" / "val").glob("*.jpg"))[:2]:
        rgb8 = tf.io.decode_jpeg(path.read_bytes(), channels=3)
        lightness, ab = preprocessing.model_lab(tf.image.convert_image_dtype(rgb8, tf.float32), 64)
        levels = example_codec.decode_lab_png(example_codec.encode_lab(lightness, ab)[None], 64)[0]
        np.testing.assert_array_equal(levels, example_codec.quantize(lightness, ab))


def test_served_values_are_the_stored_values_dequantized(shared_data):
    path = sorted((shared_data / "bsds500" / "val").glob("*.jpg"))[0]
    rgb8 = tf.io.decode_jpeg(path.read_bytes(), channels=3)
    lightness, ab = preprocessing.model_lab(tf.image.convert_image_dtype(rgb8, tf.float32), SIZE)
    stored = {features.LAB_PNG: example_codec.encode_lab(lightness, ab)[None]}
    decoded = example_codec.decode(stored, SIZE)
    served_lightness, served = example_codec.served_lab(rgb8, SIZE)
    np.testing.assert_array_equal(served_lightness, lightness)  # the float32 L the classifier's embedding is computed from
    served = served.numpy()
    np.testing.assert_array_equal(served[..., :1].reshape(1, -1), decoded[features.L])
    np.testing.assert_array_equal(served[..., 1:].reshape(1, -1), decoded[features.AB])


def test_ab_outside_the_served_range_is_clipped_as_serving_clips_it():
    lightness = np.zeros([SIZE, SIZE, 1], np.float32)
    ab = np.full([SIZE, SIZE, 2], [-1.5, 1.5], np.float32)  # -192 and +192 Lab units
    decoded = example_codec.decode(_stored([lightness], [ab]), SIZE)[features.AB].numpy()
    np.testing.assert_allclose(decoded.reshape(-1, 2)[0] * 128.0, [-128.0, 127.0])


def test_the_trainers_fused_decode_equals_warping_the_decoded_floats():
    lightness, ab = _photos(seed=2)
    stored = _stored(lightness, ab)
    matrices = augmentation.random_matrices(3, SIZE, SIZE)

    def warp(images):
        return augmentation.warp(images, matrices)

    fused = example_codec.decode(stored, SIZE, transform_lab=warp, xla=True)
    plain = example_codec.decode(stored, SIZE)
    stacked = tf.concat([tf.reshape(plain[features.L], [3, SIZE, SIZE, 1]),
                         tf.reshape(plain[features.AB], [3, SIZE, SIZE, 2])], axis=-1)
    expected = warp(stacked)  # dequantize then warp: what the fused decode reorders
    np.testing.assert_allclose(tf.reshape(fused[features.L], [3, SIZE, SIZE, 1]), expected[..., :1], atol=1e-5)
    np.testing.assert_allclose(tf.reshape(fused[features.AB], [3, SIZE, SIZE, 2]), expected[..., 1:], atol=1e-5)
    assert not np.allclose(fused[features.L].numpy(), plain[features.L].numpy())  # the warp did move pixels


def test_the_trainers_decode_hands_out_the_plain_decodes_features():
    """The Trainer's XLA output (every photo's L, then every photo's ab, split without a copy) holds the
    features of the plain decode, photo by photo."""
    lightness, ab = _photos(count=5, seed=3)
    embedding = tf.nn.softmax(tf.random.normal([5, 1000], seed=4)).numpy()
    stored = _stored(lightness, ab, embedding)
    fused = example_codec.decode(stored, SIZE, xla=True)
    plain = example_codec.decode(stored, SIZE)
    assert fused.keys() == plain.keys()
    for name, values in plain.items():
        assert fused[name].shape == values.shape
        # the same multiply-add, within one float32 rounding (XLA's FMA rounds once)
        np.testing.assert_allclose(fused[name], values, rtol=0, atol=2.0 ** -23)
