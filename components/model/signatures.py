"""Signatures of the exported SavedModel, as ``schemas/serving_contract.py`` defines them.

* ``serving_default``: ``images`` (encoded bytes, any size, mixed sizes) -> ``colorized``
  (PNG bytes at each input's own resolution: ab predicted at the model's size, stretched
  back and joined with the photo's full-resolution L).
* ``colorize_ab``: ``images`` -> ``ab`` predicted at the model's size, in Lab units.
* ``transform_features`` / ``evaluate``: serialized raw tf.Examples -> transformed
  features / per pixel (L scaled, predicted ab / 128) flattened, the pair TFMA needs
  (penguin pattern): the label is Transform's ``ab``; ``evaluation/evaluator.py`` turns
  L + ab into RGB for PSNR.

The model's input L comes from the Transform graph (``tft_layer``), so serving runs the
exact preprocessing the model was trained on.

Which encoded images the graph accepts (TensorFlow 2.16 ``tf.io.decode_image``): JPEG with 1
(gray) or 3 (YCbCr/RGB) components; PNG of any color type, 8 or 16 bits per channel, palette
and alpha included (alpha is dropped); GIF (first frame) and BMP. Everything else (WebP, TIFF,
HEIC; CMYK/YCCK JPEG, which TensorFlow decodes without error but with wrong colors) is refused
by ``check_images`` with an INVALID_ARGUMENT naming the accepted formats and the offending
indices; the client transcodes such files first (``serving/images.py``).
"""
import tensorflow as tf

from ...schemas import features
from ...schemas import serving_contract as contract
from . import example_codec, network, preprocessing

_JPEG_MAGIC = contract.ACCEPTED_IMAGE_MAGIC[0]
# zlib level of the colorized PNGs: on a 1024x768 photo level 1 takes 40-50 CPU-ms where the default
# (6) takes 150-290, for 5-15% more bytes; the PNG encode was the largest op group of a served
# photo before (``benchmarks/serve_latency.py``).
PNG_COMPRESSION = 1

UNSUPPORTED_MESSAGE = (
    "images must be encoded JPEG (gray or RGB), PNG, GIF or BMP; WebP, TIFF, HEIC and CMYK JPEG "
    "must be transcoded by the client (colornet.serving.images.transcode_for_serving). "
    "Unsupported or empty images at batch indices:")


def _is_supported(image):
    """True for bytes that start like a supported format and are not a CMYK/YCCK JPEG (scalar bool)."""
    starts_known = tf.reduce_any(tf.stack([
        tf.equal(tf.strings.substr(image, 0, len(magic)), magic) for magic in contract.ACCEPTED_IMAGE_MAGIC]))
    is_jpeg = tf.equal(tf.strings.substr(image, 0, len(_JPEG_MAGIC)), _JPEG_MAGIC)
    # extract_jpeg_shape reads only the header; a corrupt header fails there with its own INVALID_ARGUMENT.
    jpeg_channels_ok = tf.cond(
        is_jpeg,
        lambda: tf.reduce_any(tf.equal(tf.image.extract_jpeg_shape(image)[2], [1, 3])),
        lambda: tf.constant(True))
    return tf.logical_and(starts_known, jpeg_channels_ok)


def check_images(images):
    """``images`` (a [batch] string tensor) unchanged, after asserting each one is a format the graph decodes.

    Raises ``tf.errors.InvalidArgumentError`` with ``UNSUPPORTED_MESSAGE`` and the bad indices.
    Bytes that look right but are corrupt still fail in the decoder, also as INVALID_ARGUMENT.
    """
    supported = tf.map_fn(_is_supported, images, fn_output_signature=tf.TensorSpec([], tf.bool))
    check = tf.debugging.Assert(
        tf.reduce_all(supported), [UNSUPPORTED_MESSAGE, tf.where(tf.logical_not(supported))[:, 0]],
        summarize=16)
    with tf.control_dependencies([check]):
        return tf.identity(images)


def _predict_lab(model, raw, size):
    """Raw features -> (the model's input L in [-1, 1], predicted ab / 128), both [batch, size, size, c]."""
    inputs = network.model_inputs(example_codec.decode(model.tft_layer(raw), size), size, model.input_names)
    return inputs[features.L], model(inputs, training=False)


def build_signatures(model, tft_output, size):
    """Traced signature functions for ``model.save(..., signatures=...)``; attaches the TFT layer."""
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    image_shape = list(raw_spec[features.IMAGE].shape)  # [] or [1], as the raw schema says
    images_spec = tf.TensorSpec([None], tf.string, name=contract.IMAGES_INPUT)
    examples_spec = tf.TensorSpec([None], tf.string, name=contract.EXAMPLES_INPUT)

    def predict_ab(checked_images):
        raw = {features.IMAGE: tf.reshape(checked_images, [-1, *image_shape])}
        return _predict_lab(model, raw, size)[1]

    def colorize(checked_images):
        def compose(pair):
            encoded, one_ab = pair
            colored = preprocessing.colorize_full_resolution(preprocessing.decode_srgb8(encoded), one_ab)
            return tf.io.encode_png(colored, compression=PNG_COMPRESSION)

        ab = predict_ab(checked_images)
        return tf.map_fn(compose, (checked_images, ab), fn_output_signature=tf.TensorSpec([], tf.string))

    @tf.function(input_signature=[images_spec])
    def serve(images):
        checked = check_images(images)
        pngs = tf.cond(tf.size(checked) > 0, lambda: colorize(checked), lambda: tf.constant([], tf.string))
        return {contract.COLORIZED_OUTPUT: pngs}

    @tf.function(input_signature=[images_spec])
    def colorize_ab(images):
        checked = check_images(images)
        ab = tf.cond(tf.size(checked) > 0, lambda: predict_ab(checked), lambda: tf.zeros([0, size, size, 2]))
        return {contract.AB_OUTPUT: preprocessing.unscale_ab(ab)}

    @tf.function(input_signature=[examples_spec])
    def transform_features(examples):
        return example_codec.decode(model.tft_layer(tf.io.parse_example(examples, raw_spec)), size)

    @tf.function(input_signature=[examples_spec])
    def evaluate(examples):
        lightness, ab = _predict_lab(model, tf.io.parse_example(examples, raw_spec), size)
        lab_scaled = tf.concat([lightness, ab], axis=-1)
        return {contract.EVAL_OUTPUT: tf.reshape(lab_scaled, [tf.shape(lab_scaled)[0], -1])}

    return {
        contract.SERVING_SIGNATURE: serve,
        contract.COLORIZE_AB_SIGNATURE: colorize_ab,
        contract.TRANSFORM_SIGNATURE: transform_features,
        contract.EVALUATE_SIGNATURE: evaluate,
    }
