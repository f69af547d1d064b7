"""Shared fixtures: small real photos, the repository's data folder, and the serving tests' server of two
tint models.

The tests need the real photos of ``../shared/data`` (beside the project root; see its README), or
``COLORNET_DATA_DIR``. Without them the run stops at once and says so: a suite that skipped
every photo test could go green having tested little.
"""
import os
import pathlib

import numpy as np
import pytest
from PIL import Image
from skimage import color

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = pathlib.Path(os.environ.get(
    "COLORNET_DATA_DIR", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")).resolve()


def pytest_configure(config):
    if not (SHARED_DATA / "bsds500" / "train").is_dir():
        raise pytest.UsageError(
            f"The tests need the shared photos at {SHARED_DATA} (bsds500/, seed-unsplash/): put the "
            "project's shared/ folder beside the clone (../shared/data), or set COLORNET_DATA_DIR.")


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` beside the project root (real photos; see its README)."""
    return SHARED_DATA


def duotone(rgb):
    """A photo recolored so that its color is a function of its lightness (shadows blue,
    highlights orange): a mapping a colorizer can learn from a dozen photos in a few steps."""
    lightness = color.rgb2lab(rgb)[..., 0]
    offset = lightness / 50.0 - 1.0
    lab = np.stack([lightness, 25.0 * offset, 45.0 * offset], axis=-1)
    return (np.clip(color.lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)


def write_small_photos(source_dir, target_dir, count, max_side, recolor=None):
    """Copies ``count`` photos from ``source_dir`` into ``target_dir`` downscaled to ``max_side``,
    optionally passing their pixels through ``recolor``."""
    target_dir = pathlib.Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(pathlib.Path(source_dir).glob("*.jpg"))[:count]:
        with Image.open(source) as image:
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            if recolor is not None:
                image = Image.fromarray(recolor(np.asarray(image)))
            path = target_dir / source.name
            image.save(path, quality=95)
            written.append(path)
    return written


@pytest.fixture(scope="session")
def tiny_photos(shared_data, tmp_path_factory):
    """Twelve real color photos (BSDS500), at most 64 px a side."""
    return write_small_photos(shared_data / "bsds500" / "train", tmp_path_factory.mktemp("tiny_photos"), 12, 64)


@pytest.fixture(scope="session")
def duotone_photos(shared_data, tmp_path_factory):
    """Twelve real photos (BSDS500), at most 64 px a side, recolored by ``duotone``."""
    return write_small_photos(shared_data / "bsds500" / "train", tmp_path_factory.mktemp("duotone_photos"),
                              12, 64, recolor=duotone)


TINT_LABELS = {"stable": 1, "canary": 2}  # the version labels of ``tint_server``


@pytest.fixture(scope="module")
def tint_models(tmp_path_factory):
    """A model folder of two versions that tint differently (``stand_in_model``): 1 red, 2 (the newest) blue."""
    from serving_fixtures import BLUE, RED, write_tint_model  # TensorFlow: imported by the tests that serve only

    models = tmp_path_factory.mktemp("push")
    write_tint_model(models, 1, RED)
    write_tint_model(models, 2, BLUE)
    return models


@pytest.fixture(scope="module")
def tint_server(tint_models):
    """The embedded server on ``tint_models``, gRPC and REST on 127.0.0.1 (free ports), labels ``TINT_LABELS``."""
    from colornet.serving.server import start_server

    with start_server(tint_models, port=0, rest_port=0, poll_seconds=0.5, version_labels=TINT_LABELS) as running:
        yield running
