"""Per-photo tensor preprocessing shared by Transform and the serving signatures.

Resize policy (one for training and serving): the whole photo is resized to
``size x size`` without keeping its aspect ratio (bilinear, antialiased), as the
tutorial does. Training learns ab on that squashed view; serving predicts ab on the
same squashed view and stretches it back to the photo's own size, where it is joined
with the full-resolution L. Nothing is cropped, so every pixel gets a color.

Scaling: the model sees L / 50 - 1 (in [-1, 1]) and predicts ab / 128 (tanh range).
"""
import tensorflow as tf

from . import lab

AB_SCALE = 128.0


def decode_srgb8(encoded):
    """Encoded JPEG/PNG/GIF/BMP bytes (a scalar string tensor) -> uint8 RGB [h, w, 3] (16-bit PNGs are
    reduced to 8 bits)."""
    return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def decode_rgb(encoded):
    """Encoded JPEG/PNG/GIF/BMP bytes (a scalar string tensor) -> float32 RGB in [0, 1], [h, w, 3]."""
    return tf.image.convert_image_dtype(decode_srgb8(encoded), tf.float32)


def resize_to_model(rgb, size):
    """The resize policy: squash the whole photo to [size, size, 3]."""
    resized = tf.image.resize(rgb, [size, size], method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def scale_lightness(lightness):
    """L in [0, 100] -> model input in [-1, 1]."""
    return lightness / 50.0 - 1.0


def unscale_lightness(scaled):
    """Model input in [-1, 1] -> L in [0, 100] (the inverse of ``scale_lightness``), float32."""
    return (tf.cast(scaled, tf.float32) + 1.0) * 50.0


def unscale_ab(scaled):
    """ab / 128 (the model's output scale) -> ab in Lab units, clipped to [-128, 127] as serving
    clips it (so out-of-range predictions cannot wrap colors), float32."""
    return tf.clip_by_value(tf.cast(scaled, tf.float32) * AB_SCALE, -128.0, 127.0)


def lab_from_model(lightness_scaled, ab_scaled):
    """The model's scales (L in [-1, 1], ab / 128) -> Lab in Lab units, channels last."""
    return tf.concat([unscale_lightness(lightness_scaled), unscale_ab(ab_scaled)], axis=-1)


def model_lab(rgb, size):
    """RGB photo -> (L scaled to [-1, 1], ab / 128) at the model's size: [size, size, 1], [size, size, 2]."""
    lab_image = lab.rgb_to_lab(resize_to_model(rgb, size))
    return scale_lightness(lab_image[..., :1]), lab_image[..., 1:] / AB_SCALE


def colorize_full_resolution(rgb8, ab_scaled):
    """Joins a photo's own full-resolution L (from its uint8 RGB [h, w, 3]) with predicted ab (model
    size, / 128) -> uint8 RGB [h, w, 3].

    ab is stretched back to the photo's size (the inverse of the resize policy). Only L is computed
    at full resolution (``lab.lightness_of_srgb8``): the photo's own a and b would be discarded.
    """
    ab = tf.image.resize(unscale_ab(ab_scaled), tf.shape(rgb8)[:2], method="bilinear")
    colored = lab.lab_to_rgb(tf.concat([lab.lightness_of_srgb8(rgb8), ab], axis=-1))
    return tf.image.convert_image_dtype(colored, tf.uint8, saturate=True)
