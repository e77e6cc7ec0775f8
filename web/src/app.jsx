// The app shell: the session (sign-in, sign-out, 401 → sign-in), the live stream, the tabs and their counts, the
// route (/<tab>/<conversation id>), keyboard shortcuts, and the three columns.
import { useState, useEffect, useRef, useCallback, useMemo } from 'preact/hooks';
import * as api from './api.js';
import { connect } from './live.js';
import { ConversationList } from './list.jsx';
import { ConversationPane } from './conversation.jsx';
import { PeoplePage } from './people.jsx';
import { GeneralSettingsPage } from './settings.jsx';
import { LabelsPage, FieldsPage, RulesPage } from './catalogue.jsx';
import { TeamPage, ProfilePage, InvitePage } from './team.jsx';
import { AuditLogPage } from './audit.jsx';
import { initials, hue } from './util.js';
import { Icon } from './icon.jsx';
import { ImportPage } from './import.jsx';
import { StartButton } from './start.jsx';
import { CannedPage, cannedChanged } from './canned.jsx';
import { InsightsPage } from './insights.jsx';
import { SSOSignIn, SSOSettingsPage } from './sso.jsx';
import { ChannelsPage } from './channels.jsx';

/** The tabs of the inbox, each a list query (SPEC11: "The console's tabs map to list queries"). */
export const TABS = [
  { id: 'unassigned', label: 'Unassigned', count: 'unassigned', query: { status: 'unassigned' }, sort: 'waiting' },
  { id: 'mine', label: 'Mine', count: 'mine', query: { status: 'assigned', assignee: 'me' }, sort: 'last_activity' },
  { id: 'all', label: 'All active', count: 'all', query: { status: 'assigned' }, sort: 'last_activity' },
  { id: 'snoozed', label: 'Snoozed', count: 'snoozed', query: { status: 'snoozed' }, sort: 'last_activity' },
  { id: 'closed', label: 'Closed', count: 'closed', query: { status: 'closed' }, sort: 'last_activity' },
  { id: 'mentions', label: 'Mentions', count: 'mentions', query: { mentions: 'me' }, sort: 'last_activity' },
];

const TAB_ICONS = {
  unassigned: 'M4 4h16v10h-5l-3 3-3-3H4z',
  mine: 'M12 12a4 4 0 100-8 4 4 0 000 8zm-7 8a7 7 0 0114 0z',
  all: 'M8 11a3 3 0 100-6 3 3 0 000 6zm8 0a3 3 0 100-6 3 3 0 000 6zM2 19a6 6 0 0112 0zm10 0a6 6 0 0110 0z',
  snoozed: 'M12 3a9 9 0 100 18 9 9 0 000-18zm0 4v5l3 2',
  closed: 'M5 12l4 4 10-10',
  mentions: 'M16 12a4 4 0 10-1.2 2.8M16 8v5a2 2 0 004 0v-1a8 8 0 10-3 6.2',
};

function parseRoute() {
  const parts = location.pathname.split('/').filter(Boolean);
  // People: /people, /people/<contact id>, /people/import (the page's own sub-route).
  if (parts[0] === 'people') return { tab: 'people', id: parts[1] || null };
  if (parts[0] === 'settings' && parts[1] === 'canned') return { tab: 'unassigned', id: null, page: 'canned' };
  if (parts[0] === 'insights') return { tab: 'unassigned', id: null, page: 'insights' };
  if (parts[0] === 'settings' && parts[1] === 'general') return { tab: 'unassigned', id: null, page: 'general' };
  if (parts[0] === 'settings' && parts[1] === 'channels') return { tab: 'unassigned', id: null, page: 'channels' };
  if (parts[0] === 'settings' && parts[1] === 'team') return { tab: 'unassigned', id: null, page: 'team' };
  if (parts[0] === 'settings' && parts[1] === 'profile') return { tab: 'unassigned', id: null, page: 'profile' };
  if (parts[0] === 'settings' && parts[1] === 'audit') return { tab: 'unassigned', id: null, page: 'audit' };
  if (parts[0] === 'settings' && parts[1] === 'sso') return { tab: 'unassigned', id: null, page: 'sso' };
  if (parts[0] === 'settings' && ['labels', 'fields', 'rules'].includes(parts[1])) return { tab: 'unassigned', id: null, page: parts[1] };
  const tab = TABS.find((t) => t.id === parts[0]) ? parts[0] : 'unassigned';
  const id = parts[1] && /^c[0-9a-v]{16}$/.test(parts[1]) ? parts[1] : null;
  return { tab, id };
}

export function App() {
  const [session, setSession] = useState(undefined); // undefined: booting; null: signed out
  const [notice, setNotice] = useState('');

  useEffect(() => {
    api.onUnauthorized(() => {
      setSession((s) => {
        if (s) setNotice('Your session has ended. Sign in again.');
        return null;
      });
    });
    api
      .get('/v1/session', { quiet401: true })
      .then((s) => {
        api.setCSRF(s.csrf_token);
        setSession(s);
      })
      .catch(() => setSession(null));
  }, []);

  // An invite link (team.jsx) is opened signed out: it signs the new operator in.
  const invite = /^\/invite\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
  if (invite && session !== undefined) {
    return (
      <InvitePage
        secret={invite[1]}
        onSignedIn={(s) => {
          api.setCSRF(s.csrf_token);
          setSession(s);
        }}
      />
    );
  }
  if (session === undefined) return <div class="boot">Loading…</div>;
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          api.setCSRF(s.csrf_token);
          setNotice('');
          setSession(s);
        }}
      />
    );
  }
  return (
    <Console
      session={session}
      onSignOut={async () => {
        try {
          await api.del('/v1/session');
        } catch (e) {
          /* signed out either way */
        }
        api.setCSRF('');
        setSession(null);
      }}
    />
  );
}

function SignIn({ notice, onSignedIn }) {
  const [token, setToken] = useState('');
  const [opID, setOpID] = useState(''); // set: sign in with operator id and password
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [retryAt, setRetryAt] = useState(0);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!retryAt) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [retryAt]);
  const wait = retryAt ? Math.max(0, Math.ceil((retryAt - now) / 1000)) : 0;

  const submit = async (e) => {
    e.preventDefault();
    if (!token.trim() || busy || wait > 0) return;
    setBusy(true);
    setError('');
    try {
      const body = opID.trim() ? { operator: opID.trim(), password: token } : { token: token.trim() };
      const s = await api.request('POST', '/v1/session', body, { quiet401: true });
      onSignedIn(s);
    } catch (err) {
      if (err.status === 429) {
        const secs = err.retryAfter || 60;
        setRetryAt(Date.now() + secs * 1000);
        setNow(Date.now());
        setError('Too many failed attempts.');
      } else if (err.status === 401) {
        setError(opID.trim() ? 'That operator id and password do not match.' : 'That token is not valid. Check it and try again.');
      } else {
        setError(err.message || 'Sign-in failed.');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form class="signin-card" onSubmit={submit} id="signin">
        <div class="brand-mark big">S</div>
        <h1>Sign in to Switchboard</h1>
        <p class="muted">Use your operator id and password, or leave the id empty and paste an operator token.</p>
        {notice && <div class="alert info">{notice}</div>}
        <label for="operator-id">Operator id</label>
        <input id="operator-id" autocomplete="username" value={opID} onInput={(e) => setOpID(e.currentTarget.value)} placeholder="e.g. alice" autofocus />
        <label for="token">{opID.trim() ? 'Password' : 'Operator token'}</label>
        <input
          id="token"
          type="password"
          autocomplete="current-password"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          placeholder={opID.trim() ? 'Your password' : 'Paste your token'}
        />
        {error && (
          <div class="alert error" role="alert" id="signin-error">
            {error}
            {wait > 0 && <> Try again in {wait >= 60 ? Math.floor(wait / 60) + ':' + String(wait % 60).padStart(2, '0') : wait + '\u00a0s'}.</>}
          </div>
        )}
        <button class="btn primary wide" type="submit" disabled={busy || wait > 0 || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <SSOSignIn />
      </form>
    </div>
  );
}

const SHORTCUTS = [
  ['Alt J', 'Next conversation'],
  ['Alt K', 'Previous conversation'],
  ['Alt E', 'Close the conversation'],
  ['Alt M', 'Snooze the conversation'],
  ['R', 'Reply (focus the composer)'],
  ['N', 'Write a private note'],
  ['/', 'Search'],
  ['?', 'Show these shortcuts'],
  ['Esc', 'Leave a field, close a menu'],
];

/** typing reports whether a key event comes from a field, where shortcuts stay off. */
function typing(e) {
  const t = e.target;
  if (!t || !t.tagName) return false;
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName);
}

// PAGE_PERMISSION is the permission each page needs (the session's "permissions", api/permissions.go): the nav shows
// only what the caller holds, and a direct URL to another page says so.
const PAGE_PERMISSION = {
  people: 'contacts.manage',
  canned: 'canned.manage',
  insights: 'insights.read',
  general: 'settings.manage',
  channels: 'channels.manage',
  audit: 'audit.read',
  sso: 'settings.manage',
  team: 'team.manage',
  profile: 'operators.self',
  labels: 'labels.manage',
  fields: 'fields.manage',
  rules: 'rules.manage',
};

function NoAccess() {
  return (
    <div class="pane empty-pane no-access" id="no-access">
      <h2>You do not have access</h2>
      <p class="muted">Your role does not include this page. Ask an admin if you need it.</p>
    </div>
  );
}

function Console({ session, onSignOut }) {
  const me = useMemo(() => ({ ...session.operator, permissions: session.permissions || [] }), [session]);
  const can = (p) => me.permissions.includes(p);
  const [route, setRoute] = useState(parseRoute);
  const [counts, setCounts] = useState(null);
  const [conn, setConn] = useState('connecting');
  const [operators, setOperators] = useState([]);
  const [presence, setPresence] = useState({}); // conversation id → operator id → presence
  const [query, setQuery] = useState('');
  const [sorts, setSorts] = useState({});
  const [help, setHelp] = useState(false);
  const [ticks, setTicks] = useState({ list: 0, conv: 0, all: 0, contacts: 0 });
  const [touched, setTouched] = useState({}); // conversation ids touched since the last conversation refetch
  const [command, setCommand] = useState(null); // a shortcut for the pane: {name, n}
  const listRef = useRef([]);
  const searchRef = useRef(null);
  const pending = useRef({ list: false, convs: new Set(), operators: false, timer: 0 });

  const people = route.tab === 'people';
  const tab = TABS.find((t) => t.id === route.tab) || TABS[0];
  const sort = sorts[tab.id] || tab.sort;

  const navigate = useCallback((tabId, id) => {
    const path = '/' + tabId + (id ? '/' + id : '');
    if (location.pathname !== path) history.pushState(null, '', path);
    setRoute({ tab: tabId, id: id || null });
  }, []);
  const openPage = useCallback((page) => {
    const path = page === 'insights' ? '/insights' : '/settings/' + page;
    if (location.pathname !== path) history.pushState(null, '', path);
    setRoute({ tab: 'unassigned', id: null, page });
  }, []);
  useEffect(() => {
    const pop = () => setRoute(parseRoute());
    addEventListener('popstate', pop);
    return () => removeEventListener('popstate', pop);
  }, []);

  const loadCounts = useCallback(() => {
    api.get('/v1/inbox/counts').then(setCounts, () => {});
  }, []);
  const loadOperators = useCallback(() => {
    api.get('/v1/operators').then((r) => setOperators((r && r.operators) || []), () => {});
  }, []);
  useEffect(() => {
    loadCounts();
    loadOperators();
  }, []);

  // Events only schedule refetches, gathered for ~200 ms so a burst costs one request per thing touched.
  const flush = useCallback(() => {
    const p = pending.current;
    p.timer = 0;
    const convs = p.convs;
    p.convs = new Set();
    if (p.operators) loadOperators();
    p.operators = false;
    const list = p.list;
    p.list = false;
    const contacts = p.contacts;
    p.contacts = false;
    setTicks((t) => ({
      ...t,
      list: t.list + (list ? 1 : 0),
      conv: t.conv + (convs.size ? 1 : 0),
      contacts: t.contacts + (contacts ? 1 : 0),
    }));
    if (convs.size) setTouched(Object.fromEntries([...convs].map((c) => [c, true])));
  }, [loadOperators]);
  const schedule = useCallback(() => {
    if (!pending.current.timer) pending.current.timer = setTimeout(flush, 200);
  }, [flush]);

  useEffect(() => {
    const close = connect({
      state: setConn,
      event: (type, ev) => {
        if (type === 'canned.changed') {
          cannedChanged();
          return;
        }
        const p = pending.current;
        if (type === 'operator.availability') p.operators = true;
        else if (type.startsWith('contact.')) p.contacts = true;
        else p.list = true;
        if (ev.conversation_id) p.convs.add(ev.conversation_id);
        schedule();
      },
      counts: setCounts,
      presence: (pr) => {
        if (!pr || !pr.conversation_id || !pr.operator_id) return;
        setPresence((all) => {
          const conv = { ...(all[pr.conversation_id] || {}) };
          if (pr.state === 'left') delete conv[pr.operator_id];
          else conv[pr.operator_id] = pr;
          return { ...all, [pr.conversation_id]: conv };
        });
      },
      reset: () => {
        loadCounts();
        loadOperators();
        setTicks((t) => ({ list: t.list + 1, conv: t.conv + 1, all: t.all + 1, contacts: t.contacts + 1 }));
      },
      gone: () => {
        api.get('/v1/session').catch(() => {}); // a 401 here returns to sign-in
      },
    });
    return close;
  }, []);

  // Keyboard shortcuts, off while typing in a field.
  useEffect(() => {
    const onKey = (e) => {
      if (e.key === 'Escape') {
        setHelp(false);
        setCommand({ name: 'escape', n: Date.now() });
        if (typing(e)) e.target.blur();
        return;
      }
      if (typing(e) || e.ctrlKey || e.metaKey) return;
      if (people && e.key === '/') {
        e.preventDefault();
        const box = document.getElementById('people-search');
        if (box) box.focus();
        return;
      }
      if (people && e.key !== '?') return; // the inbox's other shortcuts act on the inbox only
      const ids = listRef.current;
      const idx = ids.indexOf(route.id);
      if (e.altKey) {
        if (e.code === 'KeyJ' || e.code === 'KeyK') {
          e.preventDefault();
          if (!ids.length) return;
          const next = e.code === 'KeyJ' ? Math.min(ids.length - 1, idx + 1) : Math.max(0, idx < 0 ? 0 : idx - 1);
          navigate(route.tab, ids[next]);
        } else if (e.code === 'KeyE' && route.id) {
          e.preventDefault();
          setCommand({ name: 'close', n: Date.now() });
        } else if (e.code === 'KeyM' && route.id) {
          e.preventDefault();
          setCommand({ name: 'snooze', n: Date.now() });
        }
        return;
      }
      if (e.key === '?') {
        e.preventDefault();
        setHelp((h) => !h);
      } else if (e.key === '/') {
        e.preventDefault();
        if (searchRef.current) searchRef.current.focus();
      } else if ((e.key === 'r' || e.key === 'n') && route.id) {
        e.preventDefault();
        setCommand({ name: e.key === 'r' ? 'reply' : 'note', n: Date.now() });
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [route, navigate, people]);

  const meView = operators.find((o) => o.id === me.id);
  const availability = (meView && meView.availability) || 'offline';
  const setAvailability = async (a) => {
    try {
      await api.put('/v1/operators/me/availability', { availability: a });
    } catch (e) {
      /* the list below shows what the server holds */
    }
    loadOperators();
  };

  const names = useMemo(() => Object.fromEntries(operators.map((o) => [o.id, o.name || o.id])), [operators]);

  return (
    <div class="console">
      {conn !== 'live' && (
        <div class={'banner ' + conn} role="status" id="conn-banner">
          <span class="spinner" />
          {conn === 'connecting' ? 'Connecting to live updates…' : 'Connection lost. Reconnecting…'}
        </div>
      )}
      <div class="columns">
        <nav class="nav">
          <div class="brand">
            <div class="brand-mark">S</div>
            <div>
              <div class="brand-name">Switchboard</div>
              <div class="brand-tenant">{session.tenant_id}</div>
            </div>
          </div>
          <div class="nav-section">Inbox</div>
          <ul class="tabs" role="tablist">
            {TABS.map((t) => {
              const n = counts ? counts[t.count] : undefined;
              return (
                <li key={t.id}>
                  <a
                    href={'/' + t.id}
                    role="tab"
                    id={'tab-' + t.id}
                    aria-selected={!people && !route.page && t.id === route.tab}
                    class={'tab' + (!people && !route.page && t.id === route.tab ? ' active' : '')}
                    onClick={(e) => {
                      e.preventDefault();
                      setQuery('');
                      navigate(t.id, null);
                    }}
                  >
                    <Icon d={TAB_ICONS[t.id]} />
                    <span class="tab-label">{t.label}</span>
                    {n !== undefined && <span class={'count' + (n > 0 && t.id === 'mentions' ? ' hot' : '')}>{n}</span>}
                  </a>
                </li>
              );
            })}
          </ul>
          {can('contacts.manage') && (
            <>
              <div class="nav-section">Contacts</div>
              <ul class="tabs">
                <li>
                  <a
                    href="/people"
                    id="nav-people"
                    class={'tab' + (people && route.id !== 'import' ? ' active' : '')}
                    aria-current={people && route.id !== 'import' ? 'page' : undefined}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate('people', null);
                    }}
                  >
                    <Icon d="M8 11a3 3 0 100-6 3 3 0 000 6zm-6 8a6 6 0 0112 0zM16 7h6M16 11h6M17 15h5" />
                    <span class="tab-label">People</span>
                  </a>
                </li>
                <li>
                  <a
                    href="/people/import"
                    id="nav-import"
                    class={'tab' + (people && route.id === 'import' ? ' active' : '')}
                    aria-current={people && route.id === 'import' ? 'page' : undefined}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate('people', 'import');
                    }}
                  >
                    <Icon d="M12 4v11M7 10l5 5 5-5M5 20h14" />
                    <span class="tab-label">Import contacts</span>
                  </a>
                </li>
              </ul>
            </>
          )}
          {can('insights.read') && (
            <>
              <div class="nav-section">Reports</div>
              <ul class="tabs">
                <li>
                  <a
                    href="/insights"
                    id="nav-insights"
                    class={'tab' + (route.page === 'insights' ? ' active' : '')}
                    aria-current={route.page === 'insights' ? 'page' : undefined}
                    onClick={(e) => {
                      e.preventDefault();
                      openPage('insights');
                    }}
                  >
                    <Icon d="M4 20V10M10 20V4M16 20v-7M22 20H2" />
                    <span class="tab-label">Insights</span>
                  </a>
                </li>
              </ul>
            </>
          )}
          {(can('canned.manage') || can('settings.manage') || can('operators.self') || can('team.manage') || can('labels.manage')) && (
            <div class="nav-section">Settings</div>
          )}
          <ul class="tabs">
            {can('canned.manage') && (
              <li>
                <a
                  href="/settings/canned"
                  id="nav-canned"
                  class={'tab' + (route.page === 'canned' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('canned');
                  }}
                >
                  <Icon d="M5 4h14v16l-7-4-7 4z" />
                  <span class="tab-label">Canned responses</span>
                </a>
              </li>
            )}
            {can('operators.self') && (
              <li>
                <a
                  href="/settings/profile"
                  id="nav-profile"
                  class={'tab' + (route.page === 'profile' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('profile');
                  }}
                >
                  <Icon d="M12 12a4 4 0 100-8 4 4 0 000 8zM4 21a8 8 0 0116 0" />
                  <span class="tab-label">My profile</span>
                </a>
              </li>
            )}
            {can('team.manage') && (
              <li>
                <a
                  href="/settings/team"
                  id="nav-team"
                  class={'tab' + (route.page === 'team' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('team');
                  }}
                >
                  <Icon d="M8 11a3 3 0 100-6 3 3 0 000 6zm8 0a3 3 0 100-6 3 3 0 000 6zM2 19a6 6 0 0112 0zm10 0a6 6 0 0110 0z" />
                  <span class="tab-label">Team</span>
                </a>
              </li>
            )}
            {can('settings.manage') && (
              <li>
                <a
                  href="/settings/general"
                  id="nav-general"
                  class={'tab' + (route.page === 'general' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('general');
                  }}
                >
                  <Icon d="M12 9a3 3 0 100 6 3 3 0 000-6zM4 12h2M18 12h2M12 4v2M12 18v2M6.3 6.3l1.4 1.4M16.3 16.3l1.4 1.4M6.3 17.7l1.4-1.4M16.3 7.7l1.4-1.4" />
                  <span class="tab-label">General</span>
                </a>
              </li>
            )}
            {can('settings.manage') && (
              <li>
                <a
                  href="/settings/sso"
                  id="nav-sso"
                  class={'tab' + (route.page === 'sso' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('sso');
                  }}
                >
                  <Icon d="M7 11V8a5 5 0 0110 0v3M5 11h14v10H5zM12 15v2" />
                  <span class="tab-label">Single sign-on</span>
                </a>
              </li>
            )}
            {[
              ['labels', 'labels.manage', 'Labels', 'M4 4h8l8 8-8 8-8-8zM8 8h.01'],
              ['fields', 'fields.manage', 'Contact fields', 'M4 6h16M4 12h16M4 18h10'],
              ['rules', 'rules.manage', 'Routing rules', 'M4 6h6l4 6-4 6H4M14 12h6'],
            ].map(
              ([page, perm, label, d]) =>
                can(perm) && (
                  <li key={page}>
                    <a
                      href={'/settings/' + page}
                      id={'nav-' + page}
                      class={'tab' + (route.page === page ? ' active' : '')}
                      onClick={(e) => {
                        e.preventDefault();
                        openPage(page);
                      }}
                    >
                      <Icon d={d} />
                      <span class="tab-label">{label}</span>
                    </a>
                  </li>
                ),
            )}
            {can('channels.manage') && (
              <li>
                <a
                  href="/settings/channels"
                  id="nav-channels"
                  class={'tab' + (route.page === 'channels' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('channels');
                  }}
                >
                  <Icon d="M5 4h14a1 1 0 011 1v10a1 1 0 01-1 1H9l-4 4V5a1 1 0 011-1zM9 9h6M9 12h4" />
                  <span class="tab-label">Channels</span>
                </a>
              </li>
            )}
            {can('audit.read') && (
              <li>
                <a
                  href="/settings/audit"
                  id="nav-audit"
                  class={'tab' + (route.page === 'audit' ? ' active' : '')}
                  onClick={(e) => {
                    e.preventDefault();
                    openPage('audit');
                  }}
                >
                  <Icon d="M6 3h9l4 4v14H6zM9 11h7M9 15h7M9 7h3" />
                  <span class="tab-label">Audit log</span>
                </a>
              </li>
            )}
          </ul>
          {counts && counts.unread > 0 && (
            <div class="nav-unread">
              {counts.unread} of your chats {counts.unread === 1 ? 'has' : 'have'} unread messages
            </div>
          )}
          <div class="nav-foot">
            <div class={'live-dot ' + conn} title={conn}>
              <span />
              {conn === 'live' ? 'Live' : conn === 'connecting' ? 'Connecting' : 'Reconnecting'}
            </div>
            <label class="avail">
              <span class={'avail-dot ' + availability} />
              <select
                id="availability"
                value={availability}
                onChange={(e) => setAvailability(e.currentTarget.value)}
                aria-label="Your availability"
              >
                <option value="online">Online</option>
                <option value="away">Away</option>
                <option value="offline">Offline</option>
              </select>
            </label>
            <div class="me">
              <span class="avatar small" style={{ '--h': hue(me.id) }}>
                {initials(me.name || me.id)}
              </span>
              <div class="me-text">
                <div class="me-name">{me.name || me.id}</div>
                <div class="me-role">{me.role}</div>
              </div>
              <button class="icon-btn" title="Sign out" id="signout" onClick={onSignOut}>
                <Icon d="M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10" />
              </button>
            </div>
            <button class="link-btn" onClick={() => setHelp(true)}>
              Keyboard shortcuts <kbd>?</kbd>
            </button>
          </div>
        </nav>
        {(route.page && PAGE_PERMISSION[route.page] && !can(PAGE_PERMISSION[route.page])) ||
        (people && !can(PAGE_PERMISSION.people)) ? (
          <NoAccess />
        ) : route.page === 'canned' ? (
          <CannedPage me={me} />
        ) : route.page === 'insights' ? (
          <InsightsPage me={me} />
        ) : route.page === 'general' ? (
          <GeneralSettingsPage />
        ) : route.page === 'channels' ? (
          <ChannelsPage />
        ) : route.page === 'team' ? (
          <TeamPage me={me} />
        ) : route.page === 'profile' ? (
          <ProfilePage me={me} availability={availability} setAvailability={setAvailability} />
        ) : route.page === 'labels' ? (
          <LabelsPage />
        ) : route.page === 'fields' ? (
          <FieldsPage />
        ) : route.page === 'rules' ? (
          <RulesPage />
        ) : route.page === 'audit' ? (
          <AuditLogPage />
        ) : route.page === 'sso' ? (
          <SSOSettingsPage />
        ) : people ? (
          route.id === 'import' ? (
            <ImportPage />
          ) : (
            <PeoplePage me={me} sub={route.id} tick={ticks.contacts} />
          )
        ) : (
          <>
            <ConversationList
              headAction={<StartButton onStarted={(id) => navigate('mine', id)} />}
              tab={tab}
              sort={sort}
              setSort={(s) => setSorts((all) => ({ ...all, [tab.id]: s }))}
              query={query}
              setQuery={setQuery}
              searchRef={searchRef}
              selected={route.id}
              onSelect={(id) => navigate(route.tab, id)}
              tick={ticks.list}
              names={names}
              presence={presence}
              me={me}
              idsRef={listRef}
            />
            {route.id ? (
              <ConversationPane
                key={route.id}
                id={route.id}
                me={me}
                operators={operators}
                names={names}
                tick={ticks.conv}
                resync={ticks.all}
                touched={touched}
                presence={presence[route.id] || {}}
                command={command}
                contactsTick={ticks.contacts}
              />
            ) : (
              <div class="pane empty-pane">
                <div class="empty-art">
                  <Icon d="M4 5h16v11H8l-4 4z" size={40} />
                </div>
                <h2>No conversation open</h2>
                <p class="muted">Pick one from the list, or press Alt J to open the first.</p>
              </div>
            )}
          </>
        )}
      </div>
      {help && (
        <div class="overlay" onClick={() => setHelp(false)}>
          <div class="popover help" role="dialog" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
            <h3>Keyboard shortcuts</h3>
            <p class="muted small">Off while you type in a field.</p>
            <table>
              {SHORTCUTS.map(([k, v]) => (
                <tr key={k}>
                  <td>
                    {k.split(' ').map((p) => (
                      <kbd key={p}>{p}</kbd>
                    ))}
                  </td>
                  <td>{v}</td>
                </tr>
              ))}
            </table>
          </div>
        </div>
      )}
    </div>
  );
}
