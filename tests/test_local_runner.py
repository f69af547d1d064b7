"""The local runner's Beam settings: in-process for few photos, one worker per core from the
model's threshold on, and whatever the user passes wins. Where it keeps ML Metadata for a
remote workdir."""
import pytest

from colornet.pipeline import cli, local_runner
from colornet.pipeline.freshness import RECORD_FILE
from colornet.schemas.config import pipeline_config


def _folder(tmp_path, count, hidden=0):
    for index in range(count):
        (tmp_path / f"photo_{index}.jpg").write_bytes(b"x")
    for index in range(hidden):
        (tmp_path / f".hidden_{index}").write_bytes(b"x")
    return tmp_path


def _config(images_dir, profile="full", **overrides):
    return pipeline_config(profile, str(images_dir), "unused", **overrides)


def test_a_few_photos_run_in_process(tmp_path):
    args = local_runner.beam_args(_config(_folder(tmp_path, 5, hidden=3)))
    assert args == local_runner.IN_PROCESS_BEAM_ARGS


@pytest.mark.parametrize("profile", ["full", "cpu", "article", "demo"])
def test_from_the_models_threshold_on_every_core_gets_a_worker(tmp_path, monkeypatch, profile):
    config = _config(tmp_path, profile)
    backbone = config.model.backbone if config.model.uses_classifier else None
    threshold = 7  # the real thresholds are hundreds to thousands of photos
    monkeypatch.setitem(local_runner.MULTIPROCESS_MIN_PHOTOS, backbone, threshold)
    (tmp_path / "nested").mkdir()
    _folder(tmp_path / "nested", threshold - 1, hidden=2)
    assert local_runner.beam_args(config) == local_runner.IN_PROCESS_BEAM_ARGS
    (tmp_path / "one_more.jpg").write_bytes(b"x")
    assert local_runner.beam_args(config) == local_runner.MULTI_PROCESS_BEAM_ARGS


def test_a_classifier_makes_multiprocessing_pay_off_sooner():
    thresholds = local_runner.MULTIPROCESS_MIN_PHOTOS
    assert thresholds["inception_resnet_v2"] < thresholds["mobilenet_v2"] < thresholds[None]


def test_a_remote_folder_is_not_listed_and_gets_a_worker_per_core():
    assert local_runner.count_files("gs://bucket/photos", 10) is None
    assert local_runner.beam_args(_config("gs://bucket/photos")) == local_runner.MULTI_PROCESS_BEAM_ARGS


@pytest.mark.parametrize("user_args", [
    ["--direct_num_workers=3"],
    ["--direct_running_mode=multi_threading"],
    ["--runner=FlinkRunner", "--flink_master=127.0.0.1:8081"],
])
def test_the_users_runner_flags_replace_the_choice(tmp_path, user_args):
    config = _config(_folder(tmp_path, 2), beam_args=user_args)
    assert local_runner.beam_args(config) == user_args


def test_other_user_flags_follow_the_choice(tmp_path):
    config = _config(_folder(tmp_path, 2), beam_args=["--temp_location=/tmp/beam"])
    assert local_runner.beam_args(config) == local_runner.IN_PROCESS_BEAM_ARGS + ["--temp_location=/tmp/beam"]


def test_another_runners_options_are_left_alone(tmp_path):
    portable = ["--runner=PortableRunner", "--job_endpoint=127.0.0.1:8099"]
    assert local_runner.beam_args(_config(_folder(tmp_path, 2), beam_args=portable)) == portable


class _RecordingRunner:
    """Stands in for LocalDagRunner, which would go on to write the artifacts to gs:// (not reachable
    here): what is under test is what the local runner does on this machine before and after."""

    pipelines = []

    def run(self, pipeline):
        self.pipelines.append(pipeline)


@pytest.mark.parametrize("metadata_flag", [[], ["--metadata", "state/m.sqlite"]])
def test_a_remote_workdir_keeps_metadata_local_and_makes_no_gs_folder(tiny_photos, tmp_path, monkeypatch, capsys,
                                                                      metadata_flag):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(local_runner.tfx.orchestration, "LocalDagRunner", _RecordingRunner)
    _RecordingRunner.pipelines.clear()
    assert cli.main(["run", "--images", str(tiny_photos[0].parent), "--workdir", "gs://bucket/root",
                     "--profile", "demo", *metadata_flag]) == 0

    (pipeline,) = _RecordingRunner.pipelines
    state = tmp_path / "cache" / "colornet" / "workdirs"
    (state_dir,) = state.iterdir()
    assert state_dir.name.startswith("gs_bucket_root-")
    expected = tmp_path / "state" / "m.sqlite" if metadata_flag else state_dir / "metadata.sqlite"
    assert pipeline.metadata_connection_config.sqlite.filename_uri == str(expected)
    assert pipeline.pipeline_info.pipeline_root == "gs://bucket/root/tfx"
    assert (state_dir / RECORD_FILE).is_file()  # the rerun check's record
    assert not [path for path in tmp_path.rglob("gs:*")]


def test_remote_metadata_is_refused_in_one_line(tmp_path, capsys):
    assert cli.main(["run", "--images", str(tmp_path), "--workdir", str(tmp_path / "w"),
                     "--metadata", "gs://bucket/m.sqlite"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("colornet run: metadata must be a local file (SQLite opens no remote file), "
                           "got gs://bucket/m.sqlite")
    assert not (tmp_path / "w").exists()
