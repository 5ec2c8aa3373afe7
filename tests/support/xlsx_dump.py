#!/usr/bin/env python3
"""Prints an XLSX file as JSON, read by openpyxl (an independent reader, Debian's
python3-openpyxl): {"sheets": [{"name": ..., "rows": [[cell, ...], ...]}]}. A cell is null when
empty, a number, a string, or {"date": "YYYY-MM-DDTHH:MM:SS", "format": "dd/mm/yyyy"} for dates;
"wrap": true is added as {"text": ..., "wrap": true} for strings with text wrapping."""
import datetime
import json
import sys

import openpyxl


def cell_value(cell):
    value = cell.value
    if value is None:
        return None
    if isinstance(value, (datetime.datetime, datetime.date)):
        return {"date": value.isoformat(), "format": cell.number_format}
    if isinstance(value, str) and cell.alignment is not None and cell.alignment.wrap_text:
        return {"text": value, "wrap": True}
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value
    return str(value)


def main():
    workbook = openpyxl.load_workbook(sys.argv[1])
    out = {"sheets": []}
    for sheet in workbook.worksheets:
        rows = []
        for row in sheet.iter_rows():
            cells = [cell_value(cell) for cell in row]
            while cells and cells[-1] is None:
                cells.pop()
            rows.append(cells)
        out["sheets"].append({"name": sheet.title, "rows": rows})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
