"""Wall time and peak memory of `minirtc.decompose` (bounded memory, docs/estimators.md#the-common-form).

Each case runs in a fresh subprocess, so one case's memory cannot hide another's: the worker
builds its inputs, notes its resident set (VmRSS), runs `decompose` once, and reports the
process's high-water mark (VmHWM from /proc/self/status, Linux) and the rise above the
baseline.  Unchunked cases whose predicted peak exceeds --max-gb are skipped and listed.

    python benchmarks/decompose_memory.py results.json
    python benchmarks/decompose_memory.py results.json --sizes 256 1024 --backends numpy --grad

--grad also times forward + backward (torch.autograd / autograd.grad of the TC): with
gradients every chunk's intermediates are kept for the backward pass, so chunking bounds
the memory of evaluation, not of training.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

BYTES_PER_FLOAT = 8
TEMPORARIES = 8  # (rows, M, D) float64 arrays alive at once in NumPy (about 4 in torch)


def predicted_bytes(M: int, D: int, chunk_size: int | None) -> int:
    """Rough peak of decompose: a few (rows, M, D) float64 temporaries."""
    rows = M if chunk_size is None else min(chunk_size, M)
    return TEMPORARIES * rows * M * D * BYTES_PER_FLOAT


def read_status_kib(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (this benchmark needs Linux)")


def case_key(backend: str, M: int, D: int, chunk_size: int | None, grad: bool) -> dict:
    """The fields that name a case in the results."""
    return {"backend": backend, "M": M, "D": D, "chunk_size": chunk_size, "grad": grad}


def worker(backend: str, M: int, D: int, chunk_size: int | None, grad: bool) -> dict:
    """Run one case in this process and return its measurements."""
    import numpy as np

    import minirtc

    rng = np.random.default_rng(0)
    mu = rng.normal(size=(M, D))  # (M, D)
    logvar = np.full((M, D), -2.0)  # sigma = 0.37
    z = mu + np.exp(logvar / 2) * rng.normal(size=(M, D))
    dataset_size = 100 * M

    if backend == "torch":
        import torch

        z, mu, logvar = (torch.tensor(a, requires_grad=grad) for a in (z, mu, logvar))

        def run():
            tc = minirtc.decompose(z, mu, logvar, dataset_size, method="mss1", chunk_size=chunk_size).tc
            if grad:
                torch.autograd.grad(tc, (z, mu, logvar))
            return float(tc)
    else:
        import autograd

        def tc_of(z_, mu_, logvar_):
            return minirtc.decompose(z_, mu_, logvar_, dataset_size, method="mss1", chunk_size=chunk_size).tc

        def run():
            if grad:
                return float(autograd.value_and_grad(tc_of, argnum=(0, 1, 2))(z, mu, logvar)[0])
            return float(tc_of(z, mu, logvar))

    # Warm up on a tiny batch: the backend's ops module is imported lazily on first use.
    minirtc.decompose(z[:4], mu[:4], logvar[:4], dataset_size, method="mss1")
    baseline_kib = read_status_kib("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    tc = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kib = read_status_kib("VmHWM")
    return {
        **case_key(backend, M, D, chunk_size, grad),
        "tc": tc,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_kib / 1024,
        "baseline_rss_mb": baseline_kib / 1024,
        "rise_mb": (peak_kib - baseline_kib) / 1024,
        "predicted_mb": predicted_bytes(M, D, chunk_size) / 2**20,
    }


def run_case(backend: str, M: int, D: int, chunk_size: int | None, grad: bool) -> dict:
    """One case in a fresh interpreter; its JSON line is the last line of its stdout."""
    command = [sys.executable, __file__, "--worker", backend, str(M), str(D), str(chunk_size or 0)]
    if grad:
        command.append("--grad")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {**case_key(backend, M, D, chunk_size, grad), "error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_json_atomically(path: str, payload: dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".decompose_memory.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def table(results: list[dict]) -> str:
    lines = [
        f"{'backend':8} {'grad':5} {'M':>6} {'D':>3} {'chunk':>6} {'wall s':>8} {'cpu s':>8} "
        f"{'peak RSS MB':>12} {'rise MB':>9} {'pred. MB':>9}"
    ]
    for r in results:
        chunk = str(r["chunk_size"] or "-")
        head = f"{r['backend']:8} {str(r['grad']):5} {r['M']:>6} {r['D']:>3} {chunk:>6}"
        if "skipped" in r:
            lines.append(f"{head}   skipped: {r['skipped']}")
        elif "error" in r:
            lines.append(f"{head}   error: {r['error'].strip().splitlines()[-1]}")
        else:
            lines.append(
                f"{head} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_rss_mb']:12.0f} "
                f"{r['rise_mb']:9.0f} {r['predicted_mb']:9.0f}"
            )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="path of the JSON file to write")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 8192], help="batch sizes M")
    parser.add_argument("--dim", type=int, default=10, help="latent dimension D")
    parser.add_argument("--chunk", type=int, default=256, help="chunk_size of the chunked cases")
    parser.add_argument("--backends", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    parser.add_argument("--max-gb", type=float, default=16.0, help="skip cases predicted to need more")
    parser.add_argument("--grad", action="store_true", help="also time forward + backward cases")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--worker"]:
        backend, M, D, chunk = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        print(json.dumps(worker(backend, M, D, chunk or None, "--grad" in argv)))
        return
    args = parse_args(argv)
    results = []
    for grad in [False, True] if args.grad else [False]:
        for backend in args.backends:
            for M in args.sizes:
                for chunk_size in (None, args.chunk):
                    needed = predicted_bytes(M, args.dim, chunk_size if not grad else None)
                    if needed > args.max_gb * 2**30:
                        skip = {
                            "backend": backend,
                            "M": M,
                            "D": args.dim,
                            "chunk_size": chunk_size,
                            "grad": grad,
                        }
                        skip["skipped"] = f"predicted {needed / 2**30:.1f} GB > --max-gb {args.max_gb}"
                        results.append(skip)
                    else:
                        results.append(run_case(backend, M, args.dim, chunk_size, grad))
                    print(table(results[-1:]).splitlines()[-1], flush=True)
    payload = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "results": results,
    }
    write_json_atomically(args.output, payload)
    print(table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
