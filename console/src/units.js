// People's units on the page; SI stays on the wire (SPEC §2). One place formats everything,
// so the metric toggle (for drone operators) changes every figure at once.

const FT_M = 0.3048;
const KT_MPS = 1852 / 3600;
const NM_M = 1852;

let metric = false;

export function setMetric(on) { metric = Boolean(on); }
export function isMetric() { return metric; }

function fin(x) { return typeof x === 'number' && Number.isFinite(x); }

/** Altitude: "FL085 (8,500 ft)" or "2,591 m". */
export function altitude(m) {
  if (!fin(m)) return '–';
  if (metric) return `${Math.round(m).toLocaleString('en-GB')} m`;
  const ft = m / FT_M;
  return `FL${String(Math.max(0, Math.round(ft / 100))).padStart(3, '0')} (${Math.round(ft).toLocaleString('en-GB')} ft)`;
}

/** Altitude, short: "FL085" or "2591m", for labels. */
export function altShort(m) {
  if (!fin(m)) return '–';
  if (metric) return `${Math.round(m)}m`;
  return `FL${String(Math.max(0, Math.round(m / FT_M / 100))).padStart(3, '0')}`;
}

/** An altitude band: "FL020–FL300" or "600–9,144 m". */
export function band(lower, upper) {
  if (metric) return `${Math.round(lower).toLocaleString('en-GB')}–${Math.round(upper).toLocaleString('en-GB')} m`;
  const f = (m) => (m <= 0 ? 'SFC' : `${Math.round(m / FT_M).toLocaleString('en-GB')} ft`);
  return `${f(lower)}–${f(upper)} (${altShort(lower)}–${altShort(upper)})`;
}

export function speed(mps) {
  if (!fin(mps)) return '–';
  return metric ? `${Math.round(mps)} m/s` : `${Math.round(mps / KT_MPS)} kt`;
}

export function speedShort(mps) {
  if (!fin(mps)) return '–';
  return metric ? `${Math.round(mps)}m/s` : `${Math.round(mps / KT_MPS)}kt`;
}

export function verticalRate(mps) {
  if (!fin(mps)) return '–';
  const sign = mps > 0.05 ? '+' : '';
  return metric ? `${sign}${mps.toFixed(1)} m/s` : `${sign}${Math.round(mps * 60 / FT_M)} ft/min`;
}

export function distance(m) {
  if (!fin(m)) return '–';
  if (metric) return m < 10000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
  return `${(m / NM_M).toFixed(1)} NM`;
}

export function vertical(m) {
  if (!fin(m)) return '–';
  return metric ? `${Math.round(m)} m` : `${Math.round(m / FT_M)} ft`;
}

export function heading(deg) {
  if (!fin(deg)) return '–';
  return `${String(Math.round(((deg % 360) + 360) % 360)).padStart(3, '0')}°`;
}

function pad(n) { return String(n).padStart(2, '0'); }

/** "14:05:09Z" (today) or "2026-12-05 14:05Z". */
export function utc(value, { date = false, seconds = true } = {}) {
  if (value === null || value === undefined) return '–';
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return '–';
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  const time = seconds ? `${hm}:${pad(d.getUTCSeconds())}Z` : `${hm}Z`;
  if (!date) return time;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}`;
}

/** A duration in seconds as "4 min 05 s", "45 s", or "now". */
export function duration(s) {
  if (!fin(s)) return '–';
  if (s <= 0.5) return 'now';
  const whole = Math.round(s);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
}

/** Countdown to a deadline: "in 0:45", or "overdue 1:10". */
export function countdown(deadline, now = Date.now()) {
  const ms = new Date(deadline).getTime() - now;
  if (!Number.isFinite(ms)) return '–';
  const s = Math.abs(Math.round(ms / 1000));
  const text = `${Math.floor(s / 60)}:${pad(s % 60)}`;
  return ms >= 0 ? `in ${text}` : `overdue ${text}`;
}

/** A page value in the chosen unit to metres (altitude inputs of the notice form). */
export function altitudeInput(value) {
  const x = Number(value);
  if (!Number.isFinite(x)) return NaN;
  return metric ? x : x * 100 * FT_M; // FL in aviation units
}

export function altitudeInputUnit() { return metric ? 'm' : 'FL'; }
export function radiusInput(value) {
  const x = Number(value);
  return metric ? x * 1000 : x * NM_M;
}
export function radiusInputUnit() { return metric ? 'km' : 'NM'; }
