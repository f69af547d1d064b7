"""Signatures of the exported SavedModel.

* ``serving_default``: ``images`` (encoded bytes, any size, mixed sizes) -> ``colorized``
  (PNG bytes at each input's own resolution: ab predicted at the model's size, stretched
  back and joined with the photo's full-resolution L). Accepted formats and the error for
  anything else: ``serving_decode``.
* ``colorize_ab``: ``images`` -> ``ab`` predicted at the model's size, in Lab units.
* ``transform_features`` / ``evaluate``: serialized raw tf.Examples -> transformed
  features / per pixel (L scaled, predicted ab / 128) flattened, the pair TFMA needs
  (penguin pattern): the label is Transform's ``ab``; ``eval_metrics`` turns L + ab into
  RGB for PSNR.

The model's input L comes from the Transform graph (``tft_layer``), so serving runs the
exact preprocessing the model was trained on.
"""
import tensorflow as tf

from colornet.components import features, model as model_lib, preprocessing, serving_decode

EVAL_OUTPUT = "lab"  # the ``evaluate`` signature's output: [batch, size * size * 3]
SERVING_SIGNATURE = "serving_default"


def _predict_lab(model, raw, size):
    """Raw features -> (the model's input L in [-1, 1], predicted ab / 128), both [batch, size, size, c]."""
    inputs = model_lib.model_inputs(model.tft_layer(raw), size, model.input_names)
    return inputs[features.L], model(inputs, training=False)


def build_signatures(model, tft_output, size):
    """Traced signature functions for ``model.save(..., signatures=...)``; attaches the TFT layer."""
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    image_shape = list(raw_spec[features.IMAGE].shape)  # [] or [1], as the raw schema says
    images_spec = tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT)
    examples_spec = tf.TensorSpec([None], tf.string, name="examples")

    def predict_ab(checked_images):
        raw = {features.IMAGE: tf.reshape(checked_images, [-1, *image_shape])}
        return _predict_lab(model, raw, size)[1]

    def colorize(checked_images):
        def compose(pair):
            encoded, one_ab = pair
            return tf.io.encode_png(preprocessing.colorize_full_resolution(preprocessing.decode_rgb(encoded), one_ab))

        ab = predict_ab(checked_images)
        return tf.map_fn(compose, (checked_images, ab), fn_output_signature=tf.TensorSpec([], tf.string))

    @tf.function(input_signature=[images_spec])
    def serve(images):
        checked = serving_decode.check_images(images)
        pngs = tf.cond(tf.size(checked) > 0, lambda: colorize(checked), lambda: tf.constant([], tf.string))
        return {features.SERVING_OUTPUT: pngs}

    @tf.function(input_signature=[images_spec])
    def colorize_ab(images):
        checked = serving_decode.check_images(images)
        ab = tf.cond(tf.size(checked) > 0, lambda: predict_ab(checked), lambda: tf.zeros([0, size, size, 2]))
        return {features.AB_OUTPUT: ab * preprocessing.AB_SCALE}

    @tf.function(input_signature=[examples_spec])
    def transform_features(examples):
        return model.tft_layer(tf.io.parse_example(examples, raw_spec))

    @tf.function(input_signature=[examples_spec])
    def evaluate(examples):
        lightness, ab = _predict_lab(model, tf.io.parse_example(examples, raw_spec), size)
        lab_scaled = tf.concat([lightness, ab], axis=-1)
        return {EVAL_OUTPUT: tf.reshape(lab_scaled, [tf.shape(lab_scaled)[0], -1])}

    return {
        SERVING_SIGNATURE: serve,
        "colorize_ab": colorize_ab,
        "transform_features": transform_features,
        "evaluate": evaluate,
    }
