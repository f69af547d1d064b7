"""Transform module: raw photo bytes -> (L, ab) at the model's size, and for fusion models the
classifier's embedding of each photo, in the TensorFlow graph.

Used by the TFX Transform component as ``preprocessing_fn``; the resulting transform
graph is embedded in the exported model, so serving runs this very code. Its
``custom_config`` is the model's settings (``pipeline/config.py``, ``ModelConfig``).
"""
import tensorflow as tf
import tensorflow_transform as tft

from ...pipeline.config import ModelConfig
from ...schemas import features
from . import network, preprocessing


def preprocessing_fn(inputs, custom_config):
    """tf.Transform entry point. ``inputs[image]`` is a batch of encoded photos ([batch] or [batch, 1])."""
    config = ModelConfig.from_dict(custom_config)
    size = config.image_size
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
    outputs = {features.L: lightness, features.AB: ab}
    if config.uses_classifier:
        # Once per photo here instead of every training step (see network.py).
        backbone = tft.make_and_track_object(lambda: network.build_backbone(config), name="classifier")
        outputs[features.EMBEDDING] = network.classifier_embedding(
            backbone, tf.reshape(lightness, [-1, size, size, 1]))
    return outputs
