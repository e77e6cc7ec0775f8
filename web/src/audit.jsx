// Settings → Audit log: who changed what and when (GET /v1/audit), for admins. Newest first, filtered by person,
// action and dates, paged with "Load more". Every value shown is text: targets and changes are the server's JSON,
// never markup.
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

const ACTIONS = [
  ['', 'Any action'],
  ['settings.', 'Settings'],
  ['operator.', 'Team and roles'],
  ['channel.', 'Channels'],
  ['token.', 'API tokens'],
  ['sso.', 'Single sign-on'],
  ['conversation.taken_over', 'Take-overs'],
  ['conversation.erased', 'Conversation erasures'],
  ['contact.erased', 'Contact erasures'],
  ['access.denied', 'Refused actions'],
];

const LABELS = {
  'settings.changed': 'Changed settings',
  'operator.added': 'Added an operator',
  'operator.changed': 'Changed an operator',
  'operator.removed': 'Removed an operator',
  'channel.added': 'Added a channel',
  'channel.changed': 'Changed a channel',
  'channel.removed': 'Removed a channel',
  'invite.added': 'Invited an operator',
  'invite.changed': 'Changed an invite',
  'invite.removed': 'Removed an invite',
  'token.created': 'Created an API token',
  'token.revoked': 'Revoked an API token',
  'sso.added': 'Set up single sign-on',
  'sso.changed': 'Changed single sign-on',
  'conversation.taken_over': 'Took over a conversation',
  'conversation.erased': 'Erased a conversation',
  'contact.erased': 'Erased a contact',
  'access.denied': 'Was refused',
};

// value shows a change's JSON value as text.
function value(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v === '' ? '""' : v;
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : x)).join(', ') : '[]';
  return JSON.stringify(v);
}

function when(at) {
  const d = new Date(at);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

// day turns a date input ("2026-12-04") into the RFC 3339 start of that day, local time; end is the next day.
function dayStart(s, next) {
  if (!s) return '';
  const d = new Date(s + 'T00:00:00');
  if (next) d.setDate(d.getDate() + 1);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function AuditLogPage() {
  const [filters, setFilters] = useState({ actor: '', action: '', from: '', to: '' });
  const [entries, setEntries] = useState(null);
  const [next, setNext] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const query = (cursor) => {
    const q = new URLSearchParams({ limit: '50' });
    if (filters.actor.trim()) q.set('actor', filters.actor.trim());
    if (filters.action) q.set('action', filters.action);
    if (filters.from) q.set('from', dayStart(filters.from));
    if (filters.to) q.set('to', dayStart(filters.to, true));
    if (cursor) q.set('cursor', cursor);
    return '/v1/audit?' + q.toString();
  };
  const load = async (cursor) => {
    setBusy(true);
    setError('');
    try {
      const r = await api.get(query(cursor));
      setEntries((prev) => (cursor && prev ? prev.concat(r.entries) : r.entries));
      setNext(r.next_cursor || '');
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    load('');
  }, [filters.action, filters.from, filters.to]);
  const set = (k, v) => setFilters((f) => ({ ...f, [k]: v }));

  return (
    <section class="settings-page audit-page" id="audit-page">
      <header class="settings-head">
        <div>
          <div class="muted small">Settings</div>
          <h2>Audit log</h2>
        </div>
      </header>
      <p class="settings-intro muted">
        Who changed what and when: settings, the team and roles, API tokens, channels, take-overs, erasures, and
        the actions someone was refused.
      </p>
      <form
        class="audit-filters"
        onSubmit={(e) => {
          e.preventDefault();
          load('');
        }}
      >
        <input
          type="search"
          id="audit-actor"
          placeholder="Person (id)"
          value={filters.actor}
          onInput={(e) => set('actor', e.currentTarget.value)}
          aria-label="Filter by person"
        />
        <select
          id="audit-action"
          value={filters.action}
          onChange={(e) => set('action', e.currentTarget.value)}
          aria-label="Filter by action"
        >
          {ACTIONS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        <label class="muted small">
          From <input type="date" id="audit-from" value={filters.from} onChange={(e) => set('from', e.currentTarget.value)} />
        </label>
        <label class="muted small">
          To <input type="date" id="audit-to" value={filters.to} onChange={(e) => set('to', e.currentTarget.value)} />
        </label>
        <button class="btn" id="audit-apply" disabled={busy}>
          Apply
        </button>
      </form>
      {error && (
        <div class="alert error" role="alert" id="audit-error">
          {error}
        </div>
      )}
      {entries === null ? (
        <div class="muted">Loading…</div>
      ) : entries.length === 0 ? (
        <div class="audit-empty" id="audit-empty">
          <h3>No entries</h3>
          <p class="muted">
            {filters.actor || filters.action || filters.from || filters.to
              ? 'Nothing matches these filters.'
              : 'Changes to settings, the team, tokens and channels will be listed here.'}
          </p>
        </div>
      ) : (
        <table class="people-table audit-table" id="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Target</th>
              <th>Changes</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} class={'audit-row' + (e.action === 'access.denied' ? ' denied' : '')} data-action={e.action}>
                <td class="audit-when" title={e.at}>
                  {when(e.at)}
                </td>
                <td class="audit-who">
                  {e.actor_id}
                  {e.actor_role && <span class="muted small"> · {e.actor_role}</span>}
                </td>
                <td class="audit-what">{LABELS[e.action] || e.action}</td>
                <td class="audit-target">{e.target}</td>
                <td class="audit-changes">
                  {(e.changes || []).map((c) => (
                    <div key={c.field} class="audit-change">
                      <span class="audit-field">{c.field}</span> {value(c.from)} → {value(c.to)}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button class="btn" id="audit-more" disabled={busy} onClick={() => load(next)}>
          Load more
        </button>
      )}
    </section>
  );
}
