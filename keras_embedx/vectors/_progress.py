"""A one-line progress bar on stderr for long loads (no dependency)."""

import sys
import time

#: Files smaller than this load without a bar.
MIN_BYTES = 8 << 20


class Progress:
    """Shows `label [=====>    ] 120/505 MB 3.1 s` while a file loads.

    On a terminal or in a notebook the line redraws in place; elsewhere (a log
    file) only the closing summary line is written. Nothing is shown for
    files under `MIN_BYTES` or when `enabled` is False.
    """

    def __init__(self, label, total, enabled=True, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.total = total or 0
        self.enabled = bool(enabled) and self.total >= MIN_BYTES
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.dynamic = self.enabled and (isatty() or "ipykernel" in sys.modules)
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done):
        if not self.dynamic:
            return
        now = time.perf_counter()
        if now - self._last < 0.25:
            return
        self._last = now
        frac = min(1.0, done / self.total) if self.total else 0.0
        filled = int(30 * frac)
        bar = "=" * filled + (">" if filled < 30 else "") + " " * (29 - filled)
        self.stream.write(
            f"\r{self.label} [{bar[:30]}] {done / 1e6:.0f}/{self.total / 1e6:.0f} MB "
            f"{now - self.start:.1f} s"
        )
        self.stream.flush()

    def close(self, summary):
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        prefix = "\r\x1b[K" if self.dynamic else ""
        self.stream.write(f"{prefix}{self.label}: {summary} in {elapsed:.1f} s\n")
        self.stream.flush()
