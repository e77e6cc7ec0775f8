// Single sign-on (README "Single sign-on (OpenID Connect)"): the sign-in page's "Sign in with single sign-on"
// (GET /v1/auth/methods says whether the tenant offers it; the browser then goes to /v1/auth/oidc/start, the IdP and
// back), and Settings → Single sign-on for admins (GET/PUT /v1/settings/sso; the client secret is write-only).
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

const ROLES = ['admin', 'builder', 'operator'];

/** SSO_ERRORS say, by the code the callback sends back (/?sso_error=…), why a single sign-on did not sign in. */
const SSO_ERRORS = {
  sso_disabled: 'Single sign-on is not enabled for this organisation.',
  sso_unavailable: 'The identity provider could not be reached. Try again later, or sign in with your password.',
  sso_state: 'The sign-in expired or was started in another browser or tab. Start it again.',
  sso_failed: 'The identity provider’s answer could not be verified. Start again; if it keeps failing, ask your admin to check the single sign-on settings.',
  sso_idp_error: 'The identity provider did not sign you in.',
  sso_no_matching_group: 'Your account is in none of the groups that give access to Switchboard. Ask your admin to add you to one.',
  sso_unknown_operator: 'Your account has no Switchboard operator, and new ones are not created automatically. Ask your admin.',
  sso_domain_not_allowed: 'Accounts of your e-mail domain may not sign in to this organisation.',
  sso_claim_missing: 'Your identity provider did not send what Switchboard needs to know who you are (e.g. a verified e-mail address).',
  sso_cross_site: 'The sign-in was started from another site. Start it here.',
  sso_operator_disabled: 'Your operator account is disabled. Ask an admin.',
  sso_operator_conflict: 'Your account’s operator id belongs to an operator who signs in with a password or token, or to another account of your identity provider. Sign in with your password, or ask an admin.',
  too_many_attempts: 'Too many failed sign-ins. Wait a few minutes and try again.',
  last_admin: 'Your groups now give you a lower role, and you are the organisation’s last admin. Ask your IdP admin to restore your group.',
};

const TENANT_KEY = 'sb_sso_tenant';

/**
 * ssoReturn reads (and clears from the address bar) what a single sign-on sent back: an error code. The address's
 * tenant is not taken: a link from anyone would otherwise offer its tenant's IdP (a look-alike login page) on this
 * node's page; the tenant is the node's only one, or the one this browser chose.
 */
function ssoReturn() {
  const q = new URLSearchParams(location.search);
  const code = q.get('sso_error');
  if (code || q.has('tenant')) history.replaceState(null, '', location.pathname);
  return { code };
}

/**
 * SSOSignIn is the sign-in page's single sign-on part: a button straight to the IdP when the tenant is known (the
 * node serves one tenant, or this browser used SSO before), else a tenant field first.
 */
export function SSOSignIn() {
  const [back] = useState(ssoReturn);
  const [tenant, setTenant] = useState(localStorage.getItem(TENANT_KEY) || '');
  const [methods, setMethods] = useState(null);
  const [asking, setAsking] = useState(false); // the tenant field is open
  const [error, setError] = useState(
    back.code ? (Object.hasOwn(SSO_ERRORS, back.code) && SSO_ERRORS[back.code]) || 'Single sign-on did not sign you in.' : '',
  );
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // A node of one tenant names it; otherwise the tenant this browser used is asked about.
    (async () => {
      let m = await api.get('/v1/auth/methods', { quiet401: true });
      if (m.tenant) setTenant(m.tenant);
      else if (tenant) m = await api.get('/v1/auth/methods' + api.qs({ tenant }), { quiet401: true });
      setMethods(m);
    })().catch(() => setMethods({}));
  }, []);

  const go = async () => {
    const t = tenant.trim();
    if (!t || busy) return;
    setBusy(true);
    setError('');
    try {
      const m = await api.get('/v1/auth/methods' + api.qs({ tenant: t }), { quiet401: true });
      if (!m.sso) {
        setError('Single sign-on is not set up for “' + t + '”. Check the organisation id, or sign in with your password.');
        return;
      }
      localStorage.setItem(TENANT_KEY, t);
      location.assign(m.sso_start);
    } catch (err) {
      setError(err.message || 'Single sign-on is unavailable.');
    } finally {
      setBusy(false);
    }
  };

  // The node's only tenant has no SSO: nothing to offer (unless a sign-in just came back with an error).
  if (!methods || (methods.tenant && !methods.sso && !error)) return null;
  const direct = methods.sso && methods.sso_start;
  return (
    <div class="sso-signin" id="sso-signin">
      <div class="or">
        <span>or</span>
      </div>
      {error && (
        <div class="alert error" role="alert" id="sso-error">
          {error}
        </div>
      )}
      {direct && !asking ? (
        <>
          <a class="btn wide sso-btn" id="sso-start" href={methods.sso_start} onClick={() => localStorage.setItem(TENANT_KEY, tenant)}>
            Sign in with single sign-on
          </a>
          {!methods.tenant && (
            <button type="button" class="link-btn small" onClick={() => setAsking(true)}>
              Not {tenant}? Choose another organisation
            </button>
          )}
        </>
      ) : asking ? (
        <div class="sso-tenant">
          <label for="sso-tenant">Organisation id</label>
          <input
            id="sso-tenant"
            value={tenant}
            placeholder="e.g. acme"
            autocomplete="organization"
            onInput={(e) => setTenant(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                go();
              }
            }}
          />
          <button type="button" class="btn wide sso-btn" id="sso-continue" disabled={busy || !tenant.trim()} onClick={go}>
            {busy ? 'Checking…' : 'Continue with single sign-on'}
          </button>
        </div>
      ) : (
        <button type="button" class="btn wide sso-btn" id="sso-ask" onClick={() => setAsking(true)}>
          Sign in with single sign-on
        </button>
      )}
    </div>
  );
}

function Head() {
  return (
    <header class="settings-head">
      <div>
        <div class="muted small">Settings</div>
        <h2>Single sign-on</h2>
      </div>
    </header>
  );
}

/** formOf is the editable form of the settings the server answered. */
function formOf(s) {
  return {
    enabled: s.enabled,
    issuer: s.issuer,
    client_id: s.client_id,
    client_secret: '',
    scopes: (s.scopes || []).join(' '),
    groups_claim: s.groups_claim,
    operator_claim: s.operator_claim,
    groups: (s.groups || []).map((g) => ({ ...g })),
    provision: s.provision,
    capacity: String(s.capacity),
    allowed_domains: (s.allowed_domains || []).join(', '),
  };
}

const words = (s) => s.split(/[\s,]+/).filter(Boolean);

/** SSOSettingsPage is Settings → Single sign-on, for admins. */
export function SSOSettingsPage() {
  const [saved, setSaved] = useState(null);
  const [form, setForm] = useState(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  const take = (s) => {
    setSaved(s);
    setForm(formOf(s));
  };
  useEffect(() => {
    api.get('/v1/settings/sso').then(take, (e) => setError(e.message));
  }, []);

  if (!form) {
    return (
      <section class="settings-page" id="sso-page">
        <Head />
        {error ? <div class="alert error" role="alert">{error}</div> : <div class="muted">Loading…</div>}
      </section>
    );
  }
  const set = (k, v) => setForm((f) => ({ ...f, [k]: v }));
  const setRow = (i, k, v) => setForm((f) => ({ ...f, groups: f.groups.map((g, j) => (j === i ? { ...g, [k]: v } : g)) }));

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(saved.callback_url);
    } catch (e) {
      const el = document.getElementById('sso-callback');
      el.select();
      document.execCommand('copy');
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };

  const save = async (e) => {
    e.preventDefault();
    setError('');
    setNotice('');
    // Only what changed is sent; the secret only when a new one is typed.
    const was = formOf(saved);
    const change = {};
    for (const k of ['enabled', 'issuer', 'client_id', 'groups_claim', 'operator_claim', 'provision']) {
      if (form[k] !== was[k]) change[k] = typeof form[k] === 'string' ? form[k].trim() : form[k];
    }
    if (form.client_secret) change.client_secret = form.client_secret;
    if (form.scopes !== was.scopes) change.scopes = words(form.scopes);
    if (form.allowed_domains !== was.allowed_domains) change.allowed_domains = words(form.allowed_domains);
    if (form.capacity !== was.capacity) change.capacity = parseInt(form.capacity, 10) || 0;
    const rows = form.groups.filter((g) => g.group.trim() !== '');
    if (JSON.stringify(rows) !== JSON.stringify(was.groups)) change.groups = rows.map((g) => ({ group: g.group.trim(), role: g.role }));
    if (Object.keys(change).length === 0) {
      setNotice('Nothing changed.');
      return;
    }
    setBusy(true);
    try {
      take(await api.put('/v1/settings/sso', change));
      setNotice(change.enabled === false ? 'Saved. Single sign-on is off: its sessions have ended.' : 'Saved. The change applies now, on every node.');
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="settings-page" id="sso-page">
      <Head />
      <p class="settings-intro muted">
        Let operators sign in with your identity provider (Microsoft Entra ID, Keycloak, Okta… any OpenID Connect provider). Their role comes from their
        groups at every sign-in; sign-in by password keeps working.
      </p>
      <form class="canned-form settings-form sso-form" id="sso-form" onSubmit={save}>
        <div class="sso-callback">
          <label for="sso-callback">Redirect URI to register at your identity provider</label>
          <div class="sso-copy">
            <input id="sso-callback" readOnly value={saved.callback_url} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" class="btn small" id="sso-copy" onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
        </div>
        <div class="canned-form-row">
          <label class="grow">
            Issuer URL
            <input id="sso-issuer" value={form.issuer} placeholder="https://login.microsoftonline.com/<tenant id>/v2.0" onInput={(e) => set('issuer', e.currentTarget.value)} />
          </label>
        </div>
        <div class="canned-form-row">
          <label class="grow">
            Client id
            <input id="sso-client-id" value={form.client_id} onInput={(e) => set('client_id', e.currentTarget.value)} />
          </label>
          <label class="grow">
            <span>
              Client secret{' '}
              <span class={'pill ' + (saved.has_client_secret ? 'info' : 'warn')} id="sso-secret-state">
                {saved.has_client_secret ? 'set' : 'not set'}
              </span>
            </span>
            <input
              id="sso-client-secret"
              type="password"
              autocomplete="new-password"
              value={form.client_secret}
              placeholder={saved.has_client_secret ? 'Leave empty to keep it' : 'Paste the client secret'}
              onInput={(e) => set('client_secret', e.currentTarget.value)}
            />
          </label>
        </div>
        <div class="canned-form-row">
          <label class="grow">
            Scopes besides openid
            <input id="sso-scopes" value={form.scopes} onInput={(e) => set('scopes', e.currentTarget.value)} />
            <span class="muted small">Add groups if your provider sends groups only when asked (Okta, some Keycloak realms).</span>
          </label>
        </div>
        <div class="canned-form-row">
          <label class="grow">
            Groups claim
            <input id="sso-groups-claim" value={form.groups_claim} onInput={(e) => set('groups_claim', e.currentTarget.value)} />
          </label>
          <label class="grow">
            Operator claim
            <input id="sso-operator-claim" value={form.operator_claim} onInput={(e) => set('operator_claim', e.currentTarget.value)} />
          </label>
        </div>
        <fieldset class="settings-flags sso-groups">
          <legend>Groups and roles: the highest role of a user’s groups wins; a user in none is refused</legend>
          {form.groups.length === 0 && <div class="muted small">No group yet: nobody could sign in.</div>}
          {form.groups.map((g, i) => (
            <div class="sso-row" key={i}>
              <input class="grow" id={'sso-group-' + i} placeholder="IdP group (name or id)" value={g.group} onInput={(e) => setRow(i, 'group', e.currentTarget.value)} />
              <select id={'sso-role-' + i} value={g.role} onChange={(e) => setRow(i, 'role', e.currentTarget.value)}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
              <button type="button" class="icon-btn" title="Remove" onClick={() => set('groups', form.groups.filter((_, j) => j !== i))}>
                ×
              </button>
            </div>
          ))}
          <button type="button" class="btn small" id="sso-add-group" onClick={() => set('groups', [...form.groups, { group: '', role: 'operator' }])}>
            Add a group
          </button>
        </fieldset>
        <fieldset class="settings-flags">
          <legend>Who may sign in</legend>
          <label class="check">
            <input type="checkbox" id="sso-provision" checked={form.provision} onChange={(e) => set('provision', e.currentTarget.checked)} />
            Create an operator at their first sign-in (otherwise only existing operators may sign in)
          </label>
          <div class="canned-form-row">
            <label class="sso-capacity">
              New operators’ capacity
              <input id="sso-capacity" type="number" min="1" value={form.capacity} onInput={(e) => set('capacity', e.currentTarget.value)} />
            </label>
            <label class="grow">
              Allowed e-mail domains
              <input id="sso-domains" value={form.allowed_domains} placeholder="any" onInput={(e) => set('allowed_domains', e.currentTarget.value)} />
              <span class="muted small">When set, only these domains, and operator ids are the address’s local part (jane.doe@example.com → jane-doe).</span>
            </label>
          </div>
        </fieldset>
        <fieldset class="settings-flags">
          <label class="check">
            <input type="checkbox" id="sso-enabled" checked={form.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} />
            Offer “Sign in with single sign-on”
          </label>
        </fieldset>
        {error && (
          <div class="alert error" role="alert" id="sso-settings-error">
            {error}
          </div>
        )}
        {notice && (
          <div class="alert info" role="status" id="sso-notice">
            {notice}
          </div>
        )}
        <div class="canned-form-foot">
          <span class="muted small grow">
            {saved.enabled ? 'Single sign-on is on.' : 'Single sign-on is off.'} Version {saved.version}
          </span>
          <button class="btn primary" id="sso-save" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </section>
  );
}
