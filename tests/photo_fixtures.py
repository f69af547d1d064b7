"""Real photos for the Lab and quality tests (a helper module: it holds no tests itself).

The BSDS500 photos come from conftest's ``shared_data`` fixture (``../shared/data``, which
skips when absent); scikit-image ships a few more.
"""
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea")


def skimage_photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 RGB (``camera`` is gray, [H, W])."""
    return getattr(skimage.data, name)()


def bsds_val_files(shared_data: Path, count: int) -> list[Path]:
    """The first ``count`` BSDS500 validation photos."""
    files = sorted((shared_data / "bsds500" / "val").glob("*.jpg"))[:count]
    assert len(files) == count, f"expected {count} photos in {shared_data}/bsds500/val"
    return files


def make_photo_folder(root: Path, shared_data: Path) -> Path:
    """A user's folder: 3 BSDS500 JPEGs in a subfolder, a PNG, a B&W photo, a broken file and a text file.

    Sorted, the photo files come out as: astronaut.png, broken.jpg, camera_bw.png, nested/<3 bsds>.
    """
    root.mkdir(parents=True, exist_ok=True)
    nested = root / "nested"
    nested.mkdir()
    for path in bsds_val_files(shared_data, 3):
        (nested / path.name).write_bytes(path.read_bytes())
    Image.fromarray(skimage_photo("astronaut")).resize((256, 256)).save(root / "astronaut.png")
    Image.fromarray(skimage_photo("camera")).resize((200, 200)).save(root / "camera_bw.png")  # mode "L"
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "notes.txt").write_text("not a photo")
    return root
