"""Progress bars (tqdm) that switch off cleanly for tests, pipes and ``--no-progress``."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from tqdm import tqdm


class _Null:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass


@contextmanager
def progress_bar(total: int | None, desc: str, unit: str = "it", enabled: bool = True) -> Iterator[tqdm | _Null]:
    """A tqdm bar on stderr when ``enabled`` and stderr is a terminal, else a no-op object."""
    if not enabled or not sys.stderr.isatty():
        yield _Null()
        return
    with tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True) as bar:
        yield bar
