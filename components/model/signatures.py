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

Each photo is decoded once per request (``decode_photos``): that decode checks it, gives the
model its L (``example_codec.served_lab``: the code and numbers of Transform's stored values, without
the stored bytes) and the full-resolution L of the colorized PNG. Models that fuse the classifier get
its embedding from the same decoded photo: Transform's own classifier (``attach_classifier``: the one
saved in the Transform graph, weights included) on the float32 L Transform computes it from, rounded
to the stored float16. The Transform graph itself never runs in serving (it would decode the photo again).

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
from . import example_codec, network, preprocessing, transform

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

    Returns (errors: per photo "" or why not; the photos without errors, in batch order, for
    ``map_photos``: their uint8 RGB values one after the other, where each starts, and their shapes).
    Never raises: each known-format photo is decoded in a tf.data pipeline whose failures are dropped
    (``ignore_errors``), so a corrupt photo only marks its own entry. The pixels are collected in a
    TensorArray (one copy when concatenated; it needs a graph, i.e. a traced caller); ragged batching
    and masking cost ~20x more than the decode itself (per value, not per photo).
    """
    count = tf.size(images, out_type=tf.int64)
    known = tf.map_fn(_starts_known, images, fn_output_signature=tf.TensorSpec([], tf.bool))
    options = tf.data.Options()
    options.autotune.enabled = False  # one short pass per request: no tuning thread, no rewrites
    options.experimental_optimization.apply_default_optimizations = False
    decoded = (tf.data.Dataset.from_tensor_slices((tf.range(count), images, known))
               .filter(lambda index, image, is_known: is_known)
               .map(lambda index, image, is_known: _decode_checked(index, image))
               .ignore_errors()
               .with_options(options))

    def add(state, item):
        decodable, color_ok, shapes, pixels = state
        index, flat, shape, colorizable = item
        position = [[index]]
        return (tf.tensor_scatter_nd_update(decodable, position, [True]),
                tf.tensor_scatter_nd_update(color_ok, position, [colorizable]),
                tf.tensor_scatter_nd_update(shapes, position, [shape]),
                pixels.write(pixels.size(), tf.cond(colorizable, lambda: flat, lambda: flat[:0])))

    initial = (tf.zeros([count], tf.bool), tf.zeros([count], tf.bool), tf.zeros([count, 3], tf.int32),
               tf.TensorArray(tf.uint8, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]))
    decodable, color_ok, shapes, pixels = decoded.reduce(initial, add)
    unsupported = tf.logical_or(tf.logical_not(known), tf.logical_and(decodable, tf.logical_not(color_ok)))
    errors = tf.where(unsupported, UNSUPPORTED_MESSAGE, tf.where(decodable, "", UNDECODABLE_MESSAGE))
    good_shapes = tf.boolean_mask(shapes, tf.equal(errors, ""))
    starts = tf.cumsum(tf.reduce_prod(good_shapes, axis=1), exclusive=True)
    return errors, (pixels.concat(), starts, good_shapes)


def map_photos(fn, photos, fn_output_signature, *per_photo_values):
    """``fn(rgb8, *values)`` for each photo of ``decode_photos``' ``photos`` (uint8 RGB [h, w, 3]), with
    its entries of ``per_photo_values`` (tensors with one entry per photo), stacked as ``tf.map_fn`` stacks."""
    pixels, starts, shapes = photos

    def one(item):
        start, shape = item[0], item[1]
        return fn(tf.reshape(pixels[start:start + tf.reduce_prod(shape)], shape), *item[2:])

    return tf.map_fn(one, (starts, shapes, *per_photo_values), fn_output_signature=fn_output_signature)


def per_photo(images, run, empty):
    """``run(photos)`` on the photos without errors (``photos``: each decoded once, see ``decode_photos``),
    with ``empty`` in the place of the others; and the errors."""
    errors, photos = decode_photos(images)
    good = tf.equal(errors, "")
    results = tf.cond(tf.reduce_any(good), lambda: run(photos), lambda: tf.zeros_like(empty)[:0])
    positions = tf.cast(tf.range(tf.size(images)), tf.int32)
    bad_positions = tf.boolean_mask(positions, tf.logical_not(good))
    fill = tf.tile(empty, tf.concat([[tf.size(bad_positions)], tf.ones([tf.rank(empty) - 1], tf.int32)], axis=0))
    return tf.dynamic_stitch([tf.boolean_mask(positions, good), bad_positions], [results, fill]), errors


def _predict_lab(model, decoded, size):
    """Decoded features (``example_codec.decode``) -> (the model's input L in [-1, 1], predicted ab / 128),
    both [batch, size, size, c]."""
    inputs = network.model_inputs(decoded, size, model.input_names)
    return inputs[features.L], model(inputs, training=False)


def attach_classifier(model, tft_output):
    """Attaches to a model that fuses the classifier (an ``embedding`` input) the classifier Transform
    computed its stored embeddings with, as ``model.classifier`` (so it is saved with the model): the one
    saved in the Transform graph, with its weights (a classifier built again from the config would differ
    when its weights are random). Other models get nothing."""
    if features.EMBEDDING in model.input_names:
        classifier = getattr(tf.saved_model.load(tft_output.transform_savedmodel_dir), transform.CLASSIFIER, None)
        if classifier is None:
            raise ValueError(f"the model fuses the classifier's embedding, but the Transform graph "
                             f"{tft_output.transform_savedmodel_dir} holds no {transform.CLASSIFIER!r}: "
                             "run Transform with this model's settings")
        model.classifier = classifier


def _classifier_embedding(classifier, lightness):
    """``network.classifier_embedding`` with a classifier restored from a SavedModel (``attach_classifier``),
    which has no Keras ``input_shape``: its traced call's input signature gives its size."""
    size = classifier.__call__.concrete_functions[0].structured_input_signature[0][0].shape[1]
    return network.classifier_embedding(classifier, lightness, size)


def served_inputs(model, photos, size):
    """What the network receives for decoded photos (``decode_photos``' ``photos``): L from the
    same ``example_codec.served_lab`` values Transform stores, quantized and dequantized without the
    stored bytes; for models that fuse the classifier, its embedding of the same photos, as Transform
    computes it (``network.classifier_embedding`` on the float32 L, ``attach_classifier``'s classifier)
    and stores it (float16)."""
    with tf.name_scope("model_size_lab"):
        lightness, values = map_photos(
            lambda rgb8: example_codec.served_lab(rgb8, size), photos,
            (tf.TensorSpec([size, size, 1], tf.float32), tf.TensorSpec([size, size, 3], tf.float32)))
    embedding = None
    if features.EMBEDDING in model.input_names:
        embedding = example_codec.decode_embedding(example_codec.encode_embedding(
            _classifier_embedding(model.classifier, lightness)))
    return network.model_inputs(example_codec.decoded_features(values, size, embedding), size, model.input_names)


def build_signatures(model, tft_output, size):
    """Traced signature functions for ``model.save(..., signatures=...)``; attaches Transform's classifier
    to models that fuse it (``attach_classifier``)."""
    attach_classifier(model, tft_output)
    transformed_spec = tft_output.transformed_feature_spec()
    images_spec = tf.TensorSpec([None], tf.string, name=contract.IMAGES_INPUT)
    examples_spec = tf.TensorSpec([None], tf.string, name=contract.EXAMPLES_INPUT)

    def predict_ab(photos):
        return model(served_inputs(model, photos, size), training=False)

    def colorize(photos):
        def compose(rgb8, one_ab):
            colored = preprocessing.colorize_full_resolution(rgb8, one_ab)
            return tf.io.encode_png(colored, compression=PNG_COMPRESSION)

        return map_photos(compose, photos, tf.TensorSpec([], tf.string), predict_ab(photos))

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
