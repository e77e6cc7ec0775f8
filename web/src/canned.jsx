// Canned responses in the console: the composer's picker ("/" at the start of a reply or a note opens it; type to
// search, arrow keys to move, Enter inserts the response rendered for this conversation, Esc closes) and the
// Settings → Canned responses page where admins and builders manage them (operators read them).
import { useState, useEffect, useMemo, useRef, useCallback } from 'preact/hooks';
import * as api from './api.js';
import { Icon } from './icon.jsx';

// Who wants to hear that the canned responses changed (a canned.changed event): the pickers and the page reload.
const listeners = new Set();

/** cannedChanged tells every open picker and the Settings page to reload the canned responses. */
export function cannedChanged() {
  for (const f of listeners) f();
}

function useCannedChanges(f) {
  useEffect(() => {
    listeners.add(f);
    return () => listeners.delete(f);
  }, [f]);
}

/** VARIABLES are the variables a canned response may use, with what each becomes. */
export const VARIABLES = [
  ['contact.name', 'the customer’s name'],
  ['contact.phone', 'the customer’s number'],
  ['operator.name', 'your name'],
  ['contact.fields.city', 'a custom field (any key)'],
];

/** matches reports whether a canned response holds every word of q in its title, category or text. */
function matches(r, q) {
  const hay = (r.title + '\n' + (r.category || '') + '\n' + r.text).toLowerCase();
  return q.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

/**
 * useCannedPicker is the composer's side of the picker. The composer calls onInput(value) on every input and
 * onKeyDown(e) first on every key (true: the picker took the key), and renders popup above the field. When the
 * operator picks a response, it is rendered for the conversation and insert(text, media) replaces the "/query"
 * (media is the response's file, {type, id}, or null).
 */
export function useCannedPicker({ conversationId, insert, flash }) {
  const [open, setOpen] = useState(null); // {q, i} while open
  const [list, setList] = useState(null);
  const [error, setError] = useState('');
  const loaded = useRef(false);

  const load = useCallback(() => {
    if (loaded.current) return;
    loaded.current = true;
    api.get('/v1/canned-responses').then(
      (r) => setList((r && r.canned_responses) || []),
      (e) => {
        loaded.current = false;
        setError(e.message);
        setList([]);
      },
    );
  }, []);

  // A change elsewhere: a list loaded already is loaded again.
  useCannedChanges(
    useCallback(() => {
      if (!loaded.current) return;
      loaded.current = false;
      load();
    }, [load]),
  );

  const shown = useMemo(() => (open && list ? list.filter((r) => matches(r, open.q)).slice(0, 8) : []), [open, list]);

  const onInput = (value) => {
    const m = /^\/([^\n]*)$/.exec(value);
    if (m && m[1].length <= 60) {
      load();
      setOpen((o) => ({ q: m[1], i: o && o.q === m[1] ? o.i : 0 }));
    } else if (open) {
      setOpen(null);
    }
  };

  const pick = async (r) => {
    setOpen(null);
    try {
      const out = await api.post('/v1/canned-responses/' + r.id + '/render', { conversation_id: conversationId });
      insert(out.text, out.media || null);
      if (out.missing && out.missing.length) {
        flash('Fill in by hand: ' + out.missing.map((v) => '{{' + v + '}}').join(', '), 'info');
      }
    } catch (e) {
      flash(e.message);
    }
  };

  const onKeyDown = (e) => {
    if (!open) return false;
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      setOpen(null);
      return true;
    }
    if (!shown.length) return e.key === 'Enter' ? (e.preventDefault(), true) : false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const d = e.key === 'ArrowDown' ? 1 : -1;
      setOpen({ ...open, i: (open.i + d + shown.length) % shown.length });
      return true;
    }
    if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      pick(shown[open.i] || shown[0]);
      return true;
    }
    return false;
  };

  const popup = open ? (
    <div class="popover canned-picker" id="canned-picker" role="dialog" aria-label="Canned responses">
      <div class="canned-picker-head small muted">
        Canned responses {open.q ? <>matching “{open.q}”</> : ''} · ↑↓ to move, Enter to insert, Esc to close
      </div>
      <ul role="listbox" id="canned-list">
        {list === null && <li class="muted small">Loading…</li>}
        {error && <li class="error-text small">{error}</li>}
        {list !== null && !error && shown.length === 0 && (
          <li class="muted small" id="canned-none">
            {list.length ? 'No canned response matches.' : 'No canned responses yet. Admins add them in Settings.'}
          </li>
        )}
        {shown.map((r, i) => (
          <li
            key={r.id}
            role="option"
            aria-selected={i === open.i}
            class={'canned-row' + (i === open.i ? ' active' : '')}
            data-id={r.id}
            onMouseDown={(e) => {
              e.preventDefault();
              pick(r);
            }}
          >
            <div class="canned-row-top">
              <span class="canned-title">{r.title}</span>
              {r.category && <span class="canned-cat">{r.category}</span>}
              {r.media && <span class="canned-cat">{r.media.type}</span>}
            </div>
            <div class="canned-text muted small">{r.text}</div>
          </li>
        ))}
      </ul>
    </div>
  ) : null;

  return { onInput, onKeyDown, popup, open: !!open };
}

/** group returns the responses grouped by category ("" last as "Uncategorised"), each sorted by title. */
function group(list) {
  const by = new Map();
  for (const r of list) {
    const k = r.category || '';
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(r);
  }
  return [...by.entries()].sort((a, b) => (a[0] === '' ? 1 : b[0] === '' ? -1 : a[0].localeCompare(b[0])));
}

/** CannedPage is Settings → Canned responses: the list by category, and for admins and builders create, edit, delete. */
export function CannedPage({ me }) {
  const manage = me.permissions.includes('canned.manage');
  const [list, setList] = useState(null);
  const [q, setQ] = useState('');
  const [editing, setEditing] = useState(null); // null, {} for new, or a response
  const [error, setError] = useState('');
  const [confirm, setConfirm] = useState(null);

  const load = useCallback(() => {
    api.get('/v1/canned-responses').then(
      (r) => setList((r && r.canned_responses) || []),
      (e) => setError(e.message),
    );
  }, []);
  useEffect(load, []);
  useCannedChanges(load);

  const shown = (list || []).filter((r) => matches(r, q));
  const remove = async (r) => {
    setConfirm(null);
    try {
      await api.del('/v1/canned-responses/' + r.id);
      load();
    } catch (e) {
      setError(e.message);
    }
  };

  return (
    <section class="settings-page canned-page" id="canned-page">
      <header class="settings-head">
        <div>
          <div class="muted small">Settings</div>
          <h2>Canned responses</h2>
        </div>
        <span class="grow" />
        <input id="canned-search" type="search" placeholder="Search responses" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        {manage && (
          <button class="btn primary" id="canned-new" onClick={() => setEditing({})}>
            <Icon d="M12 5v14M5 12h14" size={14} /> New response
          </button>
        )}
      </header>
      <p class="muted small settings-intro">
        Type <kbd>/</kbd> at the start of a reply to insert one. Variables such as <code>{'{{contact.name}}'}</code> are
        filled for the conversation; {manage ? 'you can manage them here.' : 'admins and builders manage them.'}
      </p>
      {error && (
        <div class="alert error" role="alert">
          {error}
        </div>
      )}
      {editing && (
        <CannedForm
          initial={editing}
          onCancel={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load();
          }}
        />
      )}
      {list === null && !error && <div class="muted">Loading…</div>}
      {list !== null && shown.length === 0 && (
        <div class="settings-empty muted" id="canned-empty">
          {list.length ? 'No response matches.' : 'No canned responses yet.'}
        </div>
      )}
      {group(shown).map(([cat, rs]) => (
        <div class="canned-group" key={cat}>
          <h3 class="canned-group-title">{cat || 'Uncategorised'}</h3>
          <ul class="canned-cards">
            {rs.map((r) => (
              <li class="canned-card" key={r.id} data-id={r.id}>
                <div class="canned-card-head">
                  <span class="canned-title">{r.title}</span>
                  {r.media && <span class="canned-cat">{r.media.type}</span>}
                  <span class="grow" />
                  {manage && (
                    <>
                      <button class="link-btn canned-edit" onClick={() => setEditing(r)}>
                        Edit
                      </button>
                      <button class="link-btn danger canned-delete" onClick={() => setConfirm(r)}>
                        Delete
                      </button>
                    </>
                  )}
                </div>
                <div class="canned-card-text">{r.text}</div>
                {confirm && confirm.id === r.id && (
                  <div class="canned-confirm">
                    Delete “{r.title}”?
                    <button class="btn small danger-btn" id="canned-confirm-delete" onClick={() => remove(r)}>
                      Delete
                    </button>
                    <button class="btn small" onClick={() => setConfirm(null)}>
                      Keep
                    </button>
                  </div>
                )}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}

/** CannedForm creates (initial {}) or edits a canned response. */
function CannedForm({ initial, onCancel, onSaved }) {
  const [title, setTitle] = useState(initial.title || '');
  const [category, setCategory] = useState(initial.category || '');
  const [text, setText] = useState(initial.text || '');
  const [mediaType, setMediaType] = useState((initial.media && initial.media.type) || '');
  const [mediaId, setMediaId] = useState((initial.media && initial.media.id) || '');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const textRef = useRef(null);

  const addVariable = (v) => {
    const el = textRef.current;
    const at = el ? el.selectionStart : text.length;
    const next = text.slice(0, at) + '{{' + v + '}}' + text.slice(at);
    setText(next);
    if (el) {
      el.value = next;
      el.focus();
      const caret = at + v.length + 4;
      el.setSelectionRange(caret, caret);
    }
  };

  const save = async (e) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError('');
    try {
      // A file is a media id from POST /v1/media; none (or no id) sends null, which removes one.
      const body = { title, category, text, media: mediaType && mediaId.trim() ? { type: mediaType, id: mediaId.trim() } : null };
      if (initial.id) await api.request('PATCH', '/v1/canned-responses/' + initial.id, body);
      else await api.post('/v1/canned-responses', body);
      onSaved();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="canned-form popover" id="canned-form" onSubmit={save}>
      <h3>{initial.id ? 'Edit response' : 'New response'}</h3>
      <div class="canned-form-row">
        <label>
          Title
          <input id="canned-title" value={title} maxLength={100} onInput={(e) => setTitle(e.currentTarget.value)} required autofocus />
        </label>
        <label>
          Category <span class="muted small">(optional)</span>
          <input id="canned-category" value={category} maxLength={50} onInput={(e) => setCategory(e.currentTarget.value)} />
        </label>
      </div>
      <label>
        Text
        <textarea id="canned-text" ref={textRef} rows={5} value={text} maxLength={4096} onInput={(e) => setText(e.currentTarget.value)} required />
      </label>
      <div class="canned-form-row">
        <label>
          File <span class="muted small">(optional)</span>
          <select id="canned-media-type" value={mediaType} onChange={(e) => setMediaType(e.currentTarget.value)}>
            <option value="">None</option>
            <option value="image">Image</option>
            <option value="document">Document</option>
            <option value="video">Video</option>
            <option value="audio">Audio</option>
          </select>
        </label>
        <label>
          Media id <span class="muted small">(from an upload)</span>
          <input id="canned-media-id" value={mediaId} disabled={!mediaType} onInput={(e) => setMediaId(e.currentTarget.value)} />
        </label>
      </div>
      <div class="canned-vars small">
        <span class="muted">Insert:</span>
        {VARIABLES.map(([v, what]) => (
          <button type="button" class="chip" key={v} title={what} onClick={() => addVariable(v)}>
            {'{{' + v + '}}'}
          </button>
        ))}
        <span class="grow" />
        <span class="muted">{text.length}/4096</span>
      </div>
      {error && (
        <div class="alert error" role="alert" id="canned-form-error">
          {error}
        </div>
      )}
      <div class="canned-form-foot">
        <button type="button" class="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="btn primary" id="canned-save" disabled={busy || !title.trim() || !text.trim()}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

// Media types WhatsApp sends without a caption: their text goes as a message of its own.
const NO_CAPTION = { audio: true, sticker: true };

/**
 * sendWithMedia sends a reply that carries a canned response's file (media {type, id}) to conversation id: the file
 * by its media id with text as its caption, or for audio the file and then the text.
 */
export async function sendWithMedia(id, media, text) {
  const path = '/v1/conversations/' + id + '/messages';
  const obj = { id: media.id };
  if (text && !NO_CAPTION[media.type]) obj.caption = text;
  await api.post(path, { type: media.type, [media.type]: obj });
  if (text && NO_CAPTION[media.type]) await api.post(path, { type: 'text', text });
}

/** MediaChip shows the file a canned response brings into the composer, with a button to drop it. */
export function MediaChip({ media, onRemove }) {
  return (
    <div class="canned-media" id="canned-media">
      <Icon d="M21 12.5l-8.5 8.5a5.5 5.5 0 01-7.8-7.8l9.2-9.2a3.7 3.7 0 015.2 5.2l-9.2 9.2a1.8 1.8 0 01-2.6-2.6l8.5-8.5" size={14} />
      <span>
        {media.type} from the canned response <span class="muted mono">{media.id}</span>
      </span>
      <button class="icon-btn" title="Do not send the file" id="canned-media-remove" onClick={onRemove}>
        <Icon d="M6 6l12 12M18 6L6 18" size={12} />
      </button>
    </div>
  );
}
