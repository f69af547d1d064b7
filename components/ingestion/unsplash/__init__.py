"""``colornet fetch-unsplash``: photos of the Unsplash dataset (github.com/unsplash/datasets) as
span folders for continuous retraining, each photo credited to its photographer.

Modules: ``manifest`` (the dataset's photos table: zip members or files, CSV dialect, bad rows),
``download`` (one photo's bytes: the URL with resizing parameters and --base-url, HTTP with
per-host pacing, timeouts and retries, the failure reasons), ``content`` (is it the photo asked
for), ``checkpoint`` (the resumable work folder), ``fetch`` (all of it, then the span is published
with its ``.provenance.jsonl``; the summary) and ``commands`` (the sub-command). The sidecar's
format is ``ingestion/provenance.py``, shared with the ingestion, which puts it into the examples.
"""
