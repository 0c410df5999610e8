// The aircraft layers: trails, heading symbols and labels, each an OpenLayers layer with a
// render function of its own that draws the picture's arrays (picture.js) on one canvas.
//
// Why not features with style functions: at 10,000 aircraft the work per update was building
// 10,000 styles and replay instructions, then replaying them, twice per frame; here a symbol is
// one drawImage of a pre-rendered sprite (per party colour and 5° of heading), trails are one
// path per party colour, and labels are drawn only where they can be read: a screen grid keeps
// them apart, the caller's conflicts and selection first, then its own aircraft, then others,
// up to a cap. Trails follow the same rule by density: every aircraft's when few are on
// screen, else the caller's own (when they are few) and highlighted ones.

import Layer from 'ol/layer/Layer.js';
import { PARTY_COLOURS } from './layers.js';
import * as U from './units.js';

const BUCKETS = 72; // sprite headings: 5° apart, as the old style's rotation cache
const HALO = '#0b1622';
const HL_STROKE = '#ff4d4d';
const LABEL_FONT = '11px ui-monospace, monospace';
const CHAR_W = 6.7; // px of one character in LABEL_FONT (monospace: no measureText per label)
const LABEL_H = 28;
const GRID = 8; // px of one cell of the labels' occupancy grid

/** Where each aircraft is on screen in one frame, shared by the three layers of that frame. */
class Screen {
  constructor() {
    this.key = '';
    this.sx = new Float32Array(0);
    this.sy = new Float32Array(0);
    this.visible = new Int32Array(0); // indices of aircraft on screen (with a margin)
    this.count = 0;
  }

  update(picture, frameState) {
    const vs = frameState.viewState;
    const [w, h] = frameState.size;
    const key = `${picture.revision}|${vs.center[0]}|${vs.center[1]}|${vs.resolution}|${vs.rotation}|${w}|${h}`;
    if (key === this.key) return this;
    this.key = key;
    if (this.sx.length < picture.n) {
      this.sx = new Float32Array(picture.x.length);
      this.sy = new Float32Array(picture.x.length);
      this.visible = new Int32Array(picture.x.length);
    }
    const [a, b, c, d, e, f] = frameState.coordinateToPixelTransform;
    const { x, y } = picture;
    const { sx, sy, visible } = this;
    const m = 40;
    let count = 0;
    for (let i = 0; i < picture.n; i += 1) {
      const px = a * x[i] + c * y[i] + e;
      const py = b * x[i] + d * y[i] + f;
      sx[i] = px;
      sy[i] = py;
      if (px > -m && py > -m && px < w + m && py < h + m) visible[count++] = i;
    }
    this.count = count;
    return this;
  }
}

/** A layer drawing on its own canvas, redrawn only when the picture or the view changed. */
function canvasLayer(picture, screen, draw, properties) {
  const canvas = document.createElement('canvas');
  canvas.style.position = 'absolute';
  canvas.style.left = '0';
  canvas.style.top = '0';
  canvas.style.width = '100%';
  canvas.style.height = '100%';
  canvas.className = 'ol-layer aircraft';
  canvas.dataset.layer = properties.name;
  const ctx = canvas.getContext('2d');
  let drawn = '';
  const layer = new Layer({
    properties,
    render(frameState) {
      const pr = frameState.pixelRatio;
      const [w, h] = frameState.size;
      const s = screen.update(picture, frameState);
      const key = `${s.key}|${pr}|${U.isMetric()}`;
      if (key === drawn) return canvas;
      drawn = key;
      if (canvas.width !== Math.round(w * pr) || canvas.height !== Math.round(h * pr)) {
        canvas.width = Math.round(w * pr);
        canvas.height = Math.round(h * pr);
      } else {
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, canvas.width, canvas.height);
      }
      ctx.setTransform(pr, 0, 0, pr, 0, 0);
      draw(ctx, s, frameState);
      return canvas;
    },
  });
  picture.layers.push(layer);
  return layer;
}

// --- symbols ---------------------------------------------------------------------------------
/** Triangles pointing along the track, one row per party colour (and highlighted), one column
 * per 5° of heading, drawn once and blitted. */
class Sprites {
  constructor() {
    this.pr = 0;
    this.rows = new Map();
  }

  cell(hl) { return Math.ceil(((hl ? 10 : 7) * 1.15 + (hl ? 2.5 : 1)) * 2 + 2); }

  row(slot, hl, pr) {
    if (pr !== this.pr) { this.rows.clear(); this.pr = pr; }
    const key = slot * 2 + hl;
    let atlas = this.rows.get(key);
    if (atlas) return atlas;
    const size = this.cell(hl);
    atlas = document.createElement('canvas');
    atlas.width = Math.ceil(size * pr) * BUCKETS;
    atlas.height = Math.ceil(size * pr);
    const g = atlas.getContext('2d');
    const step = Math.ceil(size * pr);
    const r = hl ? 10 : 7;
    for (let k = 0; k < BUCKETS; k += 1) {
      g.setTransform(pr, 0, 0, pr, k * step + step / 2, step / 2);
      g.rotate((k * 2 * Math.PI) / BUCKETS);
      g.scale(0.75, 1.15);
      g.beginPath();
      for (let v = 0; v < 3; v += 1) {
        const angle = -Math.PI / 2 + (v * 2 * Math.PI) / 3;
        g.lineTo(r * Math.cos(angle), r * Math.sin(angle));
      }
      g.closePath();
      g.fillStyle = PARTY_COLOURS[slot] || PARTY_COLOURS[5];
      g.fill();
      g.lineWidth = hl ? 2.5 : 1;
      g.strokeStyle = hl ? HL_STROKE : HALO;
      g.stroke();
    }
    atlas = { canvas: atlas, step };
    this.rows.set(key, atlas);
    return atlas;
  }
}

function drawSymbols(picture, sprites) {
  return (ctx, s, frameState) => {
    const pr = frameState.pixelRatio;
    const viewRot = frameState.viewState.rotation;
    const turn = BUCKETS / (2 * Math.PI);
    ctx.setTransform(1, 0, 0, 1, 0, 0); // device pixels: whole-pixel blits
    const hl = [];
    for (let k = 0; k < s.count; k += 1) {
      const i = s.visible[k];
      const h = picture.held[i];
      if (picture.highlight.size && picture.highlight.has(h.track.aircraft)) { hl.push(i); continue; }
      const { canvas, step } = sprites.row(picture.slot[i], 0, pr);
      const col = ((Math.round((picture.rot[i] + viewRot) * turn) % BUCKETS) + BUCKETS) % BUCKETS;
      ctx.drawImage(canvas, col * step, 0, step, step,
        Math.round(s.sx[i] * pr - step / 2), Math.round(s.sy[i] * pr - step / 2), step, step);
    }
    for (const i of hl) {
      const { canvas, step } = sprites.row(picture.slot[i], 1, pr);
      const col = ((Math.round((picture.rot[i] + viewRot) * turn) % BUCKETS) + BUCKETS) % BUCKETS;
      ctx.drawImage(canvas, col * step, 0, step, step,
        Math.round(s.sx[i] * pr - step / 2), Math.round(s.sy[i] * pr - step / 2), step, step);
    }
  };
}

// --- trails ------------------------------------------------------------------------------------
function drawTrails(picture, { everyUpTo }) {
  return (ctx, s, frameState) => {
    const [a, b, c, d, e, f] = frameState.coordinateToPixelTransform;
    const all = s.count <= everyUpTo;
    let own = 0;
    if (!all) for (let k = 0; k < s.count; k += 1) own += picture.own[s.visible[k]];
    const ownToo = own <= everyUpTo; // a party flying thousands itself sees only the highlighted
    const L = picture.trailLength;
    const bySlot = new Map();
    for (let k = 0; k < s.count; k += 1) {
      const i = s.visible[k];
      const h = picture.held[i];
      if (h.trailCount < 2) continue;
      if (!all && !(ownToo && picture.own[i]) && !picture.highlight.has(h.track.aircraft)) continue;
      const slot = picture.slot[i];
      if (!bySlot.has(slot)) bySlot.set(slot, []);
      bySlot.get(slot).push(h);
    }
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    for (const [slot, trails] of bySlot) {
      ctx.strokeStyle = `${PARTY_COLOURS[slot] || '#dddddd'}88`;
      ctx.beginPath();
      for (const h of trails) {
        const t = h.trail;
        for (let q = 0, j = (h.trailHead + L - h.trailCount) % L; q < h.trailCount; q += 1, j = (j + 1) % L) {
          const px = a * t[2 * j] + c * t[2 * j + 1] + e;
          const py = b * t[2 * j] + d * t[2 * j + 1] + f;
          if (q === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        }
      }
      ctx.stroke();
    }
  };
}

// --- labels ------------------------------------------------------------------------------------
export function labelLines(t) {
  return [t.aircraft, `${U.altShort(t.alt_m)} ${U.speedShort(t.gs_mps)}`];
}

function drawLabels(picture, { upTo }) {
  let grid = new Uint8Array(0);
  return (ctx, s, frameState) => {
    const [w, h] = frameState.size;
    const gw = Math.ceil(w / GRID) + 1;
    const gh = Math.ceil(h / GRID) + 1;
    if (grid.length < gw * gh) grid = new Uint8Array(gw * gh);
    else grid.fill(0, 0, gw * gh);
    const chosen = [];
    // Room for a label to the right of its symbol: free cells, then taken.
    const place = (i, force) => {
      const lines = labelLines(picture.held[i].track);
      const width = Math.max(lines[0].length, lines[1].length) * CHAR_W + 4;
      const x0 = Math.floor((s.sx[i] + 10) / GRID);
      const y0 = Math.floor((s.sy[i] - LABEL_H / 2) / GRID);
      const x1 = Math.floor((s.sx[i] + 10 + width) / GRID);
      const y1 = Math.floor((s.sy[i] + LABEL_H / 2) / GRID);
      if (x1 < 0 || y1 < 0 || x0 >= gw || y0 >= gh) return false;
      // A label cut by the map's edge reads worse than none, unless the aircraft matters.
      if (!force && (x0 < 0 || y0 < 0 || x1 >= gw - 1 || y1 >= gh - 1)) return false;
      const cx0 = Math.max(0, x0); const cy0 = Math.max(0, y0);
      const cx1 = Math.min(gw - 1, x1); const cy1 = Math.min(gh - 1, y1);
      if (!force) {
        for (let gy = cy0; gy <= cy1; gy += 1) {
          for (let gx = cx0; gx <= cx1; gx += 1) if (grid[gy * gw + gx]) return false;
        }
      }
      for (let gy = cy0; gy <= cy1; gy += 1) grid.fill(1, gy * gw + cx0, gy * gw + cx1 + 1);
      chosen.push(i, lines);
      return true;
    };
    // The caller's conflicts and selection always; then its own aircraft; then the others.
    for (const name of picture.highlight) {
      const held = picture.byName.get(name);
      if (held && picture.tracks.get(held.key) === held) place(held.i, true);
    }
    let room = upTo;
    for (let k = 0; k < s.count && room > 0; k += 1) {
      const i = s.visible[k];
      if (picture.own[i] && !picture.highlight.has(picture.held[i].track.aircraft) && place(i, false)) room -= 1;
    }
    for (let k = 0; k < s.count && room > 0; k += 1) {
      const i = s.visible[k];
      if (!picture.own[i] && !picture.highlight.has(picture.held[i].track.aircraft) && place(i, false)) room -= 1;
    }
    ctx.font = LABEL_FONT;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.lineJoin = 'round';
    ctx.lineWidth = 3;
    ctx.strokeStyle = HALO;
    for (let k = 0; k < chosen.length; k += 2) {
      const i = chosen[k];
      const [l1, l2] = chosen[k + 1];
      ctx.strokeText(l1, s.sx[i] + 12, s.sy[i] - 8);
      ctx.strokeText(l2, s.sx[i] + 12, s.sy[i] + 5);
    }
    for (let k = 0; k < chosen.length; k += 2) {
      const i = chosen[k];
      const [l1, l2] = chosen[k + 1];
      ctx.fillStyle = PARTY_COLOURS[picture.slot[i]] || '#dddddd';
      ctx.fillText(l1, s.sx[i] + 12, s.sy[i] - 8);
      ctx.fillText(l2, s.sx[i] + 12, s.sy[i] + 5);
    }
    picture.labelled = chosen.length / 2;
  };
}

/** The three layers over one picture. ``symbols: false`` when the WebGL points layer draws
 * the symbols instead. */
export function aircraftLayers(picture, { symbols = true, labelsUpTo = 300, trailsEveryUpTo = 2000 } = {}) {
  const screen = new Screen();
  const layers = {
    trails: canvasLayer(picture, screen, drawTrails(picture, { everyUpTo: trailsEveryUpTo }), { name: 'trails' }),
    labels: canvasLayer(picture, screen, drawLabels(picture, { upTo: labelsUpTo }), { name: 'labels' }),
  };
  if (symbols) layers.tracks = canvasLayer(picture, screen, drawSymbols(picture, new Sprites()), { name: 'tracks' });
  return layers;
}
