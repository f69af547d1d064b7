"""Is what the server sent the photo that was asked for? Checked with Pillow before it is kept.

A server can answer 200 with something else than the photo: an HTML error page, a truncated or
damaged file, a blank placeholder tile, a thumbnail. In order:
  1. An image format recognizes the bytes ("not_an_image" otherwise; an HTML page says so).
  2. The pixels decode ("corrupt" otherwise: a truncated body is caught here too).
  3. Not a flat, single-color image ("placeholder").
  4. Wider than requested: the server ignored ``w=`` (a plain mirror), so the photo is scaled here
     (EXIF orientation applied first, since re-encoding drops it).
  5. Dimensions plausible ("wrong_size" otherwise): the width is what was asked for (the
     original's width when that is smaller: ``fit=max`` never enlarges), and when the manifest gives
     the original's size, the aspect ratio matches it (either way round: an EXIF-rotated original).
The bytes are kept as sent unless step 4 re-encoded them; grayscale, tiny or huge photos are the
ingestion's business, as for any photo folder.
"""
import dataclasses
import io

from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

from .download import JPEG_QUALITY, PhotoFailed
from .manifest import Photo

# Largest per-channel standard deviation (0-255 scale) of a flat image: JPEG noise alone puts a
# real photo well above it, even fog or a clear sky.
_FLAT_STDDEV = 1.0
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, IndexError, EOFError)


@dataclasses.dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    extension: str     # "jpg", "png", ...: the format the bytes are in
    width: int
    height: int


def check(data: bytes, content_type: str, width: int, photo: Photo) -> CheckedPhoto:
    """The photo to keep, from the body of a 200 answer to a ``width``-wide request; raises PhotoFailed."""
    with _decoded(data, content_type) as image:
        if max(ImageStat.Stat(image.convert("RGB")).stddev) < _FLAT_STDDEV:
            raise PhotoFailed("placeholder", f"{image.width}x{image.height}, a single flat color")
        if image.width > width:
            data, image_format, size = _scaled(image, width)
        else:
            image_format, size = image.format, image.size
    _check_size(*size, width, photo)
    return CheckedPhoto(data, {"JPEG": "jpg"}.get(image_format, image_format.lower()), *size)


def _decoded(data: bytes, content_type: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        if content_type.startswith("text/") or data.lstrip()[:1] == b"<":
            raise PhotoFailed("not_an_image", f"an HTML/text page ({content_type or 'no Content-Type'}), "
                                              f"not a photo: {data[:80]!r}") from error
        raise PhotoFailed("not_an_image", f"{len(data)} bytes ({content_type or 'no Content-Type'}) "
                                          "no image format recognizes") from error
    except Image.DecompressionBombError as error:
        raise PhotoFailed("too_large", str(error)) from error
    except _DECODE_ERRORS as error:
        raise PhotoFailed("corrupt", f"unreadable header: {error}") from error
    try:
        image.load()
    except _DECODE_ERRORS as error:
        image.close()
        raise PhotoFailed("corrupt", f"{image.format} that does not decode: {error}") from error
    return image


def _scaled(image: Image.Image, width: int):
    """(bytes, format, size) of the image scaled to ``width``, aspect kept: JPEG, or PNG when it has
    transparency."""
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((width, upright.height), Image.Resampling.LANCZOS)
    image_format = "JPEG" if upright.mode in ("RGB", "L") else "PNG"
    buffer = io.BytesIO()
    upright.save(buffer, format=image_format, quality=JPEG_QUALITY)  # PNG ignores quality
    return buffer.getvalue(), image_format, upright.size


def _check_size(got_width: int, got_height: int, width: int, photo: Photo) -> None:
    expected = min(width, photo.width) if photo.width else width
    if got_width < expected - max(2, 0.02 * expected):
        raise PhotoFailed("wrong_size", f"{got_width}x{got_height} for a {width}-px request "
                                        f"(expected {expected} px wide)")
    if photo.width and photo.height:
        ratios = (photo.height / photo.width, photo.width / photo.height)  # either way round
        if not any(abs(got_height - got_width * ratio) <= max(2, 0.02 * got_width * ratio) for ratio in ratios):
            raise PhotoFailed("wrong_size", f"{got_width}x{got_height} does not have the aspect ratio of the "
                                            f"original {photo.width}x{photo.height}")
