"""Append records to one run's log in an S3 store, each under the run's lock (a second server
process sharing the cache dir, as uvicorn workers do).

argv: <bucket>/<prefix> <cache dir> <run pk> <writer name> <count>; the AWS variables name
the store. Record n is `<writer>:<n>:<n % 97 times "x">;`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fwtrack.server.config import S3Location
from fwtrack.server.store import RunKey
from fwtrack.server.store.s3 import S3Store

location, cache, pk, writer, count = sys.argv[1:6]
bucket, _, prefix = location.partition("/")
store = S3Store(
    S3Location(bucket, prefix),
    Path(cache),
    endpoint=os.environ["AWS_ENDPOINT_URL"],
    region=os.environ["AWS_REGION"],
)
runlog = store.run_log(RunKey(1, "r1", int(pk)))
for n in range(int(count)):
    data = f"{writer}:{n}:".encode() + b"x" * (n % 97) + b";"
    with runlog.locked(create=True) as handle:
        handle.append(data, handle.size())
