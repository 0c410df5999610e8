"""The write path and the ledger, side by side with the commit this work started from.

Not part of ``make test``. Run: ``.venv/bin/python bench/write_path.py [--live 100000]
[--writes 500] [--rounds 3] [--tick-n 10000] [--verify-n 100000] [--only writes,tick,verify]
[--against REV]``.

The starting commit (`BASE`, or ``--against`` another to measure one step; checked out once as a
``git worktree`` in the temporary folder) and this tree run the same commands on the same
scenes, each in its own process (`bench/write_path_worker.py` with that tree's ``src`` first on
``PYTHONPATH``), alternately, in one run: the machine's load falls on both alike, and the
figures that matter are the ratios.

1. ``writes``: checked operation writes in-process (`Service.create_operation`: validation,
   index query, exact 4D test, rows, conflicts, alerts, ledger, commit with fsync), ``mixed``
   scene of `bench/strategic.py` with ``--live`` live operations loaded first; one submitter,
   then 16. Each side loads its own database once; rounds alternate which side goes first.
2. ``tick``: the first tick of the dense scene (``--tick-n`` aircraft in a 500 km square, 4
   parties): every conflict is new, so it writes tens of thousands of alerts, events and
   ledger entries. A fresh process and database per run; detection kernels are compiled
   before the timed tick.
3. ``verify``: verifying an ``--verify-n``-entry export, each tree's own format (per-entry
   signatures before; one signed checkpoint over the Merkle tree now).

Each worker sets its process up as that tree's ``serve`` does: where the tree has
``deconfliction.config.runtime.tune_gc`` (the collector's policy for a server process), the worker
calls it first; the starting commit has none and runs CPython's default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BASE = "243bc17"
ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "bench" / "write_path_worker.py"


def base_tree(rev: str) -> Path:
    """Commit ``rev``'s tree, as a detached git worktree (made once)."""
    path = Path(tempfile.gettempdir()) / f"deconfliction-{rev}"
    if not (path / "src" / "deconfliction").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
                       check=True, capture_output=True)
    return path


class Worker:
    """A worker process over one tree."""

    def __init__(self, label: str, tree: Path) -> None:
        self.label = label
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        self.proc = subprocess.Popen([sys.executable, str(WORKER), str(tree)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=tempfile.gettempdir())

    def ask(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label} worker died on {cmd}")
        return dict(json.loads(line))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError, json.JSONDecodeError):
            self.ask("quit")
        self.proc.wait(60)


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): every figure is printed beside them, since
    other work on a shared machine swings absolute figures (and even ratios) several-fold."""
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def _ratio(label: str, old: list[float], new: list[float], *, higher_is_better: bool) -> None:
    o, n = statistics.median(old), statistics.median(new)
    factor = n / o if higher_is_better else o / n
    print(f"  {label}: old {o:.3g}, now {n:.3g} (medians) -> {factor:.2f}x "
          f"{'faster' if factor >= 1 else 'slower'}", flush=True)


def bench_writes(args: argparse.Namespace, trees: dict[str, Path]) -> None:
    print(f"checked operation writes, mixed scene, {args.live} live", flush=True)
    workers = {label: Worker(label, tree) for label, tree in trees.items()}
    try:
        for label, w in workers.items():  # one after the other: loading is not measured
            print(f"  {label}: loaded in {w.ask('load', live=args.live, seed=7)['load_s']:.0f} s",
                  flush=True)
        results: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in range(args.rounds):
            order = list(workers) if r % 2 == 0 else list(workers)[::-1]
            for threads in (1, 16):
                for label in order:
                    res = workers[label].ask("writes", n=args.writes, threads=threads,
                                             seed=1000 + r * 10 + threads)
                    results.setdefault((label, threads), []).append(res)
                    print(f"  round {r + 1} {label:>4} {threads:>2} submitter(s): "
                          f"{res['per_s']:7.0f} writes/s  p50 {res['p50_ms']:6.2f} ms  "
                          f"p99 {res['p99_ms']:6.2f} ms  CPU {res['cpu_ms']:.2f} ms/write  "
                          f"{_load()}", flush=True)
        for threads in (1, 16):
            for key in ("per_s", "cpu_ms"):
                _ratio(f"{threads} submitter(s) {key}",
                       [x[key] for x in results[("old", threads)]],
                       [x[key] for x in results[("new", threads)]],
                       higher_is_better=key == "per_s")
    finally:
        for w in workers.values():
            w.close()


def bench_tick(args: argparse.Namespace, trees: dict[str, Path]) -> None:
    print(f"first tick of the dense scene, {args.tick_n} aircraft, 4 parties", flush=True)
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(args.tick_rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for label in order:
            w = Worker(label, trees[label])
            try:
                res = w.ask("tick", n=args.tick_n, parties=4)
            finally:
                w.close()
            seconds[label].append(res["seconds"])
            print(f"  round {r + 1} {label:>4}: {res['seconds']:7.2f} s  ({res['alerts']} "
                  f"alerts, {res['events']} events, {res['ledger']} ledger entries, "
                  f"{res['conflicts']} conflicts)  {_load()}", flush=True)
    _ratio("first tick seconds", seconds["old"], seconds["new"], higher_is_better=False)


def bench_verify(args: argparse.Namespace, trees: dict[str, Path]) -> None:
    print(f"verifying a {args.verify_n}-entry export", flush=True)
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    workers = {label: Worker(label, tree) for label, tree in trees.items()}
    try:
        for r in range(args.verify_rounds):
            order = list(workers) if r % 2 == 0 else list(workers)[::-1]
            for label in order:
                res = workers[label].ask("verify", n=args.verify_n)
                seconds[label].append(res["seconds"])
                print(f"  round {r + 1} {label:>4}: {res['seconds']:6.2f} s "
                      f"({res['bytes'] / 1e6:.0f} MB)  {_load()}", flush=True)
    finally:
        for w in workers.values():
            w.close()
    _ratio("verify seconds", seconds["old"], seconds["new"], higher_is_better=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tick-n", type=int, default=10_000)
    parser.add_argument("--tick-rounds", type=int, default=2)
    parser.add_argument("--verify-n", type=int, default=100_000)
    parser.add_argument("--verify-rounds", type=int, default=2)
    parser.add_argument("--only", default="writes,tick,verify")
    parser.add_argument("--against", default=BASE,
                        help="the commit to compare with (default: the one this work started from)")
    args = parser.parse_args()
    trees = {"old": base_tree(args.against), "new": ROOT}
    print(f"old: {args.against} ({trees['old']}); new: {ROOT}", flush=True)
    for side, tree in trees.items():
        # The worker sets its process up as `serve` does in that tree (its collector policy).
        has = (tree / "src" / "deconfliction" / "config" / "runtime.py").exists()
        policy = "as serve sets it (config.runtime.tune_gc)" if has else "CPython's default"
        print(f"  {side}: garbage collector {policy}", flush=True)
    for part in args.only.split(","):
        {"writes": bench_writes, "tick": bench_tick, "verify": bench_verify}[part](args, trees)


if __name__ == "__main__":
    main()
