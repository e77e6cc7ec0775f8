// Formatting helpers: times, durations, initials. Pure functions of their arguments (and of now, passed in).

const ms = (t) => (t ? Date.parse(t) : NaN);

/** zero reports whether an RFC 3339 time from the server is missing or Go's zero time. */
export function zero(t) {
  const v = ms(t);
  return !Number.isFinite(v) || v <= 0;
}

/** ago is a short age: "now", "4m", "3h", "2d". */
export function ago(t, now) {
  const v = ms(t);
  if (!Number.isFinite(v) || v <= 0) return '';
  const s = Math.max(0, Math.floor((now - v) / 1000));
  if (s < 45) return 'now';
  if (s < 3600) return Math.round(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

/** countdown is the time left until t as "23h 59m", "12m 05s", or '' when past. */
export function countdown(t, now) {
  const v = ms(t);
  if (!Number.isFinite(v)) return '';
  let s = Math.floor((v - now) / 1000);
  if (s <= 0) return '';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return h + 'h ' + String(m).padStart(2, '0') + 'm';
  return m + 'm ' + String(s).padStart(2, '0') + 's';
}

/** clock is a message time: "14:05" today, "Mon 14:05" this week, else "3 Dec 14:05". */
export function clock(t, now) {
  const v = ms(t);
  if (!Number.isFinite(v) || v <= 0) return '';
  const d = new Date(v);
  const hm = String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return hm;
  if (now - v < 6 * 86400e3) return d.toLocaleDateString('en-GB', { weekday: 'short' }) + ' ' + hm;
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' }) + ' ' + hm;
}

/** day is a date separator label: "Today", "Yesterday", or "Wed 2 Dec". */
export function day(t, now) {
  const d = new Date(ms(t));
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return 'Today';
  const y = new Date(now - 86400e3);
  if (d.toDateString() === y.toDateString()) return 'Yesterday';
  return d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
}

/** initials of a name, for avatars: "Maria Lopez" → "ML". */
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const a = [...parts[0]][0] || '?';
  const b = parts.length > 1 ? [...parts[parts.length - 1]][0] : '';
  return (a + (b || '')).toUpperCase();
}

/** hue is a stable colour hue for a string (avatars). */
export function hue(s) {
  let h = 0;
  for (const c of String(s || '')) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}

/** erased reports whether a conversation's customer was erased and has not written since: it holds counts only. */
export function erased(c) {
  const ct = (c && c.contact) || {};
  return !!(c && c.erased_at) && !ct.wa_id && !ct.name;
}

/** contactName is what the console calls a customer: their WhatsApp profile name, else their number. */
export function contactName(c) {
  const ct = (c && c.contact) || {};
  return ct.name || (ct.wa_id ? '+' + ct.wa_id : erased(c) ? 'Erased customer' : 'Unknown');
}

/** windowOpen reports whether a conversation's 24-hour window is open at now. */
export function windowOpen(c, now) {
  const v = ms(c && c.window_expires_at);
  return Number.isFinite(v) && v > now;
}

/** localInput formats a Date for <input type="datetime-local">. */
export function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
}
