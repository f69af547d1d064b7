"""Augmentation moves L and ab together and keeps their ranges."""
import numpy as np
import tensorflow as tf

from colornet.components.model.augmentation import augment, random_shear


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    lightness = tf.constant(rng.uniform(-1, 1, [4, 32, 32, 1]), tf.float32)
    # ab is a pixelwise linear function of L: it stays one only if both move identically.
    ab = tf.concat([0.5 * lightness, -0.25 * lightness], axis=-1)
    return lightness, ab


def test_l_and_ab_move_together():
    lightness, ab = _batch()
    new_lightness, new_ab = augment(lightness, ab)
    assert new_lightness.shape == lightness.shape and new_ab.shape == ab.shape
    np.testing.assert_allclose(new_ab.numpy(), tf.concat([0.5 * new_lightness, -0.25 * new_lightness], -1).numpy(),
                               atol=1e-5)
    assert not np.allclose(new_lightness.numpy(), lightness.numpy())  # something happened


def test_values_stay_in_range_and_each_call_differs():
    lightness, ab = _batch(1)
    first, _ = augment(lightness, ab)
    second, _ = augment(lightness, ab)
    assert float(tf.reduce_max(tf.abs(first))) <= 1.0 + 1e-6  # interpolation and reflection only
    assert not np.allclose(first.numpy(), second.numpy())


def test_shear_keeps_the_centre_row():
    image = tf.random.uniform([1, 9, 9, 1], seed=3)
    sheared = random_shear(image)
    np.testing.assert_allclose(sheared[0, 4].numpy(), image[0, 4].numpy(), atol=1e-6)
