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
export const PARTY_COLOURS = ['#4fc3f7', '#e1a6ff', '#f5f5f5', '#80deea', '#b0a4ff', '#c5e1a5'];
const partyIndex = new Map();
export function partyColour(party, me) {
  if (party === me) return PARTY_COLOURS[0];
  if (!partyIndex.has(party)) partyIndex.set(party, 1 + (partyIndex.size % (PARTY_COLOURS.length - 1)));
  return PARTY_COLOURS[partyIndex.get(party)];
}
export function partySlot(party, me) {
  if (party === me) return 0;
  if (!partyIndex.has(party)) partyColour(party, me);
  return partyIndex.get(party);
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

// --- conflicts and findings -----------------------------------------------------------------
export function conflictFeatures(conflicts, picture) {
  const lines = [];
  const byAircraft = new globalThis.Map(); // one marker per aircraft, listing its findings
  for (const c of conflicts) {
    if (c.kind === 'strategic') continue;
    // An aircraft this party may not see (SPEC §1) comes as {aircraft, withheld: true}: it has
    // no place on the map, and its conflict is drawn as a marker on the party's own aircraft.
    const points = (c.positions || []).map((p, k) => {
      const name = (c.aircraft || [])[k] || p.aircraft;
      const at = picture.position(name) || (p.withheld ? null : fromLonLat([p.lon, p.lat]));
      return { name, at };
    }).filter((p) => p.at);
    if (c.kind === 'tactical' && points.length === 2) {
      const f = new Feature({ geometry: new LineString(points.map((p) => p.at)) });
      f.setId(c.id);
      f.setProperties({ layer: 'conflict', conflict: c });
      lines.push(f);
    } else if (points.length >= 1) {
      const { name, at } = points[0];
      if (!byAircraft.has(name)) byAircraft.set(name, { at, findings: [] });
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
