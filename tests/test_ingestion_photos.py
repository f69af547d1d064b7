"""Ingestion of the inputs a real photo folder contains, each a real file the test makes.

Per-photo checks run ``photo.normalize`` directly (fast); one Beam run of the stand-alone
ingestion over a folder holding all of them checks the reasons, nesting, symlinks, duplicates
and the summary end to end.
"""
import hashlib
import io
import json
import os
import shutil
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from colornet.schemas import features
from colornet.components.ingestion import photo, summary
from colornet.schemas.config import IngestionConfig
from colornet.components.ingestion.executor import NoUsablePhotosError
from colornet.components.ingestion.commands import ingest_folder

from ingestion_fixtures import SEED_DIR, feature_value, read_examples

CONFIG = IngestionConfig()
PHOTO_PATH = os.path.join(SEED_DIR, "train", "0qADtP.jpg")       # 256x256 RGB JPEG, colorful
ALPHA_PHOTO_PATH = os.path.join(SEED_DIR, "alpha", "man.jpg")    # PNG bytes, RGBA, named .jpg


def real_photo(size=(120, 80)) -> Image.Image:
    return Image.open(PHOTO_PATH).convert("RGB").resize(size, Image.Resampling.LANCZOS)


def encoded(image: Image.Image, fmt: str, **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def decoded(normalized: photo.NormalizedPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(normalized.encoded))
    assert image.mode == "RGB"
    assert image.size == (normalized.width, normalized.height)
    return image


def mean_abs_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b.convert("RGB"), np.float32)).mean())


def png_with_header_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR claims width x height: decoding it would fail, reading its header not."""
    data = bytearray(encoded(Image.new("RGB", (8, 8), (200, 30, 30)), "PNG"))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    return bytes(data)


def sixteen_bit_rgb_png() -> bytes:
    rgb16 = np.asarray(real_photo(), np.uint16) * 257
    return tf.io.encode_png(tf.constant(rgb16)).numpy()


# --- One photo at a time -------------------------------------------------------------------------

def test_rgb_jpeg_keeps_its_original_bytes():
    data = encoded(real_photo(), "JPEG", quality=90)
    normalized = photo.normalize(data, CONFIG)
    assert normalized.encoded == data
    assert (normalized.width, normalized.height) == (120, 80)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "WEBP"])
def test_lossless_and_webp_formats_are_stored_as_png(fmt):
    original = real_photo()
    normalized = photo.normalize(encoded(original, fmt, **({"lossless": True} if fmt == "WEBP" else {})), CONFIG)
    image = decoded(normalized)
    assert image.format == "PNG"
    assert mean_abs_difference(image, original) < 0.5


def test_gif_takes_the_first_frame():
    first = real_photo().quantize(64)
    second = ImageOps.invert(real_photo()).quantize(64)
    data = encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    image = decoded(photo.normalize(data, CONFIG))
    assert mean_abs_difference(image, first.convert("RGB")) < 1.0


def test_extension_that_lies_is_ignored():
    with open(ALPHA_PHOTO_PATH, "rb") as f:
        data = f.read()
    assert Image.open(io.BytesIO(data)).format == "PNG"
    assert decoded(photo.normalize(data, CONFIG)).size == (400, 400)


def test_rgba_is_composited_on_white():
    rgba = real_photo().convert("RGBA")
    alpha = np.full((80, 120), 255, np.uint8)
    alpha[:, :60] = 0                                   # left half fully transparent
    rgba.putalpha(Image.fromarray(alpha))
    image = np.asarray(decoded(photo.normalize(encoded(rgba, "PNG"), CONFIG)))
    assert (image[:, :60] == 255).all()
    np.testing.assert_array_equal(image[:, 60:], np.asarray(real_photo())[:, 60:])


def test_la_and_palette_transparency_become_white_rgb():
    la = Image.new("LA", (40, 40), (0, 0))
    assert photo.to_rgb(la).getpixel((0, 0)) == (255, 255, 255)
    palette = real_photo().quantize(16)
    palette.info["transparency"] = palette.getpixel((0, 0))
    rgb = photo.to_rgb(Image.open(io.BytesIO(encoded(palette, "PNG"))))
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (255, 255, 255)


def test_palette_png_is_accepted():
    palette = real_photo().quantize(256)
    image = decoded(photo.normalize(encoded(palette, "PNG"), CONFIG))
    assert mean_abs_difference(image, palette.convert("RGB")) < 0.5


def test_cmyk_jpeg_becomes_rgb():
    original = real_photo()
    data = encoded(original.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    image = decoded(photo.normalize(data, CONFIG))
    assert image.format == "PNG"
    assert mean_abs_difference(image, original) < 6.0


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    values = np.array([[0, 257 * 128, 65535]], np.uint16)
    sixteen = Image.frombytes("I;16", (3, 1), values.tobytes())
    assert list(photo.to_rgb(sixteen).getdata()) == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_sixteen_bit_grayscale_png_is_read_and_rejected_as_grayscale():
    gray16 = (np.asarray(real_photo().convert("L"), np.uint16) * 257)
    data = encoded(Image.frombytes("I;16", (120, 80), gray16.tobytes()), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    with pytest.raises(photo.Rejected) as rejected:
        photo.normalize(data, CONFIG)
    assert rejected.value.reason == summary.GRAYSCALE


def test_sixteen_bit_rgb_png_is_accepted():
    image = decoded(photo.normalize(sixteen_bit_rgb_png(), CONFIG))
    assert mean_abs_difference(image, real_photo()) < 0.5


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6                                     # "rotate 90 CW to display"
    data = encoded(real_photo(), "JPEG", quality=95, exif=exif.tobytes())
    normalized = photo.normalize(data, CONFIG)
    assert (normalized.width, normalized.height) == (80, 120)
    viewer = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    assert mean_abs_difference(decoded(normalized), viewer) < 0.5


def test_rgb_photo_of_equal_channels_is_grayscale_despite_jpeg_noise():
    gray_rgb = real_photo((256, 256)).convert("L").convert("RGB")
    with pytest.raises(photo.Rejected) as rejected:
        photo.normalize(encoded(gray_rgb, "JPEG", quality=60), CONFIG)
    assert rejected.value.reason == summary.GRAYSCALE


@pytest.mark.parametrize("name, data, reason", [
    ("text", b"shopping list: milk, eggs\n", summary.NOT_AN_IMAGE),
    ("truncated", None, summary.CORRUPT),
    ("tiny", None, summary.TOO_SMALL),
    ("bomb", None, summary.TOO_LARGE),
])
def test_unusable_files_are_rejected_with_their_reason(name, data, reason):
    data = {
        "truncated": lambda: encoded(real_photo(), "JPEG")[:1500],
        "tiny": lambda: encoded(real_photo((31, 200)), "PNG"),
        "bomb": lambda: png_with_header_size(50_000, 50_000),
    }.get(name, lambda: data)()
    with pytest.raises(photo.Rejected) as rejected:
        photo.normalize(data, CONFIG)
    assert rejected.value.reason == reason, rejected.value


def test_size_limits_are_configurable_and_checked_from_the_header():
    data = encoded(real_photo((200, 100)), "PNG")
    with pytest.raises(photo.Rejected, match="too_large"):
        photo.normalize(data, IngestionConfig(max_pixels=19_999))
    with pytest.raises(photo.Rejected, match="too_small"):
        photo.normalize(data, IngestionConfig(min_side=101))
    # 50000 x 50000 would take 7.5 GB decoded; rejected from the header even with a lifted limit.
    with pytest.raises(photo.Rejected, match="too_large"):
        photo.normalize(png_with_header_size(50_000, 50_000), IngestionConfig(max_pixels=2_000_000_000))
    assert photo.normalize(data, IngestionConfig(min_side=100, max_pixels=20_000)).width == 200


def test_large_photos_are_downscaled_to_max_side():
    data = encoded(real_photo((1600, 1200)), "JPEG", quality=90)
    assert (photo.normalize(data, CONFIG).width, photo.normalize(data, CONFIG).height) == (1024, 768)
    kept = photo.normalize(data, IngestionConfig(max_side=0))
    assert kept.encoded == data and kept.width == 1600


# --- A whole folder through the Beam pipeline --------------------------------------------------------

def make_messy_folder(root):
    """A photo folder as users have them; returns {id: expected outcome reason}."""
    expected = {}

    def write(photo_id, data, reason):
        path = root / "images" / photo_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[photo_id] = reason

    photo_bytes = encoded(real_photo(), "JPEG", quality=90)
    write("holiday/beach.jpg", photo_bytes, summary.ACCEPTED)
    write("holiday/copies/beach (1).jpg", photo_bytes, summary.DUPLICATE)
    write("png/sunset.png", encoded(real_photo((90, 70)), "PNG"), summary.ACCEPTED)
    write("misc/cmyk.jpg", encoded(real_photo((64, 64)).convert("CMYK"), "JPEG"), summary.ACCEPTED)
    write("misc/alpha_named.jpg", open(ALPHA_PHOTO_PATH, "rb").read(), summary.ACCEPTED)
    write("misc/deep16.png", sixteen_bit_rgb_png(), summary.ACCEPTED)
    write("misc/old_bw.jpg", encoded(real_photo().convert("L").convert("RGB"), "JPEG"), summary.GRAYSCALE)
    write("broken/truncated.jpg", photo_bytes[:1500], summary.CORRUPT)
    write("broken/empty.jpg", b"", summary.EMPTY)
    write("broken/notes.txt", b"not a photo", summary.NOT_AN_IMAGE)
    write("broken/icon.png", encoded(real_photo((16, 16)), "PNG"), summary.TOO_SMALL)
    write("broken/bomb.png", png_with_header_size(50_000, 50_000), summary.TOO_LARGE)
    write(".DS_Store", b"\0\0\0\1Bud1", None)            # hidden: skipped, not reported

    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(encoded(real_photo((100, 100)), "JPEG"))
    os.symlink(outside / "secret.jpg", root / "images" / "link_out.jpg")
    os.symlink(outside, root / "images" / "dir_out")
    os.symlink(root / "images" / "png" / "sunset.png", root / "images" / "link_in.png")
    os.symlink(root / "images" / "missing.jpg", root / "images" / "dangling.jpg")
    # link_in.png sorts before png/sunset.png, yet the real path is the one kept.
    expected.update({"link_out.jpg": summary.OUTSIDE_ROOT, "dir_out": summary.OUTSIDE_ROOT,
                     "link_in.png": summary.DUPLICATE, "dangling.jpg": summary.UNREADABLE})
    return expected


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    expected = make_messy_folder(root)
    result = ingest_folder(str(root / "images"), str(root / "out"))
    return root, expected, result


def test_every_file_ends_with_its_expected_outcome(messy_run):
    root, expected, result = messy_run
    rejected = {r["id"]: r["reason"] for r in result.rejected}
    assert rejected == {k: v for k, v in expected.items() if v not in (summary.ACCEPTED, None)}
    assert result.accepted == sum(v == summary.ACCEPTED for v in expected.values())
    details = {r["id"]: r["detail"] for r in result.rejected}
    assert details["holiday/copies/beach (1).jpg"] == "same bytes as holiday/beach.jpg"
    assert details["link_in.png"] == "a link to png/sunset.png, listed under that path"


def test_summary_json_and_examples_are_written(messy_run):
    root, expected, result = messy_run
    written = json.loads((root / "out" / summary.SUMMARY_FILE_NAME).read_text())
    assert written["accepted"] == result.accepted
    assert written["rejected_counts"][summary.OUTSIDE_ROOT] == 2
    assert written["total_files"] == len([v for v in expected.values() if v])
    examples = read_examples(str(root / "out" / "Split-train")) + read_examples(str(root / "out" / "Split-eval"))
    ids = {feature_value(e, features.ID).decode() for e in examples}
    assert ids == {k for k, v in expected.items() if v == summary.ACCEPTED}
    for example in examples:
        data = (root / "images" / feature_value(example, features.ID).decode()).read_bytes()
        assert feature_value(example, features.SHA256).decode() == hashlib.sha256(data).hexdigest()


def test_permission_denied_is_reported_not_fatal(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions cannot deny a read (dangling symlinks cover 'unreadable')")
    images = tmp_path / "images"
    images.mkdir()
    shutil.copyfile(PHOTO_PATH, images / "ok.jpg")
    locked = images / "locked.jpg"
    shutil.copyfile(PHOTO_PATH.replace("0qADtP", "11Se02"), locked)
    locked.chmod(0)
    result = ingest_folder(str(images), str(tmp_path / "out"))
    assert result.accepted == 1
    assert result.rejected_counts == {summary.UNREADABLE: 1}


def test_a_folder_without_usable_photos_fails_clearly(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "bw.jpg").write_bytes(encoded(real_photo().convert("L"), "JPEG"))
    (images / "empty.png").write_bytes(b"")
    with pytest.raises(NoUsablePhotosError, match=r"No usable photos .*0 of 2 files accepted.*grayscale 1"):
        ingest_folder(str(images), str(tmp_path / "out"))
    assert (tmp_path / "out" / summary.SUMMARY_FILE_NAME).exists()
