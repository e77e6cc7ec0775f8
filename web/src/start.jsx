// Starting a conversation: the "Start conversation" button of the list column and its dialog. The operator picks a
// channel and the customer — a country code and a number, or a contact found by name or number — then an approved
// template with TemplatePicker (which previews it); Send creates or reopens the customer's conversation assigned to
// the operator (POST /v1/conversations) and opens it.
import { useState, useEffect, useMemo, useRef } from 'preact/hooks';
import * as api from './api.js';
import { TemplatePicker } from './templates.jsx';
import { Icon } from './icon.jsx';

/** COUNTRIES are common calling codes, most used first in the list when nothing is searched. */
export const COUNTRIES = [
  ['US', 'United States', '1'], ['GB', 'United Kingdom', '44'], ['DE', 'Germany', '49'], ['FR', 'France', '33'],
  ['ES', 'Spain', '34'], ['IT', 'Italy', '39'], ['NL', 'Netherlands', '31'], ['BE', 'Belgium', '32'],
  ['PT', 'Portugal', '351'], ['IE', 'Ireland', '353'], ['CH', 'Switzerland', '41'], ['AT', 'Austria', '43'],
  ['SE', 'Sweden', '46'], ['NO', 'Norway', '47'], ['DK', 'Denmark', '45'], ['FI', 'Finland', '358'],
  ['PL', 'Poland', '48'], ['CZ', 'Czechia', '420'], ['GR', 'Greece', '30'], ['RO', 'Romania', '40'],
  ['TR', 'Türkiye', '90'], ['UA', 'Ukraine', '380'], ['IL', 'Israel', '972'], ['AE', 'United Arab Emirates', '971'],
  ['SA', 'Saudi Arabia', '966'], ['EG', 'Egypt', '20'], ['MA', 'Morocco', '212'], ['NG', 'Nigeria', '234'],
  ['KE', 'Kenya', '254'], ['ZA', 'South Africa', '27'], ['IN', 'India', '91'], ['PK', 'Pakistan', '92'],
  ['BD', 'Bangladesh', '880'], ['ID', 'Indonesia', '62'], ['MY', 'Malaysia', '60'], ['SG', 'Singapore', '65'],
  ['PH', 'Philippines', '63'], ['TH', 'Thailand', '66'], ['VN', 'Vietnam', '84'], ['CN', 'China', '86'],
  ['HK', 'Hong Kong', '852'], ['JP', 'Japan', '81'], ['KR', 'South Korea', '82'], ['AU', 'Australia', '61'],
  ['NZ', 'New Zealand', '64'], ['CA', 'Canada', '1'], ['MX', 'Mexico', '52'], ['BR', 'Brazil', '55'],
  ['AR', 'Argentina', '54'], ['CL', 'Chile', '56'], ['CO', 'Colombia', '57'], ['PE', 'Peru', '51'],
  ['VE', 'Venezuela', '58'], ['RU', 'Russia', '7'],
];

/** flag is a country's flag emoji from its ISO code. */
function flag(iso) {
  return String.fromCodePoint(...[...iso].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

// What the dialog says for the refusals an operator can act on, instead of the API's message.
const REFUSALS = {
  at_capacity: 'You are at your capacity: close or hand over a conversation first.',
  operator_not_online: 'You are offline: set yourself Online (bottom left) to start conversations.',
  already_assigned: 'Another operator holds this customer’s conversation.',
  contact_blocked: 'This contact is blocked: unblock them to write to them.',
  invalid_phone: 'That is not a valid international number.',
  channel_not_found: 'That channel does not exist any more.',
  template_not_found: 'That template is not in the channel’s catalogue.',
};

/** digits keeps the digits of s. */
const digits = (s) => String(s || '').replace(/\D/g, '');

/** StartButton is the list column's "Start conversation" button and its dialog. */
export function StartButton({ onStarted }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button class="btn primary small start-btn" id="start-open" onClick={() => setOpen(true)} title="Write first, with a template">
        <Icon d="M12 5v14M5 12h14" size={14} /> Start conversation
      </button>
      {open && (
        <StartDialog
          onClose={() => setOpen(false)}
          onStarted={(id) => {
            setOpen(false);
            onStarted(id);
          }}
        />
      )}
    </>
  );
}

/** StartDialog: channel, customer (number or contact, or the contact given), template with preview, Send. */
export function StartDialog({ onClose, onStarted, initialContact = null }) {
  const [channels, setChannels] = useState(null);
  const [channel, setChannel] = useState('');
  const [by, setBy] = useState(initialContact ? 'contact' : 'number'); // 'number' or 'contact'
  const [cc, setCc] = useState('US');
  const [ccQuery, setCcQuery] = useState('');
  const [number, setNumber] = useState('');
  const [contact, setContact] = useState(initialContact); // {id, name, phone, fields}
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const first = useRef(null);

  useEffect(() => {
    api.get('/v1/channels').then(
      (r) => {
        const list = (r && r.channels) || [];
        setChannels(list);
        if (list.length) setChannel(list[0].id);
      },
      (e) => {
        setChannels([]);
        setError(e.message);
      },
    );
    const onKey = (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
    };
    addEventListener('keydown', onKey, true);
    return () => removeEventListener('keydown', onKey, true);
  }, []);

  const country = COUNTRIES.find((c) => c[0] === cc) || COUNTRIES[0];
  const shownCountries = useMemo(() => {
    const q = ccQuery.trim().toLowerCase().replace(/^\+/, '');
    if (!q) return COUNTRIES;
    return COUNTRIES.filter((c) => c[1].toLowerCase().includes(q) || c[2].startsWith(q) || c[0].toLowerCase() === q);
  }, [ccQuery]);
  // A number pasted with its own + and country code wins over the select.
  const pasted = number.trim().startsWith('+');
  const full = pasted ? digits(number) : country[2] + digits(number).replace(/^0+/, '');
  const validNumber = full.length >= 7 && full.length <= 15 && full[0] !== '0' && digits(number).length >= 4;
  const to = by === 'contact' ? contact : validNumber ? { phone: '+' + full } : null;

  const send = async (template) => {
    setError('');
    setBusy(true);
    const body = { channel_id: channel, template };
    if (by === 'contact') body.contact_id = contact.id;
    else body.phone = '+' + full;
    try {
      const r = await api.post('/v1/conversations', body);
      onStarted(r.conversation.id);
    } catch (e) {
      setError(REFUSALS[e.code] || e.message);
      throw e;
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="overlay" onClick={onClose}>
      <div class="popover start-dialog" role="dialog" aria-label="Start a conversation" id="start-dialog" onClick={(e) => e.stopPropagation()}>
        <div class="start-head">
          <h3>Start a conversation</h3>
          <span class="grow" />
          <button class="icon-btn" title="Close (Esc)" id="start-close" onClick={onClose}>
            <Icon d="M6 6l12 12M18 6L6 18" />
          </button>
        </div>
        <p class="muted small">
          WhatsApp lets you write first only with an approved template. The conversation is assigned to you; the
          customer’s reply opens the 24-hour window.
        </p>
        <label class="start-field">
          Channel
          <select id="start-channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value)} disabled={!channels || channels.length < 2}>
            {(channels || []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.id} ({c.type})
              </option>
            ))}
          </select>
        </label>
        <div class="start-by" role="tablist">
          <button role="tab" id="start-by-number" aria-selected={by === 'number'} class={by === 'number' ? 'active' : ''} onClick={() => setBy('number')}>
            Phone number
          </button>
          <button role="tab" id="start-by-contact" aria-selected={by === 'contact'} class={by === 'contact' ? 'active' : ''} onClick={() => setBy('contact')}>
            Contact
          </button>
        </div>
        {by === 'number' ? (
          <div class="start-number">
            <div class="start-cc">
              <input
                id="start-cc-search"
                type="search"
                placeholder="Search country or code"
                value={ccQuery}
                aria-label="Search country codes"
                onInput={(e) => {
                  const v = e.currentTarget.value;
                  setCcQuery(v);
                  const q = v.trim().toLowerCase().replace(/^\+/, '');
                  const m = q && COUNTRIES.find((c) => c[1].toLowerCase().includes(q) || c[2].startsWith(q));
                  if (m) setCc(m[0]);
                }}
              />
              <select id="start-cc" value={cc} onChange={(e) => setCc(e.currentTarget.value)} aria-label="Country code">
                {shownCountries.map((c) => (
                  <option key={c[0]} value={c[0]}>
                    {flag(c[0])} {c[1]} +{c[2]}
                  </option>
                ))}
                {!shownCountries.some((c) => c[0] === cc) && (
                  <option value={cc}>
                    {flag(country[0])} {country[1]} +{country[2]}
                  </option>
                )}
              </select>
            </div>
            <div class="start-phone">
              <span class="start-prefix" id="start-prefix">{pasted ? '' : '+' + country[2]}</span>
              <input
                id="start-number"
                ref={first}
                type="tel"
                inputMode="tel"
                autoComplete="off"
                placeholder="Number, e.g. 7700 900123"
                value={number}
                onInput={(e) => setNumber(e.currentTarget.value)}
                autofocus
              />
            </div>
            <div class={'small ' + (number && !validNumber ? 'error-text' : 'muted')} id="start-to">
              {number ? (validNumber ? 'To +' + full : 'Not a valid international number yet.') : 'Digits only; a leading 0 is dropped.'}
            </div>
          </div>
        ) : (
          <ContactPick chosen={contact} onPick={setContact} />
        )}
        {channel && to ? (
          <TemplatePicker
            channelId={channel}
            contact={contact ? { name: contact.name || '', fields: contact.fields || {} } : null}
            onSubmit={send}
            submitLabel={busy ? 'Starting…' : 'Start conversation'}
            busy={busy}
          />
        ) : (
          <div class="start-wait muted small" id="start-wait">
            {by === 'number' ? 'Enter the customer’s number to choose a template.' : 'Choose a contact to choose a template.'}
          </div>
        )}
        {error && (
          <div class="alert error" role="alert" id="start-error">
            {error}
          </div>
        )}
      </div>
    </div>
  );
}

/** ContactPick searches contacts (GET /v1/contacts?q=) and picks one. */
function ContactPick({ chosen, onPick }) {
  const [q, setQ] = useState('');
  const [list, setList] = useState([]);
  const [state, setState] = useState('');
  useEffect(() => {
    const term = q.trim();
    if (!term) {
      setList([]);
      setState('');
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      setState('loading');
      api.get('/v1/contacts' + api.qs({ q: term, limit: 8 })).then(
        (r) => {
          if (!live) return;
          setList((r && r.contacts) || []);
          setState('');
        },
        (e) => live && setState(e.status === 404 ? 'Contacts are not available on this server.' : e.message),
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [q]);
  if (chosen) {
    return (
      <div class="start-contact" id="start-contact">
        <span class="start-contact-name">{chosen.name || chosen.phone}</span>
        <span class="muted mono">{chosen.phone}</span>
        <span class="grow" />
        <button class="link-btn" onClick={() => onPick(null)}>
          Change
        </button>
      </div>
    );
  }
  return (
    <div class="start-contacts">
      <input
        id="start-contact-search"
        type="search"
        placeholder="Search contacts by name or number"
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
        autofocus
      />
      <ul class="start-contact-list" role="listbox" id="start-contact-list">
        {state && <li class="muted small">{state === 'loading' ? 'Searching…' : state}</li>}
        {!state && q.trim() && list.length === 0 && <li class="muted small">No contact matches.</li>}
        {list.map((c) => (
          <li key={c.id} role="option" tabIndex={0} onClick={() => onPick(c)} onKeyDown={(e) => e.key === 'Enter' && onPick(c)}>
            <span>{c.name || '—'}</span>
            <span class="muted mono">{c.phone}</span>
            {c.blocked && <span class="tpl-status s-rejected">blocked</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}
