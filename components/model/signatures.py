"""Signatures of the exported SavedModel, as ``schemas/serving_contract.py`` defines them.

* ``serving_default``: ``images`` (encoded bytes, any size, mixed sizes) -> ``colorized``
  (PNG bytes at each input's own resolution: ab predicted at the model's size, stretched
  back and joined with the photo's full-resolution L).
* ``colorize_ab``: ``images`` -> ``ab`` predicted at the model's size, in Lab units.
* ``decode_transformed`` / ``evaluate_transformed``: serialized *transformed* tf.Examples (what
  the Transform component wrote) -> the decoded features / per pixel (L scaled, predicted
  ab / 128) flattened, the pair TFMA calls: the label is the stored ``ab``;
  ``evaluation/evaluator.py`` turns L + ab into RGB for PSNR. Neither runs the Transform graph
  (TFMA calls both per photo; on raw examples each ran it, the classifier included, so twice
  per photo): the Evaluator reads what Transform already computed once.

The model's input L comes from the Transform graph (``tft_layer``), so serving runs the
exact preprocessing the model was trained on.

Which encoded images the graph accepts (TensorFlow 2.16 ``tf.io.decode_image``): JPEG with 1
(gray) or 3 (YCbCr/RGB) components; PNG of any color type, 8 or 16 bits per channel, palette
and alpha included (alpha is dropped); GIF (first frame) and BMP. Everything else (WebP, TIFF,
HEIC; CMYK/YCCK JPEG, which TensorFlow decodes without error but with wrong colors) must be
transcoded by the client first (``serving/images.py``).

A bad photo fails only itself. ``serving_default`` and ``colorize_ab`` also return ``errors``:
per photo, "" or why it was not colorized (``UNSUPPORTED_MESSAGE``, ``UNDECODABLE_MESSAGE``),
and an empty PNG (zero ab) in its place. No in-graph assertion can fail a batch, which matters
under TF Serving's ``--enable_batching``: it merges requests of different clients into one
batch before the graph runs, so an assertion on one client's photo would fail everyone's.
``image_errors`` finds bad photos by decoding each one in a ``tf.data`` pipeline whose
``ignore_errors`` drops the failures, then the model runs on the good photos only.
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
    "unsupported or empty image: the graph decodes JPEG (gray or RGB), PNG, GIF and BMP; WebP, TIFF, HEIC "
    "and CMYK JPEG must be transcoded by the client (colornet.serving.images.transcode_for_serving)")
UNDECODABLE_MESSAGE = "corrupt or truncated image: TensorFlow cannot decode it"


def _starts_known(image):
    """True for bytes that start like a format the graph decodes (scalar bool; never fails)."""
    return tf.reduce_any(tf.stack([
        tf.equal(tf.strings.substr(image, 0, len(magic)), magic) for magic in contract.ACCEPTED_IMAGE_MAGIC]))


def _decodes_with_color(index, image):
    """(index, whether it decodes to a non-empty image and is no CMYK/YCCK JPEG): fails on a corrupt image.

    The result depends on the decoded height, so that no graph optimization can skip the decode.
    """
    decoded = tf.io.decode_image(image, channels=3, expand_animations=False)
    is_jpeg = tf.equal(tf.strings.substr(image, 0, len(_JPEG_MAGIC)), _JPEG_MAGIC)
    color_ok = tf.cond(is_jpeg, lambda: tf.reduce_any(tf.equal(tf.image.extract_jpeg_shape(image)[2], [1, 3])),
                       lambda: tf.constant(True))
    return index, tf.logical_and(color_ok, tf.shape(decoded)[0] > 0)


def image_errors(images):
    """Per photo of ``images`` (a [batch] string tensor): "" when the graph can colorize it, else why not.

    Never raises: each known-format photo is decoded in a tf.data pipeline whose failures are
    dropped (``ignore_errors``), so a corrupt photo only marks its own entry.
    """
    count = tf.size(images, out_type=tf.int64)
    known = tf.map_fn(_starts_known, images, fn_output_signature=tf.TensorSpec([], tf.bool))
    options = tf.data.Options()
    options.autotune.enabled = False  # one short pass per request: no tuning thread, no rewrites
    options.experimental_optimization.apply_default_optimizations = False
    decoded = (tf.data.Dataset.from_tensor_slices((tf.range(count), images, known))
               .filter(lambda index, image, is_known: is_known)
               .map(lambda index, image, is_known: _decodes_with_color(index, image))
               .ignore_errors()
               .with_options(options))
    initial = (tf.zeros([count], tf.bool), tf.zeros([count], tf.bool))
    decodable, color_ok = decoded.reduce(initial, lambda state, item: (
        tf.tensor_scatter_nd_update(state[0], [[item[0]]], [True]),
        tf.tensor_scatter_nd_update(state[1], [[item[0]]], [item[1]])))
    unsupported = tf.logical_or(tf.logical_not(known), tf.logical_and(decodable, tf.logical_not(color_ok)))
    return tf.where(unsupported, UNSUPPORTED_MESSAGE, tf.where(decodable, "", UNDECODABLE_MESSAGE))


def per_photo(images, run, empty):
    """``run`` on the photos without errors, with ``empty`` in the place of the others; and the errors."""
    errors = image_errors(images)
    good = tf.equal(errors, "")
    good_images = tf.boolean_mask(images, good)
    results = tf.cond(tf.size(good_images) > 0, lambda: run(good_images), lambda: tf.zeros_like(empty)[:0])
    positions = tf.cast(tf.range(tf.size(images)), tf.int32)
    bad_positions = tf.boolean_mask(positions, tf.logical_not(good))
    fill = tf.tile(empty, tf.concat([[tf.size(bad_positions)], tf.ones([tf.rank(empty) - 1], tf.int32)], axis=0))
    return tf.dynamic_stitch([tf.boolean_mask(positions, good), bad_positions], [results, fill]), errors


def _predict_lab(model, decoded, size):
    """Decoded features (``example_codec.decode``) -> (the model's input L in [-1, 1], predicted ab / 128),
    both [batch, size, size, c]."""
    inputs = network.model_inputs(decoded, size, model.input_names)
    return inputs[features.L], model(inputs, training=False)


def build_signatures(model, tft_output, size):
    """Traced signature functions for ``model.save(..., signatures=...)``; attaches the TFT layer."""
    model.tft_layer = tft_output.transform_features_layer()
    image_shape = list(tft_output.raw_feature_spec()[features.IMAGE].shape)  # [] or [1], as the raw schema says
    transformed_spec = tft_output.transformed_feature_spec()
    images_spec = tf.TensorSpec([None], tf.string, name=contract.IMAGES_INPUT)
    examples_spec = tf.TensorSpec([None], tf.string, name=contract.EXAMPLES_INPUT)

    def predict_ab(checked_images):
        raw = {features.IMAGE: tf.reshape(checked_images, [-1, *image_shape])}
        return _predict_lab(model, example_codec.decode(model.tft_layer(raw), size), size)[1]

    def colorize(checked_images):
        def compose(pair):
            encoded, one_ab = pair
            colored = preprocessing.colorize_full_resolution(preprocessing.decode_srgb8(encoded), one_ab)
            return tf.io.encode_png(colored, compression=PNG_COMPRESSION)

        ab = predict_ab(checked_images)
        return tf.map_fn(compose, (checked_images, ab), fn_output_signature=tf.TensorSpec([], tf.string))

    @tf.function(input_signature=[images_spec])
    def serve(images):
        pngs, errors = per_photo(images, colorize, tf.constant([""]))
        return {contract.COLORIZED_OUTPUT: pngs, contract.ERRORS_OUTPUT: errors}

    @tf.function(input_signature=[images_spec])
    def colorize_ab(images):
        ab, errors = per_photo(images, predict_ab, tf.zeros([1, size, size, 2]))
        return {contract.AB_OUTPUT: preprocessing.unscale_ab(ab), contract.ERRORS_OUTPUT: errors}

    @tf.function(input_signature=[examples_spec])
    def decode_transformed(examples):
        """Transformed tf.Examples -> the decoded features: no Transform graph (Transform ran it)."""
        return example_codec.decode(tf.io.parse_example(examples, transformed_spec), size)

    @tf.function(input_signature=[examples_spec])
    def evaluate(examples):
        lightness, ab = _predict_lab(model, decode_transformed(examples), size)
        lab_scaled = tf.concat([lightness, ab], axis=-1)
        return {contract.EVAL_OUTPUT: tf.reshape(lab_scaled, [tf.shape(lab_scaled)[0], -1])}

    return {
        contract.SERVING_SIGNATURE: serve,
        contract.COLORIZE_AB_SIGNATURE: colorize_ab,
        contract.TRANSFORM_SIGNATURE: decode_transformed,
        contract.EVALUATE_SIGNATURE: evaluate,
    }
