"""Everything a colornet pipeline can be configured with, in one TensorFlow-free module.

A pipeline is described by one ``PipelineConfig``: where the photos and the work directory are,
and one section per stage:

* ``IngestionConfig``: which photos ingestion accepts and how it stores them (ExampleGen);
* ``ModelConfig``:     the network, its size, classifier and loss (Transform and Trainer);
* ``TrainingConfig``:  how the Trainer trains (batch, epochs, augmentation, checkpoints);
* ``BlessingConfig``:  when the Evaluator blesses a model, so that the Pusher serves it.

``PROFILES`` names ready-made settings (``cpu``: the measured CPU recipe; ``full``: the same for
GPUs; ``article``: the article's fusion model; ``demo``: a few CPU minutes on sample photos);
``pipeline_config(profile, ...)`` starts from one and applies overrides. Every section is validated when it is built: an unknown key is
an error that names the key and the known ones (a typo such as ``image_szie`` must never train
at the default size without a word), and a value outside its allowed set names the choices.
The command line builds its flags, choices and help from the fields below
(``config_flags``), so this module is the one place to read "what can I configure?".

Stages receive their section as a plain dict (TFX ``custom_config``, JSON) and rebuild it here
with ``from_dict``: the same validation on the machine that runs the stage.
"""
import argparse
import dataclasses
import hashlib
import os
import re
import typing
from typing import Any, Mapping, Optional

from . import RAW_SCHEMA_PATH

# alpha, beta, fusion: the article's networks; unet: a U-Net that learns from the photos alone;
# lite0_unet: ImageNet-trained EfficientNet-Lite0 as the encoder of a U-Net (components/model/network.py).
VARIANTS = ("alpha", "beta", "fusion", "unet", "lite0_unet")
# Classifier backbones fused by fusion (and unet --classifier): (smallest input size, native size).
# EfficientNet-Lite0's ImageNet weights ship in a package (efficientnet_lite0.py); the others need a weights file.
BACKBONES = {"efficientnet_lite0": (32, 224), "inception_resnet_v2": (75, 299), "mobilenet_v2": (32, 224)}
# Stages of Lite0 (1-7, from the stem) that lite0_unet may train; the stem side stays frozen.
LITE0_STAGES = 7
LOSSES = ("mse", "huber", "rebalanced", "classification")
LR_SCHEDULES = ("constant", "one_cycle")
# What the semantic loss compares through Lite0: its class probabilities, or its features at one stride.
SEMANTIC_COMPARISONS = ("classes", "stride4", "stride8", "stride16", "stride32")
# Where `colornet compile` targets: Vertex AI Pipelines, or open-source Kubeflow Pipelines v2.
KUBEFLOW_TARGETS = ("vertex", "kfp")


class ConfigError(ValueError):
    """A configuration value or key that colornet does not accept."""


def _option(default, help, choices=None, **kwargs):
    """A dataclass field carrying its command-line help (and choices) as metadata."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices}, **kwargs)


class _Section:
    """Shared behaviour of the config sections: strict ``from_dict``, ``to_dict``, choice checks."""

    def _check_choices(self):
        for field in dataclasses.fields(self):
            choices = field.metadata.get("choices")
            value = getattr(self, field.name)
            if choices and value not in choices:
                raise ConfigError(f"{self.section_name()}.{field.name} must be one of {list(choices)}, got {value!r}")

    @classmethod
    def section_name(cls):
        return cls.__name__.removesuffix("Config").lower()

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]] = None):
        """A section from a plain dict: unknown keys are an error; JSON numbers are cast to the field's type."""
        values = dict(values or {})
        types = typing.get_type_hints(cls)
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown {cls.section_name()} option(s) {unknown}; known: {known}")
        return cls(**{name: _cast(f"{cls.section_name()}.{name}", types[name], value) for name, value in values.items()})

    def to_dict(self):
        return dataclasses.asdict(self)


def _base_type(annotation):
    """``Optional[int]`` -> ``int``; other annotations as they are."""
    arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
    return arguments[0] if typing.get_origin(annotation) is typing.Union and len(arguments) == 1 else annotation


def _cast(name, annotation, value):
    """JSON (and protobuf Struct) numbers arrive as floats: an integral float becomes an int field's int."""
    annotation = _base_type(annotation)
    if annotation is int and isinstance(value, float):
        if not value.is_integer():
            raise ConfigError(f"{name} must be an integer, got {value}")
        return int(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@dataclasses.dataclass(frozen=True)
class IngestionConfig(_Section):
    """Which photos become training examples (``components/ingestion``)."""

    min_side: int = _option(32, "photos whose shorter side is below this are rejected (too_small)")
    max_pixels: int = _option(40_000_000, "photos with more pixels are rejected from their header alone, before "
                                          "any pixel is decoded (too_large): the decompression-bomb guard")
    max_side: int = _option(1024, "longer side of the stored photo; larger photos are downscaled (0 keeps the size)")
    grayscale_threshold: float = _option(5.0, "colorfulness below which a photo counts as black-and-white and is "
                                              "excluded (grayscale)")
    eval_percent: int = _option(33, "percent of the photos held out of training for the Evaluator's eval split, "
                                    "by content hash (a photo never changes split)")

    def __post_init__(self):
        if self.min_side < 1 or self.max_pixels < 1 or self.max_side < 0 or self.grayscale_threshold < 0 \
                or not 1 <= self.eval_percent <= 50:
            raise ConfigError(f"invalid ingestion config: {self}")
        if self.max_side and self.max_side < self.min_side:
            raise ConfigError(f"ingestion.max_side ({self.max_side}) must be 0 or >= min_side ({self.min_side})")


# The model settings Transform's graph depends on (the size, and whether and which classifier it runs).
TRANSFORM_FIELDS = ("variant", "image_size", "classifier", "backbone", "backbone_size", "backbone_weights")


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Section):
    """What network to build and how to compile it (``components/model``)."""

    variant: str = _option("fusion", "the network: the article's alpha, beta or fusion, or the unet recipe",
                           choices=VARIANTS)
    image_size: int = _option(256, "the network's working size in pixels, a multiple of 8")
    classifier: bool = _option(False, "unet: fuse the classifier's 1000-way output into its global branch "
                                      "(fusion always does)")
    backbone: str = _option("efficientnet_lite0", "the classifier fused by fusion (and unet --classifier)",
                            choices=tuple(BACKBONES))
    backbone_size: int = _option(0, "classifier input size (0: its native size)")
    backbone_weights: Optional[str] = _option(None, "classifier weights: an .h5 file (local or gs://...), "
                                                    "'imagenet' (efficientnet_lite0: the installed package's; "
                                                    "others: Keras' cache ~/.keras/models/, which Keras fills by "
                                                    "downloading when empty) or 'none' (random); empty: "
                                                    "'imagenet' for efficientnet_lite0, random for the others")
    encoder_trainable_stages: int = _option(0, f"lite0_unet: how many of Lite0's {LITE0_STAGES} stages, counted "
                                               "from the head, train with the decoder (0: the encoder stays frozen)")
    learning_rate: float = _option(1e-3, "Adam's learning rate (one_cycle: its peak)")
    lr_schedule: str = _option("constant", "constant, or one_cycle: a linear warm-up over the first tenth of "
                                           "the steps, then a cosine decay to a thousandth", choices=LR_SCHEDULES)
    loss: str = _option("mse", "training loss on ab (classification: Zhang et al.'s ab bins, lite0_unet only)",
                        choices=LOSSES)
    rebalance_mix: float = _option(0.5, "classification: Zhang et al.'s lambda, the share of uniform in the bin prior "
                                        "whose inverse weighs each pixel (1: no rebalancing; 0: the photos' prior alone)")
    semantic_weight: float = _option(0.0, "lite0_unet with a regression loss: weight of the semantic loss, which "
                                           "compares the colorized photo with the original through Lite0 (see "
                                           "semantic_comparison); 0: none")
    semantic_comparison: str = _option("classes", "what the semantic loss compares: classes, the KL divergence of "
                                                  "Lite0's ImageNet classes (the classifier test, made smooth; "
                                                  "measured: no gain at weight 0.01, a brown cast at 0.03), or "
                                                  "Lite0's features at a stride, their mean squared difference "
                                                  "(a perceptual loss)", choices=SEMANTIC_COMPARISONS)
    annealing_temperature: float = _option(0.38, "classification: the temperature of the annealed mean that turns "
                                                 "bin probabilities into one color (1: their mean, desaturated; "
                                                 "lower: more vivid)")

    def __post_init__(self):
        self._check_choices()
        if self.image_size < 8 or self.image_size % 8:
            raise ConfigError(f"model.image_size must be a positive multiple of 8, got {self.image_size}")
        if self.classifier and self.variant != "unet":
            raise ConfigError(f"model.classifier is a unet option ({self.variant} decides its classifier itself)")
        if self.loss == "classification" and self.variant != "lite0_unet":
            raise ConfigError(f"model.loss classification needs the lite0_unet variant, not {self.variant}")
        if not 0.0 <= self.rebalance_mix <= 1.0:
            raise ConfigError(f"model.rebalance_mix must be within 0..1, got {self.rebalance_mix}")
        if self.semantic_weight < 0:
            raise ConfigError(f"model.semantic_weight must be >= 0, got {self.semantic_weight}")
        if self.semantic_weight and (self.variant != "lite0_unet" or self.loss == "classification"):
            raise ConfigError("model.semantic_weight needs the lite0_unet variant with a regression loss "
                              f"(mse, huber or rebalanced), not {self.variant} with {self.loss}")
        if self.semantic_comparison != "classes" and not self.semantic_weight:
            raise ConfigError(f"model.semantic_comparison {self.semantic_comparison} compares nothing without a "
                              "semantic_weight above 0")
        if self.annealing_temperature <= 0:
            raise ConfigError(f"model.annealing_temperature must be > 0, got {self.annealing_temperature}")
        if not 0 <= self.encoder_trainable_stages <= LITE0_STAGES:
            raise ConfigError(f"model.encoder_trainable_stages must be within 0..{LITE0_STAGES}, "
                              f"got {self.encoder_trainable_stages}")
        min_size = BACKBONES[self.backbone][0]
        if self.backbone_size and self.backbone_size < min_size:
            raise ConfigError(f"{self.backbone} needs model.backbone_size >= {min_size}, got {self.backbone_size}")

    def transform_settings(self):
        """Transform's ``custom_config``: only the fields its graph reads (``TRANSFORM_FIELDS``). A change to
        how the Trainer trains (loss, learning rate, trained encoder stages) then leaves Transform's inputs
        unchanged, so TFX reuses its cached output instead of transforming every photo again."""
        return {name: getattr(self, name) for name in TRANSFORM_FIELDS}

    @property
    def resolved_backbone_size(self):
        return self.backbone_size or BACKBONES[self.backbone][1]

    @property
    def uses_classifier(self):
        """Whether the network takes the classifier's embedding (computed once per photo in Transform)."""
        return self.variant == "fusion" or self.classifier


@dataclasses.dataclass(frozen=True)
class TrainingConfig(_Section):
    """How the Trainer trains (``components/model/trainer.py``); the step counts are ``PipelineConfig``'s."""

    batch_size: int = _option(8, "photos per training step")
    epochs: int = _option(1, "the training steps are split into this many epochs (a checkpoint and TensorBoard "
                             "samples after each; fewer when there are fewer steps, the last one shorter when "
                             "they do not divide)")
    augment: bool = _option(True, "random flips, rotations, zoom, shifts and shear in the input pipeline")
    checkpoint_dir: str = _option("", "where per-epoch checkpoints go (empty: inside the Trainer's run directory); "
                                      "a fixed folder lets a retried Trainer resume")
    samples: int = _option(4, "eval photos colorized into TensorBoard after each epoch (0: none)")
    time_budget_minutes: float = _option(0.0, "stop training after this much wall time (0: no limit)")
    seed: Optional[int] = _option(None, "seeds TensorFlow, NumPy and Python's random for a repeatable run "
                                        "(empty: not seeded)")

    def __post_init__(self):
        if self.batch_size < 1 or self.epochs < 1 or self.samples < 0 or self.time_budget_minutes < 0:
            raise ConfigError(f"invalid training config: {self}")


@dataclasses.dataclass(frozen=True)
class BlessingConfig(_Section):
    """When the Evaluator blesses a candidate model (``components/evaluation/evaluator.py``)."""

    max_ab_mse_vs_gray: float = _option(1.0, "the candidate's ab-MSE divided by the gray photo's must be below this")
    max_ab_mse_vs_constant: float = _option(1.0, "the candidate's ab-MSE divided by the best constant color's (the "
                                                 "eval photos' mean ab everywhere) must be below this: refuses tints")
    min_colorfulness_ratio: float = _option(0.2, "the colorized photos' colorfulness divided by the originals' must "
                                                 "be at least this (0: no floor)")
    regression_tolerance: float = _option(0.025, "the candidate's ab-MSE may exceed the last blessed model's (on the "
                                                 "same eval split) by at most this fraction of it: three seeds of "
                                                 "one recipe span ~2.5 % (0.860x-0.881x the constant)")
    min_eval_photos: int = _option(50, "the eval split must hold at least this many photos: on fewer, the ratios "
                                       "are noise (14 photos said 1.26x-1.90x where 100 unseen ones said 0.96x)")
    min_top1_gain_over_gray: float = _option(0.0, "the classifier's top-1 agreement with the originals on the "
                                                  "colorized photos minus on gray ones must not be shown below this: "
                                                  "the upper end of its 95 % interval over the photos is at least "
                                                  "this (-1: off)")
    max_false_color_vs_original: float = _option(1.5, "the colorized photos' false-color rate (color edges without "
                                                       "lightness edges) divided by the originals' must be at most this")

    def __post_init__(self):
        if min(self.max_ab_mse_vs_gray, self.max_ab_mse_vs_constant, self.max_false_color_vs_original) <= 0 \
                or self.regression_tolerance < 0 or self.min_colorfulness_ratio < 0 or self.min_eval_photos < 1 \
                or not -1.0 <= self.min_top1_gain_over_gray <= 1.0:
            raise ConfigError(f"invalid blessing config: {self}")

    @property
    def refuses_tints(self):
        """Whether the gate asks for more than a tint: ab-MSE below the best constant color's."""
        return self.max_ab_mse_vs_constant <= 1.0


SECTIONS = {"ingestion": IngestionConfig, "model": ModelConfig, "training": TrainingConfig,
            "blessing": BlessingConfig}


@dataclasses.dataclass
class PipelineConfig:
    """Everything ``pipeline.create_pipeline`` needs; runners only decide where and how it runs.

    Sections may be given as dicts (validated by their ``from_dict``) or as section objects.
    """

    images_dir: str
    workdir: str
    pipeline_name: str = "colornet"
    ingestion: IngestionConfig = dataclasses.field(default_factory=IngestionConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    blessing: BlessingConfig = dataclasses.field(default_factory=BlessingConfig)
    train_steps: int = 200
    eval_steps: int = 4
    warm_start: bool = True
    # Continuous retraining: photos arrive in span folders (<images_dir>/span-1/, span-2/, ...);
    # ExampleGen ingests the newest span (the local runner ingests older new ones first:
    # pipeline/span_window.py) and Transform/Trainer see the last ``rolling_spans`` ingested.
    spans: bool = False
    rolling_spans: int = 1
    # The curated raw schema, as the machines running the components see it (for Kubeflow: a path
    # inside the container image or on gs://).
    schema_file: str = str(RAW_SCHEMA_PATH)
    beam_args: list = dataclasses.field(default_factory=list)
    enable_cache: bool = True
    # The local runner's SQLite ML Metadata file; empty: ``metadata.sqlite`` in ``local_state_dir``.
    metadata: str = ""

    def __post_init__(self):
        for name, section in SECTIONS.items():
            value = getattr(self, name)
            if not isinstance(value, section):
                setattr(self, name, section.from_dict(value))
        if self.train_steps < 1 or self.eval_steps < 1:
            raise ConfigError(f"train_steps and eval_steps must be >= 1, got {self.train_steps}, {self.eval_steps}")
        if self.rolling_spans < 1:
            raise ConfigError(f"rolling_spans must be >= 1, got {self.rolling_spans}")
        if self.rolling_spans > 1 and not self.spans:
            raise ConfigError("rolling_spans > 1 needs span folders (spans=True)")
        if "://" in self.metadata:
            raise ConfigError(f"metadata must be a local file (SQLite opens no remote file), got {self.metadata}")

    @property
    def pipeline_root(self):
        return os.path.join(self.workdir, "tfx")

    @property
    def local_state_dir(self):
        """Where the local runner keeps ML Metadata and the last run's record: the workdir, or for a
        remote workdir (gs://...) a local cache folder named after it. SQLite opens local files only,
        and a path such as gs://b/w used as a local one would create a folder named "gs:"."""
        if "://" not in self.workdir:
            return self.workdir
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        digest = hashlib.sha256(self.workdir.encode()).hexdigest()[:8]  # gs://b/w_x and gs://b/w/x differ
        return os.path.join(cache, "colornet", "workdirs", f"{re.sub(r'[^A-Za-z0-9.-]+', '_', self.workdir)}-{digest}")

    @property
    def metadata_path(self):
        """The local runner's SQLite ML Metadata file (``--metadata``)."""
        return os.path.abspath(self.metadata) if self.metadata else os.path.join(self.local_state_dir, "metadata.sqlite")

    @property
    def serving_dir(self):
        """Where the Pusher writes versions: ``<serving_dir>/<integer version>/``."""
        return os.path.join(self.workdir, "serving", self.pipeline_name)

    @property
    def trainer_custom_config(self):
        """The Trainer's ``custom_config``: the model and training sections as plain dicts."""
        return {"model": self.model.to_dict(), "training": self.training.to_dict()}


PROFILES = {
    # The CPU recipe (README "Quality", benchmarks/quality.py): ImageNet-trained EfficientNet-Lite0 on the
    # gray photo as the encoder of a U-Net decoder at 224 px (Lite0's own size: at 128 px the same recipe
    # plateaued near 0.97x the best constant on its eval split, at 224 px it reached 0.89x in a tenth of
    # the steps), one-cycle learning rate; 90% of the photos train. Lite0 stays frozen: training its last
    # 4 / 2 / 1 stages scored 0.893x / 0.831x / 0.831x the best constant at seed 2, frozen 0.807x, and frozen was
    # ahead on ab-MSE and PSNR at each of three seeds. 350 steps (15 training CPU-minutes on 2 cores): over three
    # seeds as good as 600 on ab-MSE, PSNR and the classifier test, 0.03 less colorful, for 36 % less CPU. Huber,
    # not MSE: over three seeds it had the lower ab-MSE and the higher PSNR on each, as colorful, and the
    # classifier test within its noise. Lite0 knows what is in a photo, which a few hundred photos cannot teach
    # a network trained from scratch (the old unet recipe painted a tint); a thousand photos unlearned some of
    # it when its last stages trained.
    "cpu": {
        "ingestion": {"eval_percent": 10},
        "model": {"variant": "lite0_unet", "image_size": 224, "learning_rate": 1e-3, "lr_schedule": "one_cycle",
                  "loss": "huber"},
        "training": {"batch_size": 16, "epochs": 10},
        "train_steps": 350,
        "eval_steps": 8,
    },
    # The same recipe scaled up for GPUs: 224 px (Lite0's native size), more of the encoder trained,
    # bigger batches, longer. Its loss stays MSE, as measured on CPU (quality_full_cpu.json); Huber was
    # compared at the cpu profile's scale only.
    "full": {
        "ingestion": {"eval_percent": 10},
        "model": {"variant": "lite0_unet", "image_size": 224, "encoder_trainable_stages": 4,
                  "learning_rate": 1e-3, "lr_schedule": "one_cycle"},
        "training": {"batch_size": 32, "epochs": 20},
        "train_steps": 20000,
        "eval_steps": 20,
    },
    # The article's full version: fusion at 256 px, fusing a classifier's 1000 ImageNet scores (EfficientNet-Lite0,
    # which ships with its weights; the article's Inception-ResNet-v2 with --backbone inception_resnet_v2
    # --backbone-weights FILE).
    "article": {
        "model": {"variant": "fusion", "image_size": 256},
        "training": {"batch_size": 8, "epochs": 10},
        "train_steps": 5000,
        "eval_steps": 20,
    },
    # `make run` on scikit-image's nine sample photos in a few minutes. Nine photos cannot teach color:
    # the model it pushes is a tint, or paints their textures (false color 11.6x the originals' on its
    # 4 eval photos at seed 1); its gate asks only that it beats gray, on however few eval photos (its
    # verdict line says it is a demo's gate). Quality is the cpu profile's, on real photos.
    "demo": {
        "model": {"variant": "unet", "image_size": 64, "learning_rate": 2e-3, "lr_schedule": "one_cycle"},
        "training": {"batch_size": 8, "epochs": 4, "seed": 1},  # seeded: `make run` is the same run every time
        "blessing": {"max_ab_mse_vs_constant": 1e9, "min_colorfulness_ratio": 0.0, "min_eval_photos": 1,
                     "min_top1_gain_over_gray": -1.0, "max_false_color_vs_original": 1e9},
        "train_steps": 200,
        "eval_steps": 1,
    },
}


def pipeline_config(profile, images_dir, workdir, **overrides):
    """A validated ``PipelineConfig``: the named profile, then ``overrides``.

    A section override (``model={...}``) updates the profile's section key by key; any other
    keyword replaces the profile's value.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    settings = {name: dict(value) if isinstance(value, dict) else value for name, value in PROFILES[profile].items()}
    for name, value in overrides.items():
        if name in SECTIONS and isinstance(value, Mapping):
            settings[name] = {**settings.get(name, {}), **value}
        else:
            settings[name] = value
    return PipelineConfig(images_dir=str(images_dir), workdir=str(workdir), **settings)


def config_flags(section):
    """(flag, argparse keyword arguments, field name) for every field of a section class.

    The command line turns these into flags (``--image-size``); a flag that is not given stays
    ``None`` so the profile's value holds, and the help names the profiles that set the field.
    """
    types = typing.get_type_hints(section)
    for field in dataclasses.fields(section):
        kind = _base_type(types[field.name])
        by_profile = ", ".join(f"{name} {settings[section.section_name()][field.name]}"
                               for name, settings in PROFILES.items()
                               if field.name in settings.get(section.section_name(), {}))
        kwargs = {"dest": f"{section.section_name()}__{field.name}", "default": None,
                  "help": f"{field.metadata['help'].replace('%', '%%')} (default: {field.default}"  # argparse formats
                          + (f"; profiles: {by_profile})" if by_profile else ")")}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind if kind in (int, float) else str
        if field.metadata.get("choices"):
            kwargs["choices"] = list(field.metadata["choices"])
        elif kind is not bool:
            kwargs["metavar"] = field.name.upper()
        yield f"--{field.name.replace('_', '-')}", kwargs, field.name


def add_section_flags(parser, section):
    """One flag per field of a config section, in a group of its own."""
    group = parser.add_argument_group(section.section_name(), section.__doc__.splitlines()[0])
    for flag, kwargs, _ in config_flags(section):
        group.add_argument(flag, **kwargs)


def section_overrides(args, section):
    """{field: value} of the section's flags that were given on the command line."""
    values = {name: getattr(args, kwargs["dest"]) for _, kwargs, name in config_flags(section)}
    return {name: value for name, value in values.items() if value is not None}
