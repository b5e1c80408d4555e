"""The hub's CSV downloads (art. 30 record, statistics, chargeback): one writer for every face,
so the console, the command line and the API give the same bytes for the same rows. ``None``
is written as an empty field (the csv module's own rule, said here because readers rely on it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TextIO


def write_csv(stream: TextIO, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    out = csv.writer(stream)
    out.writerow(header)
    out.writerows(rows)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    text = io.StringIO()
    write_csv(text, header, rows)
    return text.getvalue()
