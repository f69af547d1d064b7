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


def rainbow_streaks(rgb: np.ndarray, period: int = 24, chroma: float = 60.0) -> np.ndarray:
    """A photo's own lightness under vertical bands of saturated color cycling through the hues every
    ``period`` pixels: the false color a colorizer paints over snow, water or rock, as uint8 RGB."""
    import skimage.color

    lab = skimage.color.rgb2lab(rgb)
    angle = 2 * np.pi * np.arange(rgb.shape[1]) / period
    lab[..., 1], lab[..., 2] = chroma * np.cos(angle), chroma * np.sin(angle)
    return (np.clip(skimage.color.lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
