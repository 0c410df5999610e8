"""Tactical detection benchmark: `deconfliction.core.tactical.detect` against BlueSky.

Dense scene (SPEC-like en-route traffic): N aircraft uniform in a 500 x 500 km box, FL200-FL400,
400-500 kt, random tracks, 30 % climbing or descending at 500-2500 fpm; R 5 NM, H 1000 ft,
lookahead 300 s. N = 1k, 5k, 10k on the same arrays as BlueSky 1.1.1's numpy
``StateBased.detect`` (1k and 5k: it holds ~20 N x N matrices) and its compiled
``cstatebased.detect``. Then the continental scene, N = 100k over 4000 x 4000 km (ours only).
Ours runs twice: the compiled pass (``engine="numba"``) and the numpy path (``engine="numpy"``);
the compile time of the first call is measured in fresh processes, with an empty numba cache
and then with the cache it left.

Run: ``.venv/bin/pip install bluesky-simulator==1.1.1`` then ``.venv/bin/python bench/tactical.py``
(``--quick`` skips BlueSky's 10k run and the numpy 5k run; ``--profile N`` profiles our
detector with pyinstrument). Times are the best of several runs (other work shares the
machine), wall clock and CPU; memory is the peak of Python/numpy allocations (tracemalloc) and
the peak RSS of a fresh process per measurement.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from deconfliction.core.tactical import Engine, Found, detect, diff

NM_M, FT_M, KT_MPS, FPM_MPS = 1852.0, 0.3048, 1852.0 / 3600.0, 0.3048 / 60.0
R_M, H_M, LOOK_S = 5 * NM_M, 1000 * FT_M, 300.0
CENTRE = (35.0, 33.0)  # lon, lat: the Levant


def scene(n: int, box_km: float, seed: int = 1) -> dict[str, np.ndarray]:
    """Uniform in a box_km square on the tangent plane at CENTRE (azimuthal, via pyproj)."""
    from pyproj import Proj

    rng = np.random.default_rng(seed)
    proj = Proj(proj="aeqd", lon_0=CENTRE[0], lat_0=CENTRE[1], ellps="WGS84")
    half = box_km * 500.0
    lon, lat = proj(rng.uniform(-half, half, n), rng.uniform(-half, half, n), inverse=True)
    vs = np.zeros(n)
    moving = rng.uniform(size=n) < 0.3
    vs[moving] = rng.uniform(500, 2500, moving.sum()) * rng.choice([-1.0, 1.0], moving.sum())
    return {
        "lon": np.asarray(lon),
        "lat": np.asarray(lat),
        "alt": rng.uniform(20000, 40000, n) * FT_M,
        "gs": rng.uniform(400, 500, n) * KT_MPS,
        "trk": rng.uniform(0, 360, n),
        "vs": vs * FPM_MPS,
    }


def ours(s: dict[str, np.ndarray], engine: Engine = "numba") -> Found:
    return detect(
        s["lon"],
        s["lat"],
        s["alt"],
        s["gs"],
        s["trk"],
        s["vs"],
        r_m=R_M,
        h_m=H_M,
        lookahead_s=LOOK_S,
        engine=engine,
    )


def first_call_s(cache_dir: str) -> float:
    """Seconds of the first compiled call (tiny scene) in a fresh process using ``cache_dir``."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", "first", "0", "0"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NUMBA_CACHE_DIR": cache_dir},
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["first_s"])


def traffic(s: dict[str, np.ndarray]) -> SimpleNamespace:
    """The attributes BlueSky's detectors read from a Traffic object."""
    n = s["lon"].size
    return SimpleNamespace(
        lat=s["lat"],
        lon=s["lon"],
        alt=s["alt"],
        gs=s["gs"],
        trk=s["trk"],
        vs=s["vs"],
        ntraf=n,
        id=[str(i) for i in range(n)],
    )


def cstatebased() -> ModuleType | None:
    """BlueSky's compiled detector, loaded from its file without starting the simulator."""
    import bluesky

    pattern = os.path.join(os.path.dirname(bluesky.__file__), "traffic", "asas", "cstatebased*")
    for path in glob.glob(pattern):
        spec = importlib.util.spec_from_file_location("cstatebased", path)
        if spec and spec.loader:
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    return None


def bluesky_pairs(out: Any) -> set[tuple[int, int]]:
    return {(min(int(a), int(b)), max(int(a), int(b))) for a, b in out[0]}


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds of ``repeat`` runs, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def rss_child(which: str, n: int, box_km: float) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process running one detector once: before and after."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(n), str(box_km)],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return float(got["before_mb"]), float(got["after_mb"])


def child(which: str, n: int, box_km: float) -> None:
    if which == "first":
        small = scene(200, 100)
        t = time.perf_counter()
        ours(small)
        print(json.dumps({"first_s": time.perf_counter() - t}))
        return
    s = scene(n, box_km)
    if which in ("ours", "numpy"):
        ours(scene(200, 100), "numba" if which == "ours" else "numpy")  # compiled outside
    else:
        import bluesky.traffic.asas  # noqa: F401  -- import cost outside the measurement
    base = high_water_mb()
    t = traffic(s)
    rpz, hpz, look = (np.full(n, v) for v in (R_M, H_M, LOOK_S))
    if which in ("ours", "numpy"):
        ours(s, "numba" if which == "ours" else "numpy")
    elif which == "cstatebased":
        mod = cstatebased()
        assert mod is not None
        mod.detect(t, t, rpz, hpz, look)
    else:
        from bluesky.traffic.asas import statebased

        statebased.StateBased.detect(None, t, t, rpz, hpz, look)
    print(json.dumps({"before_mb": base, "after_mb": high_water_mb()}))


def high_water_mb() -> float:
    """Peak RSS of this process image (VmHWM; ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def explain(
    s: dict[str, np.ndarray], only_theirs: set[tuple[int, int]], only_ours: set[tuple[int, int]]
) -> str:
    """How far from the boundary the disagreements are: rerun ours with relaxed (for pairs
    only BlueSky finds) or tightened (for pairs only we find) R, H and lookahead."""
    lines = []
    for label, pairs, sign in (("only BlueSky", only_theirs, 1.0), ("only ours", only_ours, -1.0)):
        if not pairs:
            continue
        left = set(pairs)
        for dr, dh, dt in (
            (5.0, 0.01, 0.01),
            (30.0, 0.1, 0.5),
            (100.0, 1.0, 1.0),
            (300.0, 1.0, 1.0),
            (1000.0, 5.0, 2.0),
        ):
            f = detect(
                s["lon"],
                s["lat"],
                s["alt"],
                s["gs"],
                s["trk"],
                s["vs"],
                r_m=R_M + sign * dr,
                h_m=H_M + sign * dh,
                lookahead_s=LOOK_S + sign * dt,
            )
            got = set(zip(f.i.tolist(), f.j.tolist(), strict=True))
            now = {p for p in left if (p in got) == (sign > 0)}
            if now:
                lines.append(
                    f"    {label}: {len(now)} within {dr:g} m / {dh:g} m / {dt:g} s of the boundary"
                )
            left -= now
        if left:
            lines.append(f"    {label}: {len(left)} further out: {sorted(left)[:5]}")
    return "\n".join(lines)


def profiles(s: dict[str, np.ndarray], repeat: int = 9) -> None:
    """Alerting profiles: ``do365`` against ``sep`` as the engine runs them each tick
    (`Alerting.detect`: detection, levels and, for do365, the DO-365 filter), four parties,
    runs alternating in one process; each profile follows the scene tick after tick, so the
    filter carries its state as in the engine."""
    from deconfliction.core.alerting import Alerting

    n = s["lon"].size
    party = np.array([f"P{k % 4}" for k in range(n)], dtype=object)
    keys = [f"{party[k]}/AC{k:05d}" for k in range(n)]
    states = (s["lon"], s["lat"], s["alt"], s["gs"], s["trk"], s["vs"])
    alerting = {"sep": Alerting("sep"), "do365": Alerting("do365")}
    found = {name: al.detect(keys, party, states, 0.0) for name, al in alerting.items()}
    times: dict[str, list[float]] = {name: [] for name in alerting}
    for k in range(1, repeat + 1):
        for name, al in alerting.items():
            started = time.perf_counter()
            found[name] = al.detect(keys, party, states, float(k))
            times[name].append(time.perf_counter() - started)
    best_ = {name: min(t) for name, t in times.items()}
    median = {name: float(np.median(t)) for name, t in times.items()}
    print(
        f"profiles at N={n}: sep {best_['sep'] * 1e3:.0f} ms (median "
        f"{median['sep'] * 1e3:.0f}), {found['sep'].found.i.size} conflicts; do365 "
        f"{best_['do365'] * 1e3:.0f} ms (median {median['do365'] * 1e3:.0f}), "
        f"{found['do365'].found.i.size} alerting pairs; do365/sep "
        f"{best_['do365'] / best_['sep']:.2f} (best), {median['do365'] / median['sep']:.2f} "
        "(median)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", action="store_true",
                    help="only compare the alerting profiles (do365 vs sep) at N=10k")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--profile", type=int, default=0)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), float(args.child[2]))
        return
    if args.profiles:
        profiles(scene(10_000, 500))
        return
    if args.profile:
        from pyinstrument import Profiler

        s = scene(args.profile, 500 if args.profile <= 10000 else 4000)
        ours(s)
        p = Profiler(interval=0.0005)
        p.start()
        for _ in range(3):
            ours(s)
        p.stop()
        print(p.output_text(unicode=False, color=False))
        return

    try:
        cs = cstatebased()
        from bluesky.traffic.asas import statebased

        state_based: Any = statebased.StateBased
    except ImportError as err:
        print(f"BlueSky not available ({err}); timing ours only")
        cs, state_based = None, None

    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        cold, warm = first_call_s(cache), first_call_s(cache)
    print(f"first compiled call: {cold:.1f} s with an empty numba cache, {warm:.2f} s cached")
    print(f"R {R_M} m, H {H_M} m, lookahead {LOOK_S} s; box 500 km; best of several runs")
    ours(scene(200, 100))
    for n in (1000, 5000, 10000):
        s = scene(n, 500)
        wall, cpu, f = best(partial(ours, s), 7 if n < 10000 else 9)
        pw, pc, pf = best(partial(ours, s, "numpy"), 7 if n < 10000 else 9)
        mine = set(zip(f.i.tolist(), f.j.tolist(), strict=True))
        assert mine == set(zip(pf.i.tolist(), pf.j.tolist(), strict=True))
        mem = traced_peak_mb(partial(ours, s))
        rss = rss_child("ours", n, 500)[1]
        print(
            f"N={n}: ours (numba) {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms CPU, "
            f"{len(mine)} pairs, peak {mem:.0f} MB traced / {rss:.0f} MB process RSS; "
            f"numpy path {pw * 1e3:.1f} ms wall, {pc * 1e3:.1f} ms CPU "
            f"(numba {pw / wall:.1f}x faster)"
        )
        if cs is None:
            continue
        t = traffic(s)
        rpz, hpz, look = (np.full(n, v) for v in (R_M, H_M, LOOK_S))
        if not (args.quick and n == 10000):
            reps = 3 if n < 10000 else 2
            cw, cc, out = best(partial(cs.detect, t, t, rpz, hpz, look), reps)
            theirs = bluesky_pairs(out)
            crss = rss_child("cstatebased", n, 500)[1]
            print(
                f"  cstatebased {cw:.3f} s wall, {cc:.3f} s CPU, {len(theirs)} pairs, "
                f"{crss:.0f} MB process RSS; ours (numba) is {cw / wall:.0f}x faster (wall), "
                f"{cc / cpu:.0f}x (CPU); numpy path {cw / pw:.0f}x (wall), {cc / pc:.0f}x (CPU)"
            )
            print(
                f"  pairs only BlueSky finds: {len(theirs - mine)}, only ours: {len(mine - theirs)}"
            )
            print(explain(s, theirs - mine, mine - theirs))
        if n <= 5000 and not (args.quick and n == 5000):
            nw, nc, out = best(partial(state_based.detect, None, t, t, rpz, hpz, look), 1)
            nmem = traced_peak_mb(partial(state_based.detect, None, t, t, rpz, hpz, look))
            theirs = bluesky_pairs(out)
            print(
                f"  StateBased (numpy) {nw:.3f} s wall, {nc:.3f} s CPU, {len(theirs)} pairs, "
                f"peak {nmem:.0f} MB traced; ours is {nw / wall:.0f}x faster"
            )
            print(
                f"  pairs only StateBased finds: {len(theirs - mine)}, only ours: "
                f"{len(mine - theirs)}"
            )

    s = scene(100_000, 4000)
    for engine in ("numba", "numpy"):
        wall, cpu, f = best(partial(ours, s, engine), 5)
        mem = traced_peak_mb(partial(ours, s, engine))
        rss0, rss = rss_child("ours" if engine == "numba" else "numpy", 100_000, 4000)
        print(
            f"N=100000 over 4000 km: ours ({engine}) {wall * 1e3:.0f} ms wall, "
            f"{cpu * 1e3:.0f} ms CPU, {f.i.size} pairs, peak {mem:.0f} MB traced / "
            f"{rss:.0f} MB process RSS ({rss0:.0f} MB before detect)"
        )
    diff_tick(scene(10_000, 500))
    profiles(scene(10_000, 500))


def diff_tick(s: dict[str, np.ndarray]) -> None:
    """The event differ on the dense 10k scene: the first tick (every pair new) and a steady
    one (every pair carried), in the shape the engine calls it (ids "party/aircraft")."""
    f = ours(s)
    ids = [f"P{k % 7}/AC{k:05d}" for k in range(s["lon"].size)]
    first, _, d0 = best(lambda: diff({}, f, ids, now_s=0.0), 5)
    steady, _, _ = best(lambda: diff(d0.active, f, ids, now_s=1.0), 5)
    print(
        f"diff at N=10000 ({f.i.size} pairs): first tick {first * 1e3:.0f} ms, "
        f"steady tick {steady * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
