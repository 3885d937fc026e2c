"""Start-up and shut-down steps shown to the operator as they happen."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Steps:
    """Prints one line per step: what is happening, then how it ended and how long it took."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, text: str) -> Iterator[list[str]]:
        """Show ``text``; the block may append a detail to the yielded list."""
        detail: list[str] = []
        started = time.monotonic()
        print(f"  {text} …", end="", file=self.stream, flush=True)
        try:
            yield detail
        except BaseException:
            print(" failed", file=self.stream, flush=True)
            raise
        took = time.monotonic() - started
        extra = f" {'; '.join(detail)}" if detail else ""
        print(f" done ({took:.2f} s){extra}", file=self.stream, flush=True)
