"""The colorization networks, as Keras (tf_keras) models.

Every variant maps L (scaled to [-1, 1], shape [size, size, 1]) to ab / 128 through a tanh. The
model's input is a dict (``{"L": ...}``, plus ``"embedding"`` for the variants that fuse a
classifier) made by ``model_inputs``; its last layer computes in float32 even under mixed precision.

The article's three, layer for layer (except that L is normalized; the article feeds L in [0, 100]):

* ``alpha``:  the single-photo net (8-16-32 filters, three stride-2 convs, three upsamplings).
* ``beta``:   the encoder-decoder without a classifier.
* ``fusion``: the full version: encoder, a classifier's 1000-d output tiled over the
  encoder's grid (32x32 at 256 px) and fused by a 1x1 conv, then the decoder.

Trained with MSE on a few hundred photos, all three learn the one warm tint that photos share on
average (a model that scores exactly like painting every photo the mean color). The fourth is the
recipe measured to do better on this hardware (``benchmarks/quality.py``, README "Quality"):

* ``unet``: an encoder-decoder with skip connections (a U-Net; batch-normalized 3x3 convs, 64-128-256
  filters at 1/2, 1/4, 1/8 of the size), a jointly trained global branch as in Iizuka et al.
  ("Let there be Color!", SIGGRAPH 2016: the bottleneck's features pooled over the whole photo,
  tiled back and fused by a 1x1 conv, which is the fusion architecture without needing an ImageNet
  classifier) and a row-coordinate input channel (each pixel's height in the photo: convolutions
  cannot see position, yet in a whole photo it is a strong color prior, sky above and ground below;
  the largest single gain measured). ``classifier=True`` fuses the classifier's embedding into the
  global branch as well. The tanh head predicts at 1/2 size, upsampled bilinearly.

It beat the tint, but by little (0.957x the best constant at best): a network that learns from a few
hundred photos alone cannot know what is in them, and what a thing is decides its color. So:

* ``lite0_unet``: ImageNet-trained EfficientNet-Lite0 (``efficientnet_lite0.py``) on the gray photo as
  the U-Net's encoder (it classifies gray photos almost as well as color ones); its features at
  strides 32 to 2 are the skips of a bilinear-upsampling decoder; its pooled vector is fused at every
  position of the coarsest grid (the article's fusion, with ImageNet's 1280 features instead of its
  1000 scores); a row coordinate joins at stride 8 and the photo's own L at stride 2.
  ``encoder_trainable_stages`` trains Lite0's last stages with the decoder (batch norm stays frozen
  and in inference mode). The encoder runs in every training step instead of once per photo in
  Transform: the decoder needs it at five scales, on the augmented photo, and trains part of it.

The fused classifier's output is computed once per photo, in Transform (``classifier_embedding``,
called by ``transform.py``), not in every training step: the frozen
Inception-ResNet-v2 forward pass is most of a fusion step's cost on a CPU. The price: the
embedding describes the un-augmented photo while the encoder sees the augmented L. For
flips, small rotations and shifts the class scores barely move; for strong zoom they would,
which is why the augmentations stay mild. Serving runs the same Transform graph, so the
model is served with the embedding it was trained with.
"""
import logging
import os
import tempfile
import types

import numpy as np
import tensorflow as tf
import tf_keras as keras

from ...schemas import features
from ..evaluation import metrics
from . import efficientnet_lite0, lab, losses, preprocessing


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


_LOCAL_WEIGHT_COPIES = {}  # (remote path, size, mtime) -> its copy in this process's temp folder


def _resolve_weights(weights):
    """Keras' ``weights`` argument; logs loudly when the classifier will be random."""
    if weights in (None, "", "none"):
        logging.warning(
            "No classifier weights configured: the fusion input is a randomly initialized "
            "classifier's output and carries no semantic information. Set backbone_weights to a "
            "local .h5 file or 'imagenet' (Keras' cache) for the real model.")
        return None
    if weights == "imagenet":
        return weights
    if not tf.io.gfile.exists(weights):
        raise FileNotFoundError(f"backbone weights file not found: {weights}")
    if "://" in weights:  # Keras reads weights from a local file only: copy gs://... once per process
        stat = tf.io.gfile.stat(weights)
        key = (weights, stat.length, stat.mtime_nsec)
        if key not in _LOCAL_WEIGHT_COPIES:
            local = os.path.join(tempfile.mkdtemp(prefix="colornet-weights-"), os.path.basename(weights))
            tf.io.gfile.copy(weights, local)
            _LOCAL_WEIGHT_COPIES[key] = local
        return _LOCAL_WEIGHT_COPIES[key]
    return weights


def build_backbone(config):
    """The frozen 1000-way classifier whose output is fused; input is RGB in [-1, 1]."""
    size = config.resolved_backbone_size
    if config.backbone == "efficientnet_lite0":
        lite0 = build_lite0(config.backbone_weights, (size, size, 3))
        backbone = keras.Model(lite0.input, lite0.output["probabilities"], name="efficientnet_lite0_classifier")
        backbone.trainable = False
        return backbone
    application = {
        "inception_resnet_v2": keras.applications.InceptionResNetV2,
        "mobilenet_v2": keras.applications.MobileNetV2,
    }[config.backbone]
    backbone = application(
        include_top=True, weights=_resolve_weights(config.backbone_weights),
        input_shape=(size, size, 3), classes=1000)
    backbone.trainable = False
    return backbone


def lite0_weights(weights):
    """A config's ``backbone_weights`` as ``efficientnet_lite0.build_lite0`` takes them: ImageNet's unless
    ``"none"`` (random, with the same loud warning) or a file."""
    if weights == "none":
        return _resolve_weights(None)
    return weights or "imagenet"


def build_lite0(weights, input_shape=(None, None, 3)):
    """Lite0 with the weights ``lite0_weights`` resolves."""
    return efficientnet_lite0.build_lite0(weights=lite0_weights(weights), input_shape=input_shape)


def gray_rgb(lightness):
    """Model-scaled L ([-1, 1]) -> the sRGB gray photo of that lightness (ab = 0), in [0, 1].

    That is what a black-and-white photo looks like to the classifier (the tutorial feeds it
    ``gray2rgb(rgb2gray(photo))``); L itself is not linear in the sRGB gray value.
    """
    lightness = preprocessing.unscale_lightness(lightness)
    return lab.lab_to_rgb(tf.concat([lightness, tf.zeros_like(lightness), tf.zeros_like(lightness)], axis=-1))


def classifier_embedding(backbone, lightness, size=None):
    """Model-scaled L [batch, h, w, 1] -> the backbone's 1000-d output for the gray photo, resized to
    ``size`` (default: the backbone's Keras input size)."""
    size = size or backbone.input_shape[1]
    return backbone(tf.image.resize(GrayRgb()(lightness), [size, size]), training=False)


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


class AddRowCoordinate(keras.layers.Layer):
    """Appends a channel holding each pixel's row: -1 at the top of the photo, +1 at the bottom."""

    def call(self, image):
        shape = tf.shape(image)
        rows = tf.cast(tf.linspace(-1.0, 1.0, shape[1]), image.dtype)
        return tf.concat([image, tf.tile(tf.reshape(rows, [1, -1, 1, 1]), [shape[0], 1, shape[2], 1])], axis=-1)


class TileToGrid(keras.layers.Layer):
    """[batch, channels] global features tiled over the grid of a [batch, h, w, c] feature map."""

    def call(self, inputs):
        vector, grid = inputs
        shape = tf.shape(grid)
        return tf.tile(tf.cast(vector, grid.dtype)[:, None, None, :], [1, shape[1], shape[2], 1])


def _bn_conv(tensor, filters, strides=1, dilation=1, kernel=3):
    """``kernel`` x ``kernel`` conv (no bias: batch norm follows) -> batch norm -> ReLU."""
    tensor = keras.layers.Conv2D(filters, kernel, strides=strides, dilation_rate=dilation, padding="same",
                                 use_bias=False, kernel_initializer="he_normal")(tensor)
    return keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(tensor))


UNET_WIDTHS = (64, 128, 256)  # filters at 1/2, 1/4 and 1/8 of the working size


def _unet(lightness, embedding):
    half, quarter, eighth = UNET_WIDTHS
    tensor = AddRowCoordinate()(lightness)
    skip_half = _bn_conv(_bn_conv(tensor, half, strides=2), half)
    skip_quarter = _bn_conv(_bn_conv(skip_half, quarter, strides=2), quarter)
    local = _bn_conv(_bn_conv(skip_quarter, eighth, strides=2), eighth)
    # The global branch: the whole photo's features, pooled, to every position of the grid.
    pooled = keras.layers.GlobalAveragePooling2D()(_bn_conv(_bn_conv(local, eighth, strides=2), eighth))
    if embedding is not None:
        pooled = keras.layers.Concatenate()([pooled, keras.layers.Dense(eighth, activation="relu")(embedding)])
    global_features = keras.layers.Dense(quarter, activation="relu")(keras.layers.Dense(eighth, activation="relu")(pooled))
    fused = keras.layers.Conv2D(eighth, 1, activation="relu")(
        keras.layers.Concatenate()([local, TileToGrid()([global_features, local])]))
    tensor = _bn_conv(_bn_conv(fused, eighth, dilation=2), eighth, dilation=2)
    for skip, filters in ((skip_quarter, quarter), (skip_half, half)):
        tensor = keras.layers.Concatenate()([keras.layers.UpSampling2D(interpolation="bilinear")(tensor), skip])
        tensor = _bn_conv(_bn_conv(tensor, filters), filters)
    ab_half = keras.layers.Conv2D(2, 1, activation="tanh", dtype="float32")(tensor)
    return keras.layers.UpSampling2D(interpolation="bilinear", dtype="float32")(ab_half)


LITE0_DECODER_WIDTHS = {32: 256, 16: 192, 8: 128, 4: 64, 2: 48}  # decoder filters at each stride
GRAY_PRIOR_CHROMA = 25.0  # Lab units: the untrained bin classifier's spread around gray (``_bin_classifier``)
LOGIT_GAIN = 4.0  # the bin classifier's logits per unit of its head's output (``_bin_classifier``)


def _lite0_encoder(config):
    """Lite0 on the gray photo, frozen except its last ``encoder_trainable_stages`` stages and head (batch
    norm always frozen and in inference mode: a few photos per batch must not move ImageNet's statistics)."""
    encoder = build_lite0(config.backbone_weights)
    if not config.encoder_trainable_stages:
        encoder.trainable = False
        return encoder
    first = efficientnet_lite0.first_block_of_stage(
        efficientnet_lite0.STAGES_COUNT - config.encoder_trainable_stages + 1)
    for layer in encoder.layers:
        block = efficientnet_lite0.block_index(layer.name)
        trained_part = layer.name == "conv_head" or (block is not None and block >= first)
        layer.trainable = trained_part and not isinstance(layer, keras.layers.BatchNormalization)
    return encoder


class GrayRgb(keras.layers.Layer):
    """Model-scaled L -> the gray photo as RGB in [-1, 1], what an ImageNet classifier is fed."""

    def call(self, lightness):
        return gray_rgb(lightness) * 2.0 - 1.0


def _lite0_unet(lightness, config):
    """Lite0's features at strides 32..2 up a decoder of skip connections, its pooled vector fused at every
    position of the coarsest grid (the article's fusion, with ImageNet's features instead of its 1000 scores),
    and a row coordinate from stride 8 on: the decoder's features at stride 2, for a head (``build_model``)."""
    encoder = _lite0_encoder(config)
    features_by_stride = encoder(GrayRgb()(lightness), training=False)
    pooled = keras.layers.Dense(LITE0_DECODER_WIDTHS[32], activation="relu")(features_by_stride["pooled"])
    tensor = _bn_conv(features_by_stride["stride32"], LITE0_DECODER_WIDTHS[32], kernel=1)
    tensor = keras.layers.Conv2D(LITE0_DECODER_WIDTHS[32], 1, activation="relu")(
        keras.layers.Concatenate()([tensor, TileToGrid()([pooled, tensor])]))
    for stride in (16, 8, 4, 2):
        skip = features_by_stride[f"stride{stride}"]
        if stride == 2:  # the photo's own lightness at the head's resolution: edges for the chroma to follow
            skip = keras.layers.Concatenate()([skip, keras.layers.AveragePooling2D(2)(lightness)])
        tensor = keras.layers.Concatenate()([keras.layers.UpSampling2D(interpolation="bilinear")(tensor), skip])
        if stride == 8:
            tensor = AddRowCoordinate()(tensor)
        tensor = _bn_conv(_bn_conv(tensor, LITE0_DECODER_WIDTHS[stride]), LITE0_DECODER_WIDTHS[stride])
    return tensor


def _half_size_head(tensor, channels, activation=None, bias_initializer="zeros"):
    """The 1x1 conv at stride 2 that every lite0_unet head ends with. A zero kernel makes the untrained model paint
    gray (ab-MSE ~0.01 on the ab / 128 scale) instead of random colors of unit scale (~0.4, the first hundreds of
    steps spent unlearning them; measured at 128 px)."""
    return keras.layers.Conv2D(channels, 1, activation=activation, kernel_initializer="zeros",
                               bias_initializer=bias_initializer, dtype="float32")(tensor)


def _upsampled(ab_half):
    return keras.layers.UpSampling2D(interpolation="bilinear", dtype="float32")(ab_half)


class AnnealedMean(keras.layers.Layer):
    """Bin logits [..., Q] -> ab / 128 [..., 2]: the mean of the bin centres (``losses.ab_bins``) under the
    distribution sharpened by ``temperature`` (Zhang et al.'s annealed mean, softmax(logits / T)). T = 1 is the
    distribution's mean, as desaturated as a regression; T -> 0 its mode, vivid but patchy (Zhang et al.: 0.38).
    The temperature is a (non-trained) variable of the model, so a served model can be re-tempered by assigning it."""

    def __init__(self, temperature, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.initial_temperature = float(temperature)

    def build(self, input_shape):
        self.temperature = self.add_weight("temperature", shape=(), trainable=False,
                                           initializer=keras.initializers.Constant(self.initial_temperature))

    def call(self, logits):
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32) / self.temperature, axis=-1)
        return tf.tensordot(probabilities, tf.constant(losses.ab_bins()) / preprocessing.AB_SCALE, axes=1)

    def get_config(self):
        return {**super().get_config(), "temperature": self.initial_temperature}


class BinClassifier(keras.Model):
    """A colorizer that predicts ab bins (``losses.BinClassification``): its output is ab / 128, as every
    variant's (serving, the callbacks, the Evaluator see no difference), read out of the bin logits by
    ``readout`` (``AnnealedMean``, upsampled); ``fit`` computes the loss on the logits (``bin_logits``) and the
    metrics on the ab read out of them."""

    def __init__(self, inputs, logits, readout, **kwargs):
        super().__init__(inputs, readout(logits), **kwargs)
        self.bin_logits = keras.Model(inputs, logits, name="bin_logits")
        self.readout = readout

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            logits = self.bin_logits(x, training=True)
            loss = self.compute_loss(x, y, logits, sample_weight)
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        return self.compute_metrics(x, y, self.readout(logits), sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logits = self.bin_logits(x, training=False)
        self.compute_loss(x, y, logits, sample_weight)
        return self.compute_metrics(x, y, self.readout(logits), sample_weight)


class SemanticColorizer(keras.Model):
    """A regression colorizer trained on its loss plus ``weight`` x a semantic loss of its colors
    (``metrics.semantic_loss``), by ``comparison``: ``classes``, how much less the ImageNet classifier of the
    classifier test recognises in the colorized photo than in the original (``metrics.semantic_divergence``);
    or a stride such as ``stride16``, how far Lite0's features there are from the original's (a perceptual
    loss, ``metrics.feature_distance``). A per-pixel loss rewards the safe, desaturated mean color of
    whatever could be there; this term rewards the colors that make the photo read as what it is (Zhang et
    al.'s test, made a training signal, as their "semantic interpretability" suggests).

    The classifier is a frozen Lite0 of its own (the encoder's last stages may train) and, like the term's
    running mean (logged as ``semantic_divergence`` or ``feature_distance``, for validation too), is held in a
    plain object: neither is part of the model's weights, checkpoints or SavedModel, so its weights file is a
    plain lite0_unet's and warm-starts either. Costs one Lite0 forward pass on the original and a forward and
    backward pass on the colorized photo per step: 3.7 CPU-s per step of 16 photos at 224 px against 2.4
    without (2 cores, load ~4; ``classes``).

    Measured (README, Quality): with ``classes``, at weight 0.01 it scores as MSE alone; at 0.03 the classifier
    agrees a little more often but every photo takes a brown cast (brown keeps Lite0's answer as well as the
    true colors do)."""

    def __init__(self, inputs, outputs, weight, classifier, comparison="classes", **kwargs):
        super().__init__(inputs, outputs, **kwargs)
        # A SimpleNamespace, which Keras does not track: its layers and variables stay out of the model's.
        self._semantic = types.SimpleNamespace(
            weight=float(weight), classifier=classifier, comparison=comparison,
            mean=keras.metrics.Mean("semantic_divergence" if comparison == "classes" else "feature_distance"))

    @property
    def metrics(self):
        return super().metrics + [self._semantic.mean]

    def _divergence(self, x, y, ab):
        lightness = x[features.L]
        divergence = tf.reduce_mean(metrics.semantic_loss(
            self._semantic.classifier, preprocessing.lab_from_model(lightness, y),
            preprocessing.lab_from_model(lightness, ab), self._semantic.comparison))
        self._semantic.mean.update_state(divergence)
        return divergence

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            ab = self(x, training=True)
            loss = self.compute_loss(x, y, ab, sample_weight) + self._semantic.weight * self._divergence(x, y, ab)
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        return self.compute_metrics(x, y, ab, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ab = self(x, training=False)
        self.compute_loss(x, y, ab, sample_weight)
        self._divergence(x, y, ab)
        return self.compute_metrics(x, y, ab, sample_weight)


def _bin_classifier(inputs, decoded, config):
    # Untrained, the bins' probabilities fall off with chroma as a Gaussian of GRAY_PRIOR_CHROMA Lab units: the model
    # paints gray, as the tanh head does (uniform logits would paint the bins' mean, 1.3x gray's ab-MSE). The logits
    # are the head's output times LOGIT_GAIN: a vivid color's bins sit ~5-10 logits above the prior, several
    # times further than a tanh head's outputs ever move, and Adam moves each weight by about the learning rate
    # per step whatever its scale (at 1e-3 a 32 px test needed ~100 steps for one color without the gain).
    chroma_squared = np.sum(np.square(losses.ab_bins()), axis=-1)
    head = _half_size_head(decoded, len(chroma_squared), bias_initializer=keras.initializers.Constant(
        -chroma_squared / (2.0 * GRAY_PRIOR_CHROMA ** 2) / LOGIT_GAIN))
    logits = keras.layers.Rescaling(LOGIT_GAIN, dtype="float32")(head)
    logits_input = keras.Input(logits.shape[1:], name="bin_logits")
    readout = keras.Model(logits_input, _upsampled(AnnealedMean(config.annealing_temperature)(logits_input)),
                          name="ab_readout")
    return BinClassifier(inputs, logits, readout, name=f"colornet_{config.variant}_bins")


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
    if config.uses_classifier:
        inputs[features.EMBEDDING] = keras.Input((1000,), name=features.EMBEDDING)
    if config.variant == "alpha":
        ab = _alpha(inputs[features.L])
    elif config.variant == "beta":
        ab = _beta(inputs[features.L])
    elif config.variant == "fusion":
        ab = _fusion(inputs[features.L], inputs[features.EMBEDDING], config)
    elif config.variant == "lite0_unet":
        decoded = _lite0_unet(inputs[features.L], config)
        if config.loss == "classification":
            return _bin_classifier(inputs, decoded, config)
        ab = _upsampled(_half_size_head(decoded, 2, activation="tanh"))
    else:
        ab = _unet(inputs[features.L], inputs.get(features.EMBEDDING))
    ab = keras.layers.Activation("linear", dtype="float32", name="ab_float32")(ab)
    if config.semantic_weight:
        classifier = metrics.Classifier(lite0_weights(config.backbone_weights))
        return SemanticColorizer(inputs, ab, config.semantic_weight, classifier, config.semantic_comparison,
                                 name=f"colornet_{config.variant}")
    return keras.Model(inputs, ab, name=f"colornet_{config.variant}")


class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up from peak / 25 to ``peak`` over the first ``warmup`` of the steps, then a cosine
    decay to peak / 1000 at the last: large steps while the loss is far from its minimum, small ones
    at the end (measured: better than a constant rate at equal CPU time)."""

    def __init__(self, peak, total_steps, warmup=0.1):
        self.peak, self.total_steps, self.warmup = float(peak), int(total_steps), float(warmup)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = max(1.0, self.warmup * self.total_steps)
        rise = self.peak / 25.0 + (self.peak - self.peak / 25.0) * step / warm
        progress = tf.clip_by_value((step - warm) / max(1.0, self.total_steps - warm), 0.0, 1.0)
        fall = self.peak / 1000.0 + 0.5 * (self.peak - self.peak / 1000.0) * (1.0 + tf.cos(np.pi * progress))
        return tf.where(step < warm, rise, fall)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup": self.warmup}


def compile_model(model, config, total_steps=1, bin_weights=None):
    """Adam on ``config.loss`` over ab / 128, at ``config.learning_rate`` or, with the ``one_cycle``
    schedule, peaking there over ``total_steps``; as metrics, ab-MSE in Lab units and its ratios to gray
    and to the best constant color (``evaluation/metrics.py``), logged per epoch for training and
    validation. ``bin_weights`` rebalances the ``classification`` loss (``losses.rebalancing_weights``)."""
    rate = config.learning_rate if config.lr_schedule == "constant" else OneCycle(config.learning_rate, total_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=losses.get_loss(config.loss, bin_weights),
        metrics=[metrics.AbMse(), metrics.AbMseVsGray(), metrics.AbMseVsConstant()],
    )
    return model
