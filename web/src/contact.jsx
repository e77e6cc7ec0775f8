// The contact panel: a contact of the tenant's People as the API gives it (GET /v1/contacts/{id}), shown beside a
// conversation and as the People page's detail. Its name and custom fields are editable per the tenant's schema
// (GET /v1/contacts/fields); a field the server refuses (400 invalid_field / unknown_field) shows the server's reason
// next to that field. It lists the contact's conversations, blocks and unblocks, and (admins only) erases after a
// typed confirmation. Phone numbers are shown exactly as the API gives them: masked for an operator of a tenant that
// hides them. Customer-written text (names, field values) is only ever rendered as text.
import { useState, useEffect, useCallback, useRef } from 'preact/hooks';
import * as api from './api.js';
import { initials, hue } from './util.js';
import { Icon } from './icon.jsx';
import { StartDialog } from './start.jsx';

let schemaPromise = null;

/** fieldSchema is the tenant's custom field schema, fetched once per page load (again after a failure). */
export function fieldSchema() {
  if (!schemaPromise) {
    schemaPromise = api.get('/v1/contacts/fields').then(
      (r) => (Array.isArray(r) ? r : (r && r.fields) || []),
      (e) => {
        schemaPromise = null;
        throw e;
      },
    );
  }
  return schemaPromise;
}

/** useFieldSchema is the schema for a component: [] until it arrives. */
export function useFieldSchema() {
  const [fields, setFields] = useState([]);
  useEffect(() => {
    let live = true;
    fieldSchema().then((f) => live && setFields(f), () => {});
    return () => {
      live = false;
    };
  }, []);
  return fields;
}

/** go moves the console to path as a link would: the app routes on popstate. */
export function go(path) {
  if (location.pathname !== path) history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

// The inbox tab that lists a conversation of each status, for links to a contact's conversations.
const STATUS_TAB = { unassigned: 'unassigned', assigned: 'all', snoozed: 'snoozed', closed: 'closed' };
const STATUS_LABEL = { unassigned: 'Unassigned', assigned: 'Open', snoozed: 'Snoozed', closed: 'Closed' };

/** fieldText is a field value for reading: Yes/No for booleans, the value as text otherwise, '' when unset. */
export function fieldText(f, v) {
  if (v === undefined || v === null) return '';
  if (f && f.type === 'boolean') return v === true ? 'Yes' : v === false ? 'No' : String(v);
  return String(v);
}

// The form's text for a stored value, and back: the value the API gets (null removes the field). A number that does
// not parse is sent as typed, so the server's refusal (invalid_field) is what the operator reads.
function toInput(f, v) {
  if (v === undefined || v === null) return '';
  if (f.type === 'boolean') return v ? 'true' : 'false';
  return String(v);
}
function fromInput(f, s) {
  if (s === '') return null;
  if (f.type === 'boolean') return s === 'true';
  if (f.type === 'number') {
    const n = Number(s.trim());
    return s.trim() !== '' && Number.isFinite(n) ? n : s;
  }
  return s;
}

/** fieldOfError is the schema key a refusal names: the error's field if the API sends one, else the key its message
 * mentions (the longest, so "plan_end" wins over "plan"). */
function fieldOfError(e, fields) {
  if (e.field) return e.field;
  const msg = e.message || '';
  let best = '';
  for (const f of fields) {
    const re = new RegExp('(^|[^a-z0-9_])' + f.key + '($|[^a-z0-9_])');
    if (re.test(msg) && f.key.length > best.length) best = f.key;
  }
  return best;
}

/** lastDigits is the last 4 digits of a phone number ('' if it has fewer). */
function lastDigits(phone) {
  const d = String(phone || '').replace(/\D/g, '');
  return d.length >= 4 ? d.slice(-4) : '';
}

/**
 * ContactPanel shows and edits one contact.
 *  id        the contact id (conversation records carry it as contact.id)
 *  fallback  what to show when the contact is unknown: {name, wa_id} of the conversation's customer
 *  current   the conversation open beside it, marked in the list of conversations
 *  currentStatus  its live status, shown for it instead of the one read with the contact
 *  header    show the avatar, name and phone on top (the People page; the conversation shows its own)
 *  tick      changes when the live stream says contacts changed: the panel refetches
 *  onChange  called after a change was stored; onErased after an erase
 */
export function ContactPanel({ id, fallback, me, flash, current, currentStatus, header, tick, onChange, onErased }) {
  const fields = useFieldSchema();
  const [c, setC] = useState(null);
  const [state, setState] = useState('loading'); // loading | ok | missing | error
  const [draft, setDraft] = useState({}); // key → input text; 'name' → the name
  const [errors, setErrors] = useState({});
  const [saving, setSaving] = useState(false);
  const [erasing, setErasing] = useState(false);
  const [starting, setStarting] = useState(false);

  const fb = useRef(fallback);
  fb.current = fallback;
  const load = useCallback(() => {
    const missing = () => {
      setC(null);
      setState('missing');
    };
    const found = (r) => {
      setC(r);
      setState('ok');
    };
    // A conversation not changed since contact ids became per phone still names its old id: find the contact by
    // its number instead (never for a masked number, which is not digits).
    const byNumber = () => {
      const wa = /^\d{6,15}$/.test((fb.current && fb.current.wa_id) || '') ? fb.current.wa_id : '';
      if (!wa) return missing();
      return api.get('/v1/contacts' + api.qs({ q: wa, limit: 5 })).then((r) => {
        const hit = ((r && r.contacts) || []).find((x) => x.wa_id === wa);
        return hit && hit.id !== id ? api.get('/v1/contacts/' + hit.id).then(found) : missing();
      }).catch(missing);
    };
    if (!id) return Promise.resolve(byNumber());
    return api.get('/v1/contacts/' + id).then(found, (e) => (e.status === 404 ? byNumber() : setState('error')));
  }, [id]);
  useEffect(() => {
    setState('loading');
    setDraft({});
    setErrors({});
    load();
  }, [id]);
  // A contact event heard on the live stream: refetch (what the operator is typing stays as typed).
  useEffect(() => {
    if (tick) load();
  }, [tick]);

  const fail = (e) => flash(e.message || 'That did not work.');

  if (state === 'loading') return <div class="card contact-panel muted small">Loading contact…</div>;
  if (state === 'error') return <div class="card contact-panel error-text small">The contact could not be loaded.</div>;
  if (state === 'missing') {
    return <MissingContact fallback={fallback} flash={flash} onCreated={() => load().then(onChange)} />;
  }

  const values = c.fields || {};
  const dirty = Object.keys(draft).length > 0;
  const inputOf = (f) => (f.key in draft ? draft[f.key] : toInput(f, values[f.key]));
  const edit = (key, v) => {
    setDraft((d) => ({ ...d, [key]: v }));
    setErrors((er) => {
      if (!er[key] && !er._) return er;
      const { [key]: _gone, _: _general, ...rest } = er;
      return rest;
    });
  };

  const save = async (e) => {
    e.preventDefault();
    if (!dirty || saving) return;
    const body = {};
    const changed = {};
    for (const f of fields) if (f.key in draft) changed[f.key] = fromInput(f, draft[f.key]);
    if (Object.keys(changed).length) body.fields = changed;
    if ('name' in draft) body.name = draft.name.trim();
    setSaving(true);
    try {
      const r = await api.request('PATCH', '/v1/contacts/' + c.id, body);
      if (r && r.id) setC((old) => ({ ...old, ...r, conversations: r.conversations || old.conversations }));
      else await load();
      setDraft({});
      setErrors({});
      flash('Contact saved', 'ok');
      if (onChange) onChange();
    } catch (err) {
      if (err.code === 'invalid_field' || err.code === 'unknown_field') {
        const key = fieldOfError(err, fields.concat([{ key: 'name' }]));
        setErrors(key ? { [key]: err.message } : { _: err.message });
      } else if (err.status === 400) {
        setErrors({ _: err.message });
      } else fail(err);
    } finally {
      setSaving(false);
    }
  };

  const setBlocked = async (block) => {
    try {
      const r = await api.post('/v1/contacts/' + c.id + '/' + (block ? 'block' : 'unblock'));
      if (r && r.id) setC((old) => ({ ...old, ...r, conversations: r.conversations || old.conversations }));
      else await load();
      flash(block ? 'Blocked: their messages are kept but no longer reach the inbox' : 'Unblocked', 'ok');
      if (onChange) onChange();
    } catch (err) {
      fail(err);
    }
  };

  const convs = c.conversations || [];
  const admin = !!me && (me.permissions || []).includes('contacts.erase');
  return (
    <>
      {header && (
        <div class="card contact-card" id="contact-head">
          <span class="avatar big" style={{ '--h': hue(c.id) }}>{initials(c.name || c.phone)}</span>
          <div class="contact-name" id="contact-title">{c.name || c.phone}</div>
          <div class="muted" id="contact-phone">{c.phone}</div>
          {c.blocked && <span class="chip blocked" id="contact-blocked">Blocked</span>}
        </div>
      )}
      <form class="card contact-panel" id="contact-panel" data-contact={c.id} onSubmit={save}>
        <div class="contact-panel-head">
          <h4>Contact</h4>
          {!header && c.blocked && <span class="chip blocked" id="contact-blocked">Blocked</span>}
        </div>
        <label class={'cf' + (errors.name ? ' invalid' : '')}>
          <span class="cf-label">Name</span>
          <input id="contact-name-input" value={'name' in draft ? draft.name : c.name || ''} onInput={(e) => edit('name', e.currentTarget.value)} placeholder="No name" />
          {errors.name && <span class="field-error" role="alert" id="field-error-name">{errors.name}</span>}
        </label>
        {fields.map((f) => (
          <FieldInput key={f.key} f={f} value={inputOf(f)} error={errors[f.key]} onInput={(v) => edit(f.key, v)} />
        ))}
        {errors._ && <div class="field-error" role="alert" id="contact-error">{errors._}</div>}
        {dirty && (
          <div class="cf-actions">
            <button type="button" class="btn small" onClick={() => (setDraft({}), setErrors({}))}>Cancel</button>
            <button type="submit" class="btn small primary" id="contact-save" disabled={saving}>
              {saving ? 'Saving…' : 'Save'}
            </button>
          </div>
        )}
      </form>
      <div class="card contact-convs">
        <h4>Conversations</h4>
        <ul class="tabs conv-links" id="contact-convs">
          {convs
            // The open conversation's status is the live one, not the one read with the contact.
            .map((v) => (v.id === current && currentStatus ? { ...v, status: currentStatus } : v))
            .map((v) => (
            <li key={v.id}>
              <a
                href={'/' + (STATUS_TAB[v.status] || 'all') + '/' + v.id}
                class={v.id === current ? 'current' : ''}
                data-conversation={v.id}
                onClick={(e) => {
                  e.preventDefault();
                  go('/' + (STATUS_TAB[v.status] || 'all') + '/' + v.id);
                }}
              >
                <Icon d="M4 5h16v11H8l-4 4z" size={14} />
                <span class="grow">{v.channel_id}</span>
                <span class={'status-chip ' + v.status}>{STATUS_LABEL[v.status] || v.status}</span>
              </a>
            </li>
          ))}
          {!convs.length && <li class="muted small">No conversations yet.</li>}
        </ul>
        {!current && !c.blocked && (
          <button class="btn small" id="contact-start" onClick={() => setStarting(true)} title="Write first, with a template">
            <Icon d="M12 5v14M5 12h14" size={14} /> Start conversation
          </button>
        )}
      </div>
      {starting && (
        <StartDialog
          initialContact={c}
          onClose={() => setStarting(false)}
          onStarted={(conv) => {
            setStarting(false);
            go('/mine/' + conv);
          }}
        />
      )}
      <div class="card contact-actions">
        <h4>Safety</h4>
        {c.blocked ? (
          <>
            <p class="muted small">Blocked: their messages are stored but never routed, and nobody can write to them.</p>
            <button class="btn small" id="contact-unblock" onClick={() => setBlocked(false)}>Unblock</button>
          </>
        ) : (
          <button class="btn small danger-soft" id="contact-block" onClick={() => setBlocked(true)}>
            <Icon d="M12 3a9 9 0 100 18 9 9 0 000-18zM6 6l12 12" size={14} /> Block
          </button>
        )}
        {admin && (
          <button class="btn small danger-soft" id="contact-erase" onClick={() => setErasing(true)}>
            <Icon d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13" size={14} /> Erase…
          </button>
        )}
      </div>
      {erasing && (
        <EraseDialog
          c={c}
          onCancel={() => setErasing(false)}
          onErased={(r) => {
            setErasing(false);
            load();
            flash(erasedText(r), 'ok');
            if (onErased) onErased();
          }}
        />
      )}
    </>
  );
}

/** erasedText is what the console says after an erase, from its answer's count of conversations. */
function erasedText(r) {
  const n = r && r.conversations;
  if (n === 0) return 'Erased: their profile and fields (they had no conversations).';
  if (n === 1) return 'Erased: their profile, fields and the messages of their conversation.';
  if (n > 1) return 'Erased: their profile, fields and the messages of their ' + n + ' conversations.';
  return 'Erased: their profile, fields and messages.';
}

/** FieldInput is one custom field's input, by its type; the server's refusal shows below it. */
function FieldInput({ f, value, error, onInput }) {
  const id = 'field-' + f.key;
  const on = (e) => onInput(e.currentTarget.value);
  let input;
  if (f.type === 'choice') {
    input = (
      <select id={id} value={value} onChange={on}>
        <option value="">—</option>
        {(f.choices || []).map((ch) => (
          <option key={ch} value={ch}>{ch}</option>
        ))}
      </select>
    );
  } else if (f.type === 'boolean') {
    input = (
      <select id={id} value={value} onChange={on}>
        <option value="">—</option>
        <option value="true">Yes</option>
        <option value="false">No</option>
      </select>
    );
  } else if (f.type === 'date') {
    input = <input id={id} type="date" value={value} onInput={on} />;
  } else if (f.type === 'number') {
    input = <input id={id} type="text" inputMode="decimal" value={value} onInput={on} />;
  } else {
    input = <input id={id} type="text" value={value} onInput={on} />;
  }
  return (
    <label class={'cf' + (error ? ' invalid' : '')}>
      <span class="cf-label">
        {f.label || f.key}
        {f.required && <span class="req" title="Required"> *</span>}
      </span>
      {input}
      {error && <span class="field-error" role="alert" id={'field-error-' + f.key}>{error}</span>}
    </label>
  );
}

/** EraseDialog asks the admin to type the phone's last 4 digits (or ERASE) before POST /v1/contacts/{id}/erase. */
function EraseDialog({ c, onCancel, onErased }) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const last4 = lastDigits(c.phone);
  const ok = typed.trim() === 'ERASE' || (last4 !== '' && typed.trim() === last4);
  const submit = async (e) => {
    e.preventDefault();
    if (!ok || busy) return;
    setBusy(true);
    setError('');
    try {
      onErased(await api.post('/v1/contacts/' + c.id + '/erase'));
    } catch (err) {
      setError(err.message || 'The erase failed.');
      setBusy(false);
    }
  };
  return (
    <div class="overlay" onClick={onCancel}>
      <form class="popover erase-dialog" role="dialog" aria-label="Erase contact" id="erase-dialog" onClick={(e) => e.stopPropagation()} onSubmit={submit}>
        <h3>Erase {c.name || c.phone}?</h3>
        <p>
          Their profile, custom fields and the content of every message they exchanged are deleted for good. Their
          conversations keep only anonymous counts. This cannot be undone.
        </p>
        <label for="erase-confirm-input">
          Type {last4 ? <><b class="mono">{last4}</b> (the phone's last 4 digits) or </> : ''}<b class="mono">ERASE</b> to confirm
        </label>
        <input id="erase-confirm-input" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autocomplete="off" autofocus />
        {error && <div class="alert error" role="alert">{error}</div>}
        <div class="cf-actions">
          <button type="button" class="btn" onClick={onCancel}>Cancel</button>
          <button type="submit" class="btn danger" id="erase-confirm" disabled={!ok || busy}>
            {busy ? 'Erasing…' : 'Erase contact'}
          </button>
        </div>
      </form>
    </div>
  );
}

/** MissingContact is a customer who is not (or no longer) a contact: erased, or never saved; without a fallback (the
 * People page) an id no contact has. */
function MissingContact({ fallback, flash, onCreated }) {
  const [busy, setBusy] = useState(false);
  const fb = fallback || {};
  const digits = /^\d{6,15}$/.test(fb.wa_id || '') ? fb.wa_id : '';
  const create = async () => {
    setBusy(true);
    try {
      const body = { phone: '+' + digits };
      if (fb.name) body.name = fb.name;
      await api.post('/v1/contacts', body);
      flash('Saved to People', 'ok');
      onCreated();
    } catch (e) {
      if (e.code === 'contact_exists') onCreated();
      else flash(e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card contact-panel" id="contact-panel" data-contact="">
      <h4>Contact</h4>
      {!fallback ? (
        <p class="muted small" id="contact-missing">No such contact: it was deleted or erased, or never existed.</p>
      ) : !fb.wa_id && !fb.name ? (
        <p class="muted small" id="contact-missing">This customer was erased: nothing but anonymous counts remains.</p>
      ) : (
        <>
          <p class="muted small" id="contact-missing">Not in People.</p>
          {digits && (
            <button class="btn small" id="contact-create" disabled={busy} onClick={create}>
              Save as contact
            </button>
          )}
        </>
      )}
    </div>
  );
}
