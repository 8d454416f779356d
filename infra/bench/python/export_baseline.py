"""The baseline for docs/performance.md's export figures: the same rows (a year of bookings,
13 columns) written by a plain Python script, as a studio would otherwise write them, with the
standard `csv` module and `openpyxl` in its write-only (streaming) mode.

Usage: python3 export_baseline.py <rows> <csv|xlsx> <out-file>; peak RSS from /usr/bin/time -v.
"""
import csv
import datetime
import sys
import time

rows, fmt, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
header = ["id", "status", "start", "end", "service", "professional", "client_id", "client",
          "price", "deposit", "currency", "notes", "created_at"]
start = datetime.datetime(2026, 1, 1, 8, tzinfo=datetime.timezone.utc)
step = datetime.timedelta(seconds=364 * 86400 // rows)


def booking(i):
    s = start + step * i
    return [f"01JBOOKING{i:016d}", "completed" if i % 10 else "cancelled", s.isoformat(),
            (s + datetime.timedelta(minutes=30)).isoformat(), "Cut", "Owner", "01JCLIENT0000000000000000",
            "Owner", 40.00, 0.00, "EUR", "'=1+1", s.isoformat()]


began = time.perf_counter()
if fmt == "csv":
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(rows):
            w.writerow(booking(i))
else:
    import openpyxl
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("bookings")
    sheet.append(header)
    for i in range(rows):
        sheet.append(booking(i))
    book.save(out)
took = time.perf_counter() - began
print(f"{fmt}: {rows} rows in {took:.2f} s = {rows / took:.0f} rows/s")
