"""Tiny stand-in colornet SavedModels and helpers for the serving tests and benchmark.

``write_tint_model`` exports a tf.Module with colornet's two serving signatures
(``serving_default``: images -> colorized PNG, ``colorize_ab``: images -> ab) that turns
each photo gray and tints it with a fixed RGB factor, so versions written with different
tints give distinguishable outputs.
"""
import io
import pathlib
import shutil
import socket

import numpy as np
import tensorflow as tf
from PIL import Image

RED = (1.0, 0.3, 0.3)
BLUE = (0.3, 0.3, 1.0)


class TintModel(tf.Module):
    def __init__(self, tint):
        super().__init__()
        self.tint = tf.Variable(tint, dtype=tf.float32, trainable=False)

    def _tinted(self, encoded):
        rgb = tf.cast(tf.io.decode_image(encoded, channels=3, expand_animations=False), tf.float32)
        gray = tf.reduce_mean(rgb, axis=-1, keepdims=True)
        return tf.cast(tf.clip_by_value(gray * self.tint, 0.0, 255.0), tf.uint8)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve(self, images):
        pngs = tf.map_fn(lambda encoded: tf.io.encode_png(self._tinted(encoded)), images,
                         fn_output_signature=tf.TensorSpec([], tf.string))
        return {"colorized": pngs}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def colorize_ab(self, images):
        def ab(encoded):
            small = tf.image.resize(tf.cast(self._tinted(encoded), tf.float32), [8, 8])
            return small[..., :2] - 128.0

        return {"ab": tf.map_fn(ab, images, fn_output_signature=tf.TensorSpec([8, 8, 2], tf.float32))}


def write_tint_model(base_dir, version, tint=RED):
    """Exports a TintModel as ``<base_dir>/<version>`` and returns that path."""
    model = TintModel(tint)
    path = pathlib.Path(base_dir) / str(version)
    tf.saved_model.save(model, str(path), signatures={"serving_default": model.serve,
                                                      "colorize_ab": model.colorize_ab})
    return path


def copy_version(source_version_dir, base_dir, version):
    """Publishes a copy of an exported version the way the Pusher does: saved_model.pb last."""
    source = pathlib.Path(source_version_dir)
    target = pathlib.Path(base_dir) / str(version)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("saved_model.pb"))
    shutil.copy2(source / "saved_model.pb", target / "saved_model.pb")
    return target


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
