"""Cut the Levant out of Natural Earth's 1:10m admin-0 countries, as world-atlas 2.0.2 carries it.

    python scripts/levant.py console/node_modules/world-atlas/countries-10m.json \
        > src/deconfliction/sim/data/levant-10m.geojson

The output is committed (it is data, not a build product): the console draws land and borders
from it and the built-in scenario takes its sovereign zones from it, so neither needs the
network or node at run time. Natural Earth is public domain; the attribution travels in the file.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.ops import unary_union
from shapely.validation import make_valid

# The scenario's four countries and their neighbours, by ISO 3166-1 numeric (world-atlas ids).
COUNTRIES = {"376": "ISR", "275": "PSE", "422": "LBN", "760": "SYR", "400": "JOR",
             "792": "TUR", "368": "IRQ", "682": "SAU", "818": "EGY", "196": "CYP"}
NAMES_NO_ID = {"N. Cyprus": "CYN"}
BBOX = (31.0, 29.0, 43.0, 38.0)
ATTRIBUTION = ("Made with Natural Earth (public domain), 1:10m admin-0 countries, "
               "via the npm package world-atlas 2.0.2")


def _arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    out = []
    for arc in topology["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:  # quantized and delta-encoded (TopoJSON §2.1.4)
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        out.append(pts)
    return out


def _ring(arcs: list[list[tuple[float, float]]], refs: list[int]) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for r in refs:
        arc = arcs[r] if r >= 0 else arcs[~r][::-1]  # ~r: the arc reversed (TopoJSON §2.1.5)
        pts.extend(arc if not pts else arc[1:])
    return pts


def main(path: str) -> None:
    topology = json.load(open(path))
    arcs = _arcs(topology)
    clip = box(*BBOX)
    features = []
    for g in topology["objects"]["countries"]["geometries"]:
        code = COUNTRIES.get(g.get("id", "")) or NAMES_NO_ID.get(g["properties"]["name"])
        if code is None:
            continue
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        shape = unary_union([make_valid(Polygon(_ring(arcs, p[0]), [_ring(arcs, h) for h in p[1:]]))
                             .intersection(clip) for p in polys])
        if shape.is_empty:
            continue
        shape = shape.simplify(0.002, preserve_topology=True)
        parts = getattr(shape, "geoms", [shape])
        shape = MultiPolygon([p for p in parts if isinstance(p, Polygon) and p.area > 0])
        features.append({"type": "Feature", "id": code,
                         "properties": {"name": g["properties"]["name"], "iso": code},
                         "geometry": _rounded(mapping(shape))})
    features.sort(key=lambda f: f["id"])
    json.dump({"type": "FeatureCollection", "attribution": ATTRIBUTION, "bbox": list(BBOX),
               "features": features}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


def _rounded(geom: Any) -> Any:
    if isinstance(geom, dict):
        return {k: _rounded(v) for k, v in geom.items()}
    if isinstance(geom, (list, tuple)):
        if geom and isinstance(geom[0], float):
            return [round(c, 4) for c in geom]
        return [_rounded(v) for v in geom]
    return geom


if __name__ == "__main__":
    main(sys.argv[1])
