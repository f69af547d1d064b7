"""One photo: reject what cannot train a colorizer, normalize the rest to upright RGB.

Normalization, in order:
  1. Header checks (``Image.open`` parses only the header): unrecognized bytes, pixel count over
     ``max_pixels`` (decompression bombs are refused before a single pixel is decoded), shorter
     side under ``min_side``. The file's extension is ignored: the bytes decide the format.
  2. Decode (first frame of animated GIF/WebP). Truncated or damaged data -> "corrupt".
  3. EXIF orientation applied, so the stored photo is what a viewer shows.
  4. To 8-bit RGB: palette and CMYK converted; 16-bit grayscale scaled (v / 257, not clipped);
     transparency (RGBA, LA, palette with a transparent index) composited on WHITE, the
     background most viewers show and the one a printed photo has.
  5. Black-and-white photos (colorfulness below ``grayscale_threshold``) -> "grayscale"; see
     ``colorfulness``.
  6. Downscale so the longer side is at most ``max_side`` (Lanczos; JPEGs are first reduced
     while decoding via ``Image.draft``, which is much faster for huge photos).
  7. Encode: an RGB JPEG that needed none of the above keeps its original bytes (no second
     lossy round); anything else is stored as PNG (lossless).
"""
import dataclasses
import io
import warnings

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

from ...schemas.config import IngestionConfig
from ..evaluation import metrics
from . import summary

_EXIF_ORIENTATION = 0x0112
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# What a damaged file can raise from Pillow's decoders.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, IndexError, EOFError, MemoryError)
THUMBNAIL_SIDE = 256  # the grayscale test measures colorfulness on a thumbnail of at most this side


class Rejected(Exception):
    """A photo that ingestion skips, with one of ``summary.REASONS`` and a human-readable detail."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class NormalizedPhoto:
    encoded: bytes   # JPEG (original bytes) or PNG
    height: int
    width: int


def normalize(data: bytes, config: IngestionConfig) -> NormalizedPhoto:
    """Original file bytes -> an upright RGB photo ready for a tf.Example; raises ``Rejected``."""
    image = open_checked(data, config)
    header_size = image.size
    kept_as_is = image.format == "JPEG" and image.mode == "RGB" and _orientation(image) == 1
    if image.format == "JPEG" and config.max_side and max(image.size) > config.max_side:
        image.draft(image.mode, (config.max_side, config.max_side))
    try:
        image.load()
        rgb = upright_rgb(image)
    except _DECODE_ERRORS as error:
        raise Rejected(summary.CORRUPT, f"cannot decode: {error}") from error
    score = colorfulness(rgb)
    if score < config.grayscale_threshold:
        raise Rejected(summary.GRAYSCALE, f"colorfulness {score:.1f} < {config.grayscale_threshold}")
    if config.max_side and max(rgb.size) > config.max_side:
        rgb.thumbnail((config.max_side, config.max_side), Image.Resampling.LANCZOS)
    encoded = data if kept_as_is and rgb.size == header_size else encode_png(rgb)
    return NormalizedPhoto(encoded=encoded, height=rgb.height, width=rgb.width)


def colorfulness(rgb: Image.Image) -> float:
    """Is this photo black-and-white? Hasler & Suesstrunk's colorfulness of an RGB PIL image, on a thumbnail.

    The statistic is ``evaluation.metrics.colorfulness``, the one every quality report uses (on 0..255
    RGB): 0 means gray; the paper calls ~15 "slightly colorful" and ~33 "moderately".

    Why this number and a threshold of 5: JPEG noise in a black-and-white photo stored as RGB adds
    tiny, unstructured chroma. Measuring on a <= 256 px thumbnail (an area average) smooths that
    noise away, and the statistic pools the whole image, so a few noisy pixels cannot lift it.
    Measured on the project's photos: the eight black-and-white ``seed-unsplash/test`` JPEGs score
    <= 1.4, the least colorful of the 300 BSDS500 photos scores 9.3. Toned photos (sepia,
    cyanotype) carry a real color cast and score above the threshold: they are kept, as their
    colors are real pixels.
    """
    thumbnail = rgb.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    return float(metrics.colorfulness(tf.constant(np.asarray(thumbnail)[None], tf.float32) / 255.0)[0])


def open_checked(data: bytes, config: IngestionConfig) -> Image.Image:
    """Opens the bytes reading the header only and applies the size limits; pixels stay undecoded."""
    _lift_pillow_pixel_guard(config.max_pixels)
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below decides; Pillow's warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise Rejected(summary.TOO_LARGE, str(error)) from error
    except UnidentifiedImageError as error:
        raise Rejected(summary.NOT_AN_IMAGE, "no image format recognizes these bytes") from error
    except _DECODE_ERRORS as error:
        raise Rejected(summary.CORRUPT, f"unreadable header: {error}") from error
    width, height = image.size
    if width * height > config.max_pixels:
        raise Rejected(summary.TOO_LARGE, f"{width}x{height} = {width * height} pixels > max_pixels {config.max_pixels}")
    if min(width, height) < config.min_side:
        raise Rejected(summary.TOO_SMALL, f"{width}x{height}: shorter side < min_side {config.min_side}")
    return image


def upright_rgb(image: Image.Image) -> Image.Image:
    """A decoded photo as a viewer shows it: EXIF orientation applied, then 8-bit RGB (``to_rgb``).

    Ingestion and the offline evaluator both read photos through this, so a report measures the
    photo the model was trained on.
    """
    return to_rgb(ImageOps.exif_transpose(image))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; 16-bit scaled to 8 bits, transparency composited on white."""
    if image.mode in _SIXTEEN_BIT_MODES:
        eight_bit = np.clip(np.asarray(image, dtype=np.float64) / 257.0 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(eight_bit, mode="L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def encode_png(rgb: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Level 1: most of the size gain for a fraction of level 6's time (photos compress poorly anyway).
    rgb.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _orientation(image: Image.Image) -> int:
    return image.getexif().get(_EXIF_ORIENTATION, 1)


def _lift_pillow_pixel_guard(max_pixels: int) -> None:
    """Pillow refuses images over 2 * Image.MAX_IMAGE_PIXELS (89.5 MP by default) inside
    ``Image.open``. Our ``max_pixels`` is the policy; raise Pillow's guard when the configured limit
    is above it, so a deliberately higher limit is honoured. Pillow's guard is never lowered or
    disabled, so it keeps protecting other code in the process."""
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels
