"""What a fetch did, as JSON (``.fetch_summary.json`` in the span it published, ``summary.json`` in
the work folder) and as a few lines for the terminal.

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
import dataclasses
import json
import pathlib
from typing import Dict, List, Optional

LISTED = 50  # failures and malformed rows shown in the terminal; the JSON lists them all


@dataclasses.dataclass
class FetchSummary:
    manifests: List[str]
    width: int
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
