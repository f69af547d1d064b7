"""Client side of image formats: what a colornet model decodes in its graph, and transcoding for the rest.

The served signatures decode JPEG (gray or RGB), PNG, GIF and BMP in the graph
(``components/model/signatures.py`` checks each request against the same leading bytes). Anything
else must be transcoded before it is sent, with ``transcode_for_serving``: WebP, TIFF, HEIC and
the like (TensorFlow cannot decode them) and CMYK/YCCK JPEG (TensorFlow decodes them without
error but with wrong colors, so the signatures reject them). The same function turns JPEGs with
an EXIF orientation upright, because TensorFlow ignores the tag and the colorized PNG carries none.

The client reads each image's header before anything else and refuses one that declares more
pixels than Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, ~89 million,
above the server's own default limit), so a hostile file costs neither the client's memory nor a
request: ``ImageTooLarge``, a per-photo error.

``folder_images`` lists the photos of a folder for the client (``image_files`` for the offline
evaluator) by ingestion's own walk (``schemas/photo_files.py``), keeping what it refused.
"""
import io
import pathlib
import warnings
from typing import Dict, List, NamedTuple

from ..schemas import photo_files
from ..schemas import serving_contract as contract

_EXIF_ORIENTATION = 0x0112
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class FolderImages(NamedTuple):
    images: List[pathlib.Path]            # image files by suffix (any case), sorted
    refused: Dict[pathlib.Path, str]      # entries the walk refused -> "reason: detail"
    others: int                           # regular files without an image suffix, left alone


def folder_images(folder, suffixes=IMAGE_SUFFIXES) -> FolderImages:
    """The image files under ``folder`` (nested folders too) and what the walk refused (FIFOs, sockets, links
    to nothing, outside the folder or looping, folders it cannot list), as ``colornet ingest`` walks it."""
    images, refused, others = [], {}, 0
    for item in photo_files.walk(str(folder), [str(folder)]):
        if isinstance(item, photo_files.Refused):
            refused[pathlib.Path(item.path)] = f"{item.reason}: {item.detail}"
        elif pathlib.Path(item).suffix.lower() in suffixes:
            images.append(pathlib.Path(item))
        else:
            others += 1
    return FolderImages(sorted(images), refused, others)


def image_files(folder, suffixes=IMAGE_SUFFIXES):
    """The image files of ``folder_images``, sorted."""
    return folder_images(folder, suffixes).images


class ImageTooLarge(ValueError):
    """An image whose header declares more pixels than the client decodes (a decompression bomb, or close)."""


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
    ``ImageTooLarge`` for an image over Pillow's pixel limit (read from its header, before any
    decoding) and ``ValueError`` for bytes Pillow cannot read either.
    """
    from PIL import Image, ImageOps

    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below, with the size
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if limit and width * height > limit:
            raise ImageTooLarge(f"a {width}x{height} image ({width * height} pixels), more than the {limit} "
                                f"pixels the client decodes (Pillow's decompression-bomb limit)")
        if not _needs_transcoding(data, image):
            return data
        image = ImageOps.exif_transpose(image).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
    except ImageTooLarge:
        raise
    except Image.DecompressionBombError as error:  # over twice the limit: Pillow refuses to open it at all
        raise ImageTooLarge(f"{error} (the client decodes at most {limit} pixels)") from None
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds of errors on hostile bytes
        raise ValueError(f"not an image the colorizer can read ({len(data)} bytes): {error}") from error
    return buffer.getvalue()
