"""``colornet fetch-unsplash``: photos of the Unsplash dataset (github.com/unsplash/datasets) as
span folders for continuous retraining, each photo credited to its photographer.

Modules: ``manifest`` (the dataset's photos table: zip members or files, CSV dialect, bad rows),
``image_url`` (the URL requested: resizing parameters, --base-url, broken URLs), ``download``
(HTTP: per-host pacing, timeouts, retries), ``content`` (is it the photo asked for), ``failure``
(reasons), ``checkpoint`` (the resumable work folder), ``provenance`` (the span's
``.provenance.jsonl``), ``summary`` (the report), ``fetch`` (all of it, then the span is published)
and ``commands`` (the sub-command).
"""
