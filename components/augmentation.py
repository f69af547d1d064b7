"""The tutorial's augmentations, applied in the Trainer's tf.data pipeline (never in Transform,
where they would be applied once and frozen into the data).

L and ab are transformed together so the colors stay on their pixels: flips, small
rotations, zoom (a random crop stretched back) and small shifts. The tutorial's shear has
no tf_keras layer; rotation plus zoom covers the same kind of geometric jitter.
"""
import tensorflow as tf
import tf_keras as keras

_GEOMETRY = keras.Sequential([
    keras.layers.RandomFlip("horizontal"),
    keras.layers.RandomRotation(0.05, fill_mode="reflect"),
    keras.layers.RandomZoom(0.2, fill_mode="reflect"),
    keras.layers.RandomTranslation(0.05, 0.05, fill_mode="reflect"),
])


def augment(lightness, ab):
    """One random geometric transform per batch element, the same for L and ab."""
    stacked = _GEOMETRY(tf.concat([lightness, ab], axis=-1), training=True)
    return stacked[..., :1], stacked[..., 1:]
