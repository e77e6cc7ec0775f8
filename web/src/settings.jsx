// Settings → General: the tenant's settings (GET/PATCH /v1/settings), for admins. A change applies at once, on
// every node, without a restart; a refused value is shown with the field the server names.
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

const ROLES = ['admin', 'builder', 'operator'];
// The duration fields are Go durations as the API writes them ("24h0m0s"), shown as typed ("24h") once edited.
const DURATIONS = [
  ['auto_close_after', 'Close after inactivity', 'e.g. 24h; 0 never closes'],
  ['reservation_timeout', 'Reservation timeout', 'back to the queue when the assignee has not replied; 0 off'],
  ['window_warning', 'Window warning', 'warn this long before the 24-hour window closes; 0 off'],
];
const FLAGS = [
  ['offline_releases', 'Going offline sends an operator’s conversations back to the queue'],
  ['read_receipts', 'Mark customers’ messages read on WhatsApp when an operator reads them'],
  ['hide_phone_numbers', 'Hide phone numbers from operators'],
];

/** auditDays is the audit log retention the API answers ("9600h0m0s", or 0: forever) as whole days, as typed. */
function auditDays(v) {
  if (!v) return '0';
  const m = /^(\d+)h/.exec(String(v));
  return m ? String(Math.round(Number(m[1]) / 24)) : String(v);
}

function show(v) {
  return v === 0 || v === '0' || v === undefined ? '0' : String(v).replace(/(\D)0s$/, '$1').replace(/(\D)0m$/, '$1');
}

function Head() {
  return (
    <header class="settings-head">
      <div>
        <div class="muted small">Settings</div>
        <h2>General</h2>
      </div>
    </header>
  );
}

export function GeneralSettingsPage() {
  const [saved, setSaved] = useState(null); // the settings as the server last answered
  const [form, setForm] = useState(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const take = (s) => {
    setSaved(s);
    const f = { ...s, takeover_roles: s.takeover_roles || [] };
    for (const [k] of DURATIONS) f[k] = show(s[k]);
    f.audit_days = auditDays(s.audit_retention);
    setForm(f);
  };
  useEffect(() => {
    api.get('/v1/settings').then(take, (e) => setError(e.message));
  }, []);

  if (!form) {
    return (
      <section class="settings-page" id="general-page">
        <Head />
        {error ? <div class="alert error" role="alert">{error}</div> : <div class="muted">Loading…</div>}
      </section>
    );
  }
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const save = async (e) => {
    e.preventDefault();
    setError('');
    setNotice('');
    // Only what changed is sent: a concurrent change of another field by another admin is kept.
    const change = {};
    for (const k of ['routing', 'reopen_to', 'offline_releases', 'read_receipts', 'hide_phone_numbers']) {
      if (form[k] !== saved[k]) change[k] = form[k];
    }
    for (const [k] of DURATIONS) if (form[k] !== show(saved[k])) change[k] = form[k].trim() === '0' ? 0 : form[k].trim();
    const days = form.audit_days.trim();
    if (days !== auditDays(saved.audit_retention)) {
      if (!/^\d+$/.test(days)) {
        setError('Keep the audit log: a whole number of days (0 keeps it forever).');
        return;
      }
      change.audit_retention = Number(days) === 0 ? 0 : Number(days) * 24 + 'h';
    }
    const roles = ROLES.filter((r) => form.takeover_roles.includes(r));
    if (roles.join() !== (saved.takeover_roles || []).join()) change.takeover_roles = roles;
    if (Object.keys(change).length === 0) {
      setNotice('Nothing changed.');
      return;
    }
    setBusy(true);
    try {
      const s = await api.request('PATCH', '/v1/settings', change);
      take(s);
      setNotice('Saved. The change applies now, on every node.');
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="settings-page" id="general-page">
      <Head />
      <p class="settings-intro muted">How conversations are routed and closed in your workspace.</p>
      <form class="canned-form settings-form" id="general-form" onSubmit={save}>
        <div class="canned-form-row">
          <label>
            Routing
            <select id="setting-routing" value={form.routing} onChange={(e) => set('routing', e.currentTarget.value)}>
              <option value="auto">Automatic: offer conversations to online operators with free capacity</option>
              <option value="manual">Manual: conversations wait in Unassigned until someone takes one</option>
            </select>
          </label>
        </div>
        <div class="canned-form-row">
          <label>
            When a customer writes to a closed or snoozed conversation
            <select id="setting-reopen_to" value={form.reopen_to} onChange={(e) => set('reopen_to', e.currentTarget.value)}>
              <option value="queue">Back to the queue</option>
              <option value="last_operator">To the last operator first</option>
            </select>
          </label>
        </div>
        <div class="canned-form-row">
          {DURATIONS.map(([k, label, hint]) => (
            <label key={k}>
              {label}
              <input id={'setting-' + k} value={form[k]} onInput={(e) => set(k, e.currentTarget.value)} title={hint} />
              <span class="muted small">{hint}</span>
            </label>
          ))}
        </div>
        <div class="canned-form-row">
          <label>
            Keep the audit log (days)
            <input
              id="setting-audit_days"
              inputMode="numeric"
              value={form.audit_days}
              onInput={(e) => set('audit_days', e.currentTarget.value)}
              title="entries older than this are removed; 0 keeps them forever"
            />
            <span class="muted small">Older entries are removed; 0 keeps them forever. Default 400.</span>
          </label>
        </div>
        <fieldset class="settings-flags">
          <legend>May take a conversation another operator holds</legend>
          {ROLES.map((r) => (
            <label key={r} class="check">
              <input
                type="checkbox"
                id={'setting-takeover-' + r}
                checked={form.takeover_roles.includes(r)}
                onChange={(e) =>
                  set('takeover_roles', e.currentTarget.checked ? [...form.takeover_roles, r] : form.takeover_roles.filter((x) => x !== r))
                }
              />
              {r}
            </label>
          ))}
          <span class="muted small">None ticked: admins and builders.</span>
        </fieldset>
        <fieldset class="settings-flags">
          {FLAGS.map(([k, label]) => (
            <label key={k} class="check">
              <input type="checkbox" id={'setting-' + k} checked={form[k]} onChange={(e) => set(k, e.currentTarget.checked)} />
              {label}
            </label>
          ))}
        </fieldset>
        {error && (
          <div class="alert error" role="alert" id="general-error">
            {error}
          </div>
        )}
        {notice && (
          <div class="alert info" role="status" id="general-notice">
            {notice}
          </div>
        )}
        <div class="canned-form-foot">
          <span class="muted small grow">Version {saved.version}</span>
          <button class="btn primary" id="general-save" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </section>
  );
}
