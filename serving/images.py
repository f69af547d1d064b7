"""Client side of image formats: what a colornet model decodes in its graph, and transcoding for the rest.

The served signatures decode JPEG (gray or RGB), PNG, GIF and BMP in the graph
(``components/model/signatures.py`` checks each request against the same leading bytes). Anything
else must be transcoded before it is sent, with ``transcode_for_serving``: WebP, TIFF, HEIC and
the like (TensorFlow cannot decode them) and CMYK/YCCK JPEG (TensorFlow decodes them without
error but with wrong colors, so the signatures reject them). The same function turns JPEGs with
an EXIF orientation upright, because TensorFlow ignores the tag and the colorized PNG carries none.

``image_files`` lists the photos of a folder for the client and the offline evaluator.
"""
import io
import pathlib

from ..schemas import serving_contract as contract

_EXIF_ORIENTATION = 0x0112
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def image_files(folder, suffixes=IMAGE_SUFFIXES):
    """Image files under ``folder`` (nested folders too, by suffix in any case), sorted."""
    return sorted(path for path in pathlib.Path(folder).rglob("*")
                  if path.is_file() and path.suffix.lower() in suffixes)


def _needs_transcoding(data, image):
    """Whether Pillow-opened ``image`` (from bytes ``data``) must be re-encoded before serving."""
    if not any(data.startswith(magic) for magic in contract.ACCEPTED_IMAGE_MAGIC):
        return True
    if image.format == "JPEG" and image.mode not in ("L", "RGB"):
        return True
    return image.getexif().get(_EXIF_ORIENTATION, 1) != 1


def transcode_for_serving(data):
    """Encoded image bytes -> bytes the serving signatures accept.

    Bytes already accepted are returned unchanged; anything Pillow reads otherwise (WebP, TIFF,
    CMYK JPEG, an EXIF-rotated JPEG, ...) becomes an upright RGB PNG, lossless. Raises
    ``ValueError`` for bytes Pillow cannot read either.
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
