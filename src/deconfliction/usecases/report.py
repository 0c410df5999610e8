"""The after-action report of a replay: one self-contained HTML file a commander can read.

What it holds, all from the replay's database and recording (nothing fetched, images inline
as PNG ``data:`` URIs drawn with matplotlib):

* the ledger head the report was made from (seq, hash, server key), to check the report
  against an export of that ledger (`deconfliction ledger verify --head SEQ:HASH`);
* a timeline of the ledger: notices of operations, alerts by severity, acknowledgements and
  escalations;
* a table of encounters (pairs that had an alert level), worst first;
* for the worst encounters, a plan view (both tracks, the closest approach and the protected
  circle around the first aircraft there) and separation against time (horizontal and
  vertical, with the profile's thresholds, and the alert levels shaded).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from deconfliction.core import do365, ledger
from deconfliction.core.units import FT_M, NM_M
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.recordings import Recording
from deconfliction.usecases.replay import Encounter, Outcome
from deconfliction.usecases.service import Service

__all__ = ["render"]

_MAX_PLOTTED = 12
"""Encounters drawn in full; the table lists them all."""
_MARGIN_S = 60.0
"""Seconds of track drawn before the first alert and after the last."""
# Severity colours (14 CFR 25.1322): red for warning, amber for caution, never red or green for
# advisory.
_LEVEL_COLOURS = {1: "#4a90d9", 2: "#f0a30a", 3: "#d62728"}
_LEVEL_NAMES = {1: "advisory / preventive", 2: "caution / corrective", 3: "warning"}
_R_EARTH_M = 6_371_008.8


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _utc(t: float) -> str:
    return f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M:%S}Z"


def _entries(service: Service) -> list[dict[str, Any]]:
    out = []
    for line in service.ledger_lines():
        obj = json.loads(line)
        out.append(obj)
    return out


def _entry_time(e: dict[str, Any]) -> float:
    raw = str(e.get("time") or e.get("t") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return math.nan


def _timeline(entries: Sequence[dict[str, Any]]) -> str | None:
    import matplotlib.pyplot as plt

    # An alert is an entry of its own or one listed in a notice's (`ledger.alerts_raised`):
    # one point each on its row; the other rows take entries by kind.
    rows = [("notices", ("operation.",)), ("alerts", None),
            ("acknowledgements", ("alert.acked",)),
            ("escalations", ("alert.escalated", "alert.overdue"))]
    alerts_row = [name for name, _ in rows].index("alerts")
    points: list[tuple[float, int, str]] = []
    for e in entries:
        kind = str(e.get("kind", ""))
        marks = [(alerts_row, a) for a in ledger.alerts_raised(kind, e.get("body"))]
        marks += [(y, e.get("body") or {}) for y, (_, prefixes) in enumerate(rows)
                  if prefixes is not None and kind.startswith(prefixes)]
        for y, body in marks:
            sev = str(body.get("severity", ""))
            colour = {"loss": "#8b0000", "warning": "#d62728", "caution": "#f0a30a",
                      "advisory": "#4a90d9"}.get(sev, "#444444")
            points.append((_entry_time(e), y, colour))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(10, 2.6))
    t = np.array([p[0] for p in points])
    t0 = np.nanmin(t)
    ax.scatter((t - t0) / 60.0, [p[1] for p in points], c=[p[2] for p in points], s=14,
               marker="|", linewidths=1.5)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(f"minutes after {_utc(t0)}")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Ledger timeline (alerts coloured by severity)")
    return _png(fig)


def _track(rec: Recording, key: str) -> tuple[np.ndarray, ...]:
    party, _, aircraft = key.partition("/")
    sel = np.array([p == party and a == aircraft
                    for p, a in zip(rec.party, rec.aircraft, strict=True)])
    return (rec.time_s[sel], rec.lon[sel], rec.lat[sel], rec.alt_m[sel])


def _separation(rec: Recording, enc: Encounter) -> dict[str, np.ndarray] | None:
    """Both aircraft on a common 1 s grid around the encounter, on a local plane (m)."""
    ta, xa, ya, za = _track(rec, enc.a)
    tb, xb, yb, zb = _track(rec, enc.b)
    if ta.size < 2 or tb.size < 2:
        return None
    lo = max(enc.times[0] - _MARGIN_S, ta[0], tb[0])
    hi = min(enc.times[-1] + _MARGIN_S, ta[-1], tb[-1])
    if hi <= lo:
        return None
    grid = np.arange(lo, hi + 1e-9, 1.0)
    lat0 = float(np.mean([ya.mean(), yb.mean()]))
    lon0 = float(xa.mean())

    def local(t: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, ...]:
        unwrapped = (lon - lon0 + 180.0) % 360.0 - 180.0
        e = np.radians(np.interp(grid, t, unwrapped)) * _R_EARTH_M * math.cos(
            math.radians(lat0))
        n = np.radians(np.interp(grid, t, lat) - lat0) * _R_EARTH_M
        return e, n

    ea, na = local(ta, xa, ya)
    eb, nb = local(tb, xb, yb)
    return {"t": grid, "ea": ea, "na": na, "eb": eb, "nb": nb,
            "za": np.interp(grid, ta, za), "zb": np.interp(grid, tb, zb)}


def _thresholds(profile: str, service: Service) -> tuple[float, float, float | None]:
    """Horizontal and vertical thresholds (m) drawn, and the preventive height if any."""
    if profile == "do365":
        lv = do365.DO_365B_NO_SUM.levels
        return lv[2].detector.dthr_m, lv[2].detector.zthr_m, lv[0].detector.zthr_m
    st = service.settings
    return st.r_m, st.h_m, None


def _encounter_figures(rec: Recording, enc: Encounter, profile: str, service: Service,
                       epoch_s: float) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    sep = _separation(rec, enc)
    if sep is None:
        return None
    r_m, h_m, preventive = _thresholds(profile, service)
    dh = np.hypot(sep["ea"] - sep["eb"], sep["na"] - sep["nb"])
    dz = np.abs(sep["za"] - sep["zb"])
    k = int(np.argmin(dh))
    # Plan view, NM about the closest approach.
    cx, cy = (sep["ea"][k] + sep["eb"][k]) / 2.0, (sep["na"][k] + sep["nb"][k]) / 2.0
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    for e, n, label, colour in ((sep["ea"], sep["na"], enc.a, "#1f3b73"),
                                (sep["eb"], sep["nb"], enc.b, "#7a4b00")):
        ax.plot((e - cx) / NM_M, (n - cy) / NM_M, color=colour, lw=1.6, label=label)
        ax.plot((e[0] - cx) / NM_M, (n[0] - cy) / NM_M, "o", color=colour, ms=4)
        ax.plot((e[k] - cx) / NM_M, (n[k] - cy) / NM_M, "x", color="black", ms=7)
    circle = Circle(((sep["ea"][k] - cx) / NM_M, (sep["na"][k] - cy) / NM_M),
                        r_m / NM_M, fill=False, ls="--", color="#d62728",
                        label=f"protected circle {r_m / NM_M:.2f} NM")
    ax.add_patch(circle)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("east (NM)")
    ax.set_ylabel("north (NM)")
    ax.set_title(f"closest {dh[k] / NM_M:.2f} NM, {dz[k] / FT_M:.0f} ft at "
                 f"{_utc(sep['t'][k] + epoch_s)[11:]}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    plan = _png(fig)
    # Separation against time.
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7.5, 4.6), sharex=True)
    minutes = (sep["t"] - sep["t"][0]) / 60.0
    a1.plot(minutes, dh / NM_M, color="black", lw=1.4)
    a1.axhline(r_m / NM_M, color="#d62728", ls="--", lw=1,
               label=f"{'DTHR' if profile == 'do365' else 'R'} {r_m / NM_M:.2f} NM")
    a1.set_ylabel("horizontal (NM)")
    a1.set_ylim(0, max(float(np.percentile(dh, 90)) / NM_M, 2.0 * r_m / NM_M))
    a2.plot(minutes, dz / FT_M, color="black", lw=1.4)
    a2.axhline(h_m / FT_M, color="#d62728", ls="--", lw=1,
               label=f"{'ZTHR' if profile == 'do365' else 'H'} {h_m / FT_M:.0f} ft")
    if preventive is not None:
        a2.axhline(preventive / FT_M, color="#4a90d9", ls=":", lw=1,
                   label=f"preventive {preventive / FT_M:.0f} ft")
    a2.set_ylabel("vertical (ft)")
    a2.set_ylim(0, max(float(np.percentile(dz, 90)) / FT_M, 2.0 * h_m / FT_M))
    a2.set_xlabel(f"minutes after {_utc(sep['t'][0] + epoch_s)}")
    for ax in (a1, a2):
        for t, level in zip(enc.times, enc.levels, strict=True):
            m = (t - sep["t"][0]) / 60.0
            ax.axvspan(m - 0.5 / 60.0, m + 0.5 / 60.0, color=_LEVEL_COLOURS[level], alpha=0.25,
                       lw=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    a1.set_title("separation (shaded: alert level, blue 1, amber 2, red 3)", fontsize=9)
    return plan, _png(fig)


def render(rec: Recording, outcome: Outcome, service: Service) -> str:
    """The report as one HTML document (UTF-8 text, no external resources)."""
    import matplotlib

    matplotlib.use("Agg")
    head = Hotline(service).ledger_head()
    entries = _entries(service)
    counts = {k: sum(1 for e in entries if str(e.get("kind", "")).startswith(k))
              for k in ("operation.", "alert.acked", "alert.escalated", "alert.overdue")}
    counts["alert.raised"] = sum(len(ledger.alerts_raised(str(e.get("kind", "")), e.get("body")))
                                 for e in entries)
    ranked = sorted(outcome.encounters.values(),
                    key=lambda e: (-e.worst, e.d_cpa_m, e.first_s))
    esc = html.escape
    epoch = rec.epoch_s
    span = (f"{_utc(float(rec.time_s[0]) + epoch)} – {_utc(float(rec.time_s[-1]) + epoch)}"
            if len(rec) else "")
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>After-action report: {esc(rec.source)}</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;"
        "color:#111}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;"
        "padding:3px 7px;text-align:right}th{background:#eee}td.l,th.l{text-align:left}"
        "code{font-size:12px;word-break:break-all}.lv3{background:#f8d0d0}.lv2{background:"
        "#fde7c0}.lv1{background:#d6e6f7}section{margin:18px 0;page-break-inside:avoid}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>After-action report</h1><p><b>{esc(rec.source)}</b> ({esc(rec.kind)}), "
        f"{esc(span)}. Replayed under the <b>{esc(outcome.profile)}</b> alerting profile: "
        f"{outcome.reports} reports of {outcome.aircraft} aircraft, {outcome.ticks} ticks, "
        f"{len(outcome.encounters)} encounters; {counts['alert.raised']} alerts, "
        f"{counts['alert.acked']} acknowledgements, "
        f"{counts['alert.escalated'] + counts['alert.overdue']} escalations; "
        f"{counts['operation.']} notices of operations.</p>",
        "<h2>Ledger head</h2><p>This report was made from the ledger up to and including:</p>"
        f"<table><tr><th class=l>seq</th><td class=l>{head['seq']}</td></tr>"
        f"<tr><th class=l>hash</th><td class=l><code>{esc(head['hash'])}</code></td></tr>"
        f"<tr><th class=l>server key</th><td class=l><pre>{esc(head['public_key'])}</pre>"
        "</td></tr></table><p>Check it against an export: <code>deconfliction ledger verify "
        f"EXPORT.jsonl --server-key KEY.pem --head {head['seq']}:{esc(head['hash'])}</code>"
        "</p>",
    ]
    timeline = _timeline(entries)
    if timeline:
        parts.append(f"<h2>Timeline</h2><img alt='ledger timeline' src='{timeline}'>")
    parts.append("<h2>Encounters</h2>")
    if not ranked:
        parts.append("<p>No pair of aircraft had an alert level.</p>")
    else:
        parts.append("<table><tr><th>#</th><th class=l>aircraft</th><th class=l>aircraft</th>"
                     "<th>first alert (UTC)</th><th>ticks alerting</th><th>worst level</th>"
                     "<th>predicted miss (NM)</th><th>predicted miss (ft)</th></tr>")
        for n, e in enumerate(ranked, start=1):
            miss = "–" if math.isinf(e.d_cpa_m) else f"{e.d_cpa_m / NM_M:.2f}"
            vmiss = "–" if math.isinf(e.v_cpa_m) else f"{e.v_cpa_m / FT_M:.0f}"
            parts.append(
                f"<tr class=lv{e.worst}><td>{n}</td><td class=l>{esc(e.a)}</td>"
                f"<td class=l>{esc(e.b)}</td><td>{_utc(e.first_s + epoch)[11:]}</td>"
                f"<td>{len(e.times)}</td><td>{e.worst} ({_LEVEL_NAMES[e.worst]})</td>"
                f"<td>{miss}</td><td>{vmiss}</td></tr>")
        parts.append("</table>")
    for n, e in enumerate(ranked[:_MAX_PLOTTED], start=1):
        figs = _encounter_figures(rec, e, outcome.profile, service, epoch)
        if figs is None:
            continue
        plan, sep = figs
        parts.append(
            f"<section><h3>Encounter {n}: {esc(e.a)} / {esc(e.b)} — worst level {e.worst}"
            f"</h3><img alt='plan view' src='{plan}' style='width:44%'>"
            f"<img alt='separation against time' src='{sep}' style='width:55%'></section>")
    if len(ranked) > _MAX_PLOTTED:
        parts.append(f"<p>{len(ranked) - _MAX_PLOTTED} more encounters are in the table.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
