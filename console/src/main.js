// The console: sign-in, then the picture and the hotline, all from the party's own /v1 answers.
// State is rebuilt from the service (answers and the stream), never kept in the DOM.

import 'ol/ol.css';
import './style.css';
import { api, describe, onSessionEnded, session } from './api.js';
import { openStream } from './stream.js';
import { createMap } from './map.js';
import * as L from './layers.js';
import * as U from './units.js';
import { NoticeForm } from './notice.js';
import { DetailPanel } from './detail.js';

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const state = {
  me: null,
  zones: { type: 'FeatureCollection', features: [] },
  operations: [],
  conflicts: new Map(),
  alerts: new Map(),
  received: [],
  sent: [],
  peerAcks: new Map(), // conflict id -> [{party, acked_at}]
  peers: [],
  peer: null,
  head: null,
  selected: null,
};

let view = null; // {map, sources, layers, picture, ...} once signed in

// The service's clock, as its answers tell it (`at` of each picture): times on the page are the
// service's, whatever the browser's clock says, and a fast-time demo (--speed) runs faster.
const clock = { first: null, server: Date.now(), wall: Date.now(), rate: 1 };
export function serverNow() { return clock.server + (Date.now() - clock.wall) * clock.rate; }
function observeClock(at) {
  const server = Date.parse(at);
  const wall = Date.now();
  if (!Number.isFinite(server)) return;
  if (clock.first === null) clock.first = { server, wall };
  else if (wall - clock.first.wall > 2000) {
    const rate = (server - clock.first.server) / (wall - clock.first.wall);
    clock.rate = Math.abs(rate - 1) < 0.05 ? 1 : rate;
  }
  clock.server = server;
  clock.wall = wall;
}
let stream = null;
let timers = [];

// --- sign-in ------------------------------------------------------------------------------
function showSignIn(message = '', { error = false } = {}) {
  stop();
  state.me = null; // late answers of the ended session must not speak over this message
  $('console').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('signin-error').className = error ? 'error' : 'info';
  $('token').value = '';
  $('token').focus();
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('signin-error').textContent = '';
  $('signin-error').className = 'error';
  try {
    const who = await session.signIn($('token').value.trim());
    $('token').value = '';
    await start(who);
  } catch (err) {
    $('signin-error').textContent = err.status === 401
      ? `Sign-in refused: ${err.problem.detail || 'unknown token'}. Check the token and try again.`
      : err.message;
  }
});

$('signout').addEventListener('click', async () => {
  stop();
  state.me = null;
  try { await session.signOut(); } catch { /* the session is gone either way */ }
  showSignIn('Signed out.');
});

const ENDED = 'Your session has ended. Sign in again to continue.';
onSessionEnded(() => { if (state.me) showSignIn(ENDED); });

// --- start and stop -----------------------------------------------------------------------
async function start(who) {
  state.me = who;
  $('signin').hidden = true;
  $('console').hidden = false;
  $('who').textContent = `${who.party} duty officer${who.level ? ` (level ${who.level})` : ''}`;
  if (!view) {
    view = createMap($('map'));
    view.detail = new DetailPanel($('detail'), $('detail-body'), { state, api, select });
    view.notice = new NoticeForm({ map: view.map, source: view.sources.draft, state, api,
      onCreated: refreshOperations, now: serverNow });
    view.map.on('singleclick', (e) => pick(e.pixel));
    buildLayerSwitches();
  }
  if (view.picture.me !== who.party) view.picture.apply([]); // another party signed in here
  view.picture.me = who.party;
  await Promise.all([refreshZones(), refreshOperations(), refreshConflicts(), refreshAlerts(),
    refreshMessages(), refreshHead()]);
  await refreshPicture();
  // First useful paint: zones, operations and the first picture drawn (the page benchmark
  // reads this mark).
  view.map.once('rendercomplete', () => performance.mark('deconfliction:useful'));
  view.map.render();
  stream = openStream({
    alert: (a) => { state.alerts.set(a.id, { ...state.alerts.get(a.id), ...a, open: true }); renderAlerts(); },
    ack: (a) => { const held = state.alerts.get(a.id); if (held) Object.assign(held, a, { open: false }); renderAlerts(); },
    escalation: (a) => { const held = state.alerts.get(a.id); if (held) Object.assign(held, a); else refreshAlerts(); renderAlerts(); },
    conflict: (c) => {
      if (c.event === 'ended') state.conflicts.delete(c.id);
      else state.conflicts.set(c.id, c);
      drawConflicts();
      refreshHeadSoon();
    },
    'peer.ack': (p) => {
      const list = state.peerAcks.get(p.conflict) || [];
      list.push(p);
      state.peerAcks.set(p.conflict, list);
      renderAlerts();
      view.detail.refresh();
    },
    message: (m) => { state.received.push(m); renderMessages(); },
    'message.read': (m) => { const s = state.sent.find((x) => x.seq === m.seq && x.to === m.to); if (s) s.read_at = m.read_at; renderMessages(); },
    'track.dropped': (d) => view.picture.drop(d.aircraft),
    // The service ends a stream whose token was revoked or whose session ended.
    revoked: () => session.who().catch(() => { if (state.me) showSignIn(ENDED); }),
  }, {
    onOpen: () => { $('link').textContent = 'live'; $('link').className = 'link ok'; },
    onClosed: async () => {
      $('link').textContent = 'reconnecting…';
      $('link').className = 'link bad';
      if (!state.me) return false;
      try { await session.who(); return true; } catch (err) {
        if (err.status === 401) { if (state.me) showSignIn(ENDED); return false; }
        return true;
      }
    },
  });
  timers = [
    setInterval(tick, 1000),
    setInterval(refreshPicture, 1000),
    setInterval(refreshOperations, 15000),
    setInterval(refreshConflicts, 10000),
    setInterval(refreshZones, 60000),
  ];
}

function stop() {
  if (stream) stream.close();
  stream = null;
  for (const t of timers) clearInterval(t);
  timers = [];
}

function tick() {
  const now = serverNow();
  $('clock').textContent = U.utc(new Date(now));
  for (const node of document.querySelectorAll('[data-deadline]')) {
    node.textContent = U.countdown(node.dataset.deadline, now);
  }
}

// --- data -----------------------------------------------------------------------------------
async function refreshZones() {
  state.zones = await api('/v1/zones');
  view.sources.zones.clear(true);
  view.sources.zones.addFeatures(L.zoneFeatures(state.zones));
  applyZoneKinds();
}

async function refreshOperations() {
  const now = new Date();
  const end = new Date(now.getTime() + 7 * 86400e3);
  const data = await api(`/v1/operations?start=${now.toISOString()}&end=${end.toISOString()}`);
  if (!state.me) return; // signed out meanwhile
  state.operations = data.operations;
  view.sources.operations.clear(true);
  view.sources.operations.addFeatures(L.operationFeatures(state.operations, state.me.party));
  view.notice.checkBefore();
}

async function refreshConflicts() {
  const data = await api('/v1/conflicts');
  state.conflicts = new Map(data.conflicts.map((c) => [c.id, c]));
  drawConflicts();
}

let picturePending = false;
async function refreshPicture() {
  if (picturePending) return; // a slow answer: skip a beat rather than pile requests up
  picturePending = true;
  try {
    const data = await api('/v1/picture');
    if (!state.me) return;
    observeClock(data.at);
    view.picture.apply(data.tracks);
    drawConflicts();
    view.detail.refresh();
  } catch (err) {
    if (err.status !== 401) $('link').textContent = `picture: ${err.message}`;
  } finally {
    picturePending = false;
  }
}

async function refreshAlerts() {
  const data = await api('/v1/alerts?limit=200');
  state.alerts = new Map(data.alerts.map((a) => [a.id, a]));
  renderAlerts();
}

async function refreshMessages() {
  const [received, sent] = await Promise.all([api('/v1/messages'), api('/v1/messages/sent')]);
  state.received = received.messages;
  state.sent = sent.messages;
  renderMessages();
}

async function refreshHead() {
  state.head = await api('/v1/ledger/head');
  renderLedger();
}

let headTimer = null;
function refreshHeadSoon() {
  if (headTimer) return;
  headTimer = setTimeout(() => { headTimer = null; refreshHead().catch(() => {}); }, 2000);
}

// --- map --------------------------------------------------------------------------------------
function drawConflicts() {
  const mine = new Set();
  for (const c of state.conflicts.values()) for (const a of c.aircraft || []) mine.add(a);
  if (state.selected && state.selected.aircraft) mine.add(state.selected.aircraft);
  view.picture.setHighlight(mine);
  const { lines, markers } = L.conflictFeatures([...state.conflicts.values()], view.picture);
  view.sources.conflicts.clear(true);
  view.sources.conflicts.addFeatures(lines);
  view.sources.findings.clear(true);
  view.sources.findings.addFeatures(markers);
}

// The aircraft on top, as drawn: the picture's own hit test (its layers have no features), then
// OpenLayers' for everything else.
function pick(pixel) {
  if (view.layers.tracks.getVisible()) {
    const at = view.map.getCoordinateFromPixel(pixel);
    const held = view.picture.hit(at, 10 * view.map.getView().getResolution());
    if (held) { selectTrack(held); return; }
  }
  let hit = null;
  view.map.forEachFeatureAtPixel(pixel, (f) => { hit = f; return true; },
    { hitTolerance: 6, layerFilter: (l) => l !== view.layers.tracks });
  if (!hit) return;
  select(hit);
}

function selectTrack(held) {
  state.selected = { kind: 'track', key: held.key, aircraft: held.track.aircraft };
  view.detail.show(state.selected, view.picture);
  drawConflicts(); // the selection is highlighted (outlined, labelled) at once
  updateRef();
}

// The keyboard's way to the aircraft: with the map focused, n / p step to the next / previous
// one (the caller's conflicts first, then its own, then the others, each by name), centre it
// and open its panel; Escape closes the panel.
function stepAircraft(dir) {
  const conflicted = new Set();
  for (const c of state.conflicts.values()) for (const a of c.aircraft || []) conflicted.add(a);
  const rank = (h) => (conflicted.has(h.track.aircraft) ? 0 : h.track.party === state.me.party ? 1 : 2);
  const name = (h) => h.track.aircraft;
  const list = [...view.picture.tracks.values()]
    .sort((a, b) => rank(a) - rank(b) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
  if (!list.length) return;
  const s = state.selected;
  const at = s && s.kind === 'track' ? list.findIndex((h) => h.key === s.key) : -1;
  const next = at < 0 ? (dir > 0 ? 0 : list.length - 1) : (at + dir + list.length) % list.length;
  selectTrack(list[next]);
  view.map.getView().animate({ center: view.picture.position(name(list[next])), duration: 250 });
}

function select(feature) {
  const layer = feature.get('layer');
  if (layer === 'conflict') state.selected = { kind: 'conflict', id: feature.get('conflict').id };
  else if (layer === 'conflict') state.selected = { kind: 'conflict', id: feature.get('conflict').id };
  else if (layer === 'finding') state.selected = { kind: 'conflict', id: feature.get('conflict').id, also: feature.get('findings').map((c) => c.id) };
  else if (layer === 'operation') state.selected = { kind: 'operation', id: feature.get('op').id };
  else if (layer === 'zone') state.selected = { kind: 'zone', id: feature.getId() };
  view.detail.show(state.selected, view.picture);
  updateRef();
}

export function selectConflict(id) {
  state.selected = { kind: 'conflict', id };
  view.detail.show(state.selected, view.picture);
  const f = view.sources.conflicts.getFeatureById(id)
    || view.sources.findings.getFeatures().find((x) => x.get('findings').some((c) => c.id === id));
  if (f) view.map.getView().animate({ center: f.getGeometry().getClosestPoint(view.map.getView().getCenter()), duration: 300 });
  updateRef();
}

function buildLayerSwitches() {
  for (const box of document.querySelectorAll('[data-layer]')) {
    box.addEventListener('change', () => view.layers[box.dataset.layer].setVisible(box.checked));
  }
  const holder = $('zone-kinds');
  for (const kind of L.ZONE_KINDS) {
    holder.append(el('label', { class: 'sub' },
      el('input', { type: 'checkbox', 'data-zone-kind': kind, checked: true, onchange: applyZoneKinds }),
      ` ${kind.replace('_', ' ')}`));
  }
  $('metric').addEventListener('change', () => {
    U.setMetric($('metric').checked);
    view.scale.setUnits(U.isMetric() ? 'metric' : 'nautical');
    for (const s of Object.values(view.sources)) s.changed();
    view.picture.changed();
    for (const node of document.querySelectorAll('.alt-unit')) node.textContent = U.altitudeInputUnit();
    renderAlerts();
    view.detail.refresh();
    view.notice.units();
  });
}

function applyZoneKinds() {
  const off = new Set([...document.querySelectorAll('[data-zone-kind]')].filter((b) => !b.checked).map((b) => b.dataset.zoneKind));
  const hidden = new L.GeometryCollection([]); // a geometry that draws nothing
  for (const f of view.sources.zones.getFeatures()) {
    if (!f.get('_geometry')) f.set('_geometry', f.getGeometry(), true);
    f.setGeometry(off.has(f.get('kind')) ? hidden.clone() : f.get('_geometry'));
  }
}

// --- alerts ----------------------------------------------------------------------------------
function alertTitle(a) {
  const b = a.body || {};
  const kind = a.kind.replace('_', ' ');
  if (a.kind === 'tactical') return `${kind}: ${(b.aircraft || []).join(' × ')}`;
  if (a.kind === 'findings') {
    const kinds = [...new Set((b.findings || []).map((f) => f.kind.replace('_', ' ')))];
    return `${b.count || (b.findings || []).length} findings: ${kinds.join(', ')}`;
  }
  if (b.zone) return `${kind}: ${(b.aircraft || []).join(' ')} · ${b.zone.name}`;
  if (a.kind === 'strategic' || b.operation) return `${kind}: operation ${String(b.operation || b.id || '').slice(0, 8)}`;
  return `${kind}: ${(b.aircraft || []).join(' ')}`;
}

function renderAlerts() {
  if (!state.me) return;
  const list = $('alerts');
  const alerts = [...state.alerts.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const open = alerts.filter((a) => a.open !== false && !a.acked_at).length;
  $('open-count').textContent = open ? `(${open} open)` : '';
  list.replaceChildren(...alerts.map((a) => {
    const sev = L.SEVERITY[a.severity] || L.SEVERITY.advisory;
    const acked = Boolean(a.acked_at);
    const body = a.body || {};
    const peers = state.peerAcks.get(body.id) || [];
    const b = a.body || {};
    const figures = a.kind === 'tactical'
      ? `loss of separation ${U.duration(b.t_in_s)} · CPA ${U.distance(b.d_cpa_m)}, ${U.vertical(b.v_cpa_m)}`
      : '';
    return el('li', { class: `alert sev-${a.severity} ${acked ? 'acked' : 'open'}`, 'data-alert': a.id },
      el('div', { class: 'alert-head' },
        el('span', { class: `sev sev-${a.severity}` }, sev.word),
        el('button', { type: 'button', class: 'linklike', onclick: () => {
          const id = b.id || ((b.findings || [])[0] || {}).id;
          if (id) selectConflict(id);
        } }, alertTitle(a))),
      figures && el('div', { class: 'figures' }, figures),
      el('div', { class: 'alert-meta' },
        `raised ${U.utc(a.created_at)} · level ${a.level}${a.level_name ? ` (${a.level_name})` : ''}${a.top && !acked ? ' · TOP OF LADDER' : ''}`),
      acked
        ? el('div', { class: 'acked-by' }, `Acknowledged ${U.utc(a.acked_at)} by ${a.acked_by ? a.acked_by.party : state.me.party}`)
        : el('div', { class: 'deadline' }, 'ack ', el('span', { 'data-deadline': a.deadline }, U.countdown(a.deadline, serverNow())),
          el('button', { type: 'button', class: 'ack', onclick: (e) => ack(a, e.target) }, 'Acknowledge')),
      ...peers.map((p) => el('div', { class: 'peer-ack' }, `${p.party} acknowledged this conflict at ${U.utc(p.acked_at)}`)));
  }));
}

async function ack(a, button) {
  button.disabled = true;
  try {
    const out = await api(`/v1/alerts/${encodeURIComponent(a.id)}/ack`, { method: 'POST' });
    state.alerts.set(a.id, { ...a, ...out });
    renderAlerts();
  } catch (err) {
    button.disabled = false;
    button.after(el('p', { class: 'error', role: 'alert' }, err.message));
  }
}

// --- messages ----------------------------------------------------------------------------------
function renderMessages() {
  if (!state.me) return;
  const parties = new Set(state.peers);
  for (const m of state.received) parties.add(m.from);
  for (const m of state.sent) parties.add(m.to);
  for (const op of state.operations) if (op.party !== state.me.party) parties.add(op.party);
  for (const f of state.zones.features || []) if (f.properties.owner !== state.me.party) parties.add(f.properties.owner);
  parties.delete(state.me.party);
  state.peers = [...parties].sort();
  if (!state.peer || !parties.has(state.peer)) state.peer = state.peers[0] || null;
  const unread = state.received.filter((m) => !m.read_at).length;
  $('unread-count').textContent = unread ? `(${unread} new)` : '';
  $('peers').replaceChildren(...state.peers.map((p) => el('button', {
    type: 'button', role: 'tab', 'aria-selected': String(p === state.peer),
    onclick: () => { state.peer = p; renderMessages(); },
  }, p, (() => { const n = state.received.filter((m) => m.from === p && !m.read_at).length; return n ? ` (${n})` : ''; })())));
  const talk = [
    ...state.received.filter((m) => m.from === state.peer).map((m) => ({ ...m, dir: 'in' })),
    ...state.sent.filter((m) => m.to === state.peer).map((m) => ({ ...m, dir: 'out' })),
  ].sort((a, b) => (a.sent_at < b.sent_at ? -1 : 1));
  $('conversation').replaceChildren(...talk.map((m) => el('li', { class: `msg ${m.dir}` },
    el('div', { class: 'msg-meta' }, `${m.dir === 'in' ? m.from : 'you'} · ${U.utc(m.sent_at)}`),
    el('div', { class: 'msg-text' }, m.text),
    m.refs && m.refs.length ? el('div', { class: 'msg-refs' }, 'refers to ', ...m.refs.map((r) => el('button', { type: 'button', class: 'linklike', onclick: () => selectRef(r) }, r.slice(0, 18)))) : null,
    m.dir === 'out' ? el('div', { class: 'receipt' }, m.read_at ? `read ${U.utc(m.read_at)}` : 'delivered, not yet read') : null)));
  if (!$('tab-messages').hidden) markRead();
}

function selectRef(ref) {
  if (state.conflicts.has(ref)) selectConflict(ref);
  else if (state.operations.some((o) => o.id === ref)) {
    state.selected = { kind: 'operation', id: ref };
    view.detail.show(state.selected, view.picture);
  }
}

async function markRead() {
  for (const m of state.received.filter((x) => x.from === state.peer && !x.read_at)) {
    try {
      const out = await api(`/v1/messages/${m.seq}/read`, { method: 'POST' });
      m.read_at = out.read_at || new Date().toISOString();
    } catch { /* shown as unread still */ }
  }
  const unread = state.received.filter((m) => !m.read_at).length;
  $('unread-count').textContent = unread ? `(${unread} new)` : '';
}

function updateRef() {
  const s = state.selected;
  const ok = s && (s.kind === 'operation' || s.kind === 'conflict');
  $('message-ref').disabled = !ok;
  $('message-ref').checked = Boolean(ok);
  $('message-ref-label').textContent = ok ? `refer to ${s.kind} ${s.id.slice(0, 18)}` : 'refer to the selected item (select an operation or conflict)';
}

$('message-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('message-error').textContent = '';
  if (!state.peer) { $('message-error').textContent = 'No other party to write to yet.'; return; }
  const refs = $('message-ref').checked && state.selected ? [state.selected.id] : [];
  try {
    const out = await api('/v1/messages', { method: 'POST', body: { to: state.peer, text: $('message-text').value, refs } });
    state.sent.push({ ...out, to: state.peer, text: $('message-text').value, refs, sent_at: out.sent_at || new Date().toISOString(), read_at: null });
    $('message-text').value = '';
    renderMessages();
  } catch (err) {
    $('message-error').textContent = err.message;
  }
});

// --- ledger -------------------------------------------------------------------------------------
function renderLedger() {
  const h = state.head;
  if (!h) return;
  $('ledger-head').replaceChildren(
    el('dt', {}, 'entries'), el('dd', {}, String(h.seq)),
    el('dt', {}, 'head hash'), el('dd', { class: 'hash' }, h.hash),
  );
  const pem = new Blob([h.public_key], { type: 'application/x-pem-file' });
  $('ledger-hint').replaceChildren(
    el('h3', {}, 'Verify my export'),
    el('p', {}, 'Keep this head. Export the ledger and verify it on your own machine, with nothing but the file and the server key:'),
    el('pre', {}, `deconfliction ledger export > ledger.jsonl\ndeconfliction ledger verify ledger.jsonl \\\n  --server-key server.pem --head ${h.seq}:${h.hash}`),
    el('a', { href: URL.createObjectURL(pem), download: 'server.pem' }, 'Save the server key (server.pem)'),
  );
}

// --- tabs and boot ----------------------------------------------------------------------------
for (const tab of document.querySelectorAll('[data-tab]')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll('[data-tab]')) {
      t.setAttribute('aria-selected', String(t === tab));
      $(`tab-${t.dataset.tab}`).hidden = t !== tab;
    }
    if (tab.dataset.tab === 'messages') markRead();
    if (tab.dataset.tab === 'notice') view.notice.defaults();
    if (tab.dataset.tab === 'ledger') refreshHead().catch(() => {});
  });
}
function closeDetail() {
  $('detail').hidden = true;
  state.selected = null;
  if (view) drawConflicts();
  updateRef();
}
$('detail-close').addEventListener('click', closeDetail);
$('map').addEventListener('keydown', (e) => {
  if (!view || !state.me || e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === 'Escape') closeDetail();
  else if (e.key === 'n' || e.key === 'p') {
    e.preventDefault();
    stepAircraft(e.key === 'n' ? 1 : -1);
  }
});

// For the page-speed benchmark and tests: the live picture, as the page holds it.
window.deconfliction = { state, get view() { return view; }, U, describe, serverNow };

session.who().then(start, () => showSignIn(''));
