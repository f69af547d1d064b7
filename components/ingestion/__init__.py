"""Photo-folder ingestion: a TFX ExampleGen (and a stand-alone command) that turns a folder of
real-world photos into the raw tf.Examples described by ``schemas/raw/schema.pbtxt``.

Modules: ``config`` (knobs and defaults), ``photo`` (one photo: checks and normalization),
``colorfulness`` (the grayscale test), ``listing`` (which files a split pattern takes),
``summary`` (per-file outcomes and the JSON report), ``ingest`` (the Beam PTransform shared by
every entry point), ``executor`` / ``component`` (the TFX ExampleGen), ``standalone`` and
``commands`` (``colornet ingest``), ``statistics`` (StatisticsGen options for image bytes).
"""
