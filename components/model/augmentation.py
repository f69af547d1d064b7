"""The tutorial's augmentations, applied in the Trainer's tf.data pipeline (never in Transform,
where they would be applied once and frozen into the data).

L and ab are stacked and transformed together so the colors stay on their pixels: horizontal
flips, small rotations, shear, zoom (zooming in is a random crop stretched back to the model's
size, the tutorial's random crops) and small shifts. Empty borders are filled by reflection.
"""
import tensorflow as tf
import tf_keras as keras

MAX_SHEAR = 0.2  # horizontal shift per row, as a fraction of the row's distance from the centre

_GEOMETRY = keras.Sequential([
    keras.layers.RandomFlip("horizontal"),
    keras.layers.RandomRotation(0.05, fill_mode="reflect"),
    keras.layers.RandomZoom(0.2, fill_mode="reflect"),
    keras.layers.RandomTranslation(0.05, 0.05, fill_mode="reflect"),
])


def random_shear(images, max_shear=MAX_SHEAR):
    """A random horizontal shear about the centre per image of a [batch, h, w, c] batch."""
    batch = tf.shape(images)[0]
    centre_row = (tf.cast(tf.shape(images)[1], tf.float32) - 1.0) / 2.0
    shear = tf.random.uniform([batch], -max_shear, max_shear)
    zeros, ones = tf.zeros([batch]), tf.ones([batch])
    # Output pixel (x, y) samples the input at (x + shear * (y - centre_row), y).
    transforms = tf.stack([ones, shear, -shear * centre_row, zeros, ones, zeros, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")


def augment(lightness, ab):
    """One random geometric transform per batch element, the same for L and ab."""
    stacked = _GEOMETRY(random_shear(tf.concat([lightness, ab], axis=-1)), training=True)
    return stacked[..., :1], stacked[..., 1:]
