"""A CSV file read in bounded batches as its bytes arrive, never held whole.

Bytes are buffered until a batch is large enough, then cut at the last line
end that is outside any quoted field (an even number of quotes before it),
so a quoted field holding a line break is never split. Each batch is decoded
and parsed on its own; a line that is not valid in the file's encoding
becomes an error for the rows it touches, with their line numbers, while the
rest of the file is still read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from services.metrics.crime.domain.batches import BatchParser, batch_parser
from services.metrics.crime.domain.incidents import ColumnMap, HeaderError, Row, RowError, map_columns

BATCH_BYTES = 2 << 20
"""About 30,000 rows: few enough COPY round trips, little enough memory."""
MAX_RECORD_BYTES = 16 << 20


class CsvReader:
    def __init__(
        self,
        zone: str,
        *,
        columns: Mapping[str, str] | None = None,
        default_source: str | None = None,
        encoding: str = "utf-8",
        batch_bytes: int = BATCH_BYTES,
    ) -> None:
        self.zone = zone
        self.explicit = dict(columns or {})
        self.default_source = default_source
        self.encoding = encoding
        self.batch_bytes = batch_bytes
        self.buffer = bytearray()
        self.lines = 0
        self.columns: ColumnMap | None = None
        self.parse: BatchParser | None = None

    def ready(self, incoming: int) -> bool:
        """Whether feeding ``incoming`` more bytes completes a batch (worth a worker thread)."""
        return len(self.buffer) + incoming >= self.batch_bytes

    def feed(self, data: bytes) -> list[Row | RowError]:
        """Rows of every complete batch now buffered (often none)."""
        self.buffer += data
        if len(self.buffer) < self.batch_bytes:
            return []
        cut = self._cut()
        if cut < 0:
            if len(self.buffer) > MAX_RECORD_BYTES:
                raise HeaderError(f"line {self.lines + 1}: a quoted field never ends (unbalanced quote)")
            return []
        return self._take(cut + 1)

    def finish(self) -> list[Row | RowError]:
        rows = self._take(len(self.buffer)) if self.buffer else []
        if self.columns is None:
            raise HeaderError("the file is empty: it needs a header line naming its columns")
        return rows

    def _cut(self) -> int:
        cut = self.buffer.rfind(b"\n")
        if cut >= 0 and self.buffer.count(b'"', 0, cut + 1) % 2:
            return -1
        return cut

    def _take(self, size: int) -> list[Row | RowError]:
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        if self.lines == 0 and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]  # the byte-order mark spreadsheets put before UTF-8 text
        text, bad_lines = self._decode(chunk)
        return self._rows(text, bad_lines)

    def _decode(self, chunk: bytes) -> tuple[str, dict[int, str]]:
        try:
            text = chunk.decode(self.encoding)
            text.encode("utf-8")  # some codecs (unicode_escape...) can produce what PostgreSQL cannot store
            return text, {}
        except UnicodeError:
            pass
        except LookupError:
            raise HeaderError(f"unknown encoding {self.encoding!r}") from None
        parts, bad = [], {}
        for number, line in enumerate(chunk.splitlines(keepends=True), start=1):
            try:
                decoded = line.decode(self.encoding)
                decoded.encode("utf-8")
            except UnicodeError as exc:
                byte = line[exc.start : exc.start + 1].hex().upper() if isinstance(exc, UnicodeDecodeError) else ""
                bad[number] = f"is not valid {self.encoding}" + (f" (byte 0x{byte})" if byte else "")
                bad[number] += "; give the file's encoding"
                decoded = line.decode(self.encoding, errors="replace").encode("utf-8", "replace").decode()
            parts.append(decoded)
        return "".join(parts), bad

    def _rows(self, text: str, bad_lines: dict[int, str]) -> list[Row | RowError]:
        out: list[Row | RowError] = []
        records: list[list[str]] = []
        lines: list[int] = []
        reader = csv.reader(io.StringIO(text, newline=""))
        offset, checks = self.lines, bool(bad_lines) or "\x00" in text
        previous = 0
        while True:
            try:
                for cells in reader:
                    start, previous = previous + 1, reader.line_num
                    if checks and (problem := self._problem(cells, bad_lines, range(start, previous + 1))):
                        out.append(self._refuse(offset + start, problem))
                    elif self.parse is not None and cells:
                        records.append(cells)
                        lines.append(offset + start)
                    elif cells:
                        self._header(cells)
                break
            except csv.Error as exc:
                out.append(RowError(offset + previous + 1, f"malformed CSV: {exc}"))
                previous = reader.line_num
        self.lines += reader.line_num
        if records and self.parse is not None:
            refused, out = out, self.parse(records, lines)
            if refused:
                out = sorted(refused + out, key=_line)
        return out

    @staticmethod
    def _problem(cells: list[str], bad_lines: dict[int, str], span: range) -> str | None:
        bad = next((bad_lines[n] for n in span if n in bad_lines), None)
        if bad is None and any("\x00" in cell for cell in cells):
            bad = "contains a NUL character"
        return bad

    def _refuse(self, line: int, problem: str) -> RowError:
        if self.parse is None:
            raise HeaderError(f"line {line} (the header) {problem}")
        return RowError(line, problem)

    def _header(self, cells: list[str]) -> None:
        self.columns = map_columns(cells, self.explicit, self.default_source)
        self.parse = batch_parser(self.columns, self.zone)


def _line(row: Row | RowError) -> int:
    return row.line if isinstance(row, RowError) else row[0]
