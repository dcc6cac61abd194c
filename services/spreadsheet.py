"""Reading any table file an office produces into plain rows of cells.

Formats are recognised by their content, not their name (a «.xls» saved by a web system is often
HTML, a «.csv» may be cp1251 with semicolons). Cells come back as calamine gives them: str, float,
int, bool, date/datetime or ''. Row positions are kept as the spreadsheet program shows them.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("kvorum.spreadsheet")

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 400 * 1024 * 1024  # a zip bomb is refused before anything is inflated
MAX_ROWS = 200_000
# A workbook is read by calamine in a child process with these limits. A damaged or hostile file
# makes calamine abort the whole process, not raise: a corrupted .xls (tafia/calamine #550/#684/
# #714), or a few kilobytes of .xlsx/.ods whose cells sit far apart (A1 and XFD199000, or one cell
# «number-columns-repeated» 300 times in 199 000 rows) make it allocate the dense range at once,
# tens of gigabytes. In the app server such an abort would end every user's session.
READER_NICENESS = 10  # the reading process's priority below the app server's
WORKBOOK_MEMORY_LIMIT = 1024**3  # bytes of address space of the reading process
WORKBOOK_TIME_LIMIT = 60  # seconds
CSV_DELIMITERS = (";", ",", "\t")
# What zipfile raises for a damaged archive besides BadZipFile (a flipped byte in a header gives
# «zip file version 20.5», «negative seek value», a truncated member EOFError or zlib.error).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, EOFError, OSError, KeyError,
               RuntimeError)


class TableFileError(Exception):
    """The file cannot be read as a table at all; the message is for the user, in Russian."""


@dataclass
class Sheet:
    name: str
    rows: list[list]
    # Spreadsheet row number of rows[i] is row_numbers[i] (for CSV: the line number).
    row_numbers: list[int] = field(default_factory=list)

    def row_number(self, index: int) -> int:
        return self.row_numbers[index] if self.row_numbers else index + 1


@dataclass
class Table:
    filename: str
    format: str  # xlsx | xls | ods | csv
    sheets: list[Sheet]
    csv_variants: list[Sheet] = field(default_factory=list)  # one per candidate delimiter


def _size_text(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}".replace(".", ",") + " МБ"


def sniff_format(data: bytes, filename: str) -> str:
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
                if "mimetype" in names:
                    mt = zf.read("mimetype")[:100]
                    if b"opendocument.spreadsheet" in mt:
                        return "ods"
                    raise TableFileError(
                        f"Файл «{filename}» — документ OpenDocument, но не таблица. Нужна таблица .ods, .xlsx, .xls или .csv."
                    )
                if any(n.startswith("xl/") for n in names):
                    return "xlsx"
                if any(n.startswith("word/") for n in names):
                    raise TableFileError(
                        f"Файл «{filename}» — документ Word, а не таблица. Сохраните реестр как .xlsx, .xls, .ods или .csv."
                    )
        except _ZIP_ERRORS as exc:
            raise TableFileError(f"Файл «{filename}» повреждён: архив .xlsx/.ods не читается ({exc}).") from exc
        raise TableFileError(f"Файл «{filename}» — zip-архив, но не таблица Excel или OpenDocument.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if "E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e".encode("latin-1") in data:
            raise TableFileError(
                f"Файл «{filename}» защищён паролем. Снимите пароль в Excel (Файл → Сведения → Защита книги) и загрузите снова."
            )
        return "xls"
    stripped = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")):
        raise TableFileError(
            f"Файл «{filename}» — веб-страница или XML, сохранённая с расширением таблицы. "
            "Откройте его в Excel и сохраните как «Книга Excel (.xlsx)»."
        )
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        ext = Path(filename).suffix.lower() or "без расширения"
        raise TableFileError(
            f"Файл «{filename}» ({ext}) не является таблицей: ожидается .xlsx, .xls, .ods или .csv."
        )
    return "csv"


def _check_zip_bomb(data: bytes, filename: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except _ZIP_ERRORS as exc:
        raise TableFileError(f"Файл «{filename}» повреждён: архив .xlsx/.ods не читается ({exc}).") from exc
    if total > MAX_UNZIPPED_BYTES:
        raise TableFileError(
            f"Файл «{filename}» после распаковки занимает {_size_text(total)} — это больше допустимых "
            f"{_size_text(MAX_UNZIPPED_BYTES)}. Похоже на повреждённый или вредоносный файл."
        )


def _is_read_failure(exc: BaseException) -> bool:
    # A Rust panic inside calamine (a truncated .xls: «slice index starts at 4096 but ends at 3712»)
    # reaches Python as pyo3's PanicException, a BaseException that `except Exception` lets through.
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _read_workbook(data: bytes, filename: str, fmt: str) -> list[Sheet]:
    with WorkbookReader(data, filename, fmt) as reader:
        return list(reader.sheets())


_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from services.spreadsheet import _child_main; _child_main()"
)
_DAMAGED = "Файл «{filename}» повреждён или сохранён не как таблица {fmt}: его не удалось прочитать ({reason})."
# Rows go from the reading process in chunks, so the caller checks the first rows while the
# reader still converts and sends the rest: a small first chunk (the header is in it), then larger.
FIRST_CHUNK_ROWS = 1_000
CHUNK_ROWS = 8_000
MAX_FRAME_BYTES = 1024**3  # a frame's length as the child states it: above this it is not believed


class _CellUnpickler(pickle.Unpickler):
    """Only the values a cell can hold: the child read a file from anyone."""

    _ALLOWED = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            import datetime

            return getattr(datetime, name)
        if (module, name) == ("decimal", "Decimal"):  # an area in a job's answer (built from text)
            import decimal

            return decimal.Decimal
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


# Work the reading process may do on the rows it sends, named by the caller: module, function.
# The function gets a whole sheet's rows and returns None or a function (start, stop) -> payload
# sent along with that chunk (plain values only: see _CellUnpickler).
PREPARERS = {"registry": ("services.registry_parse", "prepare_sheet")}
# Work done whole in the reading process, named by the caller: module, function. The function
# gets (data, filename, args, send) and calls send(payload) for each piece of its answer (plain
# values: see _CellUnpickler); the caller gets them as ("job", payload) events. A text file is read
# so: a 20 MB CSV makes hundreds of thousands of lists of cells (over 500 MB for a moment), which
# in the app server held everyone's requests up and stayed in its memory after the preview.
JOBS = {
    "csv table": ("services.spreadsheet", "csv_table_job"),
    "registry csv": ("services.registry_parse", "registry_csv_job"),
}


_peak_lock = threading.Lock()
_peak_rss = 0


def _note_peak(rss: int) -> None:
    global _peak_rss
    with _peak_lock:
        _peak_rss = max(_peak_rss, rss)


def reader_peak_rss() -> int:
    """The largest resident memory, in bytes, any reading process of this process has reported
    (its VmHWM since exec, sent before its end): bounded by WORKBOOK_MEMORY_LIMIT, which is what the
    tests check. (The kernel's ru_maxrss of a child would count the app server's own size at the
    fork as well.)"""
    return _peak_rss


def _own_peak_rss() -> int:
    """This process's peak resident memory since its exec, in bytes (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class WorkbookReader:
    """A workbook read by calamine in a child process (see WORKBOOK_MEMORY_LIMIT), its rows
    arriving sheet by sheet, chunk by chunk, while the child is still sending the rest.

    `events()` yields ("sheet", name, rows in it), then ("rows", [row, …], payload) for that sheet
    and ("sheet end",), for every worksheet in order; payload is what the PREPARERS entry named by
    `prepare` made of the chunk in the child (None without one). `sheets()` gathers the rows into
    Sheets.
    A damaged or hostile file, a child that dies, runs out of memory or time, or sends anything
    but cells: TableFileError with a Russian message. Leaving early (close(), or the `with`
    block) stops the child.
    """

    def __init__(self, data: bytes, filename: str, fmt: str, prepare: str | None = None, *,
                 job: str | None = None, args=None):
        if prepare is not None and prepare not in PREPARERS:
            raise ValueError(f"unknown preparer {prepare!r}")
        if job is not None and job not in JOBS:
            raise ValueError(f"unknown job {job!r}")
        self.filename, self.fmt, self.job = filename, fmt, job
        if fmt in ("xlsx", "ods"):
            _check_zip_bomb(data, filename)
        root = str(Path(__file__).resolve().parent.parent)
        self._stderr = tempfile.TemporaryFile()  # a pipe could fill up and stall a child that panics
        self._timed_out = False
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _CHILD_CODE, root, fmt, filename, str(WORKBOOK_MEMORY_LIMIT),
                 str(WORKBOOK_TIME_LIMIT), prepare or "", job or ""],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                env={**os.environ, "RUST_BACKTRACE": "0"},
            )
        except OSError as exc:  # no process can be started at all: the server's problem, not the file's
            self._stderr.close()
            raise TableFileError(f"Файл «{filename}» не прочитан: не удалось запустить чтение таблицы ({exc}).") from exc
        self._timer: threading.Timer | None = None
        self._arm_timer()
        try:
            # The child reads all of its input before it writes anything, so this cannot block on
            # a full output pipe.
            if job is not None:  # the job's arguments first: 8 bytes of length, then a pickle
                head = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.write(len(head).to_bytes(8, "little") + head)
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except OSError:
            pass  # the child died at once; events() tells why

    def _next_frame(self) -> bytes | None:
        """The next frame's bytes (8 bytes of length, then a pickle), or None at a cut-off end."""
        stream = self.proc.stdout
        try:
            head = stream.read(8)
            if len(head) < 8:
                return None
            size = int.from_bytes(head, "little")
            if size > MAX_FRAME_BYTES:
                return None
            body = stream.read(size)
        except (OSError, ValueError):
            return None
        return body if len(body) == size else None

    def _arm_timer(self) -> None:
        """The time limit runs while the child works towards its next frame: the caller's own
        checking of the rows it has got does not count against the file."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(WORKBOOK_TIME_LIMIT, self._stop_for_time)
        self._timer.daemon = True
        self._timer.start()

    def _stop_for_time(self) -> None:
        self._timed_out = True
        if self.proc.returncode is None:  # an ended but unreaped child keeps its pid: no other process is hit
            try:
                os.kill(self.proc.pid, 9)
            except ProcessLookupError:
                pass

    def __enter__(self) -> "WorkbookReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        self._reap(kill=True)
        self.proc.stdout.close()
        self._stderr.close()

    def _reap(self, kill: bool) -> int:
        """Stop the child (if `kill`) and wait for it. Not Popen.kill: its poll() may reap the
        child behind the timer thread's back."""
        if self.proc.returncode is None:
            if kill:
                try:  # an ended but unreaped child keeps its pid: this cannot hit another process
                    os.kill(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
            self.proc.wait()
        return self.proc.returncode

    def _failure(self) -> TableFileError:
        """Why the child gave no proper answer, for the user; the details go to the log."""
        self._timer.cancel()
        code = self._reap(kill=True)
        fmt, filename = self.fmt.upper(), self.filename
        if self._timed_out:
            log.warning("reading %s took over %s s; stopped", self.fmt, WORKBOOK_TIME_LIMIT)
            return TableFileError(_DAMAGED.format(
                filename=filename, fmt=fmt, reason=f"чтение не закончилось за {WORKBOOK_TIME_LIMIT} с"))
        self._stderr.seek(0)
        text = self._stderr.read(200_000).decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if "panicked" in ln or "memory" in ln.lower() or "Error" in ln]
        log.warning("reading %s failed in the child process (exit %s): %s", self.fmt, code,
                    " | ".join(lines)[:500] or text[-300:])
        reason = "не хватило памяти" if "memory allocation" in text or "MemoryError" in text else "чтение прервалось"
        return TableFileError(_DAMAGED.format(filename=filename, fmt=fmt, reason=reason))

    def events(self):
        in_sheet = False
        while True:
            self._arm_timer()
            body = self._next_frame()
            self._timer.cancel()
            if body is None:  # the child ended without saying "end"
                raise self._failure()
            try:
                frame = _CellUnpickler(io.BytesIO(body)).load()
            except Exception:  # noqa: BLE001 - a cut-off or foreign answer is a failed read
                raise self._failure() from None
            kind = frame[0] if isinstance(frame, tuple) and frame else None
            if kind == "sheet" and len(frame) == 3 and isinstance(frame[1], str) and isinstance(frame[2], int):
                in_sheet = True
                yield frame
            elif kind == "rows" and in_sheet and len(frame) == 3 and isinstance(frame[1], list) and all(
                    row.__class__ is list for row in frame[1]) and _only_cells(frame[1]):
                yield frame
            elif kind == "sheet end" and in_sheet and len(frame) == 1:
                in_sheet = False
                yield frame
            elif kind == "job" and len(frame) == 2 and self.job is not None:
                yield frame
            elif kind == "peak" and len(frame) == 2 and isinstance(frame[1], int):
                _note_peak(frame[1])
            elif kind == "end" and len(frame) == 1 and not in_sheet:
                return
            elif kind == "error" and len(frame) == 2:
                raise TableFileError(str(frame[1]))
            else:
                raise self._failure()

    def sheets(self):
        """Each worksheet whole, in order."""
        sheet: Sheet | None = None
        for frame in self.events():
            if frame[0] == "sheet":
                sheet = Sheet(name=frame[1], rows=[])
            elif frame[0] == "rows":
                sheet.rows.extend(frame[1])
            else:
                yield sheet


_CELL_CLASSES = frozenset({str, float, int, bool, type(None), dt.date, dt.datetime, dt.time, dt.timedelta})


def _only_cells(rows: list[list]) -> bool:
    """Every value is one a cell can hold (the unpickler would also build lists, dicts, sets)."""
    return set(map(type, itertools.chain.from_iterable(rows))) <= _CELL_CLASSES


def _child_main() -> None:
    """The reading process: argv = root fmt filename memory-limit time-limit preparer; the file on
    stdin; frames on stdout (8 bytes of length, then a pickle; see WorkbookReader.events), ending
    in ("end",) or ("error", message)."""
    import gc
    import resource

    gc.disable()  # millions of cells and no cycles; the process ends right after
    _root, fmt, filename, memory, seconds, prepare_name, job_name = sys.argv[1:8]
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds) + 1))
    os.nice(READER_NICENESS)  # the app server's sessions get the processor first (issue 14, item 3)
    data = sys.stdin.buffer.read()
    job = args = None
    if job_name:
        import importlib

        size = int.from_bytes(data[:8], "little")
        args = pickle.loads(data[8:8 + size])  # from the app server that started this process
        data = data[8 + size:]
        module, function = JOBS[job_name]
        job = getattr(importlib.import_module(module), function)
    out = sys.stdout.buffer
    prepare_sheet = None
    if prepare_name:
        import importlib

        module, function = PREPARERS[prepare_name]
        prepare_sheet = getattr(importlib.import_module(module), function)

    # Frames are written by a thread: a write blocks until the caller has read the frame, and
    # meanwhile this process prepares the next ones instead of waiting (one write per frame, so
    # the writer needs the interpreter only briefly).
    frames: queue.SimpleQueue[bytes | threading.Event | None] = queue.SimpleQueue()

    def write_frames() -> None:
        try:
            while (body := frames.get()) is not None:
                if isinstance(body, threading.Event):  # everything before it is in the pipe
                    body.set()
                    continue
                out.write(len(body).to_bytes(8, "little") + body)
                out.flush()
        except BrokenPipeError:  # the caller has what it needed and stopped reading
            os._exit(0)

    writer = threading.Thread(target=write_frames)
    writer.start()

    def send(frame) -> None:
        frames.put(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        if job is not None:
            job(data, filename, args, lambda payload: send(("job", payload)))
        else:
            for sheet in _read_workbook_here(data, filename, fmt):
                rows = sheet.rows
                send(("sheet", sheet.name, len(rows)))
                prepare = prepare_sheet(rows) if prepare_sheet else None
                start, step = 0, FIRST_CHUNK_ROWS
                while start < len(rows):
                    stop = min(start + step, len(rows))
                    send(("rows", rows[start:stop], prepare(start, stop) if prepare else None))
                    start, step = stop, CHUNK_ROWS
                send(("sheet end",))
                # A finished sheet is in the pipe before the next one is read: reading a hostile
                # later sheet may abort this process, and frames still queued here would be lost
                # with it (the pipe keeps what was written).
                written = threading.Event()
                frames.put(written)
                written.wait()
        send(("peak", _own_peak_rss()))
        send(("end",))
    except TableFileError as exc:
        send(("error", str(exc)))
    except MemoryError:
        print("MemoryError", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)
    finally:
        # also after an unexpected error: the writer ends, the traceback goes to stderr, and the
        # caller, finding no ("end",), reports a failed read instead of waiting for the time limit
        frames.put(None)
    writer.join()


def _read_workbook_here(data: bytes, filename: str, fmt: str):
    """calamine in this process, yielding each worksheet as soon as it is read: only ever called
    in the child (see WORKBOOK_MEMORY_LIMIT)."""
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError as exc:
        raise TableFileError(f"Файл «{filename}» защищён паролем. Снимите пароль и загрузите снова.") from exc
    except BaseException as exc:  # calamine raises several unrelated types for damaged files
        if not _is_read_failure(exc):
            raise
        raise TableFileError(
            f"Файл «{filename}» повреждён или сохранён не как таблица {fmt.upper()}: {str(exc)[:200]}"
        ) from exc
    found = 0
    for meta in _call(wb, filename, lambda: wb.sheets_metadata):
        if str(meta.typ) not in ("SheetTypeEnum.WorkSheet",) and "WorkSheet" not in str(meta.typ):
            continue
        sheet = _call(wb, filename, lambda: wb.get_sheet_by_name(meta.name))
        if sheet.total_height > MAX_ROWS + 100:
            raise TableFileError(
                f"Лист «{meta.name}» файла «{filename}» содержит {sheet.total_height:,} строк — больше "
                f"допустимых {MAX_ROWS:,}. Разделите реестр на части.".replace(",", " ")
            )
        found += 1
        yield Sheet(name=meta.name, rows=_call(wb, filename, lambda: sheet.to_python(skip_empty_area=False)))
    if not found:
        raise TableFileError(f"В файле «{filename}» нет ни одного листа с данными.")


def _call(wb, filename: str, read):
    """One calamine call; its failures (exceptions and Rust panics) as TableFileError."""
    try:
        return read()
    except BaseException as exc:
        if not _is_read_failure(exc):
            raise
        raise TableFileError(f"Файл «{filename}» повреждён: {str(exc)[:200]}") from exc


def decode_text(data: bytes, filename: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise TableFileError(
            f"Файл «{filename}»: не удалось определить кодировку текста (ожидается UTF-8 или Windows-1251)."
        ) from exc


def _read_csv(text: str, delimiter: str, limit: int | None = None) -> Sheet:
    """The rows of a CSV text with this delimiter (the first `limit` of them, if given)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list] = []
    numbers: list[int] = []
    last_line = 0
    for row in reader if limit is None else itertools.islice(reader, limit):
        numbers.append(last_line + 1)
        last_line = reader.line_num
        rows.append(row)
        if len(rows) > MAX_ROWS + 100:
            raise TableFileError(f"В файле больше {MAX_ROWS:,} строк. Разделите реестр на части.".replace(",", " "))
    return Sheet(name=f"CSV ({'табуляция' if delimiter == chr(9) else delimiter})", rows=rows, row_numbers=numbers)


def table_format(data: bytes, filename: str) -> str:
    """xlsx | xls | ods | csv, for a file that may be read at all (not empty, not too large)."""
    if len(data) == 0:
        raise TableFileError(f"Файл «{filename}» пуст.")
    if len(data) > MAX_FILE_BYTES:
        raise TableFileError(
            f"Файл «{filename}» слишком большой: {_size_text(len(data))}. Наибольший размер — {_size_text(MAX_FILE_BYTES)}."
        )
    return sniff_format(data, filename)


def csv_text(data: bytes, filename: str) -> str:
    """The text of a CSV file, not blank."""
    text = decode_text(data, filename)
    if not text.strip():
        raise TableFileError(f"Файл «{filename}» пуст.")
    return text


def read_csv_here(data: bytes, filename: str) -> Table:
    """A text table read with each candidate delimiter, in this process (the reading process's
    part of read_csv)."""
    text = csv_text(data, filename)
    try:
        variants = [_read_csv(text, d) for d in CSV_DELIMITERS]
    except csv.Error as exc:
        raise TableFileError(f"Файл «{filename}» не читается как CSV: {exc}") from exc
    return Table(filename=filename, format="csv", sheets=[], csv_variants=variants)


def csv_table_job(data: bytes, filename: str, _args, send) -> None:
    """JOBS["csv table"]: each variant as ("variant", name, row numbers), then ("rows", [row, …])."""
    for sheet in read_csv_here(data, filename).csv_variants:
        send(("variant", sheet.name, sheet.row_numbers))
        for start in range(0, len(sheet.rows), CHUNK_ROWS):
            send(("rows", sheet.rows[start:start + CHUNK_ROWS]))


def read_csv(data: bytes, filename: str) -> Table:
    """A text table read with each candidate delimiter, by a reading process with the workbooks'
    limits (see JOBS): the caller keeps the variant that makes sense."""
    variants: list[Sheet] = []
    with WorkbookReader(data, filename, "csv", job="csv table") as reader:
        for _kind, payload in reader.events():
            try:
                if payload[0] == "variant" and isinstance(payload[1], str) and isinstance(payload[2], list) and all(
                        n.__class__ is int for n in payload[2]):
                    variants.append(Sheet(name=payload[1], rows=[], row_numbers=payload[2]))
                elif payload[0] == "rows" and variants and all(row.__class__ is list for row in payload[1]) and all(
                        c.__class__ is str for row in payload[1] for c in row):
                    variants[-1].rows.extend(payload[1])
                else:
                    raise ValueError(payload[0])
            except (TypeError, IndexError, ValueError):
                raise reader._failure() from None
    if not variants or any(len(v.rows) != len(v.row_numbers) for v in variants):
        raise TableFileError(_DAMAGED.format(filename=filename, fmt="CSV", reason="чтение прервалось"))
    return Table(filename=filename, format="csv", sheets=[], csv_variants=variants)


def read_table(data: bytes, filename: str) -> Table:
    """Read the bytes of an uploaded file; raise TableFileError with a Russian message."""
    fmt = table_format(data, filename)
    if fmt == "csv":
        return read_csv(data, filename)
    return Table(filename=filename, format=fmt, sheets=_read_workbook(data, filename, fmt))
