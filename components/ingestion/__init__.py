"""Photo-folder ingestion: a TFX ExampleGen (and ``colornet ingest``) that turns a folder of real-world
photos into the raw tf.Examples described by ``schemas/raw/schema.pbtxt``.

``component`` (the ExampleGen and its configs) -> ``executor`` (the Beam PTransform: list, attach
provenance, read once, normalize, dedup) -> ``listing`` (which files a pattern takes; reading them
without blocking), ``provenance`` (the ``.provenance.jsonl`` sidecar: where each photo came from)
and ``photo`` (one photo's checks and normalization); ``summary`` (per-file outcomes, the JSON
report); ``commands`` (``colornet ingest``). ``unsplash/`` (``colornet fetch-unsplash``) downloads
the Unsplash dataset's photos as span folders with their sidecar.
"""
