"""One config object for the whole pipeline; runners only decide where and how it runs."""
import dataclasses
import os


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
    beam_args: list = dataclasses.field(default_factory=list)
    enable_cache: bool = True

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
        return {"image_size": self.model.get("image_size", 256)}

    @property
    def trainer_config(self):
        return {**self.model, **self.training}
