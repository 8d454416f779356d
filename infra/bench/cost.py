#!/usr/bin/env python3
"""Prices the measurements of `cost_of_each_endpoint_groups_typical_request` (tests/tests/it/cost.rs).

Reads its `COST {json}` lines on stdin (infra/bench/cost.sh runs it and pipes them here), the
functions' memory sizes from template.yaml, and prints Markdown: dollars per million requests by
scenario, a studio's month, and each function's cost and modelled duration at other memory sizes
(what the template's sizes were chosen from). Standard library only.

The model, per request (docs/performance.md says why each term is what it is):
  Lambda duration = CPU time measured here, stretched by the share of a vCPU the memory buys
                    (1,769 MB = one vCPU), + each AWS call's round trip (LATENCY_MS, assumed:
                    the calls a request makes are counted, their latency on AWS is not measured
                    here), rounded up to the millisecond;
  Lambda          = GB-seconds at the arm64 price + the request price;
  API Gateway     = the HTTP API request price (HTTP functions only);
  DynamoDB        = the read and write units DynamoDB Local reported consumed, at on-demand prices;
  SQS, S3, SES    = the calls counted, at their request prices (emails: one per SendEmail).
"""

import json
import math
import re
import sys
from pathlib import Path

# us-east-1 list prices (USD), November 2026. Edit here when they change.
PRICE = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "http_api_request": 1.00 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "ses_email": 0.10 / 1000,
}
# Assumed round trip of one call from Lambda, in the same region, in ms.
LATENCY_MS = {"dynamodb": 5.0, "sqs": 10.0, "s3": 20.0, "sesv2": 40.0, "sns": 40.0}
# Lambda's CPU share grows with memory: 1,769 MB is one full vCPU.
MB_PER_VCPU = 1769
# Functions not behind API Gateway.
WORKERS = {"NotificationsWorker", "ExportsWorker", "Scheduler", "Realtime"}
S3_PUTS = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject"}

# A studio's month with 1,000 bookings: requests per booking of each scenario (assumed mix:
# visitors look at slots about ten times per booking, half of them revalidating an answer they
# hold; one booking in ten is cancelled; staff open the day's list and the dashboard daily).
MONTH_PER_BOOKING = {
    "GET public slots (a month, one professional)": 5,
    "GET public slots, revalidated (304)": 5,
    "POST booking": 1,
    "booking.created: notices (worker, per booking)": 1,
    "POST booking cancel": 0.1,
    "booking.cancelled: notices (worker, per cancellation)": 0.1,
    "POST /v1/auth/login (Argon2id, 64 MiB, 3 iterations)": 0.5,
    "GET /v1/me/notifications": 2,
    "GET /v1/studios/{id}/bookings (a page)": 0.5,
    "GET /v1/studios/{id}": 0.2,
    "GET /v1/studios/{id}/dashboard": 0.05,
    "GET /v1/studios/{id}/payments": 0.05,
    "GET /v1/studios/{id}/products": 0.05,
    "GET /v1/studios/{id}/projects": 0.05,
    "POST /v1/studios/{id}/exports": 0.004,
    "export.requested: the file (worker, per export)": 0.004,
    "GET /v1/health": 0,
}
BOOKINGS_A_MONTH = 1000


def memory_sizes(template: Path) -> dict:
    """`<Name>Function` -> MemorySize (MB), the Globals' default where a function sets none."""
    text = template.read_text()
    default = int(re.search(r"^Globals:\n(?:  .*\n)*?    MemorySize: (\d+)", text, re.M).group(1))
    sizes = {}
    for match in re.finditer(r"^  (\w+)Function:\n((?:    .*\n|\s*\n)*)", text, re.M):
        own = re.search(r"^      MemorySize: (\d+)", match.group(2), re.M)
        sizes[match.group(1)] = int(own.group(1)) if own else default
    return sizes


def duration_ms(row: dict, memory_mb: int) -> float:
    cpu_ms = row["cpu_us"] / 1000 * max(1.0, MB_PER_VCPU / memory_mb)
    waits = sum(n * LATENCY_MS.get(name.split(".")[0], 10.0) for name, n in row["calls"].items())
    return cpu_ms + waits


def dollars(row: dict, memory_mb: int) -> dict:
    billed_ms = math.ceil(duration_ms(row, memory_mb))
    calls = row["calls"]
    by_service = lambda service: sum(n for name, n in calls.items() if name.startswith(service + "."))
    s3_puts = sum(n for name, n in calls.items() if name.startswith("s3.") and name[3:] in S3_PUTS)
    s3_gets = by_service("s3") - s3_puts
    cost = {
        "lambda": billed_ms / 1000 * memory_mb / 1024 * PRICE["lambda_gb_second_arm64"] + PRICE["lambda_request"],
        "api": 0.0 if row["function"] in WORKERS else PRICE["http_api_request"],
        "dynamodb": row["read_units"] * PRICE["dynamodb_read_unit"] + row["write_units"] * PRICE["dynamodb_write_unit"],
        "sqs": by_service("sqs") * PRICE["sqs_request"],
        "s3": s3_puts * PRICE["s3_put"] + s3_gets * PRICE["s3_get"],
        "ses": calls.get("sesv2.SendEmail", 0) * PRICE["ses_email"],
    }
    cost["total"] = sum(cost.values())
    return cost


def main() -> None:
    rows = [json.loads(line[5:]) for line in sys.stdin if line.startswith("COST ")]
    if not rows:
        sys.exit("no COST lines on stdin: run infra/bench/cost.sh")
    sizes = memory_sizes(Path(__file__).resolve().parents[2] / "template.yaml")
    print("| Request | Function (MB) | CPU µs | AWS calls | RRU | WRU | Lambda ms | $ per million: Lambda | API | DynamoDB | SQS+S3+SES | **total** |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    per_scenario = {}
    for row in rows:
        memory = sizes[row["function"]]
        cost = dollars(row, memory)
        per_scenario[row["scenario"]] = cost["total"]
        calls = ", ".join(f"{name} {n:g}" for name, n in sorted(row["calls"].items()))
        million = {k: v * 1e6 for k, v in cost.items()}
        print(
            f"| {row['scenario']} | {row['function']} ({memory}) | {row['cpu_us']:.0f} | {calls or '—'} "
            f"| {row['read_units']:.2f} | {row['write_units']:.2f} | {math.ceil(duration_ms(row, memory))} "
            f"| {million['lambda']:.2f} | {million['api']:.2f} | {million['dynamodb']:.2f} "
            f"| {million['sqs'] + million['s3'] + million['ses']:.2f} | **{million['total']:.2f}** |"
        )
    month = sum(per_scenario.get(s, 0) * n * BOOKINGS_A_MONTH for s, n in MONTH_PER_BOOKING.items())
    requests = sum(n * BOOKINGS_A_MONTH for s, n in MONTH_PER_BOOKING.items() if s in per_scenario)
    print(f"\nA studio with {BOOKINGS_A_MONTH:,} bookings a month (the mix in cost.py, {requests:,.0f} requests "
          f"and worker runs): **${month:.2f} a month** in requests (storage, logs and the fixed "
          f"monthly items are apart).")
    print("\n| Function | Scenario | " + " | ".join(f"{m} MB" for m in (128, 256, 512, 1024, 1769)) + " |")
    print("|---|---|" + "---:|" * 5)
    for row in rows:
        cells = []
        for memory in (128, 256, 512, 1024, 1769):
            mark = "**" if memory == sizes[row["function"]] else ""
            cells.append(f"{mark}{math.ceil(duration_ms(row, memory))} ms, ${dollars(row, memory)['total'] * 1e6:.2f}{mark}")
        print(f"| {row['function']} | {row['scenario']} | " + " | ".join(cells) + " |")
    print("\n| Function | template | suggested | why |")
    print("|---|---:|---:|---|")
    for function in sorted({row["function"] for row in rows}):
        size, why = suggested_memory([row for row in rows if row["function"] == function], function)
        print(f"| {function} | {sizes[function]} MB | {size} MB | {why} |")


SIZES = (128, 256, 512, 1024, 1769)
# People wait for an HTTP function: its requests may take at most this much longer than with a
# whole vCPU. Nobody waits for a worker: the cheapest size wins.
SLOWER_AT_MOST = 1.5


def suggested_memory(rows: list, function: str) -> tuple:
    """The cheapest size for a function's scenarios (summed), within SLOWER_AT_MOST of one vCPU
    for HTTP functions (billed milliseconds: Lambda rounds up to one)."""
    def fits(memory: int) -> bool:
        return function in WORKERS or all(
            math.ceil(duration_ms(row, memory)) <= SLOWER_AT_MOST * math.ceil(duration_ms(row, MB_PER_VCPU))
            for row in rows
        )

    cost = lambda memory: sum(dollars(row, memory)["total"] for row in rows)
    size = min((m for m in SIZES if fits(m)), key=cost)
    if function in WORKERS:
        return size, "a worker: the cheapest"
    return size, f"the cheapest within {SLOWER_AT_MOST}× of one vCPU's duration"


if __name__ == "__main__":
    main()
