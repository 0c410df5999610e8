// The live picture: every aircraft the party may see, as /v1/picture answers it, held in typed
// arrays that the aircraft layers (aircraft.js) draw from. 10,000 aircraft at 1 Hz as
// OpenLayers features (a feature, a style function call and a replay instruction each per
// update) cost more than the 100 ms an update may take on a machine without a GPU; arrays
// drawn by our own canvas layers cost a few milliseconds (bench/console.py).

import Feature from 'ol/Feature.js';
import Point from 'ol/geom/Point.js';
import { partySlot } from './layers.js';

const R_MERC = 6378137;
const DEG = Math.PI / 180;

/** One aircraft in the picture: its latest track, where it sits in the arrays and its trail. */
class Held {
  constructor(key, trailLength) {
    this.key = key;
    this.track = null;
    this.i = -1; // index in the picture's arrays
    this.stamp = 0; // the picture this aircraft was last seen in
    this.trail = new Float64Array(2 * trailLength); // ring of map coordinates, oldest first at `start`
    this.trailHead = 0;
    this.trailCount = 0;
    this.feature = null; // only when the WebGL points layer draws the symbols
    this.slot = 0; // party colour and ownership: fixed for an aircraft, so found once
    this.own = 0;
  }
}

export class Picture {
  /** ``features``: the WebGL points layer's source, when that layer draws the symbols (it
   * needs one feature per aircraft); null for the canvas layers, which read the arrays. */
  constructor({ trailLength = 10, features = null } = {}) {
    this.me = null;
    this.trailLength = trailLength;
    this.features = features;
    this.tracks = new Map(); // "party/aircraft" -> Held
    this.byName = new Map(); // aircraft as the caller names it -> Held
    this.highlight = new Set(); // aircraft names in the caller's conflicts, and the selection
    this.n = 0;
    this.x = new Float64Array(0);
    this.y = new Float64Array(0);
    this.rot = new Float32Array(0); // track over the ground, radians clockwise from north
    this.slot = new Uint8Array(0); // party colour
    this.own = new Uint8Array(0);
    this.held = [];
    this.stamp = 0;
    this.revision = 0; // bumped on every change the layers must redraw
    this.layers = []; // told of every change
  }

  key(t) { return `${t.party}/${t.aircraft}`; }

  grow(n) {
    if (this.x.length >= n) return;
    const size = Math.max(n, 2 * this.x.length, 64);
    const copy = (Type, old) => { const a = new Type(size); a.set(old); return a; };
    this.x = copy(Float64Array, this.x);
    this.y = copy(Float64Array, this.y);
    this.rot = copy(Float32Array, this.rot);
    this.slot = copy(Uint8Array, this.slot);
    this.own = copy(Uint8Array, this.own);
  }

  /** Replace the picture with ``tracks`` (one entry per aircraft as /v1/picture sends it). */
  apply(tracks) {
    const stamp = ++this.stamp;
    this.grow(tracks.length);
    const { x, y, rot, slot, own, held: list } = this;
    const added = [];
    let i = 0;
    for (const t of tracks) {
      const key = `${t.party}/${t.aircraft}`;
      let h = this.tracks.get(key);
      if (!h) {
        h = new Held(key, this.trailLength);
        h.slot = partySlot(t.party, this.me);
        h.own = t.party === this.me ? 1 : 0;
        this.tracks.set(key, h);
        this.byName.set(t.aircraft, h);
      } else if (h.stamp === stamp) continue; // twice in one picture: the first wins
      h.stamp = stamp;
      h.track = t;
      h.i = i;
      const mx = (t.lon * Math.PI * R_MERC) / 180;
      const my = Math.log(Math.tan(((90 + t.lat) * Math.PI) / 360)) * R_MERC;
      x[i] = mx;
      y[i] = my;
      rot[i] = t.track_deg * DEG;
      slot[i] = h.slot;
      own[i] = h.own;
      list[i] = h;
      this.trailPush(h, mx, my);
      if (this.features) this.mirror(h, added);
      i += 1;
    }
    this.n = i;
    list.length = i;
    if (this.tracks.size !== i) {
      for (const [key, h] of this.tracks) if (h.stamp !== stamp) this.forget(key, h);
    }
    if (this.features) {
      if (added.length) this.features.addFeatures(added);
      this.features.changed();
    }
    this.changed();
  }

  trailPush(h, mx, my) {
    const L = this.trailLength;
    if (h.trailCount) {
      const last = (h.trailHead + L - 1) % L;
      if (h.trail[2 * last] === mx && h.trail[2 * last + 1] === my) return; // no new report
    }
    h.trail[2 * h.trailHead] = mx;
    h.trail[2 * h.trailHead + 1] = my;
    h.trailHead = (h.trailHead + 1) % L;
    if (h.trailCount < L) h.trailCount += 1;
  }

  /** The WebGL points layer's feature of ``h``, moved in place: it rebuilds its buffers from
   * every feature when the source changes, so one `changed()` per picture is enough. */
  mirror(h, added) {
    const props = { layer: 'track', hl: this.highlight.has(h.track.aircraft) ? 1 : 0,
      slot: this.slot[h.i], rot: this.rot[h.i] };
    if (!h.feature) {
      h.feature = new Feature({ geometry: new Point([this.x[h.i], this.y[h.i]]) });
      h.feature.setId(h.key);
      h.feature.setProperties(props, true);
      added.push(h.feature);
      return;
    }
    h.feature.setProperties(props, true);
    const flat = h.feature.getGeometry().getFlatCoordinates();
    flat[0] = this.x[h.i];
    flat[1] = this.y[h.i];
  }

  forget(key, h) {
    this.tracks.delete(key);
    if (this.byName.get(h.track.aircraft) === h) this.byName.delete(h.track.aircraft);
    if (h.feature) this.features.removeFeature(h.feature);
  }

  /** The aircraft the service says it dropped (silent too long). */
  drop(aircraft) {
    for (const [key, h] of this.tracks) if (h.track.aircraft === aircraft) this.forget(key, h);
    // Pack the arrays again without it.
    const { x, y, rot, slot, own, held: list } = this;
    let j = 0;
    for (let i = 0; i < this.n; i += 1) {
      const h = list[i];
      if (this.tracks.get(h.key) !== h) continue;
      x[j] = x[i]; y[j] = y[i]; rot[j] = rot[i]; slot[j] = slot[i]; own[j] = own[i];
      list[j] = h;
      h.i = j;
      j += 1;
    }
    this.n = j;
    list.length = j;
    if (this.features) this.features.changed();
    this.changed();
  }

  /** Mark these aircraft names (conflicts, the selection): drawn larger, outlined, labelled. */
  setHighlight(names) {
    const before = this.highlight;
    this.highlight = names;
    if (this.features) {
      for (const name of new Set([...before, ...names])) {
        const h = this.byName.get(name);
        if (h && h.feature && before.has(name) !== names.has(name)) {
          h.feature.set('hl', names.has(name) ? 1 : 0, true);
        }
      }
      this.features.changed();
    }
    this.changed();
  }

  /** Redraw (new data, new units, new highlight). */
  changed() {
    this.revision += 1;
    for (const layer of this.layers) layer.changed();
  }

  /** Where an aircraft (as the caller names it) is now, in map coordinates, if shown. */
  position(aircraft) {
    const h = this.byName.get(aircraft);
    if (!h || this.tracks.get(h.key) !== h) return null;
    return [this.x[h.i], this.y[h.i]];
  }

  /** The aircraft nearest ``coordinate`` within ``tolerance`` (map units), or null. */
  hit(coordinate, tolerance) {
    const [cx, cy] = coordinate;
    let best = null;
    let bestD = tolerance * tolerance;
    for (let i = 0; i < this.n; i += 1) {
      const dx = this.x[i] - cx;
      const dy = this.y[i] - cy;
      const d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = this.held[i]; }
    }
    return best;
  }
}
