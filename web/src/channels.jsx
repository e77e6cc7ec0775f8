// Settings → Channels (README "Channels"), for admins: the tenant's WhatsApp numbers from GET /v1/channels, each with
// the webhook URL to paste at Meta and its secrets shown only as set or not (they are write-only); add a number,
// rotate its secrets, turn two-way chat off and on, remove it. A value the server refuses is shown beside the field
// its message names ("app_secret: required …").
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';
import { Head, DialogFoot } from './team.jsx';

// The fields of the add form, in order: [key, label, hint, input type].
const ADD_FIELDS = [
  ['id', 'Channel id', 'a-z, 0-9 and -; how the API and the inbox name it', 'text'],
  ['phone_number_id', 'Phone number id', 'Meta’s id of the number (WhatsApp Manager → API setup)', 'text'],
  ['name', 'Display name', 'optional, e.g. +44 20 7946 0000 or Support UK', 'text'],
  ['waba_id', 'WhatsApp Business Account id', 'optional: its message templates are synced', 'text'],
  ['app_secret', 'App secret', 'your Meta app’s secret: webhooks signed with it are accepted', 'password'],
  ['verify_token', 'Verify token', 'any string; give Meta the same one with the webhook URL', 'password'],
  ['access_token', 'Access token', 'a system user’s token: replies are sent with it', 'password'],
];
const SECRET_FIELDS = [
  ['app_secret', 'App secret'],
  ['verify_token', 'Verify token'],
  ['access_token', 'Access token'],
];

/** fieldError splits a refusal's message into the field it names and the rest, when it names one of fields. */
function fieldError(err, fields) {
  const m = /^([a-z_]+): (.*)$/s.exec((err && err.message) || '');
  if (m && fields.includes(m[1])) return { field: m[1], message: m[2] };
  return { field: '', message: (err && err.message) || 'The change was refused.' };
}

function SetState({ set }) {
  return set ? <span class="pill">set</span> : <span class="pill warn">not set</span>;
}

/** ChannelsPage is Settings → Channels. */
export function ChannelsPage() {
  const [channels, setChannels] = useState(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [adding, setAdding] = useState(false);
  const [rotating, setRotating] = useState(null);
  const [confirm, setConfirm] = useState(null); // {ch, action: 'disable'|'remove'}
  const [copied, setCopied] = useState('');

  const load = () => api.get('/v1/channels').then((r) => setChannels(r.channels || []), (e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);

  const say = (msg) => {
    setError('');
    setNotice(msg);
    load();
  };
  const twoWay = async (ch, on) => {
    setError('');
    try {
      await api.request('PATCH', '/v1/channels/' + ch.id, { disabled: !on });
      setConfirm(null);
      say(on ? `Two-way chat is on for ${ch.id}.` : `Two-way chat is off for ${ch.id}: customers’ messages on it are dropped.`);
    } catch (e) {
      setConfirm(null);
      setError(e.message);
    }
  };
  const copy = async (ch) => {
    try {
      await navigator.clipboard.writeText(ch.webhook_url);
      setCopied(ch.id);
    } catch (e) {
      /* the field is selectable */
    }
  };

  return (
    <section class="settings-page" id="channels-page">
      <Head title="Channels" />
      <div class="team-bar">
        <p class="settings-intro muted">The WhatsApp numbers your customers write to. Changes apply at once, on every node.</p>
        <button class="btn primary" id="channel-add-open" onClick={() => setAdding(true)}>
          Add WhatsApp number
        </button>
      </div>
      {error && (
        <div class="alert error" role="alert" id="channels-error">
          {error}
        </div>
      )}
      {notice && (
        <div class="alert info" role="status" id="channels-notice">
          {notice}
        </div>
      )}
      {!channels ? (
        <div class="muted">Loading…</div>
      ) : channels.length === 0 ? (
        <div class="muted channels-empty" id="channels-empty">
          No channels yet. Add your WhatsApp number to receive your customers’ messages.
        </div>
      ) : (
        <div class="channel-list" id="channel-list">
          {channels.map((ch) => (
            <article class={'channel-card' + (ch.disabled ? ' disabled' : '')} key={ch.id} id={'channel-' + ch.id} data-channel={ch.id}>
              <header class="channel-card-head">
                <div>
                  <div class="team-name" id={'channel-name-' + ch.id}>
                    {ch.name || ch.id}
                  </div>
                  <div class="muted small">
                    {ch.name && <span class="mono">{ch.id} · </span>}
                    {ch.type === 'whatsapp' ? 'WhatsApp' : ch.type} · number id <span class="mono">{ch.phone_number_id}</span>
                  </div>
                </div>
                <span class={'pill' + (ch.disabled ? ' warn' : '')} id={'channel-twoway-' + ch.id}>
                  {ch.disabled ? 'Two-way chat off' : 'Two-way chat on'}
                </span>
              </header>
              <dl class="channel-facts">
                <dt>Webhook URL</dt>
                <dd class="channel-webhook">
                  <input class="mono" readOnly value={ch.webhook_url} id={'channel-webhook-' + ch.id} onFocus={(e) => e.currentTarget.select()} />
                  <button class="btn small" onClick={() => copy(ch)}>
                    {copied === ch.id ? 'Copied' : 'Copy'}
                  </button>
                </dd>
                <dt>Verify token</dt>
                <dd id={'channel-verify-' + ch.id}>
                  <SetState set={ch.has_verify_token} /> <span class="muted small">give Meta the same token with the URL</span>
                </dd>
                <dt>App secret</dt>
                <dd id={'channel-secret-' + ch.id}>
                  <SetState set={ch.has_app_secret} />
                </dd>
                <dt>Access token</dt>
                <dd id={'channel-token-' + ch.id}>
                  <SetState set={ch.has_access_token} />
                  {!ch.has_access_token && <span class="muted small"> replies cannot be sent until it is set</span>}
                </dd>
                <dt>Business account</dt>
                <dd>{ch.waba_id ? <span class="mono">{ch.waba_id}</span> : <span class="muted">none: templates are not synced</span>}</dd>
                <dt>Send rate</dt>
                <dd>{ch.rate_limit} messages/s</dd>
              </dl>
              <div class="channel-actions">
                <button class="btn small" id={'channel-rotate-' + ch.id} onClick={() => setRotating(ch)}>
                  Edit…
                </button>
                {ch.disabled ? (
                  <button class="btn small" id={'channel-enable-' + ch.id} onClick={() => twoWay(ch, true)}>
                    Turn two-way chat on
                  </button>
                ) : (
                  <button class="btn small" id={'channel-disable-' + ch.id} onClick={() => setConfirm({ ch, action: 'disable' })}>
                    Turn two-way chat off
                  </button>
                )}
                <button class="btn small danger" id={'channel-remove-' + ch.id} onClick={() => setConfirm({ ch, action: 'remove' })}>
                  Remove…
                </button>
              </div>
            </article>
          ))}
        </div>
      )}
      {adding && (
        <AddDialog
          onClose={(added) => {
            setAdding(false);
            if (added) say(`${added.id} added: its webhooks are accepted now. Give Meta the webhook URL and verify token.`);
          }}
        />
      )}
      {rotating && (
        <RotateDialog
          ch={rotating}
          onClose={(done) => {
            setRotating(null);
            if (done) say(`${rotating.id}: ${done} changed.`);
          }}
        />
      )}
      {confirm && confirm.action === 'disable' && (
        <div class="overlay" onClick={() => setConfirm(null)}>
          <div class="popover erase-dialog" role="dialog" id="channel-confirm" aria-label="Confirm" onClick={(e) => e.stopPropagation()}>
            <h3>Turn two-way chat off for {confirm.ch.id}?</h3>
            <p>
              Customers’ messages on this number are acknowledged to Meta and dropped: no conversation starts or continues on it. Delivery ticks of what
              was sent still arrive. You can turn it on again at any time.
            </p>
            <div class="cf-actions">
              <button class="btn" onClick={() => setConfirm(null)}>
                Cancel
              </button>
              <button class="btn primary" id="channel-confirm-ok" onClick={() => twoWay(confirm.ch, false)}>
                Turn off
              </button>
            </div>
          </div>
        </div>
      )}
      {confirm && confirm.action === 'remove' && (
        <RemoveDialog
          ch={confirm.ch}
          onClose={(removed) => {
            setConfirm(null);
            if (removed) say(`${confirm.ch.id} removed. Its conversations stay in the inbox; nothing can be sent on them.`);
          }}
        />
      )}
    </section>
  );
}

/** Field is a labelled input with the server's refusal of it underneath. */
function Field({ name, label, hint, type, value, set, error, prefix }) {
  return (
    <label class={'cf' + (error ? ' invalid' : '')}>
      {label}
      <input
        id={prefix + '-' + name}
        type={type}
        value={value}
        autocomplete={type === 'password' ? 'new-password' : 'off'}
        onInput={(e) => set(name, e.currentTarget.value)}
      />
      {error ? (
        <span class="field-error" id={prefix + '-' + name + '-error'}>
          {error}
        </span>
      ) : (
        hint && <span class="muted small">{hint}</span>
      )}
    </label>
  );
}

function AddDialog({ onClose }) {
  const [form, setForm] = useState(Object.fromEntries(ADD_FIELDS.map(([k]) => [k, ''])));
  const [err, setErr] = useState({ field: '', message: '' });
  const [busy, setBusy] = useState(false);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e) => {
    e.preventDefault();
    setErr({ field: '', message: '' });
    const body = { type: 'whatsapp' };
    for (const [k] of ADD_FIELDS) if (form[k].trim() !== '' || ['id', 'phone_number_id'].includes(k)) body[k] = form[k].trim();
    setBusy(true);
    try {
      onClose(await api.request('POST', '/v1/channels', body));
    } catch (e2) {
      setErr(fieldError(e2, ADD_FIELDS.map(([k]) => k)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="overlay" onClick={() => onClose(null)}>
      <form
        class="popover erase-dialog team-dialog channel-dialog wide"
        role="dialog"
        id="channel-add-dialog"
        aria-label="Add WhatsApp number"
        onClick={(e) => e.stopPropagation()}
        onSubmit={submit}
      >
        <h3>Add WhatsApp number</h3>
        <div class="channel-fields">
          {ADD_FIELDS.map(([k, label, hint, type]) => (
            <Field key={k} prefix="channel-add" name={k} label={label} hint={hint} type={type} value={form[k]} set={set} error={err.field === k ? err.message : ''} />
          ))}
        </div>
        <DialogFoot error={err.field ? '' : err.message} onClose={() => onClose(null)} id="channel-add-submit" label="Add number" disabled={busy || !form.id.trim()} />
      </form>
    </div>
  );
}

/** RotateDialog changes a channel's display name and replaces any of its secrets (write-only: never shown). */
function RotateDialog({ ch, onClose }) {
  const [form, setForm] = useState({ name: ch.name || '', app_secret: '', verify_token: '', access_token: '' });
  const [err, setErr] = useState({ field: '', message: '' });
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const names = SECRET_FIELDS.filter(([k]) => form[k] !== '');
  const renamed = form.name.trim() !== (ch.name || '');
  const submit = async (e) => {
    e.preventDefault();
    setErr({ field: '', message: '' });
    const body = {};
    if (renamed) body.name = form.name.trim();
    for (const [k] of names) body[k] = form[k];
    try {
      await api.request('PATCH', '/v1/channels/' + ch.id, body);
      onClose([...(renamed ? ['display name'] : []), ...names.map(([, label]) => label.toLowerCase())].join(', '));
    } catch (e2) {
      setErr(fieldError(e2, ['name', ...SECRET_FIELDS.map(([k]) => k)]));
    }
  };
  return (
    <div class="overlay" onClick={() => onClose(null)}>
      <form
        class="popover erase-dialog team-dialog channel-dialog"
        role="dialog"
        id="channel-rotate-dialog"
        aria-label={'Edit ' + ch.id}
        onClick={(e) => e.stopPropagation()}
        onSubmit={submit}
      >
        <h3>Edit {ch.id}</h3>
        <Field prefix="channel-rotate" name="name" label="Display name" type="text" value={form.name} set={set} error={err.field === 'name' ? err.message : ''} />
        <p class="muted small">
          Secrets: fill only what you replace. The current values are never shown; a replaced app secret is refused from the moment this is saved, on every
          node.
        </p>
        {SECRET_FIELDS.map(([k, label]) => (
          <Field key={k} prefix="channel-rotate" name={k} label={'New ' + label.toLowerCase()} type="password" value={form[k]} set={set} error={err.field === k ? err.message : ''} />
        ))}
        <DialogFoot error={err.field ? '' : err.message} onClose={() => onClose(null)} id="channel-rotate-submit" label="Save" disabled={names.length === 0 && !renamed} />
      </form>
    </div>
  );
}

function RemoveDialog({ ch, onClose }) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState('');
  const remove = async () => {
    setError('');
    try {
      await api.request('DELETE', '/v1/channels/' + ch.id);
      onClose(true);
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div class="overlay" onClick={() => onClose(false)}>
      <div class="popover erase-dialog team-dialog" role="dialog" id="channel-remove-dialog" aria-label={'Remove ' + ch.id} onClick={(e) => e.stopPropagation()}>
        <h3>Remove {ch.id}?</h3>
        <p>
          From now on, on every node, its webhooks are refused like an unknown number’s: customers’ messages to it no longer arrive. Its
          conversations stay in the inbox with their history, but nothing can be sent on them, and replies still waiting to be sent fail. Adding the
          number again under the same channel id brings its conversations back.
        </p>
        <label class="cf">
          <span>
            Type the channel id, <span class="mono">{ch.id}</span>, to confirm
          </span>
          <input id="channel-remove-typed" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autofocus />
        </label>
        {error && (
          <div class="alert error" role="alert">
            {error}
          </div>
        )}
        <div class="cf-actions">
          <button class="btn" onClick={() => onClose(false)}>
            Cancel
          </button>
          <button class="btn danger" id="channel-remove-ok" disabled={typed.trim() !== ch.id} onClick={remove}>
            Remove channel
          </button>
        </div>
      </div>
    </div>
  );
}
