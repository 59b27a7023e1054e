"""The Python contender of the `throughput` benchmark (src/bin/throughput.rs).

    python throughput_influxdb_client.py URL BUCKET POINTS MODE FILE...

Writes the first POINTS points of the given files through the official
`influxdb-client` in batching mode (batch 5000) and prints one JSON line:
points, seconds, batches written, errors.

MODE `lines`: FILEs are line protocol, handed over as raw strings (the
cheapest input the client takes), 5000 lines per `write()` call.
MODE `points`: FILEs are tab-separated point values (location, station,
sensor, temperature, humidity, pressure, ok, note, timestamp in ns), read
before the clock starts; the timed loop builds a `Point` per point (the
client formats them, as linewire does), 5000 per `write()` call. The first
points' `to_line_protocol()` is compared with the line-protocol files given
after the values (tags and fields sorted: the client sorts them by key), and
the result is printed (`same_lines`).

The clock starts before the first `write()` and stops at the success
callback of the last batch (not when `close()` returns: it polls every
100 ms), so the client is measured at its best.
"""

import json
import re
import sys
import threading
import time

from influxdb_client import InfluxDBClient, Point, WriteOptions, WritePrecision

CHUNK = 5000


def read_lines(files, points):
    out = []
    for path in files:
        if len(out) >= points:
            break
        with open(path, encoding="utf-8") as f:
            out.extend(f.read().splitlines())
    return out[:points]


def read_values(path, points):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(rows) >= points:
                break
            loc, st, sen, t, h, p, ok, note, ts = line.rstrip("\n").split("\t")
            rows.append((loc, st, sen, float(t), int(h), float(p), ok == "true", note, int(ts)))
    return rows


def to_point(row):
    loc, st, sen, t, h, p, ok, note, ts = row
    return (
        Point("weather")
        .tag("location", loc)
        .tag("station", st)
        .tag("sensor", sen)
        .field("temperature", t)
        .field("humidity", h)
        .field("pressure", p)
        .field("ok", ok)
        .field("note", note)
        .time(ts, WritePrecision.NS)
    )


LINE = re.compile(r'^(\S+) ((?:[^" ]|"[^"]*")+) (-?\d+)$')


NUMBER = re.compile(r"^-?[0-9.]+(e[-+]?[0-9]+)?$", re.IGNORECASE)


def canonical(line):
    """A line with its tags and fields sorted (the client sorts them by key;
    the generated values hold no escaped commas) and floats in one form
    (the client writes `1000` where linewire writes `1000.0`)."""
    m = LINE.match(line)
    if m is None:
        return line
    key, fields, ts = m.groups()
    canon = []
    for field in fields.split(","):
        name, value = field.split("=", 1)
        if NUMBER.match(value):  # a float: `1000` and `1000.0` are the same
            value = repr(float(value))
        canon.append((name, value))
    return (sorted(key.split(",")), sorted(canon), ts)


def main() -> None:
    url, bucket, points, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    files = sys.argv[5:]
    same_lines = None
    if mode == "lines":
        records = read_lines(files, points)
    elif mode == "points":
        records = read_values(files[0], points)
        reference = read_lines(files[1:], 1000)
        same_lines = True
        for r, line in zip(records, reference):
            theirs = to_point(r).to_line_protocol()
            if canonical(theirs) != canonical(line):
                same_lines = f"{theirs} != {line}"
                break
    else:
        sys.exit(f"unknown mode {mode}")
    total = len(records)

    lock = threading.Lock()
    state = {"batches": 0, "lines": 0, "errors": [], "last": None}

    def ok(_conf, data):
        with lock:
            state["batches"] += 1
            raw = data.encode() if isinstance(data, str) else data
            state["lines"] += raw.count(b"\n") + 1
            state["last"] = time.perf_counter()

    def failed(_conf, _data, exc):
        with lock:
            state["errors"].append(repr(exc))

    with InfluxDBClient(url=url, token="bench", org="bench", timeout=60_000) as client:
        write_api = client.write_api(
            write_options=WriteOptions(
                batch_size=5000,
                flush_interval=1_000,
                jitter_interval=0,
                retry_interval=1_000,
                max_retries=0,
            ),
            success_callback=ok,
            error_callback=failed,
        )
        start = time.perf_counter()
        cpu_start = time.process_time()
        if mode == "lines":
            for i in range(0, total, CHUNK):
                write_api.write(
                    bucket=bucket, record=records[i : i + CHUNK], write_precision=WritePrecision.NS
                )
        else:
            for i in range(0, total, CHUNK):
                batch = [to_point(r) for r in records[i : i + CHUNK]]
                write_api.write(bucket=bucket, record=batch, write_precision=WritePrecision.NS)
        write_api.close()
        closed = time.perf_counter()
        cpu = time.process_time() - cpu_start

    end = state["last"] or closed
    print(
        json.dumps(
            {
                "points": total,
                "seconds": end - start,
                "seconds_to_close": closed - start,
                "cpu_seconds": cpu,
                "batches": state["batches"],
                "lines_acknowledged": state["lines"],
                "errors": state["errors"][:3],
                "same_lines": same_lines,
            }
        )
    )


if __name__ == "__main__":
    main()
