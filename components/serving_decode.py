"""Which encoded images the serving signatures accept, checked in the graph; transcoding for the rest.

In the graph (TensorFlow 2.16 ``tf.io.decode_image``), a request may hold:

* JPEG with 1 (gray) or 3 (YCbCr/RGB) components,
* PNG of any color type, 8 or 16 bits per channel (16-bit is reduced to 8 bits exactly),
  palette and alpha included (alpha is dropped),
* GIF (first frame) and BMP.

Everything else must be transcoded by the client before it is sent, with
``transcode_for_serving``: WebP, TIFF, HEIC and the like (TensorFlow cannot decode them) and
CMYK/YCCK JPEG (TensorFlow decodes them without error but with wrong colors, so the
signatures reject them). The same function turns JPEGs with an EXIF orientation upright,
because TensorFlow ignores the tag and the colorized PNG carries none.

``check_images`` makes a request with anything else fail as ``InvalidArgumentError`` (gRPC
INVALID_ARGUMENT) whose message names the accepted formats and the offending indices,
instead of an anonymous decoder error deep inside the Transform graph.
"""
import io

import tensorflow as tf

# Leading bytes tf.io.decode_image itself dispatches on.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM")
_JPEG = _SIGNATURES[0]
_EXIF_ORIENTATION = 0x0112

UNSUPPORTED_MESSAGE = (
    "images must be encoded JPEG (gray or RGB), PNG, GIF or BMP; WebP, TIFF, HEIC and CMYK JPEG "
    "must be transcoded by the client (colornet.components.serving_decode.transcode_for_serving). "
    "Unsupported or empty images at batch indices:")


def _is_supported(image):
    """True for bytes that start like a supported format and are not a CMYK/YCCK JPEG (scalar bool)."""
    starts_known = tf.reduce_any(tf.stack([
        tf.equal(tf.strings.substr(image, 0, len(magic)), magic) for magic in _SIGNATURES]))
    is_jpeg = tf.equal(tf.strings.substr(image, 0, len(_JPEG)), _JPEG)
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


def _needs_transcoding(data, image):
    """Whether Pillow-opened ``image`` (from bytes ``data``) must be re-encoded before serving."""
    if not any(data.startswith(magic) for magic in _SIGNATURES):
        return True
    if image.format == "JPEG" and image.mode not in ("L", "RGB"):
        return True
    return image.getexif().get(_EXIF_ORIENTATION, 1) != 1


def transcode_for_serving(data):
    """Client side: encoded image bytes -> bytes the serving signatures accept.

    Bytes already accepted (see the module docstring) are returned unchanged; anything Pillow
    reads otherwise (WebP, TIFF, CMYK JPEG, an EXIF-rotated JPEG, ...) becomes an upright RGB
    PNG, lossless. Raises ``ValueError`` for bytes Pillow cannot read either.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        if not _needs_transcoding(data, image):
            return data
        image = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"not an image the colorizer can read ({len(data)} bytes): {error}") from error
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
