"""Pipeline commands that need no training run: span folders, config checks, where Beam args go.
(`colornet compile` is tests/test_kubeflow.py's.)"""
import socket

import pytest

from colornet.components.ingestion import spans
from colornet.pipeline import beam_options, cli
from colornet.schemas.config import PipelineConfig


def test_rolling_window_needs_span_folders():
    with pytest.raises(ValueError, match="span folders"):
        PipelineConfig(images_dir="x", workdir="y", rolling_spans=2)


def test_add_images_creates_the_next_span_whole(tmp_path):
    batch = tmp_path / "batch"
    (batch / "nested").mkdir(parents=True)
    (batch / "a.jpg").write_bytes(b"a")
    (batch / "nested" / "b.png").write_bytes(b"b")
    root = tmp_path / "images"

    assert spans.add_images(batch, root) == (1, 2)
    assert spans.add_images(batch, root) == (2, 2)
    assert spans.span_numbers(root) == [1, 2]
    assert (root / "span-2" / "nested" / "b.png").read_bytes() == b"b"
    assert sorted(path.name for path in root.iterdir()) == ["span-1", "span-2"]  # no staging left


def test_add_images_refuses_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no files"):
        spans.add_images(tmp_path / "empty", tmp_path / "images")


def test_retrain_without_spans_explains(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert cli.main(["retrain", "--images", str(tmp_path / "images"), "--workdir", str(tmp_path / "w")]) == 2
    assert "colornet add-images" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "retrain"])
def test_a_missing_photo_folder_is_reported_plainly(tmp_path, capsys, command):
    missing = tmp_path / "no-such-folder"
    assert cli.main([command, "--images", str(missing), "--workdir", str(tmp_path / "w")]) == 2
    assert f"Photo folder not found: {missing}" in capsys.readouterr().out
    assert not (tmp_path / "w").exists()


def test_runner_beam_is_refused_with_what_to_use_instead(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    assert cli.main(["run", "--images", str(tmp_path / "images"), "--workdir", str(tmp_path / "w"),
                     "--runner", "beam"]) == 2
    out = capsys.readouterr().out
    assert "--runner beam is gone" in out and "--beam-arg=--runner=PortableRunner" in out
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("beam_args, runner", [
    ([], None),
    (["--direct_num_workers=2"], None),
    (["--runner=PortableRunner"], "portablerunner"),
    (["--runner", "flink"], "flinkrunner"),
    (["--runner=DirectRunner", "--runner=apache_beam.runners.dataflow.DataflowRunner"], "dataflowrunner"),
])
def test_named_runner_reads_beam_args_as_beam_does(beam_args, runner):
    assert beam_options.named_runner(beam_args) == runner


def test_portable_runners_get_a_long_job_server_timeout_unless_given():
    assert beam_options.component_beam_args(["--runner=FlinkRunner"]) == [
        "--runner=FlinkRunner", f"--job_server_timeout={beam_options.JOB_SERVER_TIMEOUT_SECONDS}"]
    given = ["--runner=PortableRunner", "--job_server_timeout=600"]
    assert beam_options.component_beam_args(given) == given
    assert beam_options.component_beam_args(["--runner=DataflowRunner"]) == ["--runner=DataflowRunner"]
    assert beam_options.component_beam_args([]) == []


def test_an_unreachable_job_endpoint_is_reported_before_the_run():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"No Beam Job API answers at --job_endpoint=127.0.0.1:{port}"):
        beam_options.check_job_endpoint(["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{port}"], timeout=1)
    beam_options.check_job_endpoint(["--runner=PortableRunner"])  # no endpoint given: nothing to check
