// The team (README "## Team"): Settings → Team for admins (operators, invites, role, capacity, skills, teams,
// disable, remove), My profile for everyone (name, password, availability, API tokens), and the invite page a new
// operator opens from their link (/invite/<secret>), signed out.
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

const ROLES = ['operator', 'builder', 'admin'];
const SCOPES = ['conversations:read', 'conversations:write', 'contacts:read', 'contacts:write', 'admin'];
const POLICY = 'At least 12 characters, not a common password, and not containing your operator id.';

/** Head is a settings page's heading (also channels.jsx). */
export function Head({ title }) {
  return (
    <header class="settings-head">
      <div>
        <div class="muted small">Settings</div>
        <h2>{title}</h2>
      </div>
    </header>
  );
}

/** weakReason is why the server refused a password ("it is shorter than 12 characters"), from its message. */
const weakReason = (msg) => (msg || '').replace(/^.*too weak: /, '').replace(/; the policy.*$/, '');

const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** TeamPage is Settings → Team: every operator with their role, capacity, availability and status, for admins. */
export function TeamPage({ me }) {
  const [ops, setOps] = useState(null);
  const [invites, setInvites] = useState([]);
  const [error, setError] = useState('');
  const [inviting, setInviting] = useState(false);
  const [editing, setEditing] = useState(null);
  const [confirm, setConfirm] = useState(null); // {op, action: 'disable'|'remove'}

  const load = () => {
    api.get('/v1/operators').then((r) => setOps(r.operators), (e) => setError(e.message));
    api.get('/v1/team/invites').then((r) => setInvites(r.invites), () => {});
  };
  useEffect(load, []);

  const act = async (op, action) => {
    setError('');
    try {
      if (action === 'remove') await api.request('DELETE', '/v1/operators/' + op.id);
      else await api.request('PATCH', '/v1/operators/' + op.id, { disabled: action === 'disable' });
      setConfirm(null);
      load();
    } catch (e) {
      setConfirm(null);
      setError(e.code === 'last_admin' ? 'The workspace must keep at least one enabled admin.' : e.message);
    }
  };

  return (
    <section class="settings-page" id="team-page">
      <Head title="Team" />
      <div class="team-bar">
        <p class="settings-intro muted">Who answers your customers, and what they may do.</p>
        <button class="btn primary" id="invite-open" onClick={() => setInviting(true)}>
          Invite an operator
        </button>
      </div>
      {error && (
        <div class="alert error" role="alert" id="team-error">
          {error}
        </div>
      )}
      {!ops ? (
        <div class="muted">Loading…</div>
      ) : (
        <table class="team-table" id="team-table">
          <thead>
            <tr>
              <th>Operator</th>
              <th>Role</th>
              <th>Capacity</th>
              <th>Availability</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {ops.map((o) => (
              <tr key={o.id} id={'team-row-' + o.id} class={o.disabled ? 'disabled' : ''}>
                <td>
                  <div class="team-name">{o.name || o.id}</div>
                  <div class="muted small mono">{o.id}</div>
                  {(o.skills.length > 0 || (o.teams || []).length > 0) && (
                    <div class="muted small">{[...o.skills, ...(o.teams || []).map((t) => 'team ' + t)].join(' · ')}</div>
                  )}
                </td>
                <td>{o.role}</td>
                <td class="team-capacity">
                  {o.load ?? 0}/{o.capacity}
                </td>
                <td>
                  <span class={'avail-dot ' + o.availability} /> {o.availability}
                </td>
                <td>
                  {o.disabled ? <span class="pill warn">Disabled</span> : <span class="pill">Active</span>}
                  {o.sso && (
                    <span class="pill sso" title="Signs in with single sign-on">
                      SSO
                    </span>
                  )}
                </td>
                <td class="team-actions">
                  <button class="btn small" id={'team-edit-' + o.id} onClick={() => setEditing(o)}>
                    Edit
                  </button>
                  {o.id !== me.id && (
                    <>
                      <button class="btn small" id={'team-disable-' + o.id} onClick={() => setConfirm({ op: o, action: o.disabled ? 'enable' : 'disable' })}>
                        {o.disabled ? 'Enable' : 'Disable'}
                      </button>
                      <button class="btn small danger" id={'team-remove-' + o.id} onClick={() => setConfirm({ op: o, action: 'remove' })}>
                        Remove
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
            {invites.map((n) => (
              <tr key={'invite-' + n.operator} class="invited">
                <td>
                  <div class="team-name">{n.name || n.operator}</div>
                  <div class="muted small mono">{n.operator}</div>
                </td>
                <td>{n.role}</td>
                <td>{n.capacity}</td>
                <td>—</td>
                <td>
                  <span class="pill info" title={'Expires ' + new Date(n.expires_at).toLocaleString()}>
                    Invited
                  </span>
                </td>
                <td />
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {inviting && <InviteDialog onClose={() => (setInviting(false), load())} />}
      {editing && <EditDialog op={editing} self={editing.id === me.id} onClose={() => (setEditing(null), load())} />}
      {confirm && (
        <div class="overlay" onClick={() => setConfirm(null)}>
          <div class="popover erase-dialog" role="dialog" id="team-confirm" aria-label="Confirm" onClick={(e) => e.stopPropagation()}>
            <h3>
              {confirm.action === 'remove' ? 'Remove' : confirm.action === 'disable' ? 'Disable' : 'Enable'} {confirm.op.name || confirm.op.id}?
            </h3>
            <p>
              {confirm.action === 'remove'
                ? 'They are signed out everywhere, their API tokens are revoked, and the conversations they hold go back to the queue. This cannot be undone; invite them again to bring them back.'
                : confirm.action === 'disable'
                  ? 'They are signed out everywhere at once and their API tokens stop working; the conversations they hold go back to the queue.'
                  : 'They can sign in again.'}
            </p>
            <div class="cf-actions">
              <button class="btn" onClick={() => setConfirm(null)}>
                Cancel
              </button>
              <button class="btn primary" id="team-confirm-ok" onClick={() => act(confirm.op, confirm.action)}>
                {confirm.action === 'remove' ? 'Remove' : confirm.action === 'disable' ? 'Disable' : 'Enable'}
              </button>
            </div>
          </div>
        </div>
      )}
    </section>
  );
}

/** ProfileFields are the name, role and capacity fields of the invite and edit dialogs (ids prefix-name…). */
function ProfileFields({ prefix, form, set }) {
  return (
    <>
      <label>
        Name
        <input id={prefix + '-name'} value={form.name} onInput={(e) => set('name', e.currentTarget.value)} />
      </label>
      <label>
        Role
        <select id={prefix + '-role'} value={form.role} onChange={(e) => set('role', e.currentTarget.value)}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <label>
        Capacity
        <input id={prefix + '-capacity'} type="number" min="1" value={form.capacity} onInput={(e) => set('capacity', e.currentTarget.value)} />
      </label>
    </>
  );
}

/** DialogFoot is a dialog form's error and its Cancel and submit buttons (also channels.jsx). */
export function DialogFoot({ error, onClose, id, label, disabled = false }) {
  return (
    <>
      {error && (
        <div class="alert error" role="alert">
          {error}
        </div>
      )}
      <div class="cf-actions">
        <button type="button" class="btn" onClick={onClose}>
          Cancel
        </button>
        <button class="btn primary" id={id} disabled={disabled}>
          {label}
        </button>
      </div>
    </>
  );
}

function InviteDialog({ onClose }) {
  const [form, setForm] = useState({ id: '', name: '', role: 'operator', capacity: 5 });
  const [link, setLink] = useState(null);
  const [error, setError] = useState('');
  const [copied, setCopied] = useState(false);
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      setLink(await api.request('POST', '/v1/team/invites', { ...form, capacity: Number(form.capacity) || 0 }));
    } catch (err) {
      setError(err.message);
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link.invite_url);
      setCopied(true);
    } catch (e) {
      /* the link is selectable */
    }
  };
  return (
    <div class="overlay" onClick={onClose}>
      <form class="popover erase-dialog team-dialog" role="dialog" id="invite-dialog" aria-label="Invite an operator" onClick={(e) => e.stopPropagation()} onSubmit={submit}>
        <h3>Invite an operator</h3>
        {link ? (
          <>
            <p>
              Send this link to {link.name || link.operator}. It works once, until {new Date(link.expires_at).toLocaleString()}, and is shown only now.
            </p>
            <input id="invite-link" class="mono" readOnly value={link.invite_url} onFocus={(e) => e.currentTarget.select()} />
            <div class="cf-actions">
              <button type="button" class="btn" id="invite-copy" onClick={copy}>
                {copied ? 'Copied' : 'Copy link'}
              </button>
              <button type="button" class="btn primary" id="invite-done" onClick={onClose}>
                Done
              </button>
            </div>
          </>
        ) : (
          <>
            <label>
              Operator id <span class="muted small">(a-z, 0-9, -)</span>
              <input id="invite-id" value={form.id} onInput={(e) => set('id', e.currentTarget.value)} autofocus />
            </label>
            <ProfileFields prefix="invite" form={form} set={set} />
            <DialogFoot error={error} onClose={onClose} id="invite-submit" label="Create link" disabled={!form.id.trim()} />
          </>
        )}
      </form>
    </div>
  );
}

function EditDialog({ op, self, onClose }) {
  const [form, setForm] = useState({
    name: op.name,
    role: op.role,
    capacity: op.capacity,
    skills: op.skills.join(', '),
    teams: (op.teams || []).join(', '),
    sso: !!op.sso,
  });
  const [error, setError] = useState('');
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    const change = {};
    if (form.name !== op.name) change.name = form.name;
    if (form.role !== op.role) change.role = form.role;
    if (Number(form.capacity) !== op.capacity) change.capacity = Number(form.capacity);
    if (list(form.skills).join() !== op.skills.join()) change.skills = list(form.skills);
    if (list(form.teams).join() !== (op.teams || []).join()) change.teams = list(form.teams);
    if (form.sso !== !!op.sso) change.sso = form.sso;
    try {
      if (Object.keys(change).length) await api.request('PATCH', '/v1/operators/' + op.id, change);
      onClose();
    } catch (err) {
      setError(err.code === 'last_admin' ? 'The workspace must keep at least one enabled admin.' : err.message);
    }
  };
  return (
    <div class="overlay" onClick={onClose}>
      <form class="popover erase-dialog team-dialog" role="dialog" id="edit-dialog" aria-label={'Edit ' + op.id} onClick={(e) => e.stopPropagation()} onSubmit={submit}>
        <h3>Edit {op.name || op.id}</h3>
        <ProfileFields prefix="edit" form={form} set={set} />
        <label>
          Skills <span class="muted small">(comma-separated)</span>
          <input id="edit-skills" value={form.skills} onInput={(e) => set('skills', e.currentTarget.value)} />
        </label>
        <label>
          Teams <span class="muted small">(comma-separated)</span>
          <input id="edit-teams" value={form.teams} onInput={(e) => set('teams', e.currentTarget.value)} />
        </label>
        {!self && (
          <label class="check">
            <input type="checkbox" id="edit-sso" checked={form.sso} onChange={(e) => set('sso', e.currentTarget.checked)} />
            Signs in with single sign-on
            <span class="muted small">
              {' '}
              (their first SSO sign-in binds this operator to that identity-provider account; clearing it ends their SSO sessions)
            </span>
          </label>
        )}
        <DialogFoot error={error} onClose={onClose} id="edit-save" label="Save" />
      </form>
    </div>
  );
}

/** ProfilePage is My profile: the signed-in operator's name, password, availability and API tokens. */
export function ProfilePage({ me, availability, setAvailability }) {
  const [self, setSelf] = useState(null);
  const [pw, setPw] = useState({ current: '', next: '' });
  const [pwMsg, setPwMsg] = useState(null);
  const [tokens, setTokens] = useState([]);
  const [tok, setTok] = useState({ name: '', scopes: ['conversations:read'] });
  const [created, setCreated] = useState(null);
  const [error, setError] = useState('');
  const [name, setName] = useState(me.name || '');
  const [nameMsg, setNameMsg] = useState('');

  const saveName = async (e) => {
    e.preventDefault();
    try {
      const v = await api.request('PATCH', '/v1/operators/me', { name: name.trim() });
      setSelf(v);
      setNameMsg('Saved.');
    } catch (err) {
      setNameMsg(err.message);
    }
  };
  const loadTokens = () => api.get('/v1/operators/me/tokens').then((r) => setTokens(r.tokens), (e) => setError(e.message));
  useEffect(() => {
    api.get('/v1/operators/me').then(setSelf, (e) => setError(e.message));
    loadTokens();
  }, []);

  const changePw = async (e) => {
    e.preventDefault();
    setPwMsg(null);
    try {
      const s = await api.request('PUT', '/v1/operators/me/password', { current: pw.current, new: pw.next });
      if (s && s.csrf_token) api.setCSRF(s.csrf_token);
      setPw({ current: '', next: '' });
      setPwMsg({ ok: true, text: 'Password changed. Your other sessions are signed out.' });
    } catch (err) {
      setPwMsg({
        ok: false,
        text:
          err.code === 'invalid_credentials'
            ? 'The current password is wrong.'
            : err.code === 'weak_password'
              ? 'That password is too weak: ' + weakReason(err.message) + '.'
              : err.message,
      });
    }
  };
  const create = async (e) => {
    e.preventDefault();
    setError('');
    try {
      setCreated(await api.request('POST', '/v1/operators/me/tokens', tok));
      setTok({ name: '', scopes: ['conversations:read'] });
      loadTokens();
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async (id) => {
    setError('');
    try {
      await api.request('DELETE', '/v1/tokens/' + id);
      loadTokens();
    } catch (err) {
      setError(err.message);
    }
  };

  return (
    <section class="settings-page" id="profile-page">
      <Head title="My profile" />
      <div class="profile-card">
        <form class="profile-name" id="name-form" onSubmit={saveName}>
          <input id="profile-name" value={name} onInput={(e) => (setName(e.currentTarget.value), setNameMsg(''))} aria-label="Your name" />
          <button class="btn small" id="name-save" disabled={!name.trim() || name.trim() === ((self && self.name) || me.name)}>
            Save name
          </button>
          {nameMsg && <span class="muted small" id="name-msg">{nameMsg}</span>}
        </form>
        <div class="muted small">
          <span class="mono">{me.id}</span> · {me.role}
          {self && <> · capacity {self.capacity}</>}
        </div>
        <label class="profile-avail">
          Availability
          <select id="profile-availability" value={availability} onChange={(e) => setAvailability(e.currentTarget.value)}>
            <option value="online">Online</option>
            <option value="away">Away</option>
            <option value="offline">Offline</option>
          </select>
        </label>
      </div>
      <form class="canned-form settings-form" id="password-form" onSubmit={changePw}>
        <h3>Password</h3>
        <p class="muted small">{POLICY}</p>
        {self && self.has_password && (
          <label>
            Current password
            <input id="pw-current" type="password" autocomplete="current-password" value={pw.current} onInput={(e) => setPw({ ...pw, current: e.currentTarget.value })} />
          </label>
        )}
        <label>
          New password
          <input id="pw-new" type="password" autocomplete="new-password" value={pw.next} onInput={(e) => setPw({ ...pw, next: e.currentTarget.value })} />
        </label>
        {pwMsg && (
          <div class={'alert ' + (pwMsg.ok ? 'info' : 'error')} role="alert" id="pw-msg">
            {pwMsg.text}
          </div>
        )}
        <div class="canned-form-foot">
          <button class="btn primary" id="pw-save" disabled={!pw.next}>
            Change password
          </button>
        </div>
      </form>
      <form class="canned-form settings-form" id="token-form" onSubmit={create}>
        <h3>API tokens</h3>
        <p class="muted small">A token acts as you, within its scopes. It is shown once, when created.</p>
        {error && (
          <div class="alert error" role="alert">
            {error}
          </div>
        )}
        {created && (
          <div class="alert info" id="token-created">
            <div>Copy it now: it will not be shown again.</div>
            <input id="token-secret" class="mono" readOnly value={created.token} onFocus={(e) => e.currentTarget.select()} />
          </div>
        )}
        <label>
          Name
          <input id="token-name" value={tok.name} onInput={(e) => setTok({ ...tok, name: e.currentTarget.value })} placeholder="e.g. CRM sync" />
        </label>
        <fieldset class="settings-flags">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} class="check">
              <input
                type="checkbox"
                id={'scope-' + s.replace(':', '-')}
                checked={tok.scopes.includes(s)}
                onChange={(e) => setTok({ ...tok, scopes: e.currentTarget.checked ? [...tok.scopes, s] : tok.scopes.filter((x) => x !== s) })}
              />
              <span class="mono">{s}</span>
            </label>
          ))}
        </fieldset>
        <div class="canned-form-foot">
          <button class="btn primary" id="token-create" disabled={!tok.name.trim() || tok.scopes.length === 0}>
            Create token
          </button>
        </div>
        <table class="team-table" id="token-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Scopes</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id} id={'token-row-' + t.id} class={t.revoked_at ? 'disabled' : ''}>
                <td>{t.name}</td>
                <td class="mono small">{t.scopes.join(' ')}</td>
                <td class="small">{new Date(t.created_at).toLocaleDateString()}</td>
                <td class="small" title="As this server saw it, to the minute">
                  {t.last_used_at ? new Date(t.last_used_at).toLocaleString() : 'never'}
                </td>
                <td>
                  {t.revoked_at ? (
                    <span class="pill warn">Revoked</span>
                  ) : (
                    <button type="button" class="btn small danger" id={'token-revoke-' + t.id} onClick={() => revoke(t.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </form>
    </section>
  );
}

/** InvitePage is where an invite link leads: who is invited, and the password they choose, signed out. */
export function InvitePage({ secret, onSignedIn }) {
  const [invite, setInvite] = useState(undefined);
  const [pw, setPw] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api.request('GET', '/v1/invites/' + encodeURIComponent(secret), undefined, { quiet401: true }).then(setInvite, () => setInvite(null));
  }, [secret]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await api.request('POST', '/v1/invites/' + encodeURIComponent(secret) + '/accept', { password: pw }, { quiet401: true });
      history.replaceState(null, '', '/');
      onSignedIn(s);
    } catch (err) {
      setError(err.code === 'weak_password' ? 'That password is too weak: ' + weakReason(err.message) + '.' : err.message);
      setBusy(false);
    }
  };
  return (
    <div class="signin">
      <form class="signin-card" onSubmit={submit} id="invite-form">
        <div class="brand-mark big">S</div>
        {invite === undefined ? (
          <p class="muted">Loading…</p>
        ) : invite === null ? (
          <>
            <h1>This invite link does not work</h1>
            <p class="muted" id="invite-invalid">
              It is wrong, expired or already used. Ask your administrator for a new one.
            </p>
            <a class="btn wide" href="/">
              Go to sign-in
            </a>
          </>
        ) : (
          <>
            <h1>Welcome, {invite.name || invite.operator}</h1>
            <p class="muted">
              You are invited to <b>{invite.tenant_id}</b> as <b>{invite.role}</b>. Your operator id is <b class="mono">{invite.operator}</b>. Choose a password to
              sign in with.
            </p>
            <label for="invite-password">Password</label>
            <input id="invite-password" type="password" autocomplete="new-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} autofocus />
            <p class="muted small">{POLICY}</p>
            {error && (
              <div class="alert error" role="alert" id="invite-error">
                {error}
              </div>
            )}
            <button class="btn primary wide" type="submit" id="invite-accept" disabled={busy || !pw}>
              {busy ? 'Setting up…' : 'Set password and sign in'}
            </button>
          </>
        )}
      </form>
    </div>
  );
}
