"""`omnitrail import contacts`: rows per second and the command's peak memory (it must stay flat with file size).

Generates a CSV of N people (name, two emails, a phone, an external id, two typed attributes),
imports it with the real command into a fresh database and a private broker, then imports it
again (a re-run must change nothing and is the cheap path). Prints rows/s and peak RSS of each run.

Usage: python benchmarks/contact_import.py [--rows 100000] [--seed 7]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); starts its own broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omnitrail.local_stack import EmbeddedBroker
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.scratch_database import scratch_database


def write_csv(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("name,email,phone,external_id,plan,lifetime_value\n")
        for n in range(rows):
            out.write(
                f"Person {n},p{n}@example.org;p{n}@work.example,+3519{n:08d},"
                f"CRM-{n},{rng.choice(('free', 'pro'))},{rng.randrange(10_000) / 100}\n"
            )


def run_import(env: dict[str, str], path: Path) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "omnitrail", "import", "contacts", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak_kb, before) / 1024, done.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with scratch_database("omnitrail_bench_import") as url:
        broker = EmbeddedBroker()
        broker.start()
        try:
            asyncio.run(clients.create_topics(KafkaSettings(partitions=2), broker.bootstrap))
            env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
            env.update(
                OMNITRAIL_DATABASE_URL=url,
                OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
                OMNITRAIL_KAFKA_IDEMPOTENCE="false",
            )
            for attribute, kind in (("plan", ["enum", "--values", "free,pro"]), ("lifetime_value", ["number"])):
                subprocess.run(
                    [sys.executable, "-m", "omnitrail", "attributes", "define", attribute, *kind], env=env, check=True
                )
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "crm.csv"
                write_csv(path, args.rows, args.seed)
                size_mb = path.stat().st_size / 1e6
                for label in ("first import", "re-run"):
                    elapsed, peak_mb, summary = run_import(env, path)
                    print(
                        f"{label}: {args.rows} rows ({size_mb:.1f} MB) in {elapsed:.1f} s = "
                        f"{args.rows / elapsed:,.0f} rows/s, peak RSS of the command {peak_mb:.0f} MB | {summary}"
                    )
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
