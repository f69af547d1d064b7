"""Ingestion knobs, their defaults, and how they travel through ExampleGen's ``custom_config``.

Defaults (all overridable with ``custom_config={...}`` on ``PhotoExampleGen`` or the
``colornet ingest`` flags):

  min_side             32          photos whose shorter side is below this are rejected ("too_small").
  max_pixels           40_000_000  photos with more pixels are rejected from the header alone, before any
                                   pixel is decoded ("too_large"): decompression-bomb guard.
  max_side             1024        longer side of the stored image; larger photos are downscaled (Lanczos)
                                   so TFRecords stay small. 0 keeps the original size.
  grayscale_threshold  5.0         Hasler-Suesstrunk colorfulness below which a photo counts as
                                   black-and-white ("grayscale", excluded); see ``colorfulness``.
"""
import dataclasses
import json
from typing import Any, Mapping, Optional

from google.protobuf import any_pb2, json_format, struct_pb2
from tfx.proto import example_gen_pb2


@dataclasses.dataclass(frozen=True)
class IngestionConfig:
    min_side: int = 32
    max_pixels: int = 40_000_000
    max_side: int = 1024
    grayscale_threshold: float = 5.0

    def __post_init__(self):
        if self.min_side < 1 or self.max_pixels < 1 or self.max_side < 0 or self.grayscale_threshold < 0:
            raise ValueError(f"Invalid ingestion config: {self}")
        if self.max_side and self.max_side < self.min_side:
            raise ValueError(f"max_side ({self.max_side}) must be 0 or >= min_side ({self.min_side})")

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]]) -> "IngestionConfig":
        """Builds a config from a plain dict; unknown keys are an error (a typo must not be ignored)."""
        values = dict(values or {})
        known = {field.name: field.type for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"Unknown ingestion option(s) {unknown}; known: {sorted(known)}")
        # JSON/Struct numbers arrive as floats: cast each to its field's type (int or float).
        return cls(**{name: known[name](value) for name, value in values.items()})

    def to_dict(self):
        return dataclasses.asdict(self)


def to_custom_config(values: Optional[Mapping[str, Any]]) -> Optional[example_gen_pb2.CustomConfig]:
    """A dict of options -> the ``CustomConfig`` proto ExampleGen carries (a Struct packed in an Any).

    The dict is validated here, when the pipeline is built, not only when the executor runs.
    """
    if values is None:
        return None
    IngestionConfig.from_dict(values)
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def from_custom_config_json(custom_config_json: Optional[str]) -> IngestionConfig:
    """The executor's view: exec_properties['custom_config'] is the CustomConfig proto as JSON (or absent)."""
    if not custom_config_json:
        return IngestionConfig()
    custom_config = example_gen_pb2.CustomConfig()
    json_format.Parse(custom_config_json, custom_config)
    if not custom_config.HasField("custom_config"):
        return IngestionConfig()
    struct = struct_pb2.Struct()
    if not custom_config.custom_config.Unpack(struct):
        raise ValueError(f"custom_config must pack a google.protobuf.Struct, got {custom_config.custom_config.type_url}")
    return IngestionConfig.from_dict(json.loads(json_format.MessageToJson(struct)))
