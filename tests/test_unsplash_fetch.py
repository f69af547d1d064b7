"""``colornet fetch-unsplash`` against a local image service serving real photos (BSDS500) on
127.0.0.1: manifests in the dataset's format, a server that misbehaves on purpose, a fetch killed
mid-way and resumed, repeated fetches making new spans. No request leaves the machine.

Timeouts, backoffs and Retry-After are short (flags), so the whole file runs in seconds.
"""
import io
import json
import signal
import socket
import subprocess
import sys
import time
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from colornet.components.ingestion import listing, provenance
from colornet.components.ingestion.unsplash import content, download
from colornet.components.ingestion.unsplash.checkpoint import WorkFolder
from colornet.components.ingestion.unsplash.download import PhotoFailed
from colornet.components.ingestion.unsplash.fetch import SUMMARY_NAME, provenance_record, work_key
from colornet.components.ingestion.unsplash.manifest import Manifest, Photo
from colornet.pipeline import cli

from unsplash_fixtures import (FakeImageService, encoded, manifest_row, manifest_rows, photo_ids, tsv_text,
                               write_dataset_zip)

WIDTH = 128
# --timeout 2: on 2 cores at load 8 honest answers took over 0.8 s and were counted as timeouts.
FAST = ["--width", str(WIDTH), "--timeout", "2", "--retries", "2", "--backoff", "0.05", "--rate", "100"]


@pytest.fixture(scope="module")
def bsds_photos(shared_data):
    return sorted((shared_data / "bsds500" / "train").glob("*.jpg"))


def _service(bsds_photos, ids, **kwargs):
    return FakeImageService(dict(zip(ids, bsds_photos)), **kwargs)


def _rows(ids, bsds_photos):
    return manifest_rows(zip(ids, bsds_photos))


def _fetch(manifest, images, service, *flags):
    return cli.main(["fetch-unsplash", "--manifest", str(manifest), "--images", str(images),
                     "--base-url", service.url, *FAST, "--no-progress", *flags])


def _span(images, number):
    folder = images / f"span-{number}"
    records = list(provenance.read(folder).entries.values())
    summary = json.loads((folder / SUMMARY_NAME).read_text())
    return folder, records, summary


# --- the manifest ---------------------------------------------------------------------------

@pytest.mark.parametrize("members", [("photos.tsv000", "photos.tsv001"),
                                     ("unsplash-lite/photos.csv000", "unsplash-lite/photos.csv001")],
                         ids=["tsv-parts", "csv-named-parts-in-a-folder"])
def test_manifest_reads_zip_parts_with_quoting_and_skips_bad_rows(tmp_path, members):
    ids = photo_ids(4)
    awkward = 'A "quoted" word,\ta tab\nand a second line'
    first_part = tsv_text([manifest_row(ids[0], description=awkward), manifest_row(ids[1])])
    first_part += "\n"                                                       # blank line: ignored
    first_part += "short\trow\n"                                             # 2 fields
    first_part += tsv_text([manifest_row("../../etc/passwd")]).split("\n", 1)[1]  # not an id
    bad_width = manifest_row(ids[3])
    bad_width[5] = "wide"
    first_part += tsv_text([bad_width]).split("\n", 1)[1]
    second_part = tsv_text([manifest_row(ids[2]), manifest_row(ids[0])])     # ids[0] again: a duplicate
    second_part += "\t".join(manifest_row("stray") + ["extra"]) + "\n"       # a stray tab: 32 fields
    second_part += '"broken"quote\t' + "\t".join(manifest_row("q")[1:]) + "\n"
    second_part += "nul\x00byte\n"
    archive = write_dataset_zip(tmp_path / "unsplash-research-dataset-lite-latest.zip",
                                dict(zip(members, (first_part, second_part))))

    manifest = Manifest([archive])
    photos = list(manifest)

    assert [photo.photo_id for photo in photos] == [ids[0], ids[1], ids[2]]
    assert photos[0] == Photo(ids[0], f"https://images.unsplash.com/photo-{ids[0]}",
                              f"https://unsplash.com/photos/{ids[0]}", 481, 321, f"Jane Doe {ids[0]}",
                              f"user_{ids[0]}")
    assert manifest.duplicates == 1
    reasons = [row.reason for row in manifest.bad_rows]
    assert len(reasons) == 6 and manifest.rows == 10
    assert reasons[:3] == ["2 fields, the header has 31", "photo_id '../../etc/passwd' is not an Unsplash photo id",
                           "photo_width 'wide' is not a positive whole number"]
    assert reasons[3] == "32 fields, the header has 31"
    assert "expected after" in reasons[4] and "NUL" in reasons[5]
    assert manifest.bad_rows[0].where == f"{archive}:{members[0]}:6"  # the quoted field spans 2 lines


def test_a_manifest_with_only_id_and_image_url_columns(tmp_path):
    manifest = tmp_path / "photos.tsv000"
    manifest.write_text("photo_id\tphoto_image_url\nabc-_1\thttps://images.unsplash.com/photo-1\n")
    [photo] = Manifest([manifest])
    assert (photo.width, photo.author, photo.page_url) == (None, "", "")
    record = provenance_record(photo, "abc-_1.jpg", "mine")
    assert record["url"] == record["image_url"] == "https://images.unsplash.com/photo-1"


def test_the_dataset_is_named_by_its_zip_or_its_folder(tmp_path):
    """The dataset's name goes into every photo's provenance: Lite and Full come under different terms."""
    rows = tsv_text([manifest_row("a")])
    lite = write_dataset_zip(tmp_path / "unsplash-research-dataset-lite-latest.zip", {"photos.tsv000": rows})
    (tmp_path / "unsplash-full").mkdir()
    full_part = tmp_path / "unsplash-full" / "photos.tsv000"
    full_part.write_text(rows)
    assert Manifest([lite]).dataset_name == "unsplash-research-dataset-lite-latest"
    assert Manifest([full_part]).dataset_name == "unsplash-full"
    assert Manifest([lite, full_part, lite]).dataset_name == "unsplash-research-dataset-lite-latest+unsplash-full"


def test_unusable_manifests_and_flags_are_usage_errors(tmp_path, capsys):
    images = tmp_path / "images"
    whole = write_dataset_zip(tmp_path / "whole.zip", {"photos.tsv000": tsv_text([manifest_row("a")])})
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole.read_bytes()[:200])
    no_photos = tmp_path / "no-photos.zip"
    with zipfile.ZipFile(no_photos, "w") as archive:
        archive.writestr("keywords.tsv000", "photo_id\tkeyword\n")
    keywords = tmp_path / "keywords.tsv000"
    keywords.write_text("photo_id\tkeyword\na\tforest\n")
    cases = {tmp_path / "missing.zip": "Manifest not found", truncated: "not a readable zip",
             no_photos: "no photos.tsv000", keywords: "no photo_image_url column"}
    for manifest, message in cases.items():
        assert cli.main(["fetch-unsplash", "--manifest", str(manifest), "--images", str(images)]) == 2
        assert message in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fetch-unsplash", "--manifest", str(whole), "--images", str(images), "--base-url", "ftp://x/y"])
    assert exit_info.value.code == 2
    assert not images.exists()


# --- request URLs, answers, content checks -------------------------------------------------------

def test_request_url_resizes_keeps_parameters_and_moves_to_the_base_url():
    url = download.request_url("https://images.unsplash.com/photo-1-a?ixid=abc&w=10", 512)
    assert url.startswith("https://images.unsplash.com/photo-1-a?")
    assert parse_qs(urlsplit(url).query) == {"ixid": ["abc"], "w": ["512"], "fit": ["max"], "fm": ["jpg"], "q": ["85"]}
    mirrored = urlsplit(download.request_url("https://images.unsplash.com/photo-1-a", 64,
                                              "http://127.0.0.1:9/mirror/"))
    assert (mirrored.scheme, mirrored.netloc, mirrored.path) == ("http", "127.0.0.1:9", "/mirror/photo-1-a")
    with pytest.raises(ValueError):
        download.check_base_url("127.0.0.1:9")


@pytest.mark.parametrize("broken", [
    "https://images.unsplash.com.jpg/",                       # unsplash/datasets issue #46
    "https://images.unsplash.com-grass-sun.jpg/",
    "https://images.unsplash.company%20by%20Alessandro%20Desantis%20-%20Downloaded%20from%20500px_jpg.jpg",
    "https://images.unsplash.company/%20by%20Alessandro%20Desantis.jpg",
    "https://images.unsplash.com/", "ftp://images.unsplash.com/photo-1", "photo-1", "https://[::1/photo-1"])
def test_broken_image_urls_fail_without_a_request(broken):
    with pytest.raises(PhotoFailed) as failure:
        download.request_url(broken, 512, "http://127.0.0.1:9")
    assert failure.value.reason == "bad_url"


def test_retry_after_and_backoff_delays():
    assert download.retry_after_seconds("3") == 3.0
    in_ten_seconds = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 10))
    assert 8 <= download.retry_after_seconds(in_ten_seconds) <= 10
    assert download.retry_after_seconds("soon") is None and download.retry_after_seconds(None) is None
    policy = download.RetryPolicy(backoff=1.0, max_delay=5.0)
    assert policy.delay(0, retry_after=60.0) == 5.0
    assert 2.0 <= policy.delay(2, retry_after=None) <= 4.0 and policy.delay(9, retry_after=None) <= 5.0


def test_downloader_gives_up_with_a_reason(bsds_photos, monkeypatch):
    service = _service(bsds_photos, ["ok", "trickle"], behaviours={"trickle": "trickle"})
    downloader = download.Downloader(download.RetryPolicy(retries=1, backoff=0.01, timeout=0.5), rate=100)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    cases = [(f"{service.url}/photo-trickle?w=128", "timeout", "body not complete within the timeout", 2),
             (f"http://127.0.0.1:{closed_port}/photo-ok", "connection", "ConnectionError", 2),
             (f"{service.url}/photo-ok?w=128", "too_large", "more than 1000 bytes", 1)]
    try:
        for url, reason, detail, tries in cases:
            if reason == "too_large":
                monkeypatch.setattr(download, "MAX_BYTES", 1000)
            before = downloader.requests
            with pytest.raises(PhotoFailed) as failure:
                downloader.get(url)
            assert (failure.value.reason, downloader.requests - before) == (reason, tries)
            assert detail in failure.value.detail
    finally:
        service.close()


def _photo(size=(481, 321)):
    return Photo("x", "https://images.unsplash.com/photo-x", "", *size, "", "")


@pytest.fixture(scope="module")
def real(bsds_photos):
    """A real 481x321 photo."""
    for path in bsds_photos:
        with Image.open(path) as image:
            if image.size == (481, 321):
                return image.convert("RGB")


def test_content_checks_refuse_what_is_not_the_photo(real):
    at_width = encoded(real.resize((128, 85)))
    refused = {
        "not_an_image": (b"<!DOCTYPE html><html>Rate limit exceeded</html>", "text/html", _photo()),
        "corrupt": (at_width[: len(at_width) // 2], "image/jpeg", _photo()),
        "placeholder": (encoded(Image.new("RGB", (128, 85), (230, 230, 230))), "image/jpeg", _photo()),
        "wrong_size": (encoded(real.resize((64, 43))), "image/jpeg", _photo()),            # a thumbnail
    }
    for reason, (data, content_type, photo) in refused.items():
        with pytest.raises(PhotoFailed) as failure:
            content.check(data, content_type, 128, photo)
        assert failure.value.reason == reason, failure.value
    with pytest.raises(PhotoFailed, match="aspect ratio"):
        content.check(encoded(real.resize((128, 128))), "image/jpeg", 128, _photo())


def test_content_checks_keep_scale_or_accept_what_fits(real):
    at_width = encoded(real.resize((128, 85)))
    assert content.check(at_width, "image/jpeg", 128, _photo()).data == at_width       # kept byte for byte
    portrait = content.check(encoded(real.resize((128, 85))), "image/jpeg", 128, _photo((3210, 4810)))
    assert (portrait.width, portrait.height) == (128, 85)      # an EXIF-rotated original: either way round
    small_original = content.check(encoded(real.resize((100, 67))), "image/jpeg", 128, _photo((100, 67)))
    assert small_original.width == 100                          # fit=max never enlarges
    scaled = content.check(encoded(real), "image/jpeg", 128, _photo())           # the server ignored w=
    assert (scaled.extension, scaled.width, scaled.height) == ("jpg", 128, 85)
    transparent = content.check(encoded(real.convert("RGBA"), "PNG"), "image/png", 128, _photo())
    assert (transparent.extension, transparent.width) == ("png", 128)
    assert Image.open(io.BytesIO(transparent.data)).mode == "RGBA"


# --- fetching --------------------------------------------------------------------------------

def test_fetch_from_a_misbehaving_server_then_again(bsds_photos, tmp_path, capsys):
    good = photo_ids(12, "g")
    behaviours = {good[0]: "429-once", good[1]: "500-once", good[2]: "drop-once", good[3]: "ignores-width"}
    bad = {"b-slow": ("slow", "timeout"), "b-html": ("html", "not_an_image"), "b-404": ("404", "http_404"),
           "b-flat": ("placeholder", "placeholder")}
    behaviours.update({photo_id: behaviour for photo_id, (behaviour, _) in bad.items()})
    service = _service(bsds_photos, good + list(bad), behaviours=behaviours)
    rows = _rows(good + list(bad), bsds_photos)
    rows.append(manifest_row("b-url", image_url="https://images.unsplash.com.jpg/"))
    manifest = tmp_path / "photos.tsv000"
    manifest.write_text(tsv_text(rows) + "not\ta\tphoto\trow\n")
    images = tmp_path / "images"
    try:
        assert _fetch(manifest, images, service, "--workers", "4") == 1

        folder, records, summary = _span(images, 1)
        assert sorted(path.name for path in folder.iterdir()) == sorted(
            [f"{photo_id}.jpg" for photo_id in good] + [".fetch_summary.json", ".provenance.jsonl"])
        for photo_id in good:
            with Image.open(folder / f"{photo_id}.jpg") as image:
                assert image.width == WIDTH, photo_id   # "ignores-width" too: scaled here
        assert [record["source_id"] for record in records] == sorted(good)
        assert records[0] == {"file": f"{good[0]}.jpg", "source": "unsplash", "source_id": good[0],
                              "author": f"Jane Doe {good[0]}", "author_username": f"user_{good[0]}",
                              "url": f"https://unsplash.com/photos/{good[0]}",
                              "image_url": f"https://images.unsplash.com/photo-{good[0]}",
                              "license": "Unsplash Dataset Terms", "dataset": tmp_path.name}
        assert sorted(listing.list_files(str(folder), "*")) == sorted(str(folder / f"{i}.jpg") for i in good)

        assert (summary["published"], summary["downloaded"], summary["resumed"]) == (12, 12, 0)
        assert summary["photographers"] == 12 and summary["malformed_rows"] == 1
        failures = {failure["photo_id"]: failure["reason"] for failure in summary["failures"]}
        assert failures == {**{photo_id: reason for photo_id, (_, reason) in bad.items()}, "b-url": "bad_url"}
        assert summary["failed_by_reason"] == {reason: 1 for reason in failures.values()}

        # Retries: each recovered once; Retry-After: 1 honoured; the slow photo had 3 tries; no request
        # for the broken URL; everything else once.
        requests = {photo_id: [when for _, when, _ in service.requests_for(photo_id)] for photo_id in failures}
        for photo_id in good:
            requests[photo_id] = [when for _, when, _ in service.requests_for(photo_id)]
        assert {photo_id: len(times) for photo_id, times in requests.items() if len(times) != 1} == {
            good[0]: 2, good[1]: 2, good[2]: 2, "b-slow": 3, "b-url": 0}
        assert requests[good[0]][1] - requests[good[0]][0] >= 0.95
        assert all(query["w"] == str(WIDTH) and query["fm"] == "jpg" for _, _, query in service.log)
        output = capsys.readouterr().out
        assert "12 photos published as span 1" in output and "timeout 1" in output

        # Again: nothing new to download (the failed ones are tried again), no second span.
        service.log.clear()
        assert _fetch(manifest, images, service, "--workers", "4") == 1
        assert "nothing new: no span created" in capsys.readouterr().out
        assert sorted(path.name for path in images.iterdir())[1:] == ["span-1"]  # and the hidden work folder
        assert {photo_id for photo_id, _, _ in service.log} == {"b-slow", "b-html", "b-404", "b-flat"}
        work_summary = json.loads(next(images.glob(".fetch-*/summary.json")).read_text())
        assert (work_summary["skipped_present"], work_summary["published"], work_summary["span"]) == (12, 0, None)
    finally:
        service.close()


def test_a_killed_fetch_resumes_without_downloading_again(bsds_photos, tmp_path):
    ids = photo_ids(16)
    service = _service(bsds_photos, ids, delay=0.2)
    manifest = write_dataset_zip(tmp_path / "lite.zip", {"photos.tsv000": tsv_text(_rows(ids, bsds_photos))})
    images = tmp_path / "images"
    command = [sys.executable, "-m", "colornet.pipeline.cli", "fetch-unsplash", "--manifest", str(manifest),
               "--images", str(images), "--base-url", service.url, *FAST, "--workers", "2"]
    stderr = tmp_path / "stderr.txt"
    try:
        with open(stderr, "w") as err:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
            checkpoint = images / f".fetch-{work_key([manifest], WIDTH)}" / "checkpoint.jsonl"
            deadline = time.monotonic() + 60
            while not (checkpoint.is_file() and checkpoint.read_text().count("\n") >= 4):
                assert process.poll() is None and time.monotonic() < deadline, "the fetch ended before it was killed"
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert "fetch-unsplash" in stderr.read_text()  # the progress bar
        done_before_kill = {json.loads(line)["photo_id"] for line in checkpoint.read_text().splitlines()}
        assert 4 <= len(done_before_kill) < len(ids) and not (images / "span-1").exists()

        assert _fetch(manifest, images, service, "--workers", "2") == 0

        folder, records, summary = _span(images, 1)
        assert sorted(path.name for path in folder.glob("*.jpg")) == [f"{photo_id}.jpg" for photo_id in ids]
        assert [record["source_id"] for record in records] == ids
        assert (summary["resumed"], summary["downloaded"]) == (len(done_before_kill), len(ids) - len(done_before_kill))
        for photo_id in done_before_kill:
            assert len(service.requests_for(photo_id)) == 1, photo_id
        assert checkpoint.read_text() == ""  # cleared once published
    finally:
        service.close()


def test_repeated_fetches_make_spans_of_new_photos_only(bsds_photos, tmp_path, capsys):
    ids = photo_ids(8)
    service = _service(bsds_photos, ids)
    rows = _rows(ids, bsds_photos)
    first, overlapping = tmp_path / "first.tsv000", tmp_path / "overlapping.tsv000"
    first.write_text(tsv_text(rows[:6]))
    overlapping.write_text(tsv_text(rows[3:]))
    images = tmp_path / "images"
    try:
        assert _fetch(first, images, service, "--limit", "4", "--rate", "10", "--dataset-name", "lite-2024") == 0
        times = [when for _, when, _ in service.log]
        assert max(times) - min(times) >= 3 * 0.1 - 0.02        # 4 requests, 10 a second to this host

        assert _fetch(overlapping, images, service) == 0        # ids[3] is already in span 1
        assert _fetch(first, images, service) == 0              # all 6 are in spans now
        assert "nothing new: no span created" in capsys.readouterr().out

        assert [(record["source_id"], record["dataset"]) for record in _span(images, 1)[1]] == [
            (photo_id, "lite-2024") for photo_id in ids[:4]]
        folder, records, summary = _span(images, 2)
        assert [(record["source_id"], record["dataset"]) for record in records] == [
            (photo_id, tmp_path.name) for photo_id in ids[4:]]
        assert summary["skipped_present"] == 1
        assert not (images / "span-3").exists()
        assert sorted(photo_id for photo_id, _, _ in service.log) == ids  # each photo fetched once
    finally:
        service.close()


def test_a_second_fetch_on_the_same_manifest_waits_its_turn(bsds_photos, tmp_path, capsys):
    manifest = tmp_path / "photos.tsv000"
    manifest.write_text(tsv_text(_rows(["a"], bsds_photos)))
    images = tmp_path / "images"
    with WorkFolder(images, work_key([manifest], WIDTH)):
        assert cli.main(["fetch-unsplash", "--manifest", str(manifest), "--images", str(images), *FAST]) == 2
    assert "another fetch is working in" in capsys.readouterr().out
