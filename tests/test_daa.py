"""The DAIDALUS .daa reader: columns, units, names, and errors naming file, line and column."""

from __future__ import annotations

import pytest

from deconfliction.core import daa
from deconfliction.core.errors import InvalidInput

HEAD = "NAME, lat, lon, alt, vx, vy, vz, time"
UNITS = "unitless, [deg], [deg], [ft], [knot], [knot], [fpm], [s]"


def test_units_line_converts_to_si() -> None:
    rows = daa.parse([HEAD, UNITS, "own, 33.5, 35.8, 10000, 0, 200, -1000, 12"])
    r = rows[0]
    assert (r.aircraft, r.time_s, r.lat, r.lon) == ("own", 12.0, 33.5, 35.8)
    assert r.alt_m == pytest.approx(3048.0)
    assert r.gs_mps == pytest.approx(200 * 1852 / 3600)
    assert r.track_deg == pytest.approx(0.0)
    assert r.vs_mps == pytest.approx(-1000 * 0.3048 / 60)


def test_defaults_without_units_line_and_track_form() -> None:
    rows = daa.parse(["# comment", "lookahead_time = 180 [s]", "name lat lon alt trk gs vs tm",
                      "a 1 2 1000 270 100 0 00:01:05", '" 1 2.1 1000 270 100 0 00:01:06'])
    assert [r.aircraft for r in rows] == ["a", "a"]
    assert rows[0].time_s == 65.0 and rows[0].alt_m == pytest.approx(304.8)
    assert rows[0].track_deg == 270.0 and rows[0].gs_mps == pytest.approx(51.444, abs=1e-3)


def test_east_velocity_gives_track_90_and_lon_is_wrapped() -> None:
    rows = daa.parse([HEAD, "unitless, [deg], [deg], [m], [m/s], [m/s], [m/s], [s]",
                      "x, 0, 190, 100, 50, 0, 1, 0"])
    assert rows[0].track_deg == pytest.approx(90.0)
    assert rows[0].lon == pytest.approx(-170.0)
    assert rows[0].alt_m == 100.0 and rows[0].vs_mps == 1.0


@pytest.mark.parametrize(("lines", "field"), [
    ([HEAD, UNITS, "own, 33.5, 35.8, ten, 0, 200, 0, 0"], "f.daa, line 3, column 4 (alt)"),
    ([HEAD, UNITS, "own, 33.5, 35.8, 1, 0, 200, 0"], "f.daa, line 3, column 8 (line)"),
    ([HEAD, UNITS, "own, 95, 35.8, 1, 0, 200, 0, 0"], "f.daa, line 3, column 2 (lat)"),
    ([HEAD, UNITS, "own, 1, 2, nan, 0, 200, 0, 0"], "f.daa, line 3, column 4 (alt)"),
    ([HEAD, "unitless, [deg], [deg], [knot], [knot], [knot], [fpm], [s]"],
     "f.daa, line 2, column 4 (alt)"),
    (["NAME, lat, lon, alt, vx, vy, time"], "f.daa, line 1, column 1 (header)"),
    (["NAME, sx, sy, sz, vx, vy, vz, time"], "f.daa, line 1, column 2 (sx)"),
    ([HEAD, UNITS, '", 1, 2, 3, 0, 0, 0, 0'], "f.daa, line 3, column 1 (name)"),
    (["# nothing"], "f.daa, line 1, column 1 (header)"),
])
def test_bad_input_names_file_line_and_column(lines: list[str], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        daa.parse(lines, source="f.daa")
    assert e.value.field == field
