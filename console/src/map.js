// The map: OpenLayers, no tiles. Land and borders come from the Natural Earth extract bundled
// with the page; every other layer is a function from /v1 data to features (layers.js).

import Map from 'ol/Map.js';
import View from 'ol/View.js';
import GeoJSON from 'ol/format/GeoJSON.js';
import VectorLayer from 'ol/layer/Vector.js';
import WebGLPointsLayer from 'ol/layer/WebGLPoints.js';
import VectorSource from 'ol/source/Vector.js';
import { Fill, Stroke, Style, Text } from 'ol/style.js';
import { fromLonLat } from 'ol/proj.js';
import { defaults as defaultControls, ScaleLine } from 'ol/control.js';
import borders from '../../src/deconfliction/sim/data/levant-10m.geojson';
import * as L from './layers.js';
import { Picture } from './picture.js';
import { aircraftLayers } from './aircraft.js';

export const ATTRIBUTION = borders.attribution;

/** Whether to draw aircraft on the WebGL points layer: when the browser has WebGL on a GPU.
 * A software rasteriser (SwiftShader, llvmpipe: headless or GPU-less machines) draws 10,000
 * points slower than the canvas does (bench/console.py), so it gets the canvas path.
 * `?nowebgl` forces the canvas path, `?webgl` the WebGL one. */
export function webglAvailable() {
  const q = new URLSearchParams(window.location.search);
  if (q.has('nowebgl')) return false;
  try {
    const c = document.createElement('canvas');
    const gl = c.getContext('webgl2') || c.getContext('webgl');
    if (!gl) return false;
    if (q.has('webgl')) return true;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
    return !/swiftshader|llvmpipe|softpipe|software/i.test(renderer);
  } catch {
    return false;
  }
}

function landStyle(feature) {
  return new Style({
    fill: new Fill({ color: '#1d2731' }),
    stroke: new Stroke({ color: '#6b7d8e', width: 1 }),
    text: new Text({
      text: feature.get('name').toUpperCase(),
      font: '600 11px system-ui, sans-serif',
      fill: new Fill({ color: '#4f6072' }),
      overflow: false,
    }),
  });
}

export function createMap(target) {
  const land = new VectorLayer({
    source: new VectorSource({
      features: new GeoJSON().readFeatures(borders, { featureProjection: 'EPSG:3857' }),
      attributions: ATTRIBUTION,
    }),
    style: landStyle,
    declutter: 'land',
    properties: { name: 'land' },
  });
  const sources = {
    zones: new VectorSource(),
    operations: new VectorSource(),
    draft: new VectorSource(),
    tracks: new VectorSource({ useSpatialIndex: false }), // for the WebGL points layer only
    conflicts: new VectorSource({ useSpatialIndex: false }),
    findings: new VectorSource({ useSpatialIndex: false }),
  };
  const webgl = webglAvailable();
  // Aircraft: arrays drawn by our own canvas layers (aircraft.js); on a GPU the WebGL points
  // layer draws the symbols from one feature per aircraft, the canvas layers the rest.
  const picture = new Picture({ features: webgl ? sources.tracks : null });
  const drawn = aircraftLayers(picture, { symbols: !webgl });
  const layers = {
    zones: new VectorLayer({ source: sources.zones, style: L.zoneStyle, declutter: 'areas' }),
    operations: new VectorLayer({ source: sources.operations, style: L.operationStyle, declutter: 'areas' }),
    draft: new VectorLayer({ source: sources.draft, style: L.draftStyle }),
    trails: drawn.trails,
    conflicts: new VectorLayer({ source: sources.conflicts, style: L.conflictStyle }),
    findings: new VectorLayer({ source: sources.findings, style: L.findingStyle }),
    tracks: webgl
      ? new WebGLPointsLayer({ source: sources.tracks, style: L.WEBGL_TRACK_STYLE, disableHitDetection: true })
      : drawn.tracks,
    labels: drawn.labels,
  };
  const scale = new ScaleLine({ units: 'nautical' });
  const map = new Map({
    target,
    layers: [land, layers.zones, layers.operations, layers.trails, layers.conflicts,
      layers.findings, layers.tracks, layers.labels, layers.draft],
    view: new View({ center: fromLonLat([35.9, 34.3]), zoom: 8, minZoom: 5, maxZoom: 13 }),
    controls: defaultControls({ attributionOptions: { collapsible: false } })
      .extend([scale]),
    keyboardEventTarget: target,
  });
  return { map, sources, layers, webgl, scale, picture };
}
