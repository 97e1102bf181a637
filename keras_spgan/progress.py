"""A progress line for long work: rate and ETA, readable in a terminal and in a log file."""

import sys
import time


class ProgressLine:
    """"done/total UNITs | UNITs/s | ETA" on one line of stderr, redrawn in place on a
    terminal; elsewhere (logs, pipes) a plain line every 10%, with no ANSI codes."""

    def __init__(self, total, stream=None, enabled=True, unit="frames"):
        self.total, self.stream, self.enabled, self.unit = total, stream or sys.stderr, enabled, unit
        self.done, self.start, self.last_decile = 0, time.time(), -1

    def update(self, count=1):
        self.done += count
        if not self.enabled:
            return
        elapsed = max(time.time() - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            eta = (self.total - self.done) / rate if rate else 0.0
            text = (f"{self.done}/{self.total} {self.unit} | {rate:.2f} {self.unit}/s | "
                    f"ETA {int(eta // 60)}m{int(eta % 60):02d}s")
        else:
            text = f"{self.done} {self.unit} | {rate:.2f} {self.unit}/s"
        if self.stream.isatty():
            self.stream.write("\r" + text)
            self.stream.flush()
        else:
            decile = int(10 * self.done / self.total) if self.total else self.done // 100
            if decile != self.last_decile or self.done == self.total:
                self.last_decile = decile
                self.stream.write(text + "\n")

    def close(self):
        if self.enabled and self.stream.isatty():
            self.stream.write("\n")
