"""The tutorial's augmentations, applied in the Trainer's tf.data pipeline (never in Transform,
where they would be applied once and frozen into the data).

L and ab are stacked (the Trainer warps the stored Lab values, ``example_codec``) and transformed
together so the colors stay on their pixels: horizontal
flips, small rotations, shear, zoom (zooming in is a random crop stretched back to the model's
size, the tutorial's random crops) and small shifts, with the ranges of the Keras layers the
first version chained (``RandomFlip("horizontal")``, ``RandomRotation(0.05)``, ``RandomZoom(0.2)``,
``RandomTranslation(0.05, 0.05)``) after a horizontal shear of up to ``MAX_SHEAR``. Empty borders
are filled by reflection.

Why one warp: every one of these transforms is affine, so per photo they compose into a single
3x3 matrix and the photo is resampled once (``warp``: bilinear gathers that XLA fuses). Chaining
the five as separate ``ImageProjectiveTransform`` ops resampled each photo five times and cost
~10 CPU-ms per 256 px photo, more than everything else in the input pipeline together
(``benchmarks/input.py``); one interpolation instead of five also blurs less.
"""
import math

import tensorflow as tf

MAX_SHEAR = 0.2        # horizontal shift per row, as a fraction of the row's distance from the centre
MAX_ROTATION = 0.05    # of a full turn (RandomRotation(0.05): up to 18 degrees either way)
MAX_ZOOM = 0.2         # scale factor in [1 - MAX_ZOOM, 1 + MAX_ZOOM], the same on both axes
MAX_SHIFT = 0.05       # of the height and of the width


def _matrices(rows):
    """[batch] tensors a0, a1, a2, b0, b1, b2 -> [batch, 3, 3] maps (x, y, 1) -> (a0 x + a1 y + a2, b0 x + b1 y + b2, 1)."""
    zeros, ones = tf.zeros_like(rows[0]), tf.ones_like(rows[0])
    return tf.reshape(tf.stack([*rows, zeros, zeros, ones], axis=1), [-1, 3, 3])


def shear_matrices(batch, height, max_shear=MAX_SHEAR):
    """Random horizontal shears about the centre row: output (x, y) samples input (x + s (y - centre), y)."""
    centre_row = (tf.cast(height, tf.float32) - 1.0) / 2.0
    shear = tf.random.uniform([batch], -max_shear, max_shear)
    ones, zeros = tf.ones([batch]), tf.zeros([batch])
    return _matrices([ones, shear, -shear * centre_row, zeros, ones, zeros])


def geometry_matrices(batch, height, width):
    """Random flip, rotation, zoom and shift per photo, composed in that order (output -> input maps)."""
    height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    ones, zeros = tf.ones([batch]), tf.zeros([batch])
    flip = tf.random.uniform([batch]) < 0.5
    flips = _matrices([tf.where(flip, -ones, ones), zeros, tf.where(flip, width - 1.0, zeros), zeros, ones, zeros])

    angle = tf.random.uniform([batch], -2.0 * math.pi * MAX_ROTATION, 2.0 * math.pi * MAX_ROTATION)
    cos, sin = tf.cos(angle), tf.sin(angle)
    rotations = _matrices([  # about the centre ((width - 1) / 2, (height - 1) / 2)
        cos, -sin, ((width - 1.0) - (cos * (width - 1.0) - sin * (height - 1.0))) / 2.0,
        sin, cos, ((height - 1.0) - (sin * (width - 1.0) + cos * (height - 1.0))) / 2.0])

    zoom = tf.random.uniform([batch], 1.0 - MAX_ZOOM, 1.0 + MAX_ZOOM)
    zooms = _matrices([zoom, zeros, (width - 1.0) / 2.0 * (1.0 - zoom),
                       zeros, zoom, (height - 1.0) / 2.0 * (1.0 - zoom)])

    shift_x = tf.random.uniform([batch], -MAX_SHIFT, MAX_SHIFT) * width
    shift_y = tf.random.uniform([batch], -MAX_SHIFT, MAX_SHIFT) * height
    shifts = _matrices([ones, zeros, -shift_x, zeros, ones, -shift_y])
    return flips @ rotations @ zooms @ shifts


def _reflect(coordinate, size):
    """Maps coordinates outside [0, size - 1] back inside by mirroring about -0.5 and size - 0.5 (d c b a | a b c d)."""
    period = 2.0 * size
    shifted = coordinate + 0.5
    folded = shifted - period * tf.floor(shifted / period)  # floormod, at half the cost of FloorMod under XLA
    folded = tf.where(folded >= size, period - folded, folded) - 0.5
    return tf.clip_by_value(folded, 0.0, size - 1.0)


def warp(images, matrices):
    """Resamples each image of a [batch, h, w, c] batch (any real dtype; float32 out) at ``matrices``
    [batch, 3, 3] (output -> input pixel coordinates): bilinear, borders filled by reflection.

    The same numbers as ``ImageProjectiveTransformV3(fill_mode="REFLECT", interpolation="BILINEAR")``
    for affine maps, written as plain gathers so that XLA fuses it into one loop (the Trainer
    compiles it, ``example_codec.decode(..., xla=True)``) instead of a per-channel kernel; uint8
    images are read as they are (a quarter of the bytes) and interpolated in float32.
    """
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    rows, cols = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    points = tf.stack([tf.reshape(cols, [-1]), tf.reshape(rows, [-1]), tf.ones([height * width])])  # [3, h*w]
    source = tf.linalg.matmul(matrices[:, :2, :], tf.broadcast_to(points, [batch, 3, height * width]))
    x = _reflect(source[:, 0], tf.cast(width, tf.float32))
    y = _reflect(source[:, 1], tf.cast(height, tf.float32))
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [batch, height * width, channels])

    def at(row, col):
        return tf.cast(tf.gather(flat, row * width + col, batch_dims=1), tf.float32)

    top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx
    return tf.reshape(top * (1.0 - fy) + bottom * fy, shape)


def random_matrices(batch, height, width):
    """One random augmentation per photo: shear, then flip, rotation, zoom and shift, as [batch, 3, 3] maps."""
    return shear_matrices(batch, height) @ geometry_matrices(batch, height, width)
