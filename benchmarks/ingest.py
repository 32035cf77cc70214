"""Dataset ingest against bare pyarrow, and preview latency against dataset size.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--rounds 3]

Generates a CSV of --rows rows x 20 mixed clinical columns (~280 MB at 1M rows), then:

(a) ingest: `datasets.services.dataset_ingest`, the function the upload view calls, given
    what the view gives it (a TemporaryUploadedFile that Django spooled the body into;
    making that copy is not timed, it happens while the body arrives): sniff, parse,
    profile, Parquet copy, SHA-256, storage, the row, audit, notification.
(b) bare: `pyarrow.csv.read_csv(path)` with default options.

Each runs in its own fresh subprocess, alternating, --rounds times; times are medians.
CPU time (user + system, all threads) is reported beside wall time: on a machine shared
with other work, wall times swing with the load and CPU time says how much work each did.
Peak memory of a run = the process's RSS high-water mark (getrusage ru_maxrss) minus its
RSS just before the timed call, so imports do not count; Arrow's own pool high-water
mark is printed beside it. table_mb is the Arrow table's nbytes.

Preview latency is the median of 50 GET /api/data/preview/{id}?limit=50 through Django's
test client (middleware, DRF, audit row and all; no network) on the big dataset and on
a 1,000-row one, each the worst over three offsets, the calls on both interleaved. The
service call alone and the bare Parquet read are printed too. The last line is one
JSON object.

Uses a temporary SQLite file and storage folder (DATABASE_URL / DATA_STORAGE_PATH are
set before django.setup()), and deletes them afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure_django(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilytica_site.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.db'}"
    for name in ("DATA", "MODEL", "RESULTS"):
        os.environ[f"{name}_STORAGE_PATH"] = str(workdir / "storage" / name.lower())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- data ------------------------------------------------------------------------------------


def generate_csv(path: Path, rows: int, seed: int = 7) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    vocabulary = (
        "stable chest pain dyspnoea follow up review noted mild severe acute chronic history "
        "of hypertension diabetes asthma copd fever cough fatigue nausea discharged admitted "
        "referred improved worsened monitor labs ordered ecg normal abnormal"
    )
    words = np.array(vocabulary.split())

    def with_gaps(values, share):
        return pa.array(values, mask=rng.random(rows) < share)

    height = rng.normal(170, 10, rows)
    weight = np.round(rng.normal(78, 15, rows), 1)
    codes = np.array([f"{c}{n:02d}.{d}" for c in "EIJK" for n in range(10, 22) for d in (0, 9)])
    ids = np.char.zfill(np.arange(1, rows + 1).astype(str), 7)
    picks = rng.integers(0, len(words), (rows, 14))
    start = np.datetime64("2015-01-01T00:00:00")
    table = pa.table(
        {
            "patient_id": pc.binary_join_element_wise("P", pa.array(ids), ""),
            "age": rng.integers(18, 96, rows),
            "sex": rng.choice(np.array(["F", "M"]), rows),
            "height_cm": height,
            "weight_kg": weight,
            "bmi": weight / (height / 100) ** 2,
            "systolic_bp": rng.integers(90, 200, rows),
            "diastolic_bp": rng.integers(50, 120, rows),
            "heart_rate": with_gaps(rng.integers(40, 160, rows), 0.05),
            "temperature_c": with_gaps(np.round(rng.normal(37, 0.6, rows), 1), 0.1),
            "glucose_mg_dl": rng.lognormal(4.6, 0.25, rows),
            "cholesterol_mg_dl": rng.normal(200, 35, rows),
            "smoker": rng.random(rows) < 0.2,
            "region": rng.choice(
                np.array(["north", "south", "east", "west", "central", "coastal", "rural"]), rows
            ),
            "diagnosis_code": rng.choice(codes[:50], rows),
            "admitted_at": start + rng.integers(0, 10 * 365 * 86400, rows).astype("timedelta64[s]"),
            "length_of_stay_days": rng.poisson(4, rows),
            "creatinine_mg_dl": rng.lognormal(0, 0.3, rows),
            "notes": pc.binary_join_element_wise(
                *[pa.array(words[picks[:, i]]) for i in range(picks.shape[1])], " "
            ),
            "readmitted_30d": (rng.random(rows) < 0.15).astype(np.int64),
        }
    )
    pcsv.write_csv(table, path)


# --- children: one measurement per fresh process --------------------------------------------


def child_pyarrow(csv: Path) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    before, cpu = rss_mb(), cpu_seconds()
    started = time.perf_counter()
    table = pcsv.read_csv(csv)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu,
        "peak_mb": peak_rss_mb() - before,
        "arrow_pool_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
        "table_mb": table.nbytes / 2**20,
        "rows": table.num_rows,
    }


def child_ingest(csv: Path, workdir: Path, workspace_id: str, as_upload: bool) -> dict:
    configure_django(workdir)
    import pyarrow as pa
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import TemporaryUploadedFile

    from collaboration.models import Workspace
    from datasets.services import dataset_ingest

    user = get_user_model().objects.get(username="bench")
    workspace = Workspace.objects.get(pk=workspace_id)
    if as_upload:
        # What Django's TemporaryFileUploadHandler leaves for the view, hashed as the
        # web process hashes an upload while it streams in (not timed: that is the
        # web process's work, not the ingest's).
        source = TemporaryUploadedFile(csv.name, "text/csv", csv.stat().st_size, None)
        digest = hashlib.sha256()
        with open(csv, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
                source.file.write(chunk)
        source.file.flush()
        source.seek(0)
        sha256 = digest.hexdigest()
    else:
        source, sha256 = csv, ""
    before, cpu = rss_mb(), cpu_seconds()
    started = time.perf_counter()
    dataset = dataset_ingest(
        user=user, workspace=workspace, source=source, filename=csv.name, sha256=sha256
    )
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    if as_upload:
        source.close()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_rss_mb() - before,
        "arrow_pool_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
        "dataset": str(dataset.pk),
        "rows": dataset.rows,
    }


def spawn(*args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# --- preview latency ---------------------------------------------------------------------------


def preview_latency(datasets: dict, user, client, repeat: int = 50) -> dict:
    """{label: {"http_ms", "service_ms", "bare_ms", "cold_service_ms", "offsets"}}.

    Calls on the two datasets are interleaved, so a busy machine slows both alike;
    each figure is the median over `repeat` calls, the worst over the offsets."""
    from datasets import columnar, services

    results, calls = {}, []
    for label, dataset in datasets.items():
        started = time.perf_counter()
        services.dataset_preview(dataset=dataset, offset=0, limit=50, user=user)
        offsets = sorted({0, dataset.rows // 2, max(0, dataset.rows - 50)})
        results[label] = {"cold_service_ms": (time.perf_counter() - started) * 1000}
        results[label]["offsets"] = offsets
        path = services.dataset_storage().path(dataset.parquet_key)
        metadata = services._parquet_metadata(dataset)
        for offset in offsets:
            url = f"/api/data/preview/{dataset.pk}?offset={offset}&limit=50"

            def http(url=url):
                response = client.get(url, HTTP_HOST="localhost")
                assert response.status_code == 200, response.content

            def service(dataset=dataset, offset=offset):
                services.dataset_preview(dataset=dataset, offset=offset, limit=50, user=user)

            def bare(path=path, offset=offset, metadata=metadata):
                columnar.read_page(path, offset=offset, limit=50, metadata=metadata)

            calls += [(label, "http_ms", http), (label, "service_ms", service)]
            calls.append((label, "bare_ms", bare))
    timings: dict[tuple, list[float]] = {}
    for round_ in range(repeat + 3):
        for index, (label, mode, call) in enumerate(calls):
            started = time.perf_counter()
            call()
            if round_ >= 3:  # warm-up rounds are not counted
                timings.setdefault((index, label, mode), []).append(time.perf_counter() - started)
    for (_, label, mode), values in timings.items():
        median = statistics.median(values) * 1000
        results[label][mode] = max(results[label].get(mode, 0.0), median)
    return results


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "pyarrow":
            result = child_pyarrow(Path(rest[0]))
        else:
            result = child_ingest(Path(rest[0]), Path(rest[1]), rest[2], kind == "ingest-upload")
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="medilytica-bench-"))
    try:
        run(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir: Path) -> None:
    configure_django(workdir)
    from django.core.management import call_command
    from django.test import Client

    from collaboration.services import user_register
    from datasets.models import Dataset
    from datasets.services import dataset_delete, dataset_ingest

    call_command("migrate", verbosity=0)
    user = user_register(username="bench", password="bench-password-not-secret-1")
    workspace = user.workspaces.get()

    big, small = workdir / "big.csv", workdir / "small.csv"
    started = time.perf_counter()
    generate_csv(big, args.rows)
    generate_csv(small, 1000, seed=8)
    size_mb = big.stat().st_size / 2**20
    print(
        f"generated {args.rows:,} rows x 20 columns, {size_mb:.0f} MiB "
        f"in {time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )

    bare, ingest = [], []
    for round_ in range(args.rounds):
        bare.append(spawn("pyarrow", str(big)))
        ingest.append(spawn("ingest-upload", str(big), str(workdir), str(workspace.pk)))
        print(
            f"round {round_ + 1}: pyarrow {bare[-1]['seconds']:.2f} s, "
            f"ingest {ingest[-1]['seconds']:.2f} s",
            file=sys.stderr,
        )
    from_path = spawn("ingest-path", str(big), str(workdir), str(workspace.pk))

    keep = Dataset.objects.get(pk=ingest[0]["dataset"])
    for result in [*ingest[1:], from_path]:
        dataset_delete(dataset=Dataset.objects.get(pk=result["dataset"]), user=user)
    small_dataset = dataset_ingest(user=user, workspace=workspace, source=small)

    client = Client()
    client.force_login(user)
    previews = preview_latency({"large": keep, "small": small_dataset}, user, client)
    large_preview, small_preview = previews["large"], previews["small"]

    def med(results, key):
        return statistics.median(r[key] for r in results)

    ingest_s, pyarrow_s = med(ingest, "seconds"), med(bare, "seconds")
    ingest_cpu, pyarrow_cpu = med(ingest, "cpu_seconds"), med(bare, "cpu_seconds")
    best_ratio = min(r["seconds"] for r in ingest) / min(r["seconds"] for r in bare)
    peak_mb, table_mb = med(ingest, "peak_mb"), med(bare, "table_mb")
    lines = [
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        f"CSV: {size_mb:.0f} MiB, {keep.rows:,} rows; Arrow table {table_mb:.0f} MiB",
        f"ingest (upload path), median of {args.rounds}: {ingest_s:.2f} s, "
        f"peak +{peak_mb:.0f} MiB RSS "
        f"(Arrow pool peak {med(ingest, 'arrow_pool_peak_mb'):.0f} MiB)",
        f"ingest from a path (copies the original instead of moving it): "
        f"{from_path['seconds']:.2f} s, peak +{from_path['peak_mb']:.0f} MiB",
        f"pyarrow.csv.read_csv, median of {args.rounds}: {pyarrow_s:.2f} s, "
        f"peak +{med(bare, 'peak_mb'):.0f} MiB RSS (Arrow pool peak "
        f"{med(bare, 'arrow_pool_peak_mb'):.0f} MiB)",
        f"ingest / pyarrow: {ingest_s / pyarrow_s:.2f}x wall, medians (goal <= 3); "
        f"{best_ratio:.2f}x best against best; CPU time {ingest_cpu:.2f} s / {pyarrow_cpu:.2f} s "
        f"= {ingest_cpu / pyarrow_cpu:.2f}x",
        f"ingest peak / table: {peak_mb / table_mb:.2f}x (goal < 3)",
    ]
    for label, key in (
        ("HTTP GET", "http_ms"),
        ("service", "service_ms"),
        ("bare read", "bare_ms"),
    ):
        ratio = large_preview[key] / small_preview[key]
        lines.append(
            f"preview {label}: {small_preview[key]:.2f} ms (1,000 rows) vs "
            f"{large_preview[key]:.2f} ms ({keep.rows:,} rows, worst of offsets "
            f"{large_preview['offsets']}): {ratio:.2f}x"
        )
    lines.append(
        "first preview in a process (footer not cached yet): "
        f"{small_preview['cold_service_ms']:.1f} ms small, "
        f"{large_preview['cold_service_ms']:.1f} ms large"
    )
    print("\n".join(lines), file=sys.stderr)
    print(
        json.dumps(
            {
                "ingest_s": round(ingest_s, 3),
                "pyarrow_s": round(pyarrow_s, 3),
                "ingest_ratio": round(ingest_s / pyarrow_s, 2),
                "peak_mb": round(peak_mb, 1),
                "table_mb": round(table_mb, 1),
                "memory_ratio": round(peak_mb / table_mb, 2),
                "preview_small_ms": round(small_preview["http_ms"], 2),
                "preview_large_ms": round(large_preview["http_ms"], 2),
                "preview_ratio": round(large_preview["http_ms"] / small_preview["http_ms"], 2),
                "ingest_cpu_s": round(ingest_cpu, 3),
                "pyarrow_cpu_s": round(pyarrow_cpu, 3),
                "cpu_ratio": round(ingest_cpu / pyarrow_cpu, 2),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
