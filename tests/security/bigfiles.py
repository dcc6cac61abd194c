"""Hostile table files made quickly: a sheet of a million rows, zip bombs that tell the truth or
lie about their size, and a few kilobytes whose cells sit far apart."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

import xlsxwriter


def _deflate(chunks) -> tuple[bytes, int, int]:
    """Raw deflate of the chunks, their CRC-32 and total size. A chunk repeated as the same object
    is compressed once: after a full flush deflate output depends on that chunk alone."""
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    crc, size, parts, seen = 0, 0, [], {}
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        key = id(chunk)
        if key not in seen:
            seen[key] = (chunk, comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH))
        parts.append(seen[key][1])
    parts.append(comp.flush())
    return b"".join(parts), crc, size


def _workbook_with_sheet_xml(sheet_xml_chunks, *, declared_size: int | None = None) -> bytes:
    """A real .xlsx (xlsxwriter) whose first sheet's XML is replaced by `sheet_xml_chunks`.

    `declared_size` writes a false uncompressed size into both zip headers (a lying bomb)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.add_worksheet("Реестр").write(0, 0, "Номер помещения")
    wb.close()
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                raw, crc, size = _deflate(sheet_xml_chunks)
                zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zi.CRC, zi.compress_size, zi.file_size = crc, len(raw), size
                # written as already compressed: zipfile has no public call for that
                zi.header_offset = dst.fp.tell()
                dst.fp.write(zi.FileHeader(zip64=size > 0xFFFFFFFF) + raw)
                dst.filelist.append(zi)
                dst.NameToInfo[zi.filename] = zi
                dst.start_dir = dst.fp.tell()
            else:
                dst.writestr(info, src.read(info.filename))
    data = bytearray(out.getvalue())
    if declared_size is not None:
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        struct.pack_into("<I", data, info.header_offset + 22, declared_size)  # local header
        pos = 0
        while True:
            pos = data.find(b"PK\x01\x02", pos)
            if pos < 0:
                break
            name_len = struct.unpack_from("<H", data, pos + 28)[0]
            if bytes(data[pos + 46:pos + 46 + name_len]) == b"xl/worksheets/sheet1.xml":
                struct.pack_into("<I", data, pos + 24, declared_size)  # central directory
            pos += 4
    return bytes(data)


_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet '
         b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_TAIL = b"</sheetData></worksheet>"


def million_rows_xlsx(rows: int = 1_000_000) -> bytes:
    """A registry-like sheet of `rows` owner rows under a real header (a few MB compressed)."""
    def chunks():
        yield _HEAD
        yield ('<row r="1"><c r="A1" t="inlineStr"><is><t>Номер помещения</t></is></c>'
               '<c r="B1" t="inlineStr"><is><t>Общая площадь</t></is></c>'
               '<c r="C1" t="inlineStr"><is><t>ФИО</t></is></c></row>').encode("utf-8")
        step = 50_000
        for start in range(2, rows + 2, step):
            yield "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>50</v></c></row>'
                          for r in range(start, min(start + step, rows + 2))).encode("ascii")
        yield _TAIL
    return _workbook_with_sheet_xml(chunks())


def zip_bomb_xlsx(inflated_bytes: int, *, declared_size: int | None = None) -> bytes:
    """An .xlsx whose sheet XML inflates to `inflated_bytes` (spaces inside <sheetData>)."""
    def chunks():
        yield _HEAD
        block = b" " * (1 << 20)
        full, rest = divmod(inflated_bytes - len(_HEAD) - len(_TAIL), len(block))
        for _ in range(full):
            yield block
        yield b" " * rest
        yield _TAIL
    return _workbook_with_sheet_xml(chunks(), declared_size=declared_size)


def far_apart_xlsx(last_row: int = 199_000, last_col: int = 16_383, *, registry_before: list[list] | None = None) -> bytes:
    """Two cells, A1 and one far down and right: kilobytes on disk, a dense range of billions.
    With `registry_before`, those rows are a proper first sheet and the far-apart one comes second."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    if registry_before is not None:
        first = wb.add_worksheet("Реестр")
        for r, row in enumerate(registry_before):
            first.write_row(r, 0, row)
    ws = wb.add_worksheet("Реестр" if registry_before is None else "Черновик")
    ws.write(0, 0, "Номер помещения")
    ws.write(last_row, last_col, "x")
    wb.close()
    return buf.getvalue()


def repeated_cells_ods(rows: int = 199_000, cols: int = 300) -> bytes:
    """An .ods of 2 KB: one text cell repeated `cols` times in a row repeated `rows` times."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Реестр")
    for text in ("Номер помещения", "конец"):
        tr = TableRow()
        tc = TableCell(valuetype="string")
        tc.addElement(P(text=text))
        tr.addElement(tc)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    buf = io.BytesIO()
    doc.write(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "content.xml":
                text = data.decode("utf-8")
                text = text.replace("<table:table-row>", f'<table:table-row table:number-rows-repeated="{rows}">', 1)
                text = text.replace('<table:table-cell office:value-type="string">',
                                    f'<table:table-cell table:number-columns-repeated="{cols}" '
                                    'office:value-type="string">', 1)
                data = text.encode("utf-8")
            dst.writestr(info, data, compress_type=zipfile.ZIP_STORED if info.filename == "mimetype"
                         else zipfile.ZIP_DEFLATED)
    return out.getvalue()
