// Each map layer is a function from /v1 data to features, plus its style. Severity is always
// colour, text and shape together: red for loss/warning, amber for caution, and advisory
// neither red nor green (14 CFR 25.1322).

import Feature from 'ol/Feature.js';
import Point from 'ol/geom/Point.js';
import LineString from 'ol/geom/LineString.js';
import Polygon, { circular } from 'ol/geom/Polygon.js';
import GeometryCollection from 'ol/geom/GeometryCollection.js';
import GeoJSON from 'ol/format/GeoJSON.js';
import { Circle as CircleStyle, Fill, RegularShape, Stroke, Style, Text } from 'ol/style.js';
import { fromLonLat } from 'ol/proj.js';
import * as U from './units.js';

export const SEVERITY = {
  loss: { color: '#ff4d4d', word: 'LOSS', rank: 3 },
  warning: { color: '#ff4d4d', word: 'WARNING', rank: 2 },
  caution: { color: '#ffb300', word: 'CAUTION', rank: 1 },
  advisory: { color: '#b3c7ff', word: 'ADVISORY', rank: 0 },
};

// Party colours avoid red, amber and green, which mean severity on this page.
const PARTY_COLOURS = ['#4fc3f7', '#e1a6ff', '#f5f5f5', '#80deea', '#b0a4ff', '#c5e1a5'];
const partyIndex = new Map();
export function partyColour(party, me) {
  if (party === me) return PARTY_COLOURS[0];
  if (!partyIndex.has(party)) partyIndex.set(party, 1 + (partyIndex.size % (PARTY_COLOURS.length - 1)));
  return PARTY_COLOURS[partyIndex.get(party)];
}
function partySlot(party, me) {
  partyColour(party, me);
  return party === me ? 0 : partyIndex.get(party);
}

const geojson = new GeoJSON();

// --- zones --------------------------------------------------------------------------------
export const ZONE_KINDS = ['sovereign', 'no_fly', 'air_defence', 'buffer'];
const ZONE_LOOK = {
  sovereign: { stroke: '#8fa3b5', dash: [2, 6], fill: 'rgba(0,0,0,0)' },
  no_fly: { stroke: '#ff8a65', dash: [10, 6], fill: 'rgba(255,138,101,0.08)' },
  air_defence: { stroke: '#ff6e9c', dash: [14, 4, 2, 4], fill: 'rgba(255,110,156,0.10)' },
  buffer: { stroke: '#ffd180', dash: [4, 4], fill: 'rgba(255,209,128,0.08)' },
};

export function zoneFeatures(collection) {
  const features = geojson.readFeatures(collection, { featureProjection: 'EPSG:3857' });
  for (const f of features) {
    f.set('layer', 'zone');
    f.set('zone', f.getProperties());
  }
  return features;
}

export function zoneStyle(feature) {
  const look = ZONE_LOOK[feature.get('kind')] || ZONE_LOOK.no_fly;
  return new Style({
    stroke: new Stroke({ color: look.stroke, width: 1.5, lineDash: look.dash }),
    fill: new Fill({ color: look.fill }),
    text: feature.get('kind') === 'sovereign' ? undefined : new Text({
      text: `${feature.get('name')}\n${feature.get('kind').replace('_', ' ')} · ${feature.get('owner')}`,
      font: '11px system-ui, sans-serif',
      fill: new Fill({ color: look.stroke }),
      stroke: new Stroke({ color: '#0b1622', width: 3 }),
      overflow: true,
    }),
  });
}

// --- operations ---------------------------------------------------------------------------
function outlineGeometry(outline) {
  if (outline.type === 'Circle') {
    return circular(outline.center, outline.radius_m, 64).transform('EPSG:4326', 'EPSG:3857');
  }
  return new Polygon(outline.coordinates).transform('EPSG:4326', 'EPSG:3857');
}

export function operationFeatures(operations, me, now = Date.now()) {
  const out = [];
  for (const op of operations) {
    if (op.state === 'ended') continue;
    op.volumes.forEach((v, k) => {
      if (new Date(v.end).getTime() <= now) return;
      const f = new Feature({ geometry: outlineGeometry(v.outline) });
      f.setId(`${op.id}#${k}`);
      f.setProperties({ layer: 'operation', op, volume: k, own: op.party === me,
        colour: partyColour(op.party, me),
        active: new Date(v.start).getTime() <= now });
      out.push(f);
    });
  }
  return out;
}

export function operationStyle(feature) {
  const op = feature.get('op');
  const v = op.volumes[feature.get('volume')];
  const own = feature.get('own');
  const colour = feature.get('colour');
  const name = own && op.details && Array.isArray(op.details.callsigns)
    ? op.details.callsigns.join(' ') : `${op.party} operation`;
  const late = op.flags.includes('late_notice') ? ' · LATE NOTICE' : '';
  return new Style({
    stroke: new Stroke({ color: colour, width: own ? 2 : 1.5, lineDash: own ? undefined : [8, 5] }),
    fill: new Fill({ color: feature.get('active') ? 'rgba(79,195,247,0.06)' : 'rgba(0,0,0,0)' }),
    text: new Text({
      text: `${name}\n${op.state}${late} · ${U.altShort(v.lower_m)}–${U.altShort(v.upper_m)}`,
      font: '11px system-ui, sans-serif',
      fill: new Fill({ color: colour }),
      stroke: new Stroke({ color: '#0b1622', width: 3 }),
      overflow: true,
    }),
  });
}

export function draftStyle() {
  return new Style({
    stroke: new Stroke({ color: '#ffffff', width: 2, lineDash: [6, 4] }),
    fill: new Fill({ color: 'rgba(255,255,255,0.08)' }),
    image: new CircleStyle({ radius: 4, fill: new Fill({ color: '#ffffff' }) }),
  });
}

// --- tracks -------------------------------------------------------------------------------
// WebGL: one triangle per aircraft, pointing along its track; colour by party slot.
export const WEBGL_TRACK_STYLE = {
  'shape-points': 3,
  'shape-radius': ['match', ['get', 'hl'], 1, 10, 7],
  'shape-fill-color': ['match', ['get', 'slot'],
    0, PARTY_COLOURS[0], 1, PARTY_COLOURS[1], 2, PARTY_COLOURS[2], 3, PARTY_COLOURS[3],
    4, PARTY_COLOURS[4], PARTY_COLOURS[5]],
  'shape-stroke-color': ['match', ['get', 'hl'], 1, '#ff4d4d', '#0b1622'],
  'shape-stroke-width': ['match', ['get', 'hl'], 1, 2.5, 1],
  'shape-rotation': ['get', 'rot'],
  'shape-rotate-with-view': true,
  'shape-scale': [0.75, 1.15],
};

const shapeCache = new Map();
export function trackStyle(feature) {
  const slot = feature.get('slot');
  const hl = feature.get('hl');
  const rotBucket = Math.round(feature.get('rot') / (Math.PI / 36));
  const key = `${slot}|${hl}|${rotBucket}`;
  let style = shapeCache.get(key);
  if (!style) {
    style = new Style({
      image: new RegularShape({
        points: 3, radius: hl ? 10 : 7, scale: [0.75, 1.15],
        rotation: rotBucket * (Math.PI / 36), rotateWithView: true,
        fill: new Fill({ color: PARTY_COLOURS[slot] || PARTY_COLOURS[5] }),
        stroke: new Stroke({ color: hl ? '#ff4d4d' : '#0b1622', width: hl ? 2.5 : 1 }),
      }),
    });
    shapeCache.set(key, style);
  }
  return style;
}

export function labelText(t) {
  return `${t.aircraft}\n${U.altShort(t.alt_m)} ${U.speedShort(t.gs_mps)}`;
}

export function labelStyle(feature) {
  return new Style({
    text: new Text({
      text: labelText(feature.get('track')),
      font: '11px ui-monospace, monospace',
      textAlign: 'left',
      offsetX: 12,
      offsetY: -2,
      fill: new Fill({ color: PARTY_COLOURS[feature.get('slot')] || '#ddd' }),
      stroke: new Stroke({ color: '#0b1622', width: 3 }),
    }),
  });
}

const trailStyles = new Map();
export function trailStyle(feature) {
  const slot = feature.get('slot');
  if (!trailStyles.has(slot)) {
    trailStyles.set(slot, new Style({
      stroke: new Stroke({ color: `${PARTY_COLOURS[slot] || '#ddd'}88`, width: 1.5 }),
    }));
  }
  return trailStyles.get(slot);
}

const R_MERC = 6378137;
/** EPSG:3857 of lon/lat, written into ``out`` (no allocation: called 10,000 times a second). */
function mercator(lon, lat, out) {
  out[0] = (lon * Math.PI * R_MERC) / 180;
  out[1] = Math.log(Math.tan(((90 + lat) * Math.PI) / 360)) * R_MERC;
  return out;
}

/** The live picture: one feature per aircraft, kept in its source and moved in place on every
 * picture (adding and removing 10,000 features a second costs ten times more than moving them),
 * with a short trail and a label for the aircraft that matter. */
export class Picture {
  constructor(sources, { trailLength = 10, fullTrailsUpTo = 2000, labelsUpTo = 400, ownLabelsUpTo = 300 } = {}) {
    this.sources = sources;
    this.me = null;
    this.tracks = new globalThis.Map(); // key -> {track, feature, trail, trailFeature, labelled, trailed}
    this.trailLength = trailLength;
    this.fullTrailsUpTo = fullTrailsUpTo;
    this.labelsUpTo = labelsUpTo;
    this.ownLabelsUpTo = ownLabelsUpTo;
    this.highlight = new Set(); // aircraft names in the caller's conflicts, and the selection
    // Both track layers read each feature's coordinates and properties afresh when their
    // source changes (WebGL points rebuild their buffers; the canvas layer, with no spatial
    // index, replays every feature), so an aircraft nobody labels is moved in place and the
    // source told once. The labels' layer culls by cached extents: labelled aircraft get
    // each geometry's own change event.
    this.inPlace = true;
  }

  key(t) { return `${t.party}/${t.aircraft}`; }

  /** Replace the picture with ``tracks`` (one entry per aircraft as /v1/picture sends it). */
  apply(tracks) {
    const seen = new Set();
    const added = [];
    const labelAdd = [];
    const labelDrop = [];
    const trailAdd = [];
    const trailDrop = [];
    const many = tracks.length > this.fullTrailsUpTo;
    const labelAll = tracks.length <= this.labelsUpTo;
    let own = 0;
    for (const t of tracks) if (t.party === this.me) own += 1;
    const labelOwn = own <= this.ownLabelsUpTo;
    const xy = [0, 0];
    let movedInPlace = false;
    for (const t of tracks) {
      const key = this.key(t);
      seen.add(key);
      mercator(t.lon, t.lat, xy);
      let held = this.tracks.get(key);
      const hl = this.highlight.has(t.aircraft) ? 1 : 0;
      const slot = partySlot(t.party, this.me);
      const props = { layer: 'track', track: t, hl, slot, rot: (t.track_deg * Math.PI) / 180 };
      if (!held) {
        const feature = new Feature({ geometry: new Point([xy[0], xy[1]]) });
        feature.setId(key);
        feature.setProperties(props, true);
        held = { feature, trail: [], trailFeature: null, labelled: false, trailed: false };
        this.tracks.set(key, held);
        added.push(feature);
      }
      held.track = t;
      const mine = t.party === this.me;
      const label = labelAll || hl === 1 || (mine && labelOwn);
      if (added[added.length - 1] !== held.feature) {
        held.feature.setProperties(props, true);
        const g = held.feature.getGeometry();
        if (this.inPlace && !label && !held.labelled) {
          const flat = g.getFlatCoordinates();
          flat[0] = xy[0];
          flat[1] = xy[1];
          movedInPlace = true;
        } else {
          g.setCoordinates([xy[0], xy[1]]);
        }
      }
      if (label !== held.labelled) (label ? labelAdd : labelDrop).push(held.feature);
      held.labelled = label;
      const last = held.trail[held.trail.length - 1];
      if (!last || last[0] !== xy[0] || last[1] !== xy[1]) {
        held.trail.push([xy[0], xy[1]]);
        if (held.trail.length > this.trailLength) held.trail.shift();
      }
      const trail = (!many || hl === 1 || mine) && held.trail.length > 1;
      if (trail) {
        if (!held.trailFeature) held.trailFeature = new Feature({ geometry: new LineString(held.trail) });
        held.trailFeature.set('slot', slot, true);
        if (held.trailed) held.trailFeature.getGeometry().setCoordinates(held.trail);
        else {
          held.trailFeature.getGeometry().setCoordinates(held.trail);
          trailAdd.push(held.trailFeature);
        }
      } else if (held.trailed) {
        trailDrop.push(held.trailFeature);
      }
      held.trailed = trail;
    }
    for (const [key, held] of this.tracks) {
      if (seen.has(key)) continue;
      this.sources.tracks.removeFeature(held.feature);
      if (held.labelled) labelDrop.push(held.feature);
      if (held.trailed) trailDrop.push(held.trailFeature);
      this.tracks.delete(key);
    }
    if (added.length) this.sources.tracks.addFeatures(added);
    if (movedInPlace) this.sources.tracks.changed();
    for (const f of labelDrop) this.sources.labels.removeFeature(f);
    if (labelAdd.length) this.sources.labels.addFeatures(labelAdd);
    for (const f of trailDrop) this.sources.trails.removeFeature(f);
    if (trailAdd.length) this.sources.trails.addFeatures(trailAdd);
  }

  drop(aircraft) {
    for (const [key, held] of this.tracks) {
      if (held.track.aircraft !== aircraft) continue;
      this.sources.tracks.removeFeature(held.feature);
      if (held.labelled) this.sources.labels.removeFeature(held.feature);
      if (held.trailed) this.sources.trails.removeFeature(held.trailFeature);
      this.tracks.delete(key);
    }
  }

  /** Where an aircraft (as the caller names it) is now, in map coordinates, if shown. */
  position(aircraft) {
    for (const held of this.tracks.values()) {
      if (held.track.aircraft === aircraft) return held.feature.getGeometry().getCoordinates();
    }
    return null;
  }
}

// --- conflicts and findings -----------------------------------------------------------------
export function conflictFeatures(conflicts, picture) {
  const lines = [];
  const byAircraft = new globalThis.Map(); // one marker per aircraft, listing its findings
  for (const c of conflicts) {
    if (c.kind === 'strategic') continue;
    const positions = (c.positions || []).map((p, k) => {
      const name = (c.aircraft || [])[k] || p.aircraft;
      return picture.position(name) || fromLonLat([p.lon, p.lat]);
    });
    if (c.kind === 'tactical' && positions.length === 2) {
      const f = new Feature({ geometry: new LineString(positions) });
      f.setId(c.id);
      f.setProperties({ layer: 'conflict', conflict: c });
      lines.push(f);
    } else if (positions.length >= 1) {
      const name = (c.aircraft || [])[0] || c.id;
      if (!byAircraft.has(name)) byAircraft.set(name, { at: positions[0], findings: [] });
      byAircraft.get(name).findings.push(c);
    }
  }
  const markers = [];
  for (const [name, { at, findings }] of byAircraft) {
    findings.sort((a, b) => (SEVERITY[b.severity] || SEVERITY.advisory).rank - (SEVERITY[a.severity] || SEVERITY.advisory).rank);
    const f = new Feature({ geometry: new Point(at) });
    f.setId(`finding:${name}`);
    f.setProperties({ layer: 'finding', conflict: findings[0], findings, aircraft: name });
    markers.push(f);
  }
  return { lines, markers };
}

/** One line per own aircraft with a resolution: "SUFA31: R 10° to 022° · FL310 · 428 kt". */
export function resolutionText(c) {
  return Object.entries(c.resolutions || {}).map(([name, r]) => {
    const parts = [];
    if (r.track_deg !== null && r.track_deg !== undefined) parts.push(`${r.heading_deg > 0 ? 'R' : 'L'} ${Math.abs(r.heading_deg)}° to ${U.heading(r.track_deg)}`);
    if (r.alt_m !== null && r.alt_m !== undefined) parts.push(U.altShort(r.alt_m));
    if (r.gs_mps !== null && r.gs_mps !== undefined) parts.push(U.speedShort(r.gs_mps));
    return `${name}: ${parts.length ? parts.join(' · ') : 'no resolution'}`;
  });
}

export function conflictStyle(feature) {
  const c = feature.get('conflict');
  const sev = SEVERITY[c.severity] || SEVERITY.advisory;
  const t = c.t_in_s > 0 ? `LoS ${U.duration(c.t_in_s)}` : 'LOSS OF SEPARATION';
  const resolve = resolutionText(c).map((x) => `\nresolve ${x}`).join('');
  return new Style({
    stroke: new Stroke({ color: sev.color, width: 3, lineDash: c.severity === 'advisory' ? [6, 6] : undefined }),
    text: new Text({
      text: `${sev.word} · ${t}\nCPA ${U.distance(c.d_cpa_m)} / ${U.vertical(c.v_cpa_m)}${resolve}`,
      font: 'bold 12px system-ui, sans-serif',
      fill: new Fill({ color: sev.color }),
      stroke: new Stroke({ color: '#0b1622', width: 4 }),
      overflow: true,
      offsetY: -16,
    }),
  });
}

const FINDING_SHAPE = {
  zone_incursion: { points: 4, angle: Math.PI / 4, word: 'INCURSION' },
  nonconformance: { points: 4, angle: 0, word: 'NONCONFORMING' },
  unidentified: { points: 0, angle: 0, word: 'UNIDENTIFIED' },
};

export function findingStyle(feature) {
  const findings = feature.get('findings');
  const c = findings[0];
  const sev = SEVERITY[c.severity] || SEVERITY.advisory;
  const look = FINDING_SHAPE[c.kind] || FINDING_SHAPE.unidentified;
  const stroke = new Stroke({ color: sev.color, width: 2.5 });
  const image = look.points
    ? new RegularShape({ points: look.points, radius: 16, angle: look.angle, stroke })
    : new CircleStyle({ radius: 16, stroke });
  const lines = findings.map((x) => {
    const s = SEVERITY[x.severity] || SEVERITY.advisory;
    const w = (FINDING_SHAPE[x.kind] || FINDING_SHAPE.unidentified).word;
    return `${s.word} · ${w}${x.zone ? ` · ${x.zone.name}` : ''}`;
  });
  return new Style({
    image,
    text: new Text({
      text: `${feature.get('aircraft')}\n${lines.join('\n')}`,
      font: 'bold 11px system-ui, sans-serif',
      textAlign: 'left',
      offsetX: 20,
      offsetY: 34,
      fill: new Fill({ color: sev.color }),
      stroke: new Stroke({ color: '#0b1622', width: 4 }),
    }),
  });
}

export { GeometryCollection };
