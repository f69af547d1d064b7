"""The bundled sample photos: color photos that ship inside scikit-image's wheel.

They make the embedded default run on a fresh machine with nothing downloaded.
``camera.png`` (a real black-and-white photo) is the demo's photo to colorize.
"""
import pathlib
import shutil

import skimage.data

COLOR_PHOTOS = (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "ihc.png",
    "hubble_deep_field.jpg", "retina.jpg", "motorcycle_left.png", "motorcycle_right.png",
)
GRAY_PHOTO = "camera.png"


def _data_dir():
    return pathlib.Path(skimage.data.data_dir)


def write_color_photos(directory):
    """Copies the sample color photos into ``directory``; returns their paths."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [pathlib.Path(shutil.copy(_data_dir() / name, directory / name)) for name in COLOR_PHOTOS]


def gray_photo_path():
    """A black-and-white photo to colorize."""
    return _data_dir() / GRAY_PHOTO
