// The People page (/people, /people/<contact id>): the tenant's contacts from GET /v1/contacts, searched by name,
// phone or field value (debounced), filtered by blocked and by the value of a choice field, paged with the server's
// cursor, with the contact panel as the detail of the one picked; links to Import (/people/import) and Export CSV
// (GET /v1/contacts/export.csv). Lists are always the server's: a contact event heard on the live stream refetches
// the page shown.
import { useState, useEffect, useRef } from 'preact/hooks';
import * as api from './api.js';
import { ago, initials, hue } from './util.js';
import { Icon } from './icon.jsx';
import { useNow } from './now.js';
import { ContactPanel, useFieldSchema, fieldText, go } from './contact.jsx';

const PAGE = 50;
const FIELD_COLUMNS = 3; // the schema's first fields get a column; the panel shows them all

/** isContactID reports whether a route part is a contact id ("k" and 16 base32hex characters). */
export const isContactID = (s) => /^k[0-9a-v]{16}$/.test(s || '');

export function PeoplePage({ me, sub, tick }) {
  const fields = useFieldSchema();
  const [typed, setTyped] = useState('');
  const [q, setQ] = useState('');
  const [blocked, setBlocked] = useState(''); // '' all, 'false' not blocked, 'true' blocked
  const [only, setOnly] = useState({}); // choice field key → the one value kept ('' or absent: any)
  const [cursors, setCursors] = useState(['']); // the cursor of each page visited; the last is the one shown
  const [page, setPage] = useState({ contacts: [], next: '', loading: true, error: '' });
  const [reload, setReload] = useState(0);
  const [toast, setToast] = useState(null);
  const gen = useRef(0);
  const now = useNow(30000);
  const selected = isContactID(sub) ? sub : null;
  const cursor = cursors[cursors.length - 1];

  // Typing searches after a pause of 250 ms; a new search or filter starts at the first page.
  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), 250);
    return () => clearTimeout(t);
  }, [typed]);
  // A choice filter asks the server for contacts with the value's words (search covers choice fields), then keeps
  // those whose field is exactly that value: exact, and pages stay the server's (a page may come back short).
  const picked = Object.entries(only).filter(([, v]) => v);
  const query = [q, ...picked.map(([, v]) => v)].filter(Boolean).join(' ');
  useEffect(() => setCursors(['']), [query, blocked]);

  useEffect(() => {
    const g = ++gen.current;
    setPage((p) => ({ ...p, loading: true }));
    api.get('/v1/contacts' + api.qs({ q: query, blocked, limit: PAGE, cursor })).then(
      (r) => g === gen.current && setPage({ contacts: (r && r.contacts) || [], next: (r && r.next_cursor) || '', loading: false, error: '' }),
      (e) => g === gen.current && setPage({ contacts: [], next: '', loading: false, error: e.message }),
    );
  }, [query, blocked, cursor, tick, reload]);

  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 3500);
    return () => clearTimeout(t);
  }, [toast]);
  const flash = (text, kind = 'error') => setToast({ text, kind });

  const cols = fields.slice(0, selected ? 1 : FIELD_COLUMNS); // the detail takes the room of two
  const { next, loading, error } = page;
  const contacts = picked.length ? page.contacts.filter((c) => picked.every(([k, v]) => (c.fields || {})[k] === v)) : page.contacts;
  const choices = fields.filter((f) => f.type === 'choice' && (f.choices || []).length).slice(0, 2);
  const open = (id) => go('/people' + (id ? '/' + id : ''));

  return (
    <section class={'people' + (selected ? ' with-detail' : '')} aria-label="People">
      <div class="people-main">
        <header class="list-head people-head">
          <div class="list-title">
            <h2>People</h2>
            <span class="people-actions">
              <a
                class="btn"
                id="people-import"
                href="/people/import"
                onClick={(e) => {
                  e.preventDefault();
                  go('/people/import');
                }}
              >
                <Icon d="M12 4v11M7 10l5 5 5-5M5 20h14" size={14} /> Import
              </a>
              <a class="btn" id="people-export" href="/v1/contacts/export.csv" download>
                <Icon d="M12 20V9M7 14l5-5 5 5M5 4h14" size={14} /> Export CSV
              </a>
            </span>
          </div>
          <div class="people-filters">
            <form class="search" role="search" onSubmit={(e) => (e.preventDefault(), setQ(typed.trim()))}>
              <Icon d="M11 4a7 7 0 100 14 7 7 0 000-14zm9 16l-4-4" />
              <input
                id="people-search"
                type="search"
                placeholder="Search name, number or field value"
                value={typed}
                onInput={(e) => setTyped(e.currentTarget.value)}
              />
            </form>
            <select id="people-filter" value={blocked} onChange={(e) => setBlocked(e.currentTarget.value)} aria-label="Blocked filter">
              <option value="">Everyone</option>
              <option value="false">Not blocked</option>
              <option value="true">Blocked</option>
            </select>
            {choices.map((f) => (
              <select
                key={f.key}
                id={'people-filter-' + f.key}
                value={only[f.key] || ''}
                onChange={(e) => setOnly((o) => ({ ...o, [f.key]: e.currentTarget.value }))}
                aria-label={(f.label || f.key) + ' filter'}
              >
                <option value="">{'Any ' + (f.label || f.key).toLowerCase()}</option>
                {f.choices.map((ch) => (
                  <option key={ch} value={ch}>{ch}</option>
                ))}
              </select>
            ))}
          </div>
        </header>
        <div class="people-body">
          <table class="people-table" id="people-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Phone</th>
                {cols.map((f) => (
                  <th key={f.key}>{f.label || f.key}</th>
                ))}
                <th>Status</th>
                <th class="num">Updated</th>
              </tr>
            </thead>
            <tbody>
              {contacts.map((c) => (
                <tr
                  key={c.id}
                  data-id={c.id}
                  class={c.id === selected ? 'active' : ''}
                  onClick={() => open(c.id)}
                  tabIndex={0}
                  onKeyDown={(e) => e.key === 'Enter' && open(c.id)}
                >
                  <td class="person">
                    <span class="avatar tiny" style={{ '--h': hue(c.id) }}>{initials(c.name || c.phone)}</span>
                    <span class="person-name">{c.name || <span class="muted">No name</span>}</span>
                  </td>
                  <td class="phone mono">{c.phone}</td>
                  {cols.map((f) => (
                    <td key={f.key} class="field-cell">{fieldText(f, (c.fields || {})[f.key])}</td>
                  ))}
                  <td>{c.blocked ? <span class="chip blocked">Blocked</span> : <span class="muted small">Active</span>}</td>
                  <td class="num muted small">{ago(c.updated_at || c.created_at, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {!loading && !error && !contacts.length && (
            <div class="list-empty" id="people-empty">
              <Icon d="M12 12a4 4 0 100-8 4 4 0 000 8zm-7 8a7 7 0 0114 0z" size={28} />
              <div>{query ? 'Nobody matches “' + query + '”' + (next ? ' on this page.' : '.') : blocked === 'true' ? 'Nobody is blocked.' : 'No contacts yet. Import a CSV, or they appear as customers write.'}</div>
            </div>
          )}
          {error && <div class="list-empty error-text">{error}</div>}
        </div>
        <footer class="people-foot">
          <span class="muted small" id="people-count">
            {loading ? 'Loading…' : contacts.length ? 'Page ' + cursors.length + ' · ' + contacts.length + (contacts.length === 1 ? ' contact' : ' contacts') : ''}
          </span>
          <span class="grow" />
          <button class="btn small" id="people-prev" disabled={cursors.length < 2} onClick={() => setCursors((cs) => cs.slice(0, -1))}>
            Previous
          </button>
          <button class="btn small" id="people-next" disabled={!next} onClick={() => setCursors((cs) => cs.concat(next))}>
            Next
          </button>
        </footer>
        {toast && (
          <div class={'toast ' + toast.kind} role="status" id="toast">
            {toast.text}
          </div>
        )}
      </div>
      {selected && (
        <aside class="details people-detail" aria-label="Contact">
          <div class="people-detail-head">
            <button class="icon-btn" title="Close" id="people-detail-close" onClick={() => open(null)}>
              <Icon d="M6 6l12 12M18 6L6 18" />
            </button>
          </div>
          <ContactPanel
            key={selected}
            id={selected}
            tick={tick}
            me={me}
            flash={flash}
            header
            onChange={() => setReload((n) => n + 1)}
            onErased={() => {
              open(null);
              setReload((n) => n + 1);
            }}
          />
        </aside>
      )}
    </section>
  );
}
