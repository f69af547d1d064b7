"""An Unsplash manifest's photos -> the next span folder under the data root.

1. Read the manifest(s) (``manifest``) and leave out the photos an earlier span already holds
   (their ids in the spans' ``.provenance.jsonl``); take the first ``limit`` of the rest, so
   repeated runs with a limit bring the next photos each time.
2. In the work folder of these manifests and width (``checkpoint``), skip what an interrupted run
   finished; download the rest on ``workers`` threads (``download``: per-host pacing, timeouts,
   retries), check each answer (``content``) and record each photo as it ends.
3. If any photo was kept: write ``.provenance.jsonl`` and ``.fetch_summary.json`` beside the
   photos and rename the folder into place as the next span (``spans.publish_span``); a run that
   kept nothing creates no span. The checkpoint is then cleared.
"""
import concurrent.futures
import functools
import hashlib
import itertools
import json
import pathlib
import time
from typing import List, Optional, Set

from tqdm import tqdm

from ....pipeline import spans
from . import content, image_url, provenance
from .checkpoint import Outcome, WorkFolder
from .download import Downloader, RetryPolicy
from .failure import PhotoFailed
from .manifest import Manifest, Photo
from .summary import FetchSummary

SUMMARY_NAME = ".fetch_summary.json"


def fetch(manifest_paths, root, *, width: int = 512, limit: Optional[int] = None, workers: int = 8,
          base_url: Optional[str] = None, rate: float = 10.0, policy: RetryPolicy = RetryPolicy(),
          progress: bool = True) -> FetchSummary:
    """Fetches the photos as the next span under ``root``; raises ``ManifestError`` for an unusable
    manifest and ``WorkFolderBusy`` when another run works on the same manifests."""
    started = time.monotonic()
    photos = Manifest(manifest_paths)
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    summary = FetchSummary(manifests=[str(path) for path in photos.paths], width=width)
    with WorkFolder(root, work_key(photos.paths, width)) as work:
        candidates = _candidates(photos, provenance.published_ids(root), limit, summary)
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
            provenance.write(work.photos, [provenance.record(photo, outcome.file) for photo, outcome in kept])
            summary.write(work.photos / SUMMARY_NAME, in_span=True)
            summary.span = spans.publish_span(work.photos, root)
        summary.write(work.summary_path)
        work.clear()
    return summary


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
        url = image_url.request_url(photo.image_url, width, base_url)
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
