"""The colorization networks of the tutorial, as Keras (tf_keras) models.

Every variant maps L (scaled to [-1, 1], shape [size, size, 1]) to ab / 128 through a
tanh, layer for layer as the article describes, except that L is normalized (the
article feeds its nets L in [0, 100]). The model's input is a dict (``{"L": ...}``, plus
``"embedding"`` for fusion) made by ``model_inputs``; its last layer computes in float32 even
under mixed precision.

* ``alpha``:  the single-photo net (8-16-32 filters, three stride-2 convs, three upsamplings).
* ``beta``:   the encoder-decoder without a classifier.
* ``fusion``: the full version: encoder, a classifier's 1000-d output tiled over the
  encoder's grid (32x32 at 256 px) and fused by a 1x1 conv, then the decoder.

The classifier's output is computed once per photo, in Transform (``classifier_embedding``,
called by ``transform.py``), not in every training step: the frozen
Inception-ResNet-v2 forward pass is most of a fusion step's cost on a CPU. The price: the
embedding describes the un-augmented photo while the encoder sees the augmented L. For
flips, small rotations and shifts the class scores barely move; for strong zoom they would,
which is why the augmentations stay mild. Serving runs the same Transform graph, so the
model is served with the embedding it was trained with.
"""
import logging
import os

import tensorflow as tf
import tf_keras as keras

from ...schemas import features
from ..evaluation import metrics
from . import lab, losses, preprocessing


def _conv(filters, strides=1, kernel=3, activation="relu"):
    return keras.layers.Conv2D(filters, kernel, strides=strides, activation=activation, padding="same")


def _stack(tensor, layers):
    for layer in layers:
        tensor = layer(tensor)
    return tensor


def _alpha(lightness):
    return _stack(lightness, [
        _conv(8, 2), _conv(8), _conv(16), _conv(16, 2), _conv(32), _conv(32, 2),
        keras.layers.UpSampling2D(), _conv(32),
        keras.layers.UpSampling2D(), _conv(16),
        keras.layers.UpSampling2D(), _conv(2, activation="tanh"),
    ])


def _beta(lightness):
    return _stack(lightness, [
        _conv(64), _conv(64, 2), _conv(128), _conv(128, 2), _conv(256), _conv(256, 2),
        _conv(512), _conv(256), _conv(128),
        keras.layers.UpSampling2D(), _conv(64),
        keras.layers.UpSampling2D(), _conv(32), _conv(2, activation="tanh"),
        keras.layers.UpSampling2D(),
    ])


def _resolve_weights(weights):
    """Keras' ``weights`` argument; logs loudly when the classifier will be random."""
    if weights in (None, "", "none"):
        logging.warning(
            "No classifier weights configured: the fusion input is a randomly initialized "
            "classifier's output and carries no semantic information. Set backbone_weights to a "
            "local .h5 file or 'imagenet' (Keras' cache) for the real model.")
        return None
    if weights != "imagenet" and not os.path.exists(weights):
        raise FileNotFoundError(f"backbone weights file not found: {weights}")
    return weights


def build_backbone(config):
    """The frozen 1000-way classifier whose output is fused; input is RGB in [-1, 1]."""
    size = config.resolved_backbone_size
    application = {
        "inception_resnet_v2": keras.applications.InceptionResNetV2,
        "mobilenet_v2": keras.applications.MobileNetV2,
    }[config.backbone]
    backbone = application(
        include_top=True, weights=_resolve_weights(config.backbone_weights),
        input_shape=(size, size, 3), classes=1000)
    backbone.trainable = False
    return backbone


def gray_rgb(lightness):
    """Model-scaled L ([-1, 1]) -> the sRGB gray photo of that lightness (ab = 0), in [0, 1].

    That is what a black-and-white photo looks like to the classifier (the tutorial feeds it
    ``gray2rgb(rgb2gray(photo))``); L itself is not linear in the sRGB gray value.
    """
    lightness = preprocessing.unscale_lightness(lightness)
    return lab.lab_to_rgb(tf.concat([lightness, tf.zeros_like(lightness), tf.zeros_like(lightness)], axis=-1))


def classifier_embedding(backbone, lightness):
    """Model-scaled L [batch, h, w, 1] -> the backbone's 1000-d output for the gray photo."""
    size = backbone.input_shape[1]
    gray = tf.image.resize(gray_rgb(lightness), [size, size]) * 2.0 - 1.0
    return backbone(gray, training=False)


def _fusion(lightness, embedding, config):
    grid = config.image_size // 8
    encoded = _stack(lightness, [
        _conv(64, 2), _conv(128), _conv(128, 2), _conv(256), _conv(256, 2),
        _conv(512), _conv(512), _conv(256),
    ])
    tiled = keras.layers.Reshape((grid, grid, 1000))(keras.layers.RepeatVector(grid * grid)(embedding))
    fused = _conv(256, kernel=1)(keras.layers.Concatenate(axis=-1)([encoded, tiled]))
    return _stack(fused, [
        _conv(128), keras.layers.UpSampling2D(), _conv(64), keras.layers.UpSampling2D(),
        _conv(32), _conv(16), _conv(2, activation="tanh"), keras.layers.UpSampling2D(),
    ])


def model_inputs(transformed, size, input_names):
    """The inputs named ``input_names`` (a model's ``input_names``), from Transform's output
    (a dict of batched, flattened features): ``L`` as [batch, size, size, 1], ``embedding``
    as [batch, 1000].

    The Trainer's input pipeline and every serving signature go through this one function.
    """
    shapes = {features.L: [-1, size, size, 1], features.EMBEDDING: [-1, 1000]}
    return {name: tf.reshape(transformed[name], shapes[name]) for name in input_names}


def build_model(config):
    """An uncompiled model: {"L": [size, size, 1] in [-1, 1] (, "embedding": [1000])} -> ab / 128.

    Layers follow the global Keras dtype policy (mixed_float16 on GPUs, see the Trainer); the
    output is cast to float32 by a last linear layer so the loss is computed in float32.
    """
    inputs = {features.L: keras.Input((config.image_size, config.image_size, 1), name=features.L)}
    if config.variant == "alpha":
        ab = _alpha(inputs[features.L])
    elif config.variant == "beta":
        ab = _beta(inputs[features.L])
    else:
        inputs[features.EMBEDDING] = keras.Input((1000,), name=features.EMBEDDING)
        ab = _fusion(inputs[features.L], inputs[features.EMBEDDING], config)
    ab = keras.layers.Activation("linear", dtype="float32", name="ab_float32")(ab)
    return keras.Model(inputs, ab, name=f"colornet_{config.variant}")


def compile_model(model, config):
    """Adam on ``config.loss`` over ab / 128; as metrics, ab-MSE in Lab units and its ratios to gray and
    to the best constant color (``evaluation/metrics.py``), logged per epoch for training and validation."""
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=losses.get_loss(config.loss),
        metrics=[metrics.AbMse(), metrics.AbMseVsGray(), metrics.AbMseVsConstant()],
    )
    return model
