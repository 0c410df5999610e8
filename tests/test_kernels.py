"""The compiled pass (`deconfliction.core.kernels`) against the numpy path of `tactical.detect`.

Both must give the same pairs and the same figures (within 1e-6 relative; in practice the
same bits, as the closed form is written with the same operations in the same order), on
random scenes of every size that takes the pruned path, and on the named edge cases of
`test_tactical.py`. The first call compiles once per process (or loads numba's cache).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.core.errors import InvalidInput
from deconfliction.core.tactical import (
    Found,
    Minima,
    States,
    conflicted,
    detect,
    detect_between,
)
from deconfliction.core.units import PartyArray

pytest.importorskip("numba")

GEOD = Geod(ellps="WGS84")
R, H = 9260.0, 304.8


D_CPA_ATOL_M = 1e-3
"""How far two correct computations of one miss distance may differ. The closed form takes
d_cpa² as |r|² + 2t·(r·v) + t²|v|², so near a collision it loses about eps·|r|²/d_cpa to
cancellation: for aircraft ~50 km apart at the slice's start that is micrometres at a few
millimetres' miss (4.562 against 4.563 mm, seen) and up to ~0.7 mm as the miss goes to zero.
A millimetre is far below any separation minimum, so it hides no error that matters."""


def assert_same(a: Found, b: Found, atol: float = 1e-9) -> None:
    assert a.i.dtype == b.i.dtype == np.intp and a.j.dtype == b.j.dtype == np.intp
    assert a.i.tolist() == b.i.tolist()
    assert a.j.tolist() == b.j.tolist()
    for name, x, y in zip(Found._fields[2:], a[2:], b[2:], strict=True):
        assert x.dtype == y.dtype == np.float64, name
        tol = max(atol, D_CPA_ATOL_M) if name == "d_cpa_m" else atol
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=tol, err_msg=name)


def both(
    s: States,
    party: PartyArray | None = None,
    *,
    lookahead_s: float = 300.0,
    same_party: bool = False,
    minima: Minima | None = None,
) -> Found:
    """Run both engines, check they agree, return the answer."""
    kw = {"lookahead_s": lookahead_s, "same_party": same_party, "minima": minima}
    a = detect(*s, party, engine="numpy", **kw)  # type: ignore[arg-type]
    b = detect(*s, party, engine="numba", **kw)  # type: ignore[arg-type]
    assert_same(a, b)
    auto = detect(*s, party, **kw)  # type: ignore[arg-type]
    assert_same(auto, b)
    return b


def scene(n: int, lon0: float, lat0: float, box_m: float, seed: int) -> States:
    rng = np.random.default_rng(seed)
    lon, lat, _ = GEOD.fwd(
        np.full(n, lon0),
        np.full(n, lat0),
        rng.uniform(0, 360, n),
        box_m * np.sqrt(rng.uniform(size=n)),
    )
    vs = np.where(rng.uniform(size=n) < 0.3, rng.uniform(-12, 12, n), 0.0)
    return States(
        (np.asarray(lon) + 180.0) % 360.0 - 180.0,
        np.asarray(lat),
        rng.uniform(6000, 7500, n),
        rng.uniform(0, 260, n),
        rng.uniform(0, 360, n),
        vs,
    )


def states(*cols: object) -> States:
    arrays = [np.atleast_1d(np.asarray(c, dtype=np.float64)) for c in cols]
    n = max(a.size for a in arrays)
    return States(*(np.broadcast_to(a, (n,)).copy() for a in arrays))


# -- random scenes ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 400),
    lon0=st.floats(-180.0, 180.0),
    lat0=st.floats(-90.0, 90.0),
    box_m=st.sampled_from([5e3, 4e4, 1.5e5, 2e6, 2e7]),
    seed=st.integers(0, 2**32 - 1),
    lookahead_s=st.sampled_from([0.0, 30.0, 300.0, 900.0]),
)
def test_random_scenes_match_numpy_path(
    n: int, lon0: float, lat0: float, box_m: float, seed: int, lookahead_s: float
) -> None:
    # Boxes from 5 km (everyone near everyone) to 20 000 km (the globe, no projection plane).
    s = scene(n, lon0, lat0, box_m, seed)
    both(s, lookahead_s=lookahead_s)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(60, 300),
    seed=st.integers(0, 2**32 - 1),
    same_party=st.booleans(),
    with_minima=st.booleans(),
)
def test_random_parties_and_minima_match_numpy_path(
    n: int, seed: int, same_party: bool, with_minima: bool
) -> None:
    s = scene(n, 35.0, 33.0, 60000.0, seed)
    rng = np.random.default_rng(seed)
    party = np.array(["IL", "RU", "UN", "JO"])[rng.integers(0, 4, n)]
    minima: Minima | None = None
    if with_minima:
        minima = {("RU", "IL"): (12000.0, 600.0, 200.0), ("UN", "UN"): (3000.0, 150.0, 400.0)}
    f = both(s, party, same_party=same_party, minima=minima)
    if not same_party:
        assert np.all(party[f.i] != party[f.j])


def test_dense_scene_match_with_many_pairs() -> None:
    # Several slices and thousands of pairs: the pruned paths of both engines.
    s = scene(3000, 10.0, 50.0, 250000.0, seed=5)
    f = both(s)
    assert f.i.size > 500


@pytest.mark.parametrize("nan_field", range(6))
def test_non_finite_inputs_match(nan_field: int) -> None:
    s = scene(200, 0.0, 0.0, 50000.0, seed=nan_field)
    cols = [c.copy() for c in s]
    cols[nan_field][::7] = np.nan
    cols[(nan_field + 1) % 6][3::11] = np.inf
    f = both(States(*cols))
    bad = np.zeros(200, dtype=bool)
    bad[::7] = bad[3::11] = True
    assert not np.any(bad[f.i] | bad[f.j])


def test_detect_between_matches_numpy_path() -> None:
    s = scene(400, -3.0, 52.0, 120000.0, seed=3)
    a = States(*(c[:90] for c in s))
    b = States(*(c[90:] for c in s))
    party = np.array(["A", "B"])[np.arange(400) % 2]
    for pa, pb in ((None, None), (party[:90], party[90:])):
        x = detect_between(a, b, pa, pb, engine="numpy")
        y = detect_between(a, b, pa, pb, engine="numba")
        assert_same(x, y)
        assert x.i.size > 10
    # One aircraft against everyone, as resolution asks.
    one = States(*(c[5:6] for c in s))
    assert_same(detect_between(one, s, engine="numpy"), detect_between(one, s, engine="numba"))


# -- named cases -------------------------------------------------------------------------------


def east_of(lon: float, lat: float, metres: float) -> float:
    return float(GEOD.fwd(lon, lat, 90.0, metres)[0])


def ring(lon0: float, lat0: float, n: int = 80, radius_m: float = 30000.0) -> States:
    """``n`` aircraft on a circle, all flying to its centre: many pairs, on the pruned path."""
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lon, lat, back = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, np.full(n, radius_m))
    return States(
        (np.asarray(lon) + 180.0) % 360.0 - 180.0,
        np.asarray(lat),
        9000.0 + (10.0 * np.arange(n, dtype=np.float64)) % 700.0,
        np.full(n, 230.0),
        (np.asarray(back) + 180.0) % 360.0,
        np.where(np.arange(n) % 3 == 0, 5.0, 0.0),
    )


@pytest.mark.parametrize(
    ("lon0", "lat0"),
    [(180.0, 0.0), (-179.95, -30.0), (20.0, 80.0), (0.0, 89.9), (45.0, 90.0), (0.0, -90.0)],
)
def test_antimeridian_high_latitude_and_poles(lon0: float, lat0: float) -> None:
    f = both(ring(lon0, lat0))
    assert f.i.size > 100
    # And the two-aircraft cases of test_tactical (brute-force path).
    both(states([179.99, -179.99], 0.0, 9000.0, 240.0, [90.0, 90.0], 0.0))
    both(states([0.0, 0.5], 80.0, 9000.0, 250.0, 0.0, 0.0))
    both(states([0.0, 180.0], 89.97, 9000.0, 200.0, [0.0, 0.0], 0.0))


def test_parties_and_per_pair_minima() -> None:
    lon = [0.0, east_of(0.0, 0.0, 3000.0), east_of(0.0, 0.0, 6000.0)]
    s = states(lon, 0.0, [1000.0, 1000.0, 1100.0], 0.0, 0.0, 0.0)
    party = np.array(["RU", "RU", "IL"])
    assert both(s, party).i.tolist() == [0, 1]
    assert both(s, party, minima={("IL", "RU"): (5000.0, 50.0, 300.0)}).i.size == 0
    f = both(s, party, same_party=True, minima={("RU", "RU"): (2000.0, 304.8, 300.0)})
    assert list(zip(f.i.tolist(), f.j.tolist(), strict=True)) == [(0, 2), (1, 2)]
    # The pruned path, with a per-pair lookahead past the default one.
    r = ring(30.0, 40.0)
    p = np.array(["A", "B", "C"])[np.arange(r.lon.size) % 3]
    minima = {("A", "B"): (12000.0, 500.0, 600.0), ("C", "C"): (2000.0, 100.0, 60.0)}
    both(r, p, minima=minima)
    both(r, p, same_party=True, minima=minima)


def test_exact_vertical_boundary() -> None:
    s = states([0.0, 0.001], 0.0, [9000.0, 9304.8], 200.0, 0.0, 0.0)
    assert both(s).i.size == 0
    assert both(s._replace(alt_m=np.array([9000.0, 9304.7]))).i.size == 1
    assert both(states(5.0, 5.0, [1000.0, 3000.0], 0.0, 0.0, [10.0, 0.0])).i.size == 1


def test_zero_lookahead_and_stationary() -> None:
    s = states([0.0, 0.05, 0.2], 0.0, 1000.0, 200.0, [90.0, 270.0, 270.0], 0.0)
    assert both(s, lookahead_s=0.0).i.tolist() == [0]
    r = ring(10.0, 10.0)
    both(r._replace(gs_mps=np.zeros(r.lon.size)), lookahead_s=0.0)
    both(r._replace(gs_mps=np.zeros(r.lon.size)))


def test_empty_and_single() -> None:
    for n in (0, 1):
        f = both(states(*([0.0] * n,) * 6) if n else States(*(np.empty(0),) * 6))
        assert f.i.size == 0 and f.i.dtype == np.intp and f.t_in.dtype == np.float64
    # Everyone invalid: nothing left after the mask.
    assert both(states([np.nan, np.nan], 0.0, 0.0, 0.0, 0.0, 0.0)).i.size == 0


def test_engine_is_checked() -> None:
    with pytest.raises(InvalidInput) as err:
        detect(*(np.zeros(2),) * 6, engine="fortran")  # type: ignore[arg-type]
    assert err.value.field == "engine"


# -- pairs of one party ------------------------------------------------------------------------


def packed(n_fake: int, seed: int, parties: tuple[str, ...] = ("IL", "RU", "UN")) -> tuple[
        States, np.ndarray]:
    """A flood: ``n_fake`` aircraft of party XX packed 200 m apart around one aircraft of each
    of ``parties``, all at one level (every pair within reach), plus stray aircraft."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_fake)))
    k = np.arange(n_fake)
    lon = np.r_[10.0 + (k % side - side / 2) * 0.002, 10.0 + rng.uniform(-0.05, 0.05, 40)]
    lat = np.r_[10.0 + (k // side - side / 2) * 0.002, 10.0 + rng.uniform(-0.05, 0.05, 40)]
    n = lon.size
    owner = np.r_[np.full(n_fake, "XX"), np.array(parties)[rng.integers(0, len(parties), 40)]]
    moving = rng.uniform(size=n) < 0.5
    s = States(lon, lat, 5000.0 + rng.uniform(-200, 200, n) * moving,
               np.where(moving, rng.uniform(0, 250, n), 0.0), rng.uniform(0, 360, n),
               np.where(moving, rng.uniform(-5, 5, n), 0.0))
    return s, owner


def brute(s: States, party: np.ndarray | None, lookahead_s: float = 300.0) -> Found:
    """The oracle: every pair of different parties through the closed form, no pruning."""
    from deconfliction.core.pruning import _side
    from deconfliction.core.tactical import _solve

    side = _side(s)
    iu, ju = np.triu_indices(side.ids.size, 1)
    if party is not None:
        keep = party[side.ids[iu]] != party[side.ids[ju]]
        iu, ju = iu[keep], ju[keep]
    sol = _solve(side.table[:, iu], side.table[:, ju], R, H, lookahead_s)
    h = sol.hit
    return Found(side.ids[iu[h]], side.ids[ju[h]], sol.t_in[h], sol.t_out[h], sol.t_cpa[h],
                 sol.d_cpa_m[h], sol.v_cpa_m[h])


@settings(max_examples=12, deadline=None)
@given(n_fake=st.integers(50, 700), seed=st.integers(0, 2**32 - 1),
       lookahead_s=st.sampled_from([0.0, 60.0, 300.0]))
@example(n_fake=148, seed=58991, lookahead_s=300.0)  # a 4.56 mm miss, 1.6 µm apart
def test_packed_party_matches_brute_force(n_fake: int, seed: int, lookahead_s: float) -> None:
    # A party packing its own aircraft changes nothing but the work: every pair of different
    # parties is found, with the figures of the closed form over all pairs.
    s, owner = packed(n_fake, seed)
    # Times to a micrometre's worth; miss distances to `D_CPA_ATOL_M` (a near-zero d_cpa_m
    # is rounded differently by pairs solved in other batches: 7.506208 against 7.506270 mm).
    oracle = brute(s, owner, lookahead_s)
    f = both(s, owner, lookahead_s=lookahead_s)
    assert_same(f, oracle, atol=1e-6)
    assert f.i.size >= n_fake  # the strays among the fakes
    assert np.all(owner[f.i] != owner[f.j])
    # Asked for, the same party's pairs are all there too.
    assert_same(both(s, owner, lookahead_s=lookahead_s, same_party=True),
                brute(s, None, lookahead_s), atol=1e-6)


def _scanned(s: States, party: np.ndarray, *, skip: bool) -> tuple[int, int]:
    """Slices and candidate pairs the compiled pass scans for the scene (and ``skip``: pairs
    of one party left out)."""
    from deconfliction.core import kernels
    from deconfliction.core.pruning import _margin, _plane, _reach, _side

    side = _side(s)
    codes = np.unique(party, return_inverse=True)[1].reshape(-1)[side.ids].astype(np.int64)
    p = int(codes.max()) + 1
    minima = np.empty((3, p, p))
    minima[0], minima[1], minima[2] = R, H, 300.0
    plane = _plane([side])
    assert plane is not None
    k = 4
    margin = _margin(R, float(side.gs.max()), 300.0)
    reach, reach_v = _reach(k, R, H, margin, float(side.gs.max()),
                            float(np.abs(side.vs_mps).max()), 300.0)
    _, _, scanned = kernels.grid_pass(
        side.table, side.table, True, np.concatenate([plane, np.zeros((1, 3))]), codes, codes,
        minima, skip, np.linspace(0.0, 300.0, k + 1), True, reach, reach_v,
        (R + margin) * (1 + 1e-9), False, np.full(side.ids.size, -1, dtype=np.int64))
    return k, int(scanned)


def test_pairs_of_one_party_are_never_candidates() -> None:
    # 1,500 aircraft of one party within 8 km of each other around 40 of other parties: with
    # parties, each slice scans at most the pairs that have an aircraft of another party in
    # them; without, all 1.1 million pairs of the cluster.
    s, owner = packed(1500, seed=7)
    k, scanned = _scanned(s, owner, skip=True)
    n_other = int(np.sum(owner != "XX"))
    cross = n_other * (owner.size - n_other) + n_other * (n_other - 1) // 2
    assert scanned <= k * cross
    _, all_pairs = _scanned(s, owner, skip=False)
    assert all_pairs >= 1500 * 1499 // 2
    # And the answer is the oracle's.
    assert_same(detect(*s, owner, engine="numba"), brute(s, owner), atol=1e-6)


def test_detect_between_skips_the_same_party_as_brute_force() -> None:
    # Resolution asks so: a manoeuvred aircraft of the packed party against all traffic.
    s, owner = packed(800, seed=11)
    a = States(*(c[:50] for c in s))
    for engine in ("numpy", "numba"):
        f = detect_between(a, s, owner[:50], owner, engine=engine)  # type: ignore[arg-type]
        pairs = {(i, j) for i, j in zip(f.i.tolist(), f.j.tolist(), strict=True)}
        expected = {(i, j) for i, j in zip(*brute_between(a, s, owner[:50], owner),
                                           strict=True)}
        assert pairs == expected and pairs


def brute_between(a: States, b: States, pa: np.ndarray, pb: np.ndarray
                  ) -> tuple[list[int], list[int]]:
    from deconfliction.core.pruning import _side
    from deconfliction.core.tactical import _solve

    sa, sb = _side(a), _side(b)
    ia = np.repeat(np.arange(sa.ids.size), sb.ids.size)
    jb = np.tile(np.arange(sb.ids.size), sa.ids.size)
    keep = pa[sa.ids[ia]] != pb[sb.ids[jb]]
    ia, jb = ia[keep], jb[keep]
    hit = _solve(sa.table[:, ia], sb.table[:, jb], R, H, 300.0).hit
    return sa.ids[ia[hit]].tolist(), sb.ids[jb[hit]].tolist()


@settings(max_examples=15, deadline=None)
@given(n_fake=st.integers(20, 500), n_a=st.integers(1, 120), seed=st.integers(0, 2**32 - 1),
       with_parties=st.booleans())
def test_conflicted_is_whether_detect_between_has_a_pair(n_fake: int, n_a: int, seed: int,
                                                         with_parties: bool) -> None:
    # Resolution's question, answered stopping at each aircraft's first pair: the same
    # answer as every pair of `detect_between`, less each aircraft's excluded one.
    s, owner = packed(n_fake, seed)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, owner.size, n_a)
    a = States(*(c[pick] for c in s))
    exclude = np.where(rng.uniform(size=n_a) < 0.7, pick, -1)
    pa, pb = (owner[pick], owner) if with_parties else (None, None)
    f = detect_between(a, s, pa, pb, engine="numpy")
    expected = np.zeros(n_a, dtype=bool)
    expected[f.i[f.j != exclude[f.i]]] = True
    for engine in ("numpy", "numba"):
        got = conflicted(a, s, pa, pb, exclude=exclude, engine=engine)  # type: ignore[arg-type]
        assert got.tolist() == expected.tolist()
    with pytest.raises(InvalidInput) as err:
        conflicted(a, s, exclude=exclude[:-1] if n_a > 1 else np.zeros(2, dtype=np.intp))
    assert err.value.field == "exclude"


def _scanned_in_space(s: States, party: np.ndarray) -> int:
    """Candidate pairs the compiled pass scans over ECEF (no projection plane), one slice."""
    from deconfliction.core import kernels
    from deconfliction.core.pruning import _margin, _reach, _side

    side = _side(s)
    codes = np.unique(party, return_inverse=True)[1].reshape(-1)[side.ids].astype(np.int64)
    p = int(codes.max()) + 1
    minima = np.empty((3, p, p))
    minima[0], minima[1], minima[2] = R, H, 300.0
    margin = _margin(R, float(side.gs.max()), 300.0)
    reach, reach_v = _reach(1, R, H, margin, float(side.gs.max()),
                            float(np.abs(side.vs_mps).max()), 300.0)
    _, _, scanned = kernels.grid_pass(
        side.table, side.table, True, np.eye(3), codes, codes, minima, True,
        np.array([0.0, 300.0]), True, reach, reach_v, (R + margin) * (1 + 1e-9), False,
        np.full(side.ids.size, -1, dtype=np.int64))
    return int(scanned)


def test_one_aircraft_far_away_does_not_multiply_a_theatres_work() -> None:
    # 3,000 aircraft over the Levant, then one more at the antipode. A grid with a capped
    # number of cells grew its cells with the extent (the Earth, then): a party could make
    # everyone's tick quadratic with one report. The grid only holds occupied cells.
    rng = np.random.default_rng(11)
    n = 3000
    theatre = States(rng.uniform(33, 40, n), rng.uniform(29, 37, n), rng.uniform(1e3, 12e3, n),
                     np.full(n, 200.0), rng.uniform(0, 360, n), np.zeros(n))
    party = np.where(np.arange(n) % 2 == 0, "IL", "RU")
    far = States(*(np.r_[x, v] for x, v in zip(theatre, (-144.0, -33.0, 9e3, 200.0, 0.0, 0.0),
                                                  strict=True)))
    far_party = np.append(party, "XX")
    alone = _scanned_in_space(theatre, party)
    assert alone > 0
    assert _scanned_in_space(far, far_party) <= 2 * alone
    assert_same(detect(*far, far_party, engine="numba"), brute(far, far_party), atol=1e-6)
