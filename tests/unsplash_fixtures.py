"""Helpers for the Unsplash fetch tests: manifests in the dataset's format and a local image service.

``FakeImageService`` answers on 127.0.0.1 like Unsplash's image service does, from real photos
(BSDS500): ``/photo-<id>?w=...`` resized with ``fit=max`` semantics. Photos can be told to
misbehave (``behaviours``); every request is logged, so tests can count what was fetched.
"""
import csv
import http.server
import io
import threading
import time
import zipfile

from PIL import Image

from colornet.components.ingestion.unsplash.manifest import UnsplashDialect

# The photos table's columns, in order (unsplash/datasets DOCS.md, release 1.4).
HEADER = ["photo_id", "photo_url", "photo_image_url", "photo_submitted_at", "photo_featured", "photo_width",
          "photo_height", "photo_aspect_ratio", "photo_description", "photographer_username",
          "photographer_first_name", "photographer_last_name", "exif_camera_make", "exif_camera_model", "exif_iso",
          "exif_aperture_value", "exif_focal_length", "exif_exposure_time", "photo_location_name",
          "photo_location_latitude", "photo_location_longitude", "photo_location_country", "photo_location_city",
          "stats_views", "stats_downloads", "ai_description", "ai_primary_landmark_name",
          "ai_primary_landmark_latitude", "ai_primary_landmark_longitude", "ai_primary_landmark_confidence",
          "blur_hash"]

SLOW_SECONDS = 4.0   # how long the "slow" behaviour makes a client wait (over twice the tests' --timeout)


def photo_ids(count, prefix="p"):
    """Unsplash-like photo ids (letters, digits, '-' and '_')."""
    return [f"{prefix}{index:03d}-x_Y" for index in range(count)]


def manifest_row(photo_id, size=(481, 321), image_url=None, description="", username=None):
    """One row of the photos table, as the dataset has it."""
    width, height = size
    values = {name: "" for name in HEADER}
    values.update(
        photo_id=photo_id, photo_url=f"https://unsplash.com/photos/{photo_id}",
        photo_image_url=image_url or f"https://images.unsplash.com/photo-{photo_id}",
        photo_submitted_at="2020-01-01 00:00:00.123", photo_featured="t", photo_width=str(width),
        photo_height=str(height), photo_aspect_ratio=f"{width / height:.2f}", photo_description=description,
        photographer_username=username or f"user_{photo_id}", photographer_first_name="Jane",
        photographer_last_name=f"Doe {photo_id}", stats_views="1200", stats_downloads="34")
    return [values[name] for name in HEADER]


def manifest_rows(photo_ids_and_paths):
    """Manifest rows for (photo id, served photo path) pairs, with the photos' real width and height
    (the fetch checks what it gets against them)."""
    rows = []
    for photo_id, path in photo_ids_and_paths:
        with Image.open(path) as image:
            rows.append(manifest_row(photo_id, image.size))
    return rows


def tsv_text(rows, header=HEADER):
    """A photos table part: the header, then the rows, written with the dataset's quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, UnsplashDialect)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_dataset_zip(path, parts):
    """A dataset zip: ``parts`` maps member names to TSV text; a keywords table rides along, as in
    the real zip."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr("keywords.tsv000", "photo_id\tkeyword\nabc\tforest\n")
    return path


def encoded(image, image_format="JPEG", quality=85):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=quality)
    return buffer.getvalue()


class FakeImageService:
    """Serves ``photos`` ({photo id: JPEG path}) on 127.0.0.1; ``behaviours`` ({photo id: name})
    make some misbehave:

      429-once       429 with Retry-After: 1, then the photo
      500-once       500, then the photo
      drop-once      half the body (full Content-Length), connection closed; then the photo
      slow           waits SLOW_SECONDS before answering
      trickle        sends the photo 100 bytes every 20 ms (each read is quick, the whole is not)
      html           an HTML error page with status 200
      404            404 Not Found
      ignores-width  the original file, whatever ``w=`` says (a plain static mirror)
      placeholder    a flat gray JPEG at the requested size
    ``delay`` (seconds) slows every answer down.
    """

    def __init__(self, photos, behaviours=None, delay=0.0):
        self.photos, self.behaviours, self.delay = dict(photos), dict(behaviours or {}), delay
        self.log = []  # (photo id, time.monotonic(), query string) of every request
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def requests_for(self, photo_id):
        return [entry for entry in self.log if entry[0] == photo_id]

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def answer(self, photo_id, query):
        """(status, headers, body, bytes to send before dropping the connection or None)."""
        with self._lock:
            self.log.append((photo_id, time.monotonic(), query))
            first = len(self.requests_for(photo_id)) == 1
        time.sleep(self.delay)
        behaviour = self.behaviours.get(photo_id)
        if photo_id not in self.photos or behaviour == "404":
            return 404, {"Content-Type": "text/plain"}, b"not found", None
        if behaviour == "429-once" and first:
            return 429, {"Retry-After": "1", "Content-Type": "text/plain"}, b"slow down", None
        if behaviour == "500-once" and first:
            return 500, {"Content-Type": "text/plain"}, b"oops", None
        if behaviour == "html":
            return 200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>Service error</body></html>", None
        if behaviour == "slow":
            time.sleep(SLOW_SECONDS)
        width = int(query.get("w", 0))
        if behaviour == "ignores-width":
            body = self.photos[photo_id].read_bytes()
        else:
            with Image.open(self.photos[photo_id]) as original:
                image = original.convert("RGB")
            if behaviour == "placeholder":
                image = Image.new("RGB", image.size, (200, 200, 200))
            if width and width < image.width:  # fit=max: never enlarged
                image.thumbnail((width, image.height), Image.Resampling.LANCZOS)
            body = encoded(image, quality=int(query.get("q", 85)))
        cut = len(body) // 2 if behaviour == "drop-once" and first else None
        return 200, {"Content-Type": "image/jpeg"}, body, cut


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that gave up (timeouts) break pipes on purpose


def _handler(service):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            path, _, query = self.path.partition("?")
            photo_id = path.rsplit("/photo-", 1)[-1] if "/photo-" in path else ""
            status, headers, body, cut = service.answer(photo_id, dict(
                pair.split("=", 1) for pair in query.split("&") if "=" in pair))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if service.behaviours.get(photo_id) == "trickle":
                for start in range(0, len(body), 100):
                    self.wfile.write(body[start:start + 100])
                    self.wfile.flush()
                    time.sleep(0.02)
                return
            self.wfile.write(body[:cut])
            if cut is not None:
                self.close_connection = True

        def log_message(self, *args):
            pass

    return Handler
