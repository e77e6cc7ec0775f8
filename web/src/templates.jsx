// The template picker: the channel's WhatsApp template catalogue (GET /v1/templates) searchable by name, each with
// its status and language; the chosen one's parameters (prefilled from the contact where the template says which),
// its media or location header, the parameters of its buttons (a dynamic URL's suffix, a coupon code), and a live
// preview of what the customer will read. A template that is not APPROVED cannot be
// sent, and the picker says why. Used by the composer and by the Start conversation dialog.
import { useState, useEffect, useMemo, useRef } from 'preact/hooks';
import * as api from './api.js';

/** STATUS_TEXT explains, for an operator, why a template that is not APPROVED cannot be sent. */
const STATUS_TEXT = {
  PENDING: 'is waiting for Meta’s review',
  REJECTED: 'was rejected by Meta',
  PAUSED: 'is paused by Meta for low quality',
  DISABLED: 'is disabled by Meta',
  IN_APPEAL: 'is in appeal',
  PENDING_DELETION: 'is being deleted',
  DELETED: 'was deleted',
  ARCHIVED: 'is archived',
  LIMIT_EXCEEDED: 'is over Meta’s template limit',
};

const GREETING = /(^|\s)(hi|hello|hey|dear|welcome|hola|olá|ola|bonjour|hallo|ciao|oi)[\s,]*$/i;

/** components returns the template's components by type (HEADER, BODY, FOOTER, BUTTONS). */
function parts(t) {
  const out = {};
  for (const c of (t && t.components) || []) out[String(c.type || '').toUpperCase()] = c;
  return out;
}

/** paramNames lists the parameters of a template text in order: "1", "2", … or the names of named ones. */
export function paramNames(text, count) {
  const names = [];
  const seen = new Set();
  const re = /\{\{\s*([A-Za-z0-9_]{1,64})\s*\}\}/g;
  let m;
  while ((m = re.exec(text || ''))) {
    if (!seen.has(m[1])) {
      seen.add(m[1]);
      names.push(m[1]);
    }
  }
  if (names.length && names.every((n) => /^\d+$/.test(n))) {
    return Array.from({ length: count || Math.max(...names.map(Number)) }, (_, i) => String(i + 1));
  }
  return names.length ? names : Array.from({ length: count || 0 }, (_, i) => String(i + 1));
}

/** fill replaces each {{n}} (or named parameter, in order of first appearance) by its value; empty ones stay. */
export function fill(text, values) {
  const order = [];
  return (text || '').replace(/\{\{\s*([A-Za-z0-9_]{1,64})\s*\}\}/g, (whole, name) => {
    let i;
    if (/^\d+$/.test(name)) i = Number(name) - 1;
    else {
      i = order.indexOf(name);
      if (i < 0) i = order.push(name) - 1;
    }
    const v = values[i];
    return v !== undefined && v !== '' ? v : whole;
  });
}

/** guess says which contact value a parameter probably wants: {value, from} or null. */
function guess(name, index, bodyText, contact) {
  if (!contact) return null;
  const fields = contact.fields || {};
  const key = name.toLowerCase();
  if (!/^\d+$/.test(name)) {
    if (Object.prototype.hasOwnProperty.call(fields, key) && fields[key] !== null && fields[key] !== '') {
      return { value: String(fields[key]), from: 'contact.fields.' + key };
    }
    if (/^(first_?name|name|customer_?name|customer)$/.test(key) && contact.name) {
      return { value: contact.name, from: 'contact.name' };
    }
    return null;
  }
  // Positional: the word before it. "Hi {{1}}" is the customer's name; "in {{2}}" after a field's key is that field.
  const at = (bodyText || '').search(new RegExp('\\{\\{\\s*' + name + '\\s*\\}\\}'));
  const before = at > 0 ? bodyText.slice(0, at) : '';
  if (GREETING.test(before) && contact.name) return { value: contact.name, from: 'contact.name' };
  const word = (/([A-Za-z_]+)[\s:]*$/.exec(before) || [])[1];
  if (word && Object.prototype.hasOwnProperty.call(fields, word.toLowerCase())) {
    const v = fields[word.toLowerCase()];
    if (v !== null && v !== '') return { value: String(v), from: 'contact.fields.' + word.toLowerCase() };
  }
  return null;
}

/** buttonsOf returns the template's buttons as the API derives them ({type, text, url, sub_type, required}). */
function buttonsOf(t) {
  return (t && t.buttons) || [];
}

/** place reads the location header's inputs: {latitude, longitude, name, address} when valid, else null. */
function place(loc) {
  const lat = Number(loc.latitude);
  const long = Number(loc.longitude);
  const ok =
    String(loc.latitude).trim() !== '' && String(loc.longitude).trim() !== '' &&
    Number.isFinite(lat) && Number.isFinite(long) && lat >= -90 && lat <= 90 && long >= -180 && long <= 180 &&
    loc.name.trim() !== '' && loc.address.trim() !== '';
  return ok ? { latitude: lat, longitude: long, name: loc.name.trim(), address: loc.address.trim() } : null;
}

const NO_PLACE = { latitude: '', longitude: '', name: '', address: '' };

/** statusClass is the badge class of a status. */
function statusClass(s) {
  return 'tpl-status s-' + String(s || 'unknown').toLowerCase();
}

/**
 * TemplatePicker lets the operator choose an approved template of a channel, fill it and send it.
 * Props: channelId (whose catalogue), contact ({name, fields} to prefill parameters; optional),
 * onSubmit(template) → Promise, where template is the API's {name, language, params, header?, buttons?};
 * submitLabel (default "Send template"); busy (disables the button); locked (styles it as the only way to write).
 */
export function TemplatePicker({ channelId, contact, onSubmit, submitLabel = 'Send template', busy, locked }) {
  const [list, setList] = useState(null); // null while loading
  const [error, setError] = useState('');
  const [q, setQ] = useState('');
  const [sel, setSel] = useState(null); // a template of list
  const [values, setValues] = useState([]);
  const [from, setFrom] = useState([]);
  const [header, setHeader] = useState('');
  const [btnValues, setBtnValues] = useState({}); // button index → its parameter
  const [loc, setLoc] = useState(NO_PLACE);
  const [sending, setSending] = useState(false);

  const [loads, setLoads] = useState(0); // bumped by Refresh and by a template the list does not have
  const listRef = useRef(null);
  listRef.current = list;
  useEffect(() => setSel(null), [channelId]);
  useEffect(() => {
    let live = true;
    setError('');
    api
      .get('/v1/templates' + api.qs({ channel_id: channelId }))
      .then((r) => live && setList((r && r.templates) || []))
      .catch((e) => {
        if (!live) return;
        setError(e.message);
        setList([]);
      });
    return () => {
      live = false;
    };
  }, [channelId, loads]);

  // Meta's webhooks change templates while the picker is open: a changed one is updated in place (its status badge,
  // and whether the chosen one may be sent), a new or deleted one makes the list reload.
  useEffect(() => {
    const onUpdate = (e) => {
      const ev = e.detail || {};
      const t = ev.template;
      if (!t) return;
      const same = (x) => x.waba === t.waba && x.name === t.name && x.language === t.language;
      const l = listRef.current;
      if (!l) return;
      if (ev.deleted) setList(l.filter((x) => !same(x)));
      else if (l.some(same)) setList(l.map((x) => (same(x) ? t : x)));
      else setLoads((n) => n + 1);
      setSel((s) => (s && same(s) ? (ev.deleted ? null : t) : s));
    };
    window.addEventListener('switchboard:template.updated', onUpdate);
    return () => window.removeEventListener('switchboard:template.updated', onUpdate);
  }, []);

  const shown = useMemo(() => {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    const rank = (t) => (t.status === 'APPROVED' ? 0 : 1);
    return (list || [])
      .filter((t) => words.every((w) => (t.name + ' ' + t.language + ' ' + (t.category || '')).toLowerCase().includes(w)))
      .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name) || a.language.localeCompare(b.language));
  }, [list, q]);

  const p = parts(sel);
  const body = (p.BODY && p.BODY.text) || '';
  const names = sel ? paramNames(body, sel.params) : [];
  const hdr = sel && sel.header ? String(sel.header.format || '').toUpperCase() : '';
  const media = hdr === 'IMAGE' || hdr === 'VIDEO' || hdr === 'DOCUMENT';
  const textParam = hdr === 'TEXT' && sel.header.params > 0;
  const location = hdr === 'LOCATION';
  const buttons = buttonsOf(sel);
  // The buttons whose parameter the operator gives: a dynamic URL's suffix, an OTP or COPY_CODE code.
  const asked = buttons.map((b, i) => ({ ...b, index: i })).filter((b) => b.required);

  const choose = (t) => {
    setSel(t);
    const b = (parts(t).BODY || {}).text || '';
    const ns = paramNames(b, t.params);
    const gs = ns.map((n, i) => guess(n, i, b, contact));
    setValues(gs.map((g) => (g ? g.value : '')));
    setFrom(gs.map((g) => (g ? g.from : '')));
    setHeader('');
    setBtnValues({});
    setLoc(NO_PLACE);
  };

  // The contact may arrive after a template was chosen (the composer fetches it as it opens): fill the parameters
  // still empty from it, never one the operator typed.
  useEffect(() => {
    if (!sel || !contact) return;
    const b = (parts(sel).BODY || {}).text || '';
    const gs = paramNames(b, sel.params).map((n, i) => guess(n, i, b, contact));
    const fill = gs.map((g, i) => (values[i] || '') === '' && g !== null);
    if (!fill.some(Boolean)) return;
    setValues(gs.map((g, i) => (fill[i] ? g.value : values[i] || '')));
    setFrom(gs.map((g, i) => (fill[i] ? g.from : from[i] || '')));
  }, [contact]);

  const approved = sel && sel.status === 'APPROVED';
  const spot = location ? place(loc) : null;
  const complete =
    names.every((_, i) => (values[i] || '').trim() !== '') &&
    (!media && !textParam ? true : header.trim() !== '') &&
    (!location || spot !== null) &&
    asked.every((b) => (btnValues[b.index] || '').trim() !== '');
  const why = sel && !approved
    ? 'This template ' + (STATUS_TEXT[sel.status] || 'is ' + sel.status) + (sel.reason ? ' (' + sel.reason + ')' : '') +
      ': WhatsApp allows only APPROVED templates.'
    : '';

  const submit = async (e) => {
    e.preventDefault();
    if (!sel || !approved || !complete || busy || sending) return;
    const t = { name: sel.name, language: sel.language, params: names.map((_, i) => values[i].trim()) };
    if (media) {
      const h = header.trim();
      t.header = { type: hdr.toLowerCase() };
      if (/^https?:\/\//i.test(h)) t.header.link = h;
      else t.header.id = h;
    } else if (textParam) {
      t.header = { type: 'text', text: header.trim() };
    } else if (location) {
      t.header = { type: 'location', location: spot };
    }
    if (asked.length) {
      t.buttons = asked.map((b) => ({ sub_type: b.sub_type, index: b.index, params: [btnValues[b.index].trim()] }));
    }
    setSending(true);
    try {
      await onSubmit(t);
      setSel(null);
      setQ('');
    } catch (err) {
      // The caller shows the refusal; the picker keeps what was typed.
    } finally {
      setSending(false);
    }
  };

  const previewHeader = !sel
    ? null
    : media
      ? (
        <div class="tpl-preview-media" data-format={hdr}>
          {hdr === 'IMAGE' ? '🖼 Image' : hdr === 'VIDEO' ? '🎬 Video' : '📄 Document'}
          {header.trim() ? ': ' + header.trim() : ' (give a link or a media id)'}
        </div>
      )
      : hdr === 'TEXT'
        ? <div class="tpl-preview-header">{fill((p.HEADER && p.HEADER.text) || '', [header.trim()])}</div>
        : location
          ? (
            <div class="tpl-preview-media tpl-preview-location" data-format="LOCATION">
              {'📍 '}
              {spot ? spot.name + ', ' + spot.address + ' (' + spot.latitude + ', ' + spot.longitude + ')' : 'Location (give its coordinates, name and address)'}
            </div>
          )
          : null;

  // A button as the customer sees it: a dynamic URL with its suffix, a coupon with its code.
  const buttonPreview = (b, i) => {
    const v = (btnValues[i] || '').trim();
    if (b.type === 'COPY_CODE') return 'Copy code' + (v ? ': ' + v : '');
    if (b.type === 'URL' && b.required) return (b.text || 'Open') + ' → ' + fill(b.url || '', [v]);
    return b.text || b.type;
  };
  const buttonLabel = (b) =>
    b.type === 'URL'
      ? 'Button “' + (b.text || 'link') + '”: the end of ' + (b.url || 'its link')
      : b.type === 'COPY_CODE'
        ? 'Coupon code (copy code button)'
        : 'Button “' + (b.text || b.type) + '”: the code';

  return (
    <form class={'template picker' + (locked ? ' locked-form' : '')} onSubmit={submit} id="template-form">
      {!sel ? (
        <>
          <input
            id="tpl-search"
            type="search"
            value={q}
            onInput={(e) => setQ(e.currentTarget.value)}
            placeholder="Search templates by name…"
            aria-label="Search templates"
            autoComplete="off"
          />
          {error && <div class="tpl-error">{error}</div>}
          <ul class="tpl-list" id="tpl-list" role="listbox" aria-label="Templates">
            {list === null && <li class="muted small">Loading templates…</li>}
            {list !== null && shown.length === 0 && (
              <li class="muted small" id="tpl-none">
                {list.length === 0 ? 'This channel has no templates (is its waba_id configured and synced?). ' : 'No template matches.'}
                {list.length === 0 && (
                  <button type="button" class="link-btn" id="tpl-refresh" onClick={() => setLoads((n) => n + 1)}>
                    Refresh
                  </button>
                )}
              </li>
            )}
            {shown.slice(0, 50).map((t) => (
              <li
                key={t.name + '/' + t.language}
                role="option"
                class="tpl-row"
                data-name={t.name}
                data-language={t.language}
                data-status={t.status}
                tabIndex={0}
                onClick={() => choose(t)}
                onKeyDown={(e) => (e.key === 'Enter' ? (e.preventDefault(), choose(t)) : null)}
              >
                <span class="tpl-name mono">{t.name}</span>
                <span class="tpl-lang muted small">{t.language}</span>
                {t.header && t.header.format && t.header.format !== 'TEXT' && (
                  <span class="tpl-kind muted small">{String(t.header.format).toLowerCase()}</span>
                )}
                <span class="grow" />
                <span class={statusClass(t.status)}>{t.status}</span>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <>
          <div class="tpl-head">
            <button type="button" class="link-btn" id="tpl-back" onClick={() => setSel(null)}>
              ← Templates
            </button>
            <span class="tpl-name mono" id="tpl-chosen">{sel.name}</span>
            <span class="tpl-lang muted small">{sel.language}</span>
            <span class="grow" />
            <span class={statusClass(sel.status)} id="tpl-chosen-status">{sel.status}</span>
          </div>
          {why && (
            <div class="locked tpl-blocked" id="tpl-blocked">
              {why}
            </div>
          )}
          {(media || textParam) && (
            <label>
              {media ? (hdr === 'IMAGE' ? 'Header image' : hdr === 'VIDEO' ? 'Header video' : 'Header document') + ': a link (https://…) or a media id' : 'Header parameter'}
              <input id="tpl-header" value={header} onInput={(e) => setHeader(e.currentTarget.value)} disabled={!approved} />
            </label>
          )}
          {location && (
            <fieldset class="tpl-location" id="tpl-location" disabled={!approved}>
              <legend>Header location</legend>
              <label>
                Latitude (−90 to 90)
                <input id="tpl-loc-lat" inputMode="decimal" value={loc.latitude} onInput={(e) => setLoc({ ...loc, latitude: e.currentTarget.value })} />
              </label>
              <label>
                Longitude (−180 to 180)
                <input id="tpl-loc-long" inputMode="decimal" value={loc.longitude} onInput={(e) => setLoc({ ...loc, longitude: e.currentTarget.value })} />
              </label>
              <label>
                Name
                <input id="tpl-loc-name" value={loc.name} onInput={(e) => setLoc({ ...loc, name: e.currentTarget.value })} />
              </label>
              <label>
                Address
                <input id="tpl-loc-address" value={loc.address} onInput={(e) => setLoc({ ...loc, address: e.currentTarget.value })} />
              </label>
            </fieldset>
          )}
          {names.map((n, i) => (
            <label key={n}>
              <span>
                {'{{' + n + '}}'}
                {from[i] && <span class="tpl-from"> from {from[i]}</span>}
              </span>
              <input
                id={'tpl-param-' + (i + 1)}
                value={values[i] || ''}
                disabled={!approved}
                onInput={(e) => {
                  const v = e.currentTarget.value;
                  setValues((vs) => Object.assign([...vs], { [i]: v }));
                  setFrom((fs) => Object.assign([...fs], { [i]: '' }));
                }}
              />
            </label>
          ))}
          {asked.map((b) => (
            <label key={'b' + b.index}>
              {buttonLabel(b)}
              <input
                id={'tpl-button-' + b.index}
                value={btnValues[b.index] || ''}
                disabled={!approved}
                onInput={(e) => {
                  const v = e.currentTarget.value;
                  setBtnValues((bv) => ({ ...bv, [b.index]: v }));
                }}
              />
            </label>
          ))}
          <div class="tpl-preview" id="tpl-preview" aria-label="Preview">
            {previewHeader}
            <div class="tpl-preview-body" id="tpl-preview-body">{fill(body, values.map((v) => (v || '').trim()))}</div>
            {p.FOOTER && p.FOOTER.text && <div class="tpl-preview-footer muted small">{p.FOOTER.text}</div>}
            {buttons.length > 0 && (
              <div class="tpl-preview-buttons">
                {buttons.map((b, i) => (
                  <span class="btn-preview" key={i} data-index={i} data-type={b.type}>{buttonPreview(b, i)}</span>
                ))}
              </div>
            )}
          </div>
          <div class="composer-foot">
            <span class="muted small">{approved ? 'Approved templates may be sent at any time.' : 'Choose an approved template.'}</span>
            <button class="btn primary" id="tpl-send" type="submit" disabled={!approved || !complete || busy || sending}>
              {submitLabel}
            </button>
          </div>
        </>
      )}
    </form>
  );
}
