"""The compact form in which Transform stores each photo, and the one decode step that reads it back.

Transform splits each photo into Lab once, in float32 (``preprocessing.model_lab``), then stores it
at the precision the data really has: the photos are 8-bit, so L and ab are 8-bit too.

Stored (``schemas/features.py``; what ``transform.preprocessing_fn`` returns, so what Transform
writes into the transformed tf.Examples and what the Transform graph computes at serving time):

* ``lab_png``: one PNG of the photo at the model's size, 3 channels of uint8 (``quantize``):
  ``round(L * 255 / 100)``, ``round(a) + 128``, ``round(b) + 128`` (a and b clipped to [-128, 127],
  as serving clips them). PNG's row filters and deflate make it ~80 KiB per photo at 256 px,
  against ~690 KiB for the same values as gzipped float32 lists. (Raw uint8 planes left to the
  TFRecords' gzip were measured too: ~95 KiB and not measurably cheaper to read, ``docs/scale.md``.)
* ``embedding_f16`` (fusion only): the classifier's 1000 outputs as float16 bit patterns in an int64
  list (2 KB instead of 4 KB; class scores in [0, 1] keep 11 significant bits).

Decoded (``decode``; what the Trainer's input pipeline hands ``network.model_inputs``, and what the
``decode_transformed`` signature returns to the Evaluator; serving computes the same values from
the photo with ``served_lab``):
``L`` float32 [batch, size * size] scaled to [-1, 1], ``ab`` float32 [batch, size * size * 2] as
ab / 128, ``embedding`` float32 [batch, 1000], the shapes and scales models and metrics always had.

Quantization error: L at most 50 / 255 L units (0.0039 in the model's [-1, 1] scale), ab at most
0.5 Lab units, the embedding 2^-11 relative (half a float16 step). Serving decodes each photo once and
computes its model-size values with the same ``served_lab`` (``quantize`` then ``dequantize``, no
stored bytes in between), so a served model sees exactly the numbers it was trained on.
"""
import tensorflow as tf

from ...schemas import features
from . import preprocessing

_L_STEPS = 255.0 / 100.0  # uint8 levels per L unit
_AB_OFFSET = 128.0
# zlib level of the stored PNG (Transform pays it once per photo): on a 256 px photo level 4 (zlib's
# first lazy-matching level) stores 79 KiB in ~11 CPU-ms, level 6 (the default) 79 KiB in ~30,
# level 1 93 KiB in ~4 (bsds500/train, 40 photos).
STORED_PNG_COMPRESSION = 4
# dequantize: L (scaled to [-1, 1]) = q / _L_STEPS / 50 - 1, ab / 128 = (q - _AB_OFFSET) / 128.
_SCALE = (1.0 / _L_STEPS / 50.0, 1.0 / preprocessing.AB_SCALE, 1.0 / preprocessing.AB_SCALE)
_OFFSET = (-1.0, -_AB_OFFSET / preprocessing.AB_SCALE, -_AB_OFFSET / preprocessing.AB_SCALE)
_L_CHANNEL, _AB_CHANNELS = slice(0, 1), slice(1, 3)


def quantize(lightness_scaled, ab_scaled):
    """Model-scaled L [..., 1] and ab / 128 [..., 2] -> the stored levels, uint8 [..., 3]."""
    lightness = tf.round(preprocessing.unscale_lightness(lightness_scaled) * _L_STEPS)
    ab = tf.round(preprocessing.unscale_ab(ab_scaled)) + _AB_OFFSET
    return tf.cast(tf.clip_by_value(tf.concat([lightness, ab], axis=-1), 0.0, 255.0), tf.uint8)


def encode_lab(lightness_scaled, ab_scaled):
    """One photo's model-scaled L [size, size, 1] and ab / 128 [size, size, 2] -> its ``lab_png`` (scalar string)."""
    return tf.io.encode_png(quantize(lightness_scaled, ab_scaled), compression=STORED_PNG_COMPRESSION)


def served_lab(rgb8, size):
    """A decoded photo (uint8 RGB [h, w, 3]) -> (its float32 L scaled, [size, size, 1], from which Transform
    computes the classifier's embedding; what the model receives for it, float32 [size, size, 3] (L
    scaled, then ab / 128): the values Transform stores for it, dequantized, without storing them)."""
    lightness, ab = preprocessing.model_lab(tf.image.convert_image_dtype(rgb8, tf.float32), size)
    return lightness, dequantize(quantize(lightness, ab))


def encode_embedding(embedding):
    """The classifier's outputs [batch, 1000] -> ``embedding_f16``: their float16 bit patterns as int64
    [batch, 1000] (a tf.Example int64 list: 2-byte varints for values in [0, 2), parsed without a
    per-photo step)."""
    return tf.cast(tf.bitcast(tf.cast(embedding, tf.float16), tf.uint16), tf.int64)


def decode_lab_png(lab_png, size):
    """``lab_png`` [batch] strings -> the stored values, uint8 [batch, size, size, 3]."""
    return tf.map_fn(
        lambda png: tf.io.decode_png(png, channels=3), tf.reshape(lab_png, [-1]),
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))


def dequantize(lab_stored, channels=slice(None)):
    """Stored values [..., 3] (uint8, or floats in the same units) -> float32 [..., 3]: L scaled to
    [-1, 1], then ab / 128; or only the stored ``channels`` (a slice: ``lab_stored`` holds those).

    One multiply-add per value: L = q * 100/255 in L units, i.e. q * 2/255 - 1 on the model's scale;
    ab = (q - 128) / 128. Being linear, it commutes with any interpolating warp (the Trainer warps
    the stored values, a quarter of the bytes of floats, then dequantizes).
    """
    return tf.cast(lab_stored, tf.float32) * _SCALE[channels] + _OFFSET[channels]


def decode_embedding(embedding_f16):
    """``embedding_f16`` int64 [batch, 1000] -> float32 [batch, 1000]."""
    return tf.cast(tf.bitcast(tf.cast(embedding_f16, tf.uint16), tf.float16), tf.float32)


def decode(stored, size, transform_lab=None, xla=False):
    """Stored features (a dict of batched tensors, as parsed or as the Transform graph outputs them)
    -> the decoded features ``L``, ``ab`` (flattened per photo) and, when stored, ``embedding``.

    ``transform_lab``, when given, maps the stored Lab values [batch, size, size, 3] before they are
    dequantized (the Trainer's augmentation warp; it must not draw random numbers itself, see
    ``xla``). ``xla=True`` (the Trainer) compiles ``transform_lab`` and ``dequantize`` into one XLA
    function: a batch of 256 px photos is tens of MB of float32, and op by op the passes over it cost
    more than the PNG decode. Serving graphs stay XLA-free (TF Serving builds need not carry the JIT).
    """
    lab_stored = decode_lab_png(stored[features.LAB_PNG], size)
    embedding = decode_embedding(stored[features.EMBEDDING_F16]) if features.EMBEDDING_F16 in stored else None

    def compiled(function):
        return tf.function(function, jit_compile=True) if xla else function

    if transform_lab is None:
        # L and ab dequantized apart, each from its own stored channels: slicing them out of one [..., 3]
        # float output afterwards costs two strided copies, most of this step's CPU (``benchmarks/input.py``).
        lightness, ab = compiled(lambda lab: (dequantize(lab[..., _L_CHANNEL], _L_CHANNEL),
                                              dequantize(lab[..., _AB_CHANNELS], _AB_CHANNELS)))(lab_stored)
        return _features(lightness, ab, size, embedding)
    # One output, sliced afterwards: XLA computes a fusion per output, so L and ab as two outputs (or
    # warped apart) warp twice; measured slower than the two copies (``docs/scale.md``).
    values = compiled(lambda lab: dequantize(transform_lab(lab)))(lab_stored)
    return decoded_features(values, size, embedding)


def decoded_features(values, size, embedding=None):
    """Model-scale values [batch, size, size, 3] (``dequantize``'s) and the embedding, when there is one ->
    the decoded features (``decode``'s dict)."""
    return _features(values[..., _L_CHANNEL], values[..., _AB_CHANNELS], size, embedding)


def _features(lightness, ab, size, embedding):
    decoded = {features.L: tf.reshape(lightness, [-1, size * size]), features.AB: tf.reshape(ab, [-1, size * size * 2])}
    if embedding is not None:
        decoded[features.EMBEDDING] = embedding
    return decoded
