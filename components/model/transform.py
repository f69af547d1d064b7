"""Transform module: raw photo bytes -> the photo's Lab at the model's size, and for fusion models the
classifier's embedding of each photo, in the TensorFlow graph, stored compactly (``example_codec``).

Used by the TFX Transform component as ``preprocessing_fn``; the resulting transform
graph is embedded in the exported model, so serving runs this very code. Its
``custom_config`` is the model settings it reads (``ModelConfig.transform_settings``).
"""
import tensorflow as tf
import tensorflow_transform as tft

from ...schemas.config import ModelConfig
from ...schemas import features
from . import example_codec, network, preprocessing

# The name the classifier is saved under in the Transform graph; serving reads it from there
# (``signatures.attach_classifier``).
CLASSIFIER = "classifier"


def preprocessing_fn(inputs, custom_config):
    """tf.Transform entry point. ``inputs[image]`` is a batch of encoded photos ([batch] or [batch, 1]).

    Returns the stored features (``example_codec``): ``lab_png`` and, when the model fuses the classifier, ``embedding_f16``.
    """
    config = ModelConfig.from_dict(custom_config)
    size = config.image_size
    encoded = tf.reshape(inputs[features.IMAGE], [-1])

    def split(one):
        lightness, ab = preprocessing.model_lab(preprocessing.decode_rgb(one), size)
        return lightness, example_codec.encode_lab(lightness, ab)

    # decode_image works on scalars, so the batch goes through map_fn (tensorflow/transform#119).
    lightness, lab_png = tf.map_fn(
        split,
        encoded,
        fn_output_signature=(tf.TensorSpec([size, size, 1], tf.float32), tf.TensorSpec([], tf.string)),
    )
    outputs = {features.LAB_PNG: lab_png}
    if config.uses_classifier:
        # Once per photo here instead of every training step (see network.py), from the float32 L.
        backbone = tft.make_and_track_object(lambda: network.build_backbone(config), name=CLASSIFIER)
        outputs[features.EMBEDDING_F16] = example_codec.encode_embedding(
            network.classifier_embedding(backbone, lightness))
    return outputs
