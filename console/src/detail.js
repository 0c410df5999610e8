// The panel of the selected thing: an aircraft, a conflict, an operation or a zone, with the
// ledger entry that recorded it where there is one.

import * as U from './units.js';
import { SEVERITY } from './layers.js';

function row(dl, term, value) {
  const dt = document.createElement('dt'); dt.textContent = term;
  const dd = document.createElement('dd'); dd.textContent = value;
  dl.append(dt, dd);
}

export class DetailPanel {
  constructor(box, body, { state, api }) {
    Object.assign(this, { box, body, state, api });
    this.current = null;
    this.picture = null;
    this.ledger = new Map(); // object id -> entry, once found
  }

  show(selected, picture) {
    this.current = selected;
    this.picture = picture;
    this.box.hidden = !selected;
    this.refresh();
  }

  refresh() {
    const s = this.current;
    if (!s || this.box.hidden) return;
    this.body.replaceChildren();
    const h = document.createElement('h2');
    const dl = document.createElement('dl');
    dl.className = 'facts';
    this.body.append(h, dl);
    if (s.kind === 'track') this.track(h, dl, s);
    else if (s.kind === 'conflict') {
      this.conflict(h, dl, s);
      for (const id of (s.also || []).filter((x) => x !== s.id)) {
        const h2 = document.createElement('h2');
        const dl2 = document.createElement('dl');
        dl2.className = 'facts';
        this.body.append(h2, dl2);
        this.conflict(h2, dl2, { kind: 'conflict', id });
      }
    }
    else if (s.kind === 'operation') this.operation(h, dl, s);
    else if (s.kind === 'zone') this.zone(h, dl, s);
  }

  track(h, dl, s) {
    const held = this.picture && this.picture.tracks.get(s.key);
    h.textContent = `Aircraft ${s.aircraft}`;
    if (!held) { row(dl, 'status', 'no longer shown (silent, or out of your view)'); return; }
    const t = held.track;
    row(dl, 'party', t.party);
    row(dl, 'altitude', U.altitude(t.alt_m));
    row(dl, 'ground speed', U.speed(t.gs_mps));
    row(dl, 'vertical rate', U.verticalRate(t.vs_mps));
    row(dl, 'track', U.heading(t.track_deg));
    row(dl, 'position', `${t.lat.toFixed(4)}°N ${t.lon.toFixed(4)}°E`);
    row(dl, 'reported', U.utc(t.t));
    if (t.operation) row(dl, 'operation', t.operation);
  }

  conflict(h, dl, s) {
    const c = this.state.conflicts.get(s.id);
    if (!c) { h.textContent = 'Conflict'; row(dl, 'status', 'ended'); return; }
    const sev = SEVERITY[c.severity] || SEVERITY.advisory;
    h.textContent = `${sev.word} · ${c.kind.replace('_', ' ')}`;
    row(dl, 'aircraft', (c.aircraft || []).join(' × '));
    row(dl, 'parties', (c.parties || []).join(', '));
    if (c.kind === 'tactical') {
      row(dl, 'loss of separation', c.t_in_s > 0 ? `in ${U.duration(c.t_in_s)}` : 'now');
      row(dl, 'closest approach', `in ${U.duration(c.t_cpa_s)}: ${U.distance(c.d_cpa_m)} apart, ${U.vertical(c.v_cpa_m)} vertically`);
      const res = c.resolutions || {};
      for (const [name, r] of Object.entries(res)) {
        const parts = [];
        if (r.track_deg !== null && r.track_deg !== undefined) parts.push(`turn ${r.heading_deg > 0 ? 'right' : 'left'} ${Math.abs(r.heading_deg)}° to ${U.heading(r.track_deg)}`);
        if (r.alt_m !== null && r.alt_m !== undefined) parts.push(`${r.altitude_m > 0 ? 'climb' : 'descend'} to ${U.altitude(r.alt_m)}`);
        if (r.gs_mps !== null && r.gs_mps !== undefined) parts.push(`${r.speed_pct > 0 ? 'speed up' : 'slow'} to ${U.speed(r.gs_mps)}`);
        row(dl, `resolution for ${name}`, parts.length ? parts.join(' · or ') : 'none found within limits');
      }
    }
    if (c.zone) row(dl, 'zone', `${c.zone.name} (${c.zone.kind.replace('_', ' ')}, ${c.zone.owner})`);
    if (c.t_entry_s !== undefined) row(dl, 'entry', c.violation ? 'inside now' : `in ${U.duration(c.t_entry_s)}`);
    if (c.lateral_m !== undefined && c.lateral_m !== null) row(dl, 'outside its operation by', U.distance(c.lateral_m));
    for (const p of this.state.peerAcks.get(c.id) || []) row(dl, 'acknowledged by', `${p.party} at ${U.utc(p.acked_at)}`);
    const alert = [...this.state.alerts.values()].find((a) => a.body && a.body.id === c.id);
    if (alert) this.ledgerRow(dl, alert.id, 'alert raised');
  }

  operation(h, dl, s) {
    const op = this.state.operations.find((o) => o.id === s.id);
    if (!op) { h.textContent = 'Operation'; row(dl, 'status', 'no longer listed'); return; }
    h.textContent = `Operation of ${op.party}`;
    row(dl, 'id', op.id);
    row(dl, 'state', `${op.state} (version ${op.version})`);
    if (op.flags.length) row(dl, 'flags', op.flags.join(', ').replace('_', ' '));
    row(dl, 'notified', U.utc(op.submitted_at, { date: true }));
    op.volumes.forEach((v, k) => {
      const shape = v.outline.type === 'Circle' ? `circle of ${U.distance(v.outline.radius_m)}` : 'polygon';
      row(dl, `volume ${k + 1}`, `${shape}, ${U.band(v.lower_m, v.upper_m)}, ${U.utc(v.start, { date: true, seconds: false })} – ${U.utc(v.end, { date: true, seconds: false })}`);
      const notice = (new Date(v.start) - new Date(v.notified_at)) / 1000;
      row(dl, `notice ${k + 1}`, notice > 0 ? U.duration(notice) : 'none (started before notice)');
    });
    if (op.details) for (const [k, v] of Object.entries(op.details)) row(dl, k, Array.isArray(v) ? v.join(' ') : String(v));
    this.ledgerRow(dl, op.id, 'notified');
  }

  zone(h, dl, s) {
    const f = (this.state.zones.features || []).find((z) => z.id === s.id);
    if (!f) return;
    const p = f.properties;
    h.textContent = `Zone: ${p.name}`;
    row(dl, 'kind', p.kind.replace('_', ' '));
    row(dl, 'owner', p.owner);
    row(dl, 'applies to', p.applies_to ? p.applies_to.join(', ') : `every party but ${p.owner}`);
    p.volumes.forEach((v, k) => row(dl, `volume ${k + 1}`, `${U.band(v.lower_m, v.upper_m)} until ${U.utc(v.end, { date: true, seconds: false })}`));
    this.ledgerRow(dl, p.id, 'declared');
  }

  ledgerRow(dl, id, what) {
    const found = this.ledger.get(id);
    const dt = document.createElement('dt'); dt.textContent = 'ledger';
    const dd = document.createElement('dd');
    if (found) {
      dd.textContent = `entry ${found.seq} (${found.kind}, ${U.utc(found.time)}), hash ${found.hash.slice(0, 16)}…`;
    } else {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `Find the entry that recorded it (${what})`;
      b.addEventListener('click', () => this.findEntry(id, b));
      dd.append(b);
    }
    dl.append(dt, dd);
  }

  async findEntry(id, button) {
    button.disabled = true;
    button.textContent = 'searching the ledger…';
    let after = 0;
    for (;;) {
      const page = await this.api(`/v1/ledger?after=${after}&limit=1000`);
      // An alert a notice raised is listed in the notice's own entry.
      const hit = page.entries.find((e) => e.body && (e.body.id === id || e.body.operation === id
        || (Array.isArray(e.body.alerts) && e.body.alerts.some((a) => a.id === id))));
      if (hit) { this.ledger.set(id, hit); this.refresh(); return; }
      if (page.entries.length < 1000) break;
      after = page.entries[page.entries.length - 1].seq;
    }
    button.textContent = 'not in the ledger';
  }
}
