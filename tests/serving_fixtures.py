"""Helpers for the serving tests: test images, output colors, free ports.

Models come from ``stand_in_model`` (re-exported here): tiny SavedModels
with colornet's serving signatures whose versions tint differently.
"""
import io
import socket

import numpy as np
from PIL import Image

from stand_in_model import BLUE, RED, write_tint_model  # noqa: F401 - re-exported


def jpeg_bytes(width=48, height=32, color=(200, 120, 40)):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def mean_rgb(png):
    """Mean (R, G, B) of an encoded image."""
    with Image.open(io.BytesIO(png)) as image:
        return tuple(np.asarray(image.convert("RGB"), dtype=np.float64).mean(axis=(0, 1)))


def is_red(png):
    red, _, blue = mean_rgb(png)
    return red > blue


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
