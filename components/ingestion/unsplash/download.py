"""HTTP for many photos from few hosts: pacing per host, timeouts, retries with backoff.

- Pacing (``HostGate``): at most ``rate`` requests a second to each host, shared by every worker
  thread. A 429 or 503 pauses the whole host (every worker, not only the one that got it) for the
  server's ``Retry-After`` (seconds or an HTTP date), or for the backoff delay when it gave none.
- Timeouts: ``timeout`` bounds connecting, each wait for data, and the whole download (checked
  as the body arrives, so a server that trickles bytes forever is cut off too).
- Retries (``RetryPolicy``): 408, 429, 5xx, timeouts, broken connections and bodies shorter than
  their Content-Length are tried again, up to ``retries`` times, after ``backoff`` seconds doubled
  each time (half of it random, so workers that failed together do not retry together), at most
  ``max_delay``. Any other status fails at once (``http_404``: a removed photo).
- Bodies are checked against Content-Length here: requests with urllib3 1.26 returns a body cut short
  by a dropped connection without an error.

One ``requests.Session`` per worker thread (a Session is not meant to be shared between threads)
keeps connections alive between a worker's photos.
"""
import dataclasses
import email.utils
import random
import threading
import time
from typing import Optional, Tuple
from urllib.parse import urlsplit

import requests

from .failure import PhotoFailed

USER_AGENT = "colornet-fetch-unsplash/0.1"
MAX_BYTES = 50 * 1024 * 1024  # far above any photo at a requested width; a guard against endless bodies
# Small reads: a read returns only once it is full (http.client reads through a buffered file), and the deadline
# of the whole download is checked between reads: a server that trickles bytes overshoots it by one read at most.
_CHUNK_BYTES = 1024


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4            # tries after the first
    backoff: float = 1.0        # seconds before the first retry; doubled for each further one
    max_delay: float = 120.0    # cap on a backoff delay and on a server's Retry-After
    timeout: float = 30.0       # seconds: connect, each read, and the whole download

    def delay(self, retry: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.backoff * 2 ** retry, self.max_delay)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class HostGate:
    """Spaces requests to each host at least ``1 / rate`` seconds apart, across threads."""

    def __init__(self, rate: float):
        self._interval = 1.0 / rate
        self._next_slot = {}  # host -> time.monotonic() of its next free slot
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self._interval
        time.sleep(slot - now)

    def pause(self, host: str, seconds: float) -> None:
        """No request to ``host`` for ``seconds`` from now."""
        with self._lock:
            resume = time.monotonic() + seconds
            self._next_slot[host] = max(self._next_slot.get(host, resume), resume)


class Downloader:
    def __init__(self, policy: RetryPolicy, rate: float):
        self.policy = policy
        self.gate = HostGate(rate)
        self.requests = 0  # HTTP requests made, retries included
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def get(self, url: str) -> Tuple[bytes, str]:
        """(body, Content-Type) of a 200 answer, retrying as the policy says; raises PhotoFailed."""
        host = urlsplit(url).netloc
        retry = 0
        while True:
            self.gate.wait(host)
            try:
                return self._get_once(url)
            except PhotoFailed as failure:
                if not failure.retryable or retry == self.policy.retries:
                    if retry:
                        failure.detail += f" (after {retry + 1} tries)"
                    raise
                delay = self.policy.delay(retry, failure.retry_after)
                if failure.reason in ("http_429", "http_503"):
                    self.gate.pause(host, delay)  # the host asked everyone to slow down
                else:
                    time.sleep(delay)
                retry += 1

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["User-Agent"] = USER_AGENT
        return self._local.session

    def _get_once(self, url: str) -> Tuple[bytes, str]:
        timeout = self.policy.timeout
        deadline = time.monotonic() + timeout
        with self._count_lock:
            self.requests += 1
        try:
            with self._session().get(url, stream=True, timeout=(timeout, timeout)) as response:
                if response.status_code != 200:
                    status = response.status_code
                    raise PhotoFailed(f"http_{status}", f"{status} {response.reason} from {url}",
                                      retryable=status in (408, 429) or status >= 500,
                                      retry_after=retry_after_seconds(response.headers.get("Retry-After")))
                body = _read_body(response, deadline, url)
                return body, response.headers.get("Content-Type", "")
        except requests.Timeout as error:
            raise PhotoFailed("timeout", f"no answer within {timeout:g} s: {url}", retryable=True) from error
        except requests.RequestException as error:  # refused, reset, dropped mid-body
            raise PhotoFailed("connection", f"{type(error).__name__}: {error}", retryable=True) from error


def _read_body(response: requests.Response, deadline: float, url: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BYTES:
            raise PhotoFailed("too_large", f"more than {MAX_BYTES} bytes: {url}")
        if time.monotonic() > deadline:
            raise PhotoFailed("timeout", f"body not complete within the timeout: {url}", retryable=True)
        chunks.append(chunk)
    received = response.raw.tell()  # bytes off the wire, before any Content-Encoding is undone
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and received < int(declared):
        raise PhotoFailed("incomplete", f"{received} of {declared} bytes, then the connection ended: {url}",
                          retryable=True)
    return b"".join(chunks)


def retry_after_seconds(retry_after: Optional[str]) -> Optional[float]:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None if absent or unreadable."""
    if not retry_after:
        return None
    value = retry_after.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
