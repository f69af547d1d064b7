"""Augmentation moves L and ab together, keeps their ranges, and resamples exactly as TensorFlow's
projective transform does, in one warp."""
import numpy as np
import tensorflow as tf

from colornet.components.model.augmentation import random_matrices, shear_matrices, warp


def random_affine(images):
    shape = tf.shape(images)
    return warp(images, random_matrices(shape[0], shape[1], shape[2]))


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    lightness = tf.constant(rng.uniform(-1, 1, [4, 32, 32, 1]), tf.float32)
    # ab is a pixelwise linear function of L: it stays one only if both move identically.
    return tf.concat([lightness, 0.5 * lightness, -0.25 * lightness], axis=-1)


def test_l_and_ab_move_together():
    stacked = _batch()
    moved = random_affine(stacked)
    assert moved.shape == stacked.shape and moved.dtype == tf.float32
    np.testing.assert_allclose(moved[..., 1:].numpy(), tf.concat([0.5 * moved[..., :1], -0.25 * moved[..., :1]], -1),
                               atol=1e-5)
    assert not np.allclose(moved.numpy(), stacked.numpy())  # something happened


def test_values_stay_in_range_and_each_call_differs():
    stacked = _batch(1)
    first, second = random_affine(stacked), random_affine(stacked)
    assert float(tf.reduce_max(tf.abs(first))) <= 1.0 + 1e-6  # interpolation and reflection only
    assert not np.allclose(first.numpy(), second.numpy())


def test_shear_keeps_the_centre_row():
    image = tf.random.uniform([1, 9, 9, 1], seed=3)
    sheared = warp(image, shear_matrices(1, 9))
    np.testing.assert_allclose(sheared[0, 4].numpy(), image[0, 4].numpy(), atol=1e-6)


def test_warp_resamples_as_tensorflows_projective_transform_with_reflection():
    images = tf.random.uniform([3, 40, 30, 3], seed=5)
    angle = np.array([0.3, -0.2, 0.05])
    rows = [np.cos(angle) * 1.1, -np.sin(angle), [-4.0, 7.5, 30.0],
            np.sin(angle), np.cos(angle) * 0.9, [3.0, -2.0, 0.5]]
    transforms = np.stack([*rows, np.zeros(3), np.zeros(3)], axis=1).astype(np.float32)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[40, 30], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
    matrices = np.concatenate([transforms[:, :6], np.tile([0.0, 0.0, 1.0], (3, 1))], axis=1).reshape(3, 3, 3)
    np.testing.assert_allclose(warp(images, tf.constant(matrices, tf.float32)).numpy(), expected.numpy(), atol=1e-5)


def test_uint8_images_are_interpolated_in_float():
    images = tf.constant([[[[0], [255]], [[0], [255]]]], tf.uint8)  # 2x2: black left column, white right
    half_pixel_left = tf.constant([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    warped = warp(images, half_pixel_left)
    assert warped.dtype == tf.float32
    np.testing.assert_allclose(warped[0, :, 0, 0].numpy(), [127.5, 127.5])
