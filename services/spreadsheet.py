"""Reading any table file an office produces into plain rows of cells.

Formats are recognised by their content, not their name (a «.xls» saved by a web system is often
HTML, a «.csv» may be cp1251 with semicolons). Cells come back as calamine gives them: str, float,
int, bool, date/datetime or ''. Row positions are kept as the spreadsheet program shows them.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import pickle
import subprocess
import sys
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
    if fmt in ("xlsx", "ods"):
        _check_zip_bomb(data, filename)
    return _read_workbook_in_child(data, filename, fmt)


_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from services.spreadsheet import _child_main; _child_main()"
)
_DAMAGED = "Файл «{filename}» повреждён или сохранён не как таблица {fmt}: его не удалось прочитать ({reason})."


class _CellUnpickler(pickle.Unpickler):
    """Only the values a cell can hold: the child read a file from anyone."""

    _ALLOWED = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            import datetime

            return getattr(datetime, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


def _read_workbook_in_child(data: bytes, filename: str, fmt: str) -> list[Sheet]:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _CHILD_CODE, root, fmt, filename, str(WORKBOOK_MEMORY_LIMIT),
             str(WORKBOOK_TIME_LIMIT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
    except OSError as exc:  # no process can be started at all: the server's problem, not the file's
        raise TableFileError(f"Файл «{filename}» не прочитан: не удалось запустить чтение таблицы ({exc}).") from exc
    try:
        out, err = proc.communicate(data, timeout=WORKBOOK_TIME_LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        log.warning("reading %s took over %s s; stopped", fmt, WORKBOOK_TIME_LIMIT)
        raise TableFileError(_DAMAGED.format(
            filename=filename, fmt=fmt.upper(), reason=f"чтение не закончилось за {WORKBOOK_TIME_LIMIT} с")) from None
    result = None
    if proc.returncode == 0:
        try:
            result = _CellUnpickler(io.BytesIO(out)).load()
        except Exception:  # noqa: BLE001 - anything but the child's answer is a failed read
            result = None
    if not (isinstance(result, tuple) and len(result) == 2 and result[0] in ("ok", "error")):
        text = err.decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if "panicked" in ln or "memory" in ln.lower() or "Error" in ln]
        log.warning("reading %s failed in the child process (exit %s): %s", fmt, proc.returncode,
                    " | ".join(lines)[:500] or text[-300:])
        reason = "не хватило памяти" if "memory allocation" in text or "MemoryError" in text else "чтение прервалось"
        raise TableFileError(_DAMAGED.format(filename=filename, fmt=fmt.upper(), reason=reason))
    kind, payload = result
    if kind == "error":
        raise TableFileError(str(payload))
    return [Sheet(name=str(name), rows=rows) for name, rows in payload]


def _child_main() -> None:
    """The reading process: argv = root fmt filename memory-limit time-limit; the file on stdin;
    a pickled ("ok", [(name, rows)]) or ("error", message) on stdout."""
    import gc
    import resource

    gc.disable()  # millions of cells and no cycles; the process ends right after
    _root, fmt, filename, memory, seconds = sys.argv[1:6]
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds) + 1))
    data = sys.stdin.buffer.read()
    try:
        result = ("ok", [(s.name, s.rows) for s in _read_workbook_here(data, filename, fmt)])
    except TableFileError as exc:
        result = ("error", str(exc))
    except MemoryError:
        print("MemoryError", file=sys.stderr)
        sys.exit(3)
    pickle.dump(result, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


def _read_workbook_here(data: bytes, filename: str, fmt: str) -> list[Sheet]:
    """calamine in this process: only ever called in the child (see WORKBOOK_MEMORY_LIMIT)."""
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
    sheets: list[Sheet] = []
    try:
        for meta in wb.sheets_metadata:
            if str(meta.typ) not in ("SheetTypeEnum.WorkSheet",) and "WorkSheet" not in str(meta.typ):
                continue
            sheet = wb.get_sheet_by_name(meta.name)
            if sheet.total_height > MAX_ROWS + 100:
                raise TableFileError(
                    f"Лист «{meta.name}» файла «{filename}» содержит {sheet.total_height:,} строк — больше "
                    f"допустимых {MAX_ROWS:,}. Разделите реестр на части.".replace(",", " ")
                )
            rows = sheet.to_python(skip_empty_area=False)
            sheets.append(Sheet(name=meta.name, rows=rows))
    except TableFileError:
        raise
    except BaseException as exc:
        if not _is_read_failure(exc):
            raise
        raise TableFileError(f"Файл «{filename}» повреждён: {str(exc)[:200]}") from exc
    if not sheets:
        raise TableFileError(f"В файле «{filename}» нет ни одного листа с данными.")
    return sheets


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


def _read_csv(text: str, delimiter: str) -> Sheet:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list] = []
    numbers: list[int] = []
    last_line = 0
    for row in reader:
        numbers.append(last_line + 1)
        last_line = reader.line_num
        rows.append(row)
        if len(rows) > MAX_ROWS + 100:
            raise TableFileError(f"В файле больше {MAX_ROWS:,} строк. Разделите реестр на части.".replace(",", " "))
    return Sheet(name=f"CSV ({'табуляция' if delimiter == chr(9) else delimiter})", rows=rows, row_numbers=numbers)


def read_table(data: bytes, filename: str) -> Table:
    """Read the bytes of an uploaded file; raise TableFileError with a Russian message."""
    if len(data) == 0:
        raise TableFileError(f"Файл «{filename}» пуст.")
    if len(data) > MAX_FILE_BYTES:
        raise TableFileError(
            f"Файл «{filename}» слишком большой: {_size_text(len(data))}. Наибольший размер — {_size_text(MAX_FILE_BYTES)}."
        )
    fmt = sniff_format(data, filename)
    if fmt == "csv":
        text = decode_text(data, filename)
        if not text.strip():
            raise TableFileError(f"Файл «{filename}» пуст.")
        try:
            variants = [_read_csv(text, d) for d in CSV_DELIMITERS]
        except csv.Error as exc:
            raise TableFileError(f"Файл «{filename}» не читается как CSV: {exc}") from exc
        return Table(filename=filename, format="csv", sheets=[], csv_variants=variants)
    return Table(filename=filename, format=fmt, sheets=_read_workbook(data, filename, fmt))
