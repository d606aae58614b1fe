"""The requests a benchmark phase sends, and a fallback load generator for machines without wrk.

A phase is described by a JSON *spec*; request ``i`` (0, 1, 2, ... in the order they are sent) is
:func:`build_request` of that spec, here and in the Lua script ``run.py`` writes for wrk alike::

    {"kind": "get" | "create",
     "paths": [...],                 # get: cycled, paths[i % len]
     "headers": {...},               # on every request (the API key)
     "forwarded_for": [...],         # X-Forwarded-For: forwarded_for[i % len] (may be empty)
     "combos": [["2026-11-25", "12:00"], ...],   # create: date and time, combos[i % len]
     "phone_base": 0, "idempotency_prefix": "bench-..."}   # create: phone and key of request i

The fallback generator (``python bench/loadgen.py SPEC.json HOST PORT CONCURRENCY SECONDS``) keeps
CONCURRENCY HTTP/1.1 keep-alive connections busy for SECONDS with raw asyncio streams (no HTTP
client library: a request costs the generator a few microseconds) and prints one JSON line with
the same fields the wrk script prints.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

CREATE_PATH = "/api/table-bookings"


def create_body_template() -> str:
    """The create body with five holes: date, time, party size, phone, phone (in the email)."""
    return (
        '{"booking_type":"regular","date":"%s","time":"%s","party_size":%d,'
        '"customer":{"first_name":"Bench","last_name":"Guest","mobile_number":"%s",'
        '"email":"g%s@example.com","sms_opt_in":true}}'
    )


def create_body(spec: dict[str, Any], i: int) -> str:
    """Request i books combos[i % len] for 1-4 guests, with its own phone number and email."""
    combos = spec["combos"]
    day, at = combos[i % len(combos)]
    phone = f"0780{spec['phone_base'] + i:07d}"
    return create_body_template() % (day, at, 1 + i % 4, phone, phone)


def build_request(spec: dict[str, Any], i: int) -> tuple[str, str, dict[str, str], str | None]:
    """(method, path, headers, body) of request ``i``."""
    headers = dict(spec["headers"])
    forwarded = spec.get("forwarded_for") or []
    if forwarded:
        headers["X-Forwarded-For"] = forwarded[i % len(forwarded)]
    if spec["kind"] == "create":
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = f"{spec['idempotency_prefix']}{i}"
        return "POST", CREATE_PATH, headers, create_body(spec, i)
    paths = spec["paths"]
    return "GET", paths[i % len(paths)], headers, None


def _raw(spec: dict[str, Any], i: int, host: str) -> bytes:
    method, path, headers, body = build_request(spec, i)
    data = (body or "").encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _run(spec: dict[str, Any], host: str, port: int, conns: int, seconds: float) -> dict:
    counter = 0
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    received = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal counter, received
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            errors["connect"] += 1
            return
        try:
            while time.perf_counter() < deadline:
                i = counter
                counter += 1
                started = time.perf_counter()
                writer.write(_raw(spec, i, f"{host}:{port}"))
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                except (TimeoutError, asyncio.IncompleteReadError, OSError):
                    errors["read"] += 1
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                received += len(head) + len(body)
                if int(head.split(b" ", 2)[1]) > 399:
                    errors["status"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conns)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> int:
        if not latencies:
            return 0
        return int(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6)

    mean = sum(latencies) / len(latencies) * 1e6 if latencies else 0.0
    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "bytes": received,
        **errors,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": mean,
        "max": int(latencies[-1] * 1e6) if latencies else 0,
    }


def main() -> None:
    spec_file, host, port, conns, seconds = sys.argv[1:6]
    with open(spec_file, encoding="utf-8") as f:
        spec = json.load(f)
    run = _run(spec, host, int(port), int(conns), float(seconds))
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run)
    else:
        result = uvloop.run(run)
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
