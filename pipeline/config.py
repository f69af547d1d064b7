"""One config object for the whole pipeline; runners only decide where and how it runs."""
import dataclasses
import os

from colornet.schemas import RAW_SCHEMA_PATH


@dataclasses.dataclass
class PipelineConfig:
    """Everything ``pipeline.create_pipeline`` needs.

    ``model`` and ``training`` are passed as ``custom_config`` to Transform and the Trainer
    (keys of ``components.model.ModelConfig`` and ``components.trainer.TrainingConfig``);
    ``ingestion`` to the ExampleGen.
    """

    images_dir: str
    workdir: str
    pipeline_name: str = "colornet"
    model: dict = dataclasses.field(default_factory=dict)
    training: dict = dataclasses.field(default_factory=dict)
    ingestion: dict = dataclasses.field(default_factory=dict)
    train_steps: int = 200
    eval_steps: int = 4
    # Blessing: the candidate must beat gray (ab-MSE ratio below this) and must not be
    # worse than the last blessed model by more than this many Lab units^2 of ab-MSE.
    max_ab_mse_vs_gray: float = 1.0
    regression_tolerance: float = 0.0
    warm_start: bool = True
    # Continuous retraining: photos arrive in span folders (<images_dir>/span-1/, span-2/, ...);
    # ExampleGen ingests the newest span and Transform/Trainer see the last ``rolling_spans``.
    spans: bool = False
    rolling_spans: int = 1
    # The curated raw schema, as the machines running the components see it (for Kubeflow: a path
    # inside the container image or on gs://).
    schema_file: str = str(RAW_SCHEMA_PATH)
    beam_args: list = dataclasses.field(default_factory=list)
    enable_cache: bool = True

    def __post_init__(self):
        if self.rolling_spans < 1:
            raise ValueError(f"rolling_spans must be >= 1, got {self.rolling_spans}")
        if self.rolling_spans > 1 and not self.spans:
            raise ValueError("rolling_spans > 1 needs span folders (spans=True)")

    @property
    def pipeline_root(self):
        return os.path.join(self.workdir, "tfx")

    @property
    def metadata_path(self):
        return os.path.join(self.workdir, "metadata.sqlite")

    @property
    def serving_dir(self):
        """Where the Pusher writes versions: ``<serving_dir>/<integer version>/``."""
        return os.path.join(self.workdir, "serving", self.pipeline_name)

    @property
    def transform_config(self):
        """Transform needs the model's settings: its size, and the classifier for fusion."""
        return dict(self.model)

    @property
    def trainer_config(self):
        return {**self.model, **self.training}
