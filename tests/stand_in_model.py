"""Test harness: a stand-in for a trained colornet model, with the same serving signatures and no training.

``serving_default``: ``images`` (encoded bytes, any size) -> ``colorized_bytes`` (PNG of the
photo in gray, tinted by a fixed RGB factor) and ``errors``; ``colorize_ab``: ``images`` -> ``ab``
(float32 [batch, 8, 8, 2]) and ``errors``. Bad photos are handled by the real signatures' code
(``signatures.per_photo``): each fails alone, with its reason in ``errors``. Versions exported with different tints give outputs that tell them
apart, which the serving tests and ``benchmarks/serve.py`` use to see version switches.
"""
import pathlib

import tensorflow as tf

from colornet.components.model.signatures import map_photos, per_photo
from colornet.schemas import serving_contract as contract

RED = (1.0, 0.3, 0.3)
BLUE = (0.3, 0.3, 1.0)
_IMAGES = tf.TensorSpec([None], tf.string, name=contract.IMAGES_INPUT)


class TintModel(tf.Module):
    def __init__(self, tint):
        super().__init__()
        self.tint = tf.Variable(tint, dtype=tf.float32, trainable=False)

    def _tinted(self, rgb8):
        rgb = tf.cast(rgb8, tf.float32)
        gray = tf.reduce_mean(rgb, axis=-1, keepdims=True)
        return tf.cast(tf.clip_by_value(gray * self.tint, 0.0, 255.0), tf.uint8)

    @tf.function(input_signature=[_IMAGES])
    def serve(self, images):
        def colorize(photos):
            return map_photos(lambda rgb8: tf.io.encode_png(self._tinted(rgb8)), photos, tf.TensorSpec([], tf.string))

        pngs, errors = per_photo(images, colorize, tf.constant([""]))
        return {contract.COLORIZED_OUTPUT: pngs, contract.ERRORS_OUTPUT: errors}

    @tf.function(input_signature=[_IMAGES])
    def colorize_ab(self, images):
        def ab(rgb8):
            small = tf.image.resize(tf.cast(self._tinted(rgb8), tf.float32), [8, 8])
            return small[..., :2] - 128.0

        def predict_ab(photos):
            return map_photos(ab, photos, tf.TensorSpec([8, 8, 2], tf.float32))

        ab_values, errors = per_photo(images, predict_ab, tf.zeros([1, 8, 8, 2]))
        return {contract.AB_OUTPUT: ab_values, contract.ERRORS_OUTPUT: errors}


def write_tint_model(base_dir, version, tint=RED):
    """Exports a TintModel as ``<base_dir>/<version>`` (a Pusher-style version dir); returns its path."""
    model = TintModel(tint)
    path = pathlib.Path(base_dir) / str(version)
    tf.saved_model.save(model, str(path), signatures={contract.SERVING_SIGNATURE: model.serve,
                                                      contract.COLORIZE_AB_SIGNATURE: model.colorize_ab})
    return path
