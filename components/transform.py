"""Transform module: raw photo bytes -> (L, ab) at the model's size, in the TensorFlow graph.

Used by the TFX Transform component as ``preprocessing_fn``; the resulting transform
graph is embedded in the exported model, so serving runs this very code.
"""
import tensorflow as tf

from colornet.components import features, preprocessing

DEFAULT_IMAGE_SIZE = 256


def image_size(custom_config):
    """The model's square working size, from the Transform/Trainer ``custom_config``."""
    size = int((custom_config or {}).get("image_size", DEFAULT_IMAGE_SIZE))
    if size % 8:
        raise ValueError(f"image_size must be a multiple of 8 (three stride-2 stages), got {size}")
    return size


def preprocessing_fn(inputs, custom_config):
    """tf.Transform entry point. ``inputs[image]`` is a batch of encoded photos ([batch] or [batch, 1])."""
    size = image_size(custom_config)
    encoded = tf.reshape(inputs[features.IMAGE], [-1])

    def split(one):
        lightness, ab = preprocessing.model_lab(preprocessing.decode_rgb(one), size)
        return tf.reshape(lightness, [-1]), tf.reshape(ab, [-1])

    # decode_image works on scalars, so the batch goes through map_fn (tensorflow/transform#119).
    lightness, ab = tf.map_fn(
        split,
        encoded,
        fn_output_signature=(
            tf.TensorSpec([size * size], tf.float32),
            tf.TensorSpec([size * size * 2], tf.float32),
        ),
    )
    return {features.L: lightness, features.AB: ab}
