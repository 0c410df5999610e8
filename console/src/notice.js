// The notice form: draw an operation's outline (polygon or circle) on the map, give its band
// and window, see which strategic conflicts it would likely meet, submit, and show what the
// service found. The service's answer is the truth; the check before is a hint drawn from the
// operations and zones this party can already see.

import Draw from 'ol/interaction/Draw.js';
import { toLonLat } from 'ol/proj.js';
import { getDistance } from 'ol/sphere.js';
import * as U from './units.js';

const $ = (id) => document.getElementById(id);

function round6(x) { return Math.round(x * 1e6) / 1e6; }

/** "2026-12-05T14:00Z" or any RFC 3339 time; the page's times are UTC. */
export function parseUtc(text) {
  const t = text.trim();
  if (!/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(t)) return null;
  const d = new Date(t.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d;
}

function isoMinute(d) { return `${d.toISOString().slice(0, 16)}Z`; }

// Plain-plane geometry on lon/lat rings, enough for a hint.
function inside(ring, x, y) {
  let hit = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]; const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}
function cross(a, b, c, d) {
  const o = (p, q, r) => Math.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]));
  return o(a, b, c) * o(a, b, d) < 0 && o(c, d, a) * o(c, d, b) < 0;
}
function ringsMeet(r1, r2) {
  if (r1.some(([x, y]) => inside(r2, x, y)) || r2.some(([x, y]) => inside(r1, x, y))) return true;
  for (let i = 1; i < r1.length; i++) for (let j = 1; j < r2.length; j++) {
    if (cross(r1[i - 1], r1[i], r2[j - 1], r2[j])) return true;
  }
  return false;
}
function ringOf(outline) {
  if (outline.type === 'Polygon') return outline.coordinates[0];
  const [lon, lat] = outline.center;
  const out = [];
  for (let k = 0; k <= 48; k++) {
    const a = (2 * Math.PI * k) / 48;
    out.push([lon + (outline.radius_m * Math.sin(a)) / (111320 * Math.cos((lat * Math.PI) / 180)),
      lat + (outline.radius_m * Math.cos(a)) / 110540]);
  }
  return out;
}
function ringsOfGeometry(g) {
  if (!g) return [];
  if (g.type === 'Polygon') return [g.coordinates[0]];
  if (g.type === 'MultiPolygon') return g.coordinates.map((p) => p[0]);
  if (g.type === 'GeometryCollection') return g.geometries.flatMap(ringsOfGeometry);
  return [];
}

export class NoticeForm {
  constructor({ map, source, state, api, onCreated, now = Date.now }) {
    Object.assign(this, { map, source, state, api, onCreated, now });
    this.outline = null;
    this.draw = null;
    this.touched = false;
    this.defaults();
    for (const id of ['start', 'end']) $(id).addEventListener('input', () => { this.touched = true; });
    $('lower').value = '100';
    $('upper').value = '250';
    $('draw').addEventListener('click', () => this.startDrawing());
    $('clear-draft').addEventListener('click', () => this.clear());
    for (const id of ['lower', 'upper', 'start', 'end']) $(id).addEventListener('input', () => this.checkBefore());
    $('notice-form').addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
  }

  /** A window from 30 min to 2 h 30 min ahead on the service's clock, until the officer types. */
  defaults() {
    if (this.touched) return;
    const start = new Date(this.now() + 30 * 60e3);
    $('start').value = isoMinute(start);
    $('end').value = isoMinute(new Date(start.getTime() + 2 * 3600e3));
  }

  units() {
    // Keep what the officer typed meaning the same altitude when the units change.
    const toM = (v, metricBefore) => (metricBefore ? Number(v) : Number(v) * 30.48);
    const before = !U.isMetric();
    for (const id of ['lower', 'upper']) {
      const m = toM($(id).value, before);
      if (Number.isFinite(m)) $(id).value = U.isMetric() ? String(Math.round(m)) : String(Math.round(m / 30.48));
    }
    this.describe();
    this.checkBefore();
  }

  startDrawing() {
    if (this.draw) this.map.removeInteraction(this.draw);
    this.source.clear();
    const type = document.querySelector('input[name=shape]:checked').value;
    // stopClick: the clicks that draw must not also zoom the map (double-click zoom).
    this.draw = new Draw({ source: this.source, type, stopClick: true });
    this.draw.on('drawend', (e) => {
      this.map.removeInteraction(this.draw);
      this.draw = null;
      this.outline = this.outlineOf(e.feature.getGeometry());
      this.describe();
      this.checkBefore();
    });
    this.map.addInteraction(this.draw);
    $('draft-info').textContent = type === 'Circle'
      ? 'Click the centre, then click the rim.'
      : 'Click each corner; double-click the last one.';
  }

  clear() {
    if (this.draw) this.map.removeInteraction(this.draw);
    this.draw = null;
    this.source.clear();
    this.outline = null;
    this.describe();
    this.checkBefore();
  }

  /** A drawn geometry (map projection) as the contract's outline (lon/lat, metres). */
  outlineOf(geometry) {
    if (geometry.getType() === 'Circle') {
      const c = geometry.getCenter();
      const centre = toLonLat(c);
      const rim = toLonLat([c[0] + geometry.getRadius(), c[1]]);
      return { type: 'Circle', center: [round6(centre[0]), round6(centre[1])], radius_m: Math.round(getDistance(centre, rim)) };
    }
    const ring = geometry.getCoordinates()[0].map((p) => toLonLat(p).map(round6));
    return { type: 'Polygon', coordinates: [ring] };
  }

  /** Set an outline without drawing (tests and keyboard users can type one in). */
  setOutline(outline) { this.outline = outline; this.describe(); this.checkBefore(); }

  describe() {
    const o = this.outline;
    $('draft-info').textContent = !o ? 'Nothing drawn yet.'
      : o.type === 'Circle'
        ? `Circle at ${o.center[1].toFixed(3)}°N ${o.center[0].toFixed(3)}°E, radius ${U.distance(o.radius_m)}`
        : `Polygon of ${o.coordinates[0].length - 1} corners`;
  }

  volume() {
    const lower = U.altitudeInput($('lower').value);
    const upper = U.altitudeInput($('upper').value);
    const start = parseUtc($('start').value);
    const end = parseUtc($('end').value);
    return { lower, upper, start, end };
  }

  checkBefore() {
    const box = $('notice-before');
    if (!this.state.me) return;
    const v = this.volume();
    if (!this.outline || !v.start || !v.end || !Number.isFinite(v.lower) || !Number.isFinite(v.upper)) {
      box.textContent = '';
      return;
    }
    const mine = ringOf(this.outline);
    const me = this.state.me.party;
    const hits = [];
    const overlapsVolume = (vol) => vol.lower_m < v.upper && v.lower < vol.upper_m
      && new Date(vol.start) < v.end && v.start < new Date(vol.end);
    for (const op of this.state.operations) {
      if (op.party === me || op.state === 'ended') continue;
      if (op.volumes.some((vol) => overlapsVolume(vol) && ringsMeet(mine, ringOf(vol.outline)))) {
        hits.push(`operation ${op.id.slice(0, 8)} of ${op.party}`);
      }
    }
    for (const z of this.state.zones.features || []) {
      const p = z.properties;
      const applies = p.applies_to ? p.applies_to.includes(me) : p.owner !== me;
      if (!applies) continue;
      if (p.volumes.some((vol, k) => overlapsVolume(vol)
        && ringsOfGeometry(z.geometry).some((r, j) => (j === k || p.volumes.length === 1) && ringsMeet(mine, r)))) {
        hits.push(`zone "${p.name}" (${p.kind.replace('_', ' ')}) of ${p.owner}`);
      }
    }
    box.replaceChildren();
    const h = document.createElement('p');
    h.textContent = hits.length
      ? `Before submitting: likely strategic conflicts (${hits.length}) — the service checks on submit:`
      : 'Before submitting: no strategic conflict with what you can see.';
    box.append(h);
    if (hits.length) {
      const ul = document.createElement('ul');
      for (const t of hits) { const li = document.createElement('li'); li.textContent = t; ul.append(li); }
      box.append(ul);
    }
  }

  async submit() {
    $('notice-error').textContent = '';
    $('notice-result').textContent = '';
    const v = this.volume();
    if (!this.outline) { $('notice-error').textContent = 'Draw the outline on the map first.'; return; }
    if (!v.start) { $('notice-error').textContent = 'Start: a UTC time such as 2026-12-05T14:00Z.'; return; }
    if (!v.end) { $('notice-error').textContent = 'End: a UTC time such as 2026-12-05T16:00Z.'; return; }
    const details = {};
    const callsigns = $('callsigns').value.trim();
    if (callsigns) details.callsigns = callsigns.split(/[\s,]+/);
    if ($('mission').value.trim()) details.mission = $('mission').value.trim();
    const body = {
      volumes: [{ outline: this.outline, lower_m: v.lower, upper_m: v.upper,
        start: v.start.toISOString(), end: v.end.toISOString() }],
      details,
    };
    try {
      const op = await this.api('/v1/operations', { method: 'POST', body });
      this.showResult(op);
      this.clear();
      await this.onCreated();
    } catch (err) {
      $('notice-error').textContent = `Refused, nothing stored. ${err.message}`;
    }
  }

  showResult(op) {
    const box = $('notice-result');
    box.replaceChildren();
    const p = document.createElement('p');
    p.className = 'created';
    p.textContent = `Operation ${op.id.slice(0, 8)} notified (version ${op.version}, ${op.state})`
      + `${op.flags.length ? `, flags: ${op.flags.join(', ').replace('_', ' ')}` : ''}.`
      + ` After submission: ${op.conflicts.length} strategic conflict(s).`;
    p.dataset.operation = op.id;
    box.append(p);
    const ul = document.createElement('ul');
    for (const c of op.conflicts) {
      const li = document.createElement('li');
      li.textContent = `${c.kind} ${String(c.id).slice(0, 8)} of ${c.party}: ${U.band(c.lower_m, c.upper_m)}, `
        + `${U.utc(c.start, { date: true, seconds: false })} – ${U.utc(c.end, { seconds: false })}`;
      ul.append(li);
    }
    box.append(ul);
  }
}
