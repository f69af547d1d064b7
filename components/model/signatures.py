"""Signatures of the exported SavedModel, as ``schemas/serving_contract.py`` defines them.

* ``serving_default``: ``images`` (encoded bytes, any size, mixed sizes) -> ``colorized``
  (PNG bytes at each input's own resolution: ab predicted at the model's size, stretched
  back and joined with the photo's full-resolution L).
* ``colorize_ab``: ``images`` -> ``ab`` predicted at the model's size, in Lab units.
* ``transform_features`` / ``evaluate``: serialized raw tf.Examples -> transformed
  features / per pixel (L scaled, predicted ab / 128) flattened, the pair TFMA needs
  (penguin pattern): the label is Transform's ``ab``; ``evaluation/evaluator.py`` turns
  L + ab into RGB for PSNR.

Each photo is decoded once per request (``decode_photos``): that decode checks it, gives the
model its L (``example_codec.served_lab``: the code and numbers of Transform's stored values, without
the stored bytes) and the full-resolution L of the colorized PNG. Only models that fuse the classifier
also run the Transform graph (``tft_layer``), for the embedding, which decodes the photo again.
``transform_features`` and ``evaluate`` run the Transform graph and ``example_codec.decode``, as the
Trainer reads the stored examples.

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
``decode_photos`` finds bad photos by decoding each one in a ``tf.data`` pipeline whose
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


def _decode_checked(index, image):
    """(index, the photo decoded as Transform decodes it, flattened (uint8 RGB), its shape, whether it
    can be colorized: not empty and no CMYK/YCCK JPEG); fails on a corrupt image."""
    decoded = preprocessing.decode_srgb8(image)
    is_jpeg = tf.equal(tf.strings.substr(image, 0, len(_JPEG_MAGIC)), _JPEG_MAGIC)
    color_ok = tf.cond(is_jpeg, lambda: tf.reduce_any(tf.equal(tf.image.extract_jpeg_shape(image)[2], [1, 3])),
                       lambda: tf.constant(True))
    return index, tf.reshape(decoded, [-1]), tf.shape(decoded), tf.logical_and(color_ok, tf.size(decoded) > 0)


def decode_photos(images):
    """Each photo of ``images`` (a [batch] string tensor) decoded once, and why it cannot be colorized.

    Returns (errors: per photo "" or why not; the photos without errors in batch order, as flat
    uint8 RGB (a RaggedTensor [good, (h * w * 3)]) and their shapes (int32 [good, 3])). Never raises:
    each known-format photo is decoded in a tf.data pipeline whose failures are dropped
    (``ignore_errors``), so a corrupt photo only marks its own entry; the survivors come out as one
    ragged batch, behind a sentinel element so that the batch exists when no photo decodes.
    """
    count = tf.size(images, out_type=tf.int64)
    known = tf.map_fn(_starts_known, images, fn_output_signature=tf.TensorSpec([], tf.bool))
    options = tf.data.Options()
    options.autotune.enabled = False  # one short pass per request: no tuning thread, no rewrites
    options.experimental_optimization.apply_default_optimizations = False
    sentinel = tf.data.Dataset.from_tensors(
        (tf.constant(-1, tf.int64), tf.zeros([0], tf.uint8), tf.zeros([3], tf.int32), tf.constant(False)))
    decoded = (tf.data.Dataset.from_tensor_slices((tf.range(count), images, known))
               .filter(lambda index, image, is_known: is_known)
               .map(lambda index, image, is_known: _decode_checked(index, image))
               .ignore_errors()
               .concatenate(sentinel)
               .ragged_batch(count + 1)
               .with_options(options))
    indices, pixels, shapes, colorizable = (part[:-1] for part in decoded.get_single_element())
    positions = indices[:, None]
    decodable = tf.tensor_scatter_nd_update(tf.zeros([count], tf.bool), positions, tf.ones_like(colorizable))
    color_ok = tf.tensor_scatter_nd_update(tf.zeros([count], tf.bool), positions, colorizable)
    unsupported = tf.logical_or(tf.logical_not(known), tf.logical_and(decodable, tf.logical_not(color_ok)))
    errors = tf.where(unsupported, UNSUPPORTED_MESSAGE, tf.where(decodable, "", UNDECODABLE_MESSAGE))
    return errors, tf.ragged.boolean_mask(pixels, colorizable), tf.boolean_mask(shapes, colorizable)


def per_photo(images, run, empty):
    """``run(good_images, pixels, shapes)`` on the photos without errors (``decode_photos``: each decoded
    once), with ``empty`` in the place of the others; and the errors."""
    errors, pixels, shapes = decode_photos(images)
    good = tf.equal(errors, "")
    results = tf.cond(tf.shape(shapes)[0] > 0, lambda: run(tf.boolean_mask(images, good), pixels, shapes),
                      lambda: tf.zeros_like(empty)[:0])
    positions = tf.cast(tf.range(tf.size(images)), tf.int32)
    bad_positions = tf.boolean_mask(positions, tf.logical_not(good))
    fill = tf.tile(empty, tf.concat([[tf.size(bad_positions)], tf.ones([tf.rank(empty) - 1], tf.int32)], axis=0))
    return tf.dynamic_stitch([tf.boolean_mask(positions, good), bad_positions], [results, fill]), errors


def _photo(flat, shape):
    """One photo of ``decode_photos``' output -> uint8 RGB [h, w, 3]."""
    return tf.reshape(flat, shape)


def served_inputs(model, raw, pixels, shapes, size):
    """What the network receives for decoded photos (``decode_photos``' pixels and shapes): L from the
    same ``example_codec.served_lab`` values Transform stores, quantized and dequantized without the
    stored bytes; the classifier's embedding, for models that fuse it, from the Transform graph
    (``model.tft_layer`` on the ``raw`` features: that graph decodes those photos a second time, as
    the classifier lives there)."""
    with tf.name_scope("model_size_lab"):
        values = tf.map_fn(lambda photo: example_codec.served_lab(_photo(*photo), size), (pixels, shapes),
                           fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))
    embedding = None
    if features.EMBEDDING in model.input_names:
        embedding = example_codec.decode_embedding(model.tft_layer(raw)[features.EMBEDDING_F16])
    return network.model_inputs(example_codec.decoded_features(values, size, embedding), size, model.input_names)


def build_signatures(model, tft_output, size):
    """Traced signature functions for ``model.save(..., signatures=...)``; attaches the TFT layer."""
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    image_shape = list(raw_spec[features.IMAGE].shape)  # [] or [1], as the raw schema says
    images_spec = tf.TensorSpec([None], tf.string, name=contract.IMAGES_INPUT)
    examples_spec = tf.TensorSpec([None], tf.string, name=contract.EXAMPLES_INPUT)

    def predict_ab(good_images, pixels, shapes):
        raw = {features.IMAGE: tf.reshape(good_images, [-1, *image_shape])}
        return model(served_inputs(model, raw, pixels, shapes, size), training=False)

    def colorize(good_images, pixels, shapes):
        def compose(photo):
            flat, shape, one_ab = photo
            colored = preprocessing.colorize_full_resolution(_photo(flat, shape), one_ab)
            return tf.io.encode_png(colored, compression=PNG_COMPRESSION)

        ab = predict_ab(good_images, pixels, shapes)
        return tf.map_fn(compose, (pixels, shapes, ab), fn_output_signature=tf.TensorSpec([], tf.string))

    @tf.function(input_signature=[images_spec])
    def serve(images):
        pngs, errors = per_photo(images, colorize, tf.constant([""]))
        return {contract.COLORIZED_OUTPUT: pngs, contract.ERRORS_OUTPUT: errors}

    @tf.function(input_signature=[images_spec])
    def colorize_ab(images):
        ab, errors = per_photo(images, predict_ab, tf.zeros([1, size, size, 2]))
        return {contract.AB_OUTPUT: preprocessing.unscale_ab(ab), contract.ERRORS_OUTPUT: errors}

    @tf.function(input_signature=[examples_spec])
    def transform_features(examples):
        return example_codec.decode(model.tft_layer(tf.io.parse_example(examples, raw_spec)), size)

    @tf.function(input_signature=[examples_spec])
    def evaluate(examples):
        decoded = example_codec.decode(model.tft_layer(tf.io.parse_example(examples, raw_spec)), size)
        inputs = network.model_inputs(decoded, size, model.input_names)
        lab_scaled = tf.concat([inputs[features.L], model(inputs, training=False)], axis=-1)
        return {contract.EVAL_OUTPUT: tf.reshape(lab_scaled, [tf.shape(lab_scaled)[0], -1])}

    return {
        contract.SERVING_SIGNATURE: serve,
        contract.COLORIZE_AB_SIGNATURE: colorize_ab,
        contract.TRANSFORM_SIGNATURE: transform_features,
        contract.EVALUATE_SIGNATURE: evaluate,
    }
