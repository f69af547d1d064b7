"""Curated schemas (pbtxt) of the data colornet ingests; shipped as package data."""
import pathlib

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent
RAW_SCHEMA_DIR = SCHEMA_DIR / "raw"
RAW_SCHEMA_PATH = RAW_SCHEMA_DIR / "schema.pbtxt"
