"""An Unsplash manifest's photos -> the next span folder under the data root.

1. Read the manifest(s) (``manifest``) and leave out the photos an earlier span already holds
   (their ids in the spans' ``.provenance.jsonl``); take the first ``limit`` of the rest, so
   repeated runs with a limit bring the next photos each time.
2. In the work folder of these manifests and width (``checkpoint``), skip what an interrupted run
   finished; download the rest on ``workers`` threads (``download``: per-host pacing, timeouts,
   retries), check each answer (``content``) and record each photo as it ends.
3. If any photo was kept: write ``.provenance.jsonl`` (``provenance_record``: each photo credited
   to its photographer, with the dataset's name, as Lite and Full have different terms) and
   ``.fetch_summary.json`` beside the photos and rename the folder into place as the next span
   (``spans.publish_span``); a run that kept nothing creates no span. The checkpoint is then cleared.

What a fetch did (``FetchSummary``), as JSON (``.fetch_summary.json`` in the span it published,
``summary.json`` in the work folder) and as a few lines for the terminal:

  dataset           the dataset's name, as in the photos' provenance
  downloaded        photos fetched by this run
  resumed           photos an interrupted earlier run had fetched (kept from its checkpoint)
  published         downloaded + resumed: the photos of the new span (``span``; null if none)
  photographers     distinct photographers of the published photos (each credited in .provenance.jsonl)
  skipped_present   manifest photos already in an earlier span (by their Unsplash id)
  failed            photos not fetched; ``failed_by_reason`` counts them, ``failures`` lists each
                    (photo_id, reason, detail, image_url)
  manifest_rows     data rows read (with --limit, reading stops once the limit is reached);
                    ``malformed_rows`` of them skipped (``malformed`` lists where and why);
                    ``duplicate_rows``: photo ids seen before
  requests          HTTP requests made, retries included
"""
import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import itertools
import json
import pathlib
import time
from typing import Dict, List, Optional, Set

from tqdm import tqdm

from .. import spans
from .. import provenance
from . import content
from .checkpoint import Outcome, WorkFolder
from .download import Downloader, PhotoFailed, RetryPolicy, request_url
from .manifest import Manifest, Photo

SUMMARY_NAME = ".fetch_summary.json"
SOURCE = "unsplash"
# Photos obtained through the Unsplash datasets come under the dataset's terms (Lite: commercial use
# allowed; Full: non-commercial only), which the provenance's ``dataset`` tells apart.
LICENSE = "Unsplash Dataset Terms"
LISTED = 50  # failures and malformed rows shown in the terminal; the JSON lists them all


@dataclasses.dataclass
class FetchSummary:
    manifests: List[str]
    width: int
    dataset: str = ""
    span: Optional[int] = None
    downloaded: int = 0
    resumed: int = 0
    published: int = 0
    photographers: int = 0
    skipped_present: int = 0
    failed: int = 0
    failed_by_reason: Dict[str, int] = dataclasses.field(default_factory=dict)
    failures: List[Dict[str, str]] = dataclasses.field(default_factory=list)
    manifest_rows: int = 0
    malformed_rows: int = 0
    malformed: List[Dict[str, str]] = dataclasses.field(default_factory=list)
    duplicate_rows: int = 0
    requests: int = 0
    seconds: float = 0.0

    def add_failures(self, failures: List[Dict[str, str]]) -> None:
        self.failed = len(failures)
        self.failed_by_reason = dict(collections.Counter(failure["reason"] for failure in failures).most_common())
        self.failures = sorted(failures, key=lambda failure: (failure["reason"], failure["photo_id"]))

    def describe(self) -> str:
        where = f"as span {self.span}" if self.span else "nothing new: no span created"
        lines = [f"Unsplash fetch: {self.published} photos published {where} ({self.downloaded} downloaded, "
                 f"{self.resumed} from an interrupted run, {self.photographers} photographers); "
                 f"{self.skipped_present} already in earlier spans; {self.failed} failed; "
                 f"{self.requests} requests in {self.seconds:.0f} s."]
        if self.failed:
            counts = ", ".join(f"{reason} {count}" for reason, count in self.failed_by_reason.items())
            lines.append(f"Failed: {counts}.")
            lines += [f"  {f['reason']:>12}  {f['photo_id']}  {f['detail']}" for f in self.failures[:LISTED]]
        if self.malformed_rows:
            lines.append(f"Manifest: {self.malformed_rows} of {self.manifest_rows} rows malformed, skipped.")
            lines += [f"  {row['where']}: {row['reason']}" for row in self.malformed[:LISTED]]
        return "\n".join(lines)

    def write(self, path, in_span: bool = False) -> None:
        """Writes the JSON; ``in_span`` leaves ``span`` out: written before the span folder is renamed
        into place, its number is not known yet (and the folder's name says it)."""
        values = dataclasses.asdict(self)
        if in_span:
            del values["span"]
        pathlib.Path(path).write_text(json.dumps(values, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def fetch(manifest_paths, root, *, width: int = 512, limit: Optional[int] = None, workers: int = 8,
          base_url: Optional[str] = None, rate: float = 10.0, policy: RetryPolicy = RetryPolicy(),
          progress: bool = True, dataset: Optional[str] = None) -> FetchSummary:
    """Fetches the photos as the next span under ``root``; raises ``ManifestError`` for an unusable
    manifest and ``WorkFolderBusy`` when another run works on the same manifests. ``dataset`` names
    the dataset in the photos' provenance (default: ``Manifest.dataset_name``)."""
    started = time.monotonic()
    photos = Manifest(manifest_paths)
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    summary = FetchSummary(manifests=[str(path) for path in photos.paths], width=width,
                           dataset=dataset or photos.dataset_name)
    with WorkFolder(root, work_key(photos.paths, width)) as work:
        candidates = _candidates(photos, published_ids(root), limit, summary)
        finished_before = set(work.outcomes)
        todo = [photo for photo in candidates if photo.photo_id not in finished_before]
        downloader = Downloader(policy, rate)
        fetch_one = functools.partial(_fetch_one, work=work, downloader=downloader, width=width, base_url=base_url)
        with tqdm(total=len(candidates), initial=len(candidates) - len(todo), unit="photo", desc="fetch-unsplash",
                  disable=not progress) as bar:
            _run_all(todo, fetch_one, workers, work, bar)

        outcomes = [(photo, work.outcomes[photo.photo_id]) for photo in candidates]
        kept = [(photo, outcome) for photo, outcome in outcomes if outcome.kept]
        summary.published = len(kept)
        summary.resumed = sum(1 for photo, _ in kept if photo.photo_id in finished_before)
        summary.downloaded = summary.published - summary.resumed
        summary.photographers = len({photo.author_username or photo.author for photo, _ in kept} - {""})
        summary.add_failures([{"photo_id": photo.photo_id, "reason": outcome.reason, "detail": outcome.detail,
                               "image_url": photo.image_url} for photo, outcome in outcomes if not outcome.kept])
        summary.requests = downloader.requests
        summary.seconds = round(time.monotonic() - started, 1)
        if kept:
            _remove_all_but(work.photos, {outcome.file for _, outcome in kept})
            provenance.write(work.photos, [provenance_record(photo, outcome.file, summary.dataset)
                                           for photo, outcome in kept])
            summary.write(work.photos / SUMMARY_NAME, in_span=True)
            summary.span = spans.publish_span(work.photos, root)
        summary.write(work.summary_path)
        work.clear()
    return summary


def provenance_record(photo: Photo, file_name: str, dataset: str) -> Dict[str, str]:
    """The photo's line of the span's ``.provenance.jsonl`` (format: ``ingestion/provenance.py``)."""
    return {"file": file_name, "source": SOURCE, "source_id": photo.photo_id, "author": photo.author,
            "author_username": photo.author_username, "url": photo.page_url or photo.image_url,
            "image_url": photo.image_url, "license": LICENSE, "dataset": dataset}


def published_ids(root) -> Set[str]:
    """The Unsplash photo ids already in a span under ``root``: a later fetch skips them."""
    root = pathlib.Path(root)
    return {entry["source_id"] for number in spans.span_numbers(root)
            for entry in provenance.read(root / f"span-{number}").entries.values() if entry["source"] == SOURCE}


def work_key(manifest_paths: List[pathlib.Path], width: int) -> str:
    """Names the work folder: the same manifests (by file name and size) at the same width resume the
    same work, wherever the files are; another width is other photos."""
    identity = sorted((path.name, path.stat().st_size) for path in manifest_paths)
    return hashlib.sha256(json.dumps([identity, width]).encode()).hexdigest()[:12]


def _candidates(photos: Manifest, present: Set[str], limit: Optional[int], summary: FetchSummary) -> List[Photo]:
    """The first ``limit`` manifest photos no span holds yet; reading stops there."""
    candidates = []
    for photo in photos:
        if photo.photo_id in present:
            summary.skipped_present += 1
            continue
        candidates.append(photo)
        if len(candidates) == limit:
            break
    summary.manifest_rows, summary.duplicate_rows = photos.rows, photos.duplicates
    summary.malformed_rows = len(photos.bad_rows)
    summary.malformed = [{"where": row.where, "reason": row.reason} for row in photos.bad_rows]
    return candidates


def _fetch_one(photo: Photo, work: WorkFolder, downloader: Downloader, width: int, base_url: Optional[str]) -> Outcome:
    """Runs on a worker thread: one photo downloaded, checked and saved into the work folder."""
    try:
        url = request_url(photo.image_url, width, base_url)
        data, content_type = downloader.get(url)
        checked = content.check(data, content_type, width, photo)
    except PhotoFailed as failure:
        return Outcome(photo.photo_id, reason=failure.reason, detail=failure.detail)
    file_name = f"{photo.photo_id}.{checked.extension}"
    work.save(file_name, checked.data)
    return Outcome(photo.photo_id, file=file_name)


def _run_all(todo: List[Photo], fetch_one, workers: int, work: WorkFolder, bar) -> None:
    """``fetch_one`` over ``todo`` on ``workers`` threads, at most two photos per worker queued at a
    time; each outcome is recorded in the checkpoint (on this thread) as soon as it is known."""
    photos, running, failed = iter(todo), set(), 0
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="fetch-unsplash") as pool:
        try:
            while True:
                for photo in itertools.islice(photos, 2 * workers - len(running)):
                    running.add(pool.submit(fetch_one, photo))
                if not running:
                    return
                finished, running = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    outcome = future.result()
                    work.record(outcome)
                    failed += not outcome.kept
                    bar.set_postfix(failed=failed, refresh=False)
                    bar.update()
        except BaseException:  # Ctrl-C included: queued photos are dropped, running ones end on their own
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _remove_all_but(folder: pathlib.Path, keep: Set[str]) -> None:
    """Drops files of photos that are not published after all (meanwhile in another span, or past a
    smaller --limit than the interrupted run had)."""
    for path in folder.iterdir():
        if path.name not in keep:
            path.unlink()
