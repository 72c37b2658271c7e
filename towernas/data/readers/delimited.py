"""Streaming reads of users' own files: CSV / TSV / any-separator text with a header, and Parquet.

``read_columns(path, wanted)`` returns an Arrow table of only the ``wanted`` columns, read block by block
(``pyarrow.csv.open_csv`` / ``ParquetFile.iter_batches``), with id columns dictionary-encoded as they come
(``_arrow.Columns``), so memory grows with the kept columns, not with the file's text. The header is
checked first: a mapped column that is missing, or a separator that does not split the header, is one
line naming the file, the column and (when another separator would split it) that separator. Arrow's
parse errors are turned into the first bad line by a plain Python scan of the file.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from towernas.data.errors import DataError
from towernas.data.readers._arrow import BLOCK_SIZE, Columns, guarded, open_text, require_file

#: separators tried when the configured one does not split a header, to name the one that would
CANDIDATE_SEPARATORS = (",", "\t", ";", "|", " ", "::")
_SEP_NAMES = {"\t": "tab", " ": "space"}


def separator_name(sep: str) -> str:
    return _SEP_NAMES.get(sep, repr(sep))


@dataclass(frozen=True)
class TextFormat:
    """How a delimited text file is laid out.

    Args:
        sep: the field separator (one character, or ``::``, which is rewritten to a tab while streaming).
        quoted: whether ``"`` quotes fields (CSV); RecBole atomic files are not quoted.
    """

    sep: str = ","
    quoted: bool = True


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def default_separator(path: Path) -> str:
    """``,`` for ``.csv`` (and ``.csv.gz``), a tab otherwise (``.tsv``, ``.txt``, RecBole's atomic files)."""
    name = path.name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def header(path: Path, fmt: TextFormat | None) -> list[str]:
    """The column names of ``path`` (Parquet schema, or the first line split by ``fmt.sep``)."""
    require_file(path)
    if is_parquet(path):
        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError.at(path, None, f"not a readable Parquet file ({err})") from None
    with open_text(path) as text:
        first = text.readline().lstrip("\ufeff")  # a UTF-8 byte order mark (Excel's "CSV UTF-8"), as Arrow skips it
    if not first.strip():
        raise DataError.at(path, 1 if first else None, "file is empty; expected a header line naming the columns")
    return split_line(first, fmt or TextFormat())


def split_line(line: str, fmt: TextFormat) -> list[str]:
    """The fields of one line, exactly as Arrow names them (surrounding spaces kept)."""
    line = line.rstrip("\r\n")
    if fmt.quoted and len(fmt.sep) == 1:
        return next(csv.reader([line], delimiter=fmt.sep))
    return line.split(fmt.sep)


def line_of(path: Path, fmt: TextFormat | None) -> Callable[[int], int]:
    """``line_of(k)``: the file line of data row ``k`` (0-based), for error messages. Arrow skips blank lines, so
    rows and lines part after one; the file is scanned only when an error needs a line. Parquet: the row number."""
    if fmt is None:
        return lambda k: k + 1

    def find(k: int) -> int:
        with open_text(path) as text:
            next(text, None)  # the header
            row = -1
            for number, line in enumerate(text, 2):
                row += bool(line.strip("\r\n"))
                if row == k:
                    return number
        return k + 2

    return find


def check_columns(path: Path, names: Sequence[str], wanted: dict[str, str], fmt: TextFormat | None) -> None:
    """Raise when a ``wanted`` column (``{column: what it is for}``) is not in ``names``, the header of ``path``.

    When the header did not split (one name) and another separator splits it into names that hold every
    wanted column, the message names that separator.
    """
    missing = [c for c in wanted if c not in names]
    if not missing:
        return
    if fmt is not None and not is_parquet(path):
        with open_text(path) as text:
            line = text.readline()
        for sep in CANDIDATE_SEPARATORS:
            if sep == fmt.sep:
                continue
            split = split_line(line, TextFormat(sep, fmt.quoted))
            if len(split) > 1 and all(c in split for c in wanted):
                raise DataError.at(path, 1, f"the separator {separator_name(fmt.sep)} does not split the header "
                                            f"{line.strip()[:60]!r}; {separator_name(sep)} would "
                                            f"(set the reader's separator option to {sep!r})")
    column = missing[0]
    spaced = [n for n in names if n.strip() == column]
    hint = f" ({spaced[0]!r} has surrounding spaces: map that exact name)" if spaced else ""
    raise DataError.at(path, 1 if not is_parquet(path) else None,
                       f"no column {column!r} ({wanted[column]}); the file has {_listing(names)}{hint}")


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:12])
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def read_columns(path: Path, wanted: dict[str, pa.DataType | None], *, fmt: TextFormat | None, encode: Sequence[str] = (),
                 progress: bool = False, allow_empty: bool = False) -> pa.Table:
    """The ``wanted`` columns of ``path`` (``{name: type}``; ``pa.string()`` for text, None: inferred), in file order.

    ``encode`` columns are dictionary-encoded block by block; ``fmt`` is ignored for Parquet. Files without data
    rows raise unless ``allow_empty``.
    """
    require_file(path)
    columns = Columns(encode=encode)
    total = path.stat().st_size
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"reading {path.name}", disable=not progress,
              leave=False) as bar:
        for n, (batch, done) in enumerate(_batches(path, wanted, fmt or TextFormat()), 1):
            columns.add(batch)
            bar.update(done - bar.n)
            if n % 16 == 0:
                release_unused()
    table = columns.table(pa.schema([(n, k or pa.string()) for n, k in wanted.items()]))
    release_unused()  # the blocks' text and per-block dictionaries: freed, but kept by Arrow's allocator until now
    if table.num_rows == 0 and not allow_empty:
        raise DataError.at(path, None, "no data rows (empty file)")
    return table.select(list(wanted))


def release_unused() -> None:
    """Hand memory that Arrow freed back to the system (its allocator keeps it otherwise, ~3x a table's size
    after a streamed read)."""
    pa.default_memory_pool().release_unused()


def _batches(path: Path, wanted: dict[str, pa.DataType], fmt: TextFormat) -> Iterator[tuple[pa.RecordBatch, int]]:
    if is_parquet(path):
        file, size = pq.ParquetFile(path), path.stat().st_size
        rows = 0
        for batch in file.iter_batches(columns=list(wanted), batch_size=1 << 16):
            rows += batch.num_rows
            yield _cast(path, batch, wanted), int(size * rows / max(1, file.metadata.num_rows))  # bytes, pro rata
        return
    if len(fmt.sep) > 1:
        yield from _multi_char(path, wanted, fmt)
        return
    read = pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True)
    parse = pacsv.ParseOptions(delimiter=fmt.sep, quote_char='"' if fmt.quoted else False)
    convert = pacsv.ConvertOptions(include_columns=list(wanted), column_types=_known(wanted), null_values=[""],
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    raw = pa.OSFile(str(path))  # the compressed position, for the progress bar of a .gz file
    stream = pa.CompressedInputStream(raw, "gzip") if path.suffix == ".gz" else raw

    def batches():
        with stream:
            yield from pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)

    for batch in guarded(path, batches, lambda: scan_text(path, fmt, wanted)):
        yield batch, (raw.tell() if not raw.closed else path.stat().st_size)


def _multi_char(path: Path, wanted, fmt: TextFormat) -> Iterator[tuple[pa.RecordBatch, int]]:
    """``::``-style separators: each block's lines are rewritten to tabs and parsed by Arrow."""
    import io

    opener = gzip.open if path.suffix == ".gz" else open
    read = pacsv.ReadOptions(use_threads=True)
    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    convert = pacsv.ConvertOptions(include_columns=list(wanted), column_types=_known(wanted), null_values=[""])
    with opener(path, "rb") as f:
        head = f.readline()
        done = len(head)
        while True:
            block = f.readlines(BLOCK_SIZE)
            if not block:
                return
            done += sum(len(b) for b in block)
            if any(b"\t" in b for b in block):
                raise DataError.at(path, None, f"unexpected tab in a {fmt.sep!r}-separated file")
            data = head.replace(fmt.sep.encode(), b"\t") + b"".join(block).replace(fmt.sep.encode(), b"\t")
            try:
                table = pacsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse,
                                       convert_options=convert)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
                found = scan_text(path, fmt, wanted)
                raise DataError.at(path, *(found or (None, str(err)))) from None
            for batch in table.to_batches():
                yield batch, done


def _known(wanted: dict[str, pa.DataType | None]) -> dict[str, pa.DataType]:
    """The columns whose type is fixed (None: Arrow infers it, e.g. a timestamp as integers or dates)."""
    return {name: kind for name, kind in wanted.items() if kind is not None}


def _cast(path: Path, batch: pa.RecordBatch, wanted: dict[str, pa.DataType]) -> pa.RecordBatch:
    arrays = []
    for name, kind in wanted.items():
        column = batch.column(name)
        if kind is not None and column.type != kind:
            try:
                column = column.cast(kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DataError.at(path, None, f"column {name!r} is {column.type}; expected {_kind(kind)}") from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=list(wanted))


def _kind(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind):
        return "integers"
    return "numbers" if pa.types.is_floating(kind) else "text"


def scan_text(path: Path, fmt: TextFormat, types: dict[str, pa.DataType | None]) -> tuple[int, str] | None:
    """First ``(line, problem)`` of a delimited file for the ``types`` columns (the slow path behind Arrow)."""
    with open_text(path) as text:
        lines = iter(text)
        names = split_line(next(lines, "").lstrip("\ufeff"), fmt)
        position = {name: i for i, name in enumerate(names)}
        for number, line in enumerate(lines, 2):
            if not line.strip():
                continue
            values = split_line(line, fmt)
            if len(values) != len(names):
                return number, (f"expected {len(names)} {separator_name(fmt.sep)}-separated columns (as the header), "
                                f"got {len(values)}")
            for name in types:
                value = values[position[name]].strip()
                kind = types[name]
                if value == "" or kind is None or pa.types.is_string(kind) or pa.types.is_dictionary(kind):
                    continue
                try:
                    number_value = float(value)
                    if pa.types.is_integer(kind) and not number_value.is_integer():
                        raise ValueError
                except ValueError:
                    what = "an integer" if pa.types.is_integer(kind) else "a number"
                    return number, f"column {name!r}: expected {what}, got {value[:30]!r}"
    return None
