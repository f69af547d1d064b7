"""Signatures of the exported SavedModel.

* ``serving_default``: ``images`` (encoded bytes, any size, mixed sizes) -> ``colorized``
  (PNG bytes at each input's own resolution: ab predicted at the model's size, stretched
  back and joined with the photo's full-resolution L).
* ``colorize_ab``: ``images`` -> ``ab`` predicted at the model's size, in Lab units.
* ``transform_features`` / ``evaluate``: serialized raw tf.Examples -> transformed
  features / flattened ab predictions, the pair TFMA needs (penguin pattern).

The model's input L comes from the Transform graph (``tft_layer``), so serving runs the
exact preprocessing the model was trained on.
"""
import tensorflow as tf

from colornet.components import features, model as model_lib, preprocessing


def _predict_ab(model, encoded_images, size, image_shape):
    """Runs the Transform graph on raw photo bytes, then the model: ab / 128 at the model's size.

    ``image_shape`` is the raw image feature's shape in the schema ([] or [1]).
    """
    raw = {features.IMAGE: tf.reshape(encoded_images, [-1, *image_shape])}
    return model(model_lib.model_inputs(model.tft_layer(raw), size), training=False)


def build_signatures(model, tft_output, size):
    """Traced signature functions for ``model.save(..., signatures=...)``; attaches the TFT layer."""
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    image_shape = list(raw_spec[features.IMAGE].shape)
    images_spec = tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)
    examples_spec = tf.TensorSpec([None], tf.string, name="examples")

    @tf.function(input_signature=[images_spec])
    def serve(images):
        ab = _predict_ab(model, images, size, image_shape)

        def compose(pair):
            encoded, one_ab = pair
            return tf.io.encode_png(preprocessing.colorize_full_resolution(preprocessing.decode_rgb(encoded), one_ab))

        pngs = tf.map_fn(compose, (images, ab), fn_output_signature=tf.TensorSpec([], tf.string))
        return {features.SERVING_OUTPUT: pngs}

    @tf.function(input_signature=[images_spec])
    def colorize_ab(images):
        return {features.AB_OUTPUT: _predict_ab(model, images, size, image_shape) * preprocessing.AB_SCALE}

    @tf.function(input_signature=[examples_spec])
    def transform_features(examples):
        return model.tft_layer(tf.io.parse_example(examples, raw_spec))

    @tf.function(input_signature=[examples_spec])
    def evaluate(examples):
        transformed = model.tft_layer(tf.io.parse_example(examples, raw_spec))
        ab = model(model_lib.model_inputs(transformed, size), training=False)
        return {features.AB: tf.reshape(ab, [tf.shape(ab)[0], -1])}

    return {
        "serving_default": serve,
        "colorize_ab": colorize_ab,
        "transform_features": transform_features,
        "evaluate": evaluate,
    }
