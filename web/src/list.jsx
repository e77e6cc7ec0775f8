// The conversation list of a tab (or of a search): a virtualised list that renders only the rows in view and loads
// pages of 50 with the server's cursor as the operator scrolls, so a tab of 10,000 conversations costs a few pages.
import { useState, useEffect, useRef, useLayoutEffect } from 'preact/hooks';
import * as api from './api.js';
import { ago, contactName, initials, hue, windowOpen, zero } from './util.js';
import { Icon } from './icon.jsx';
import { useNow } from './now.js';
import { LabelChip, useLabels } from './catalogue.jsx';

const ROW = 76; // px, fixed so the visible range is arithmetic
const PAGE = 50;
const OVERSCAN = 6;

const SORTS = [
  ['waiting', 'Waiting longest'],
  ['last_activity', 'Latest activity'],
  ['created', 'Newest first'],
];

export function ConversationList(props) {
  const { tab, sort, setSort, query, setQuery, searchRef, selected, onSelect, tick, names, presence, me, idsRef, headAction } = props;
  const [state, setState] = useState({ items: [], next: '', loading: true, error: '' });
  const labels = useLabels();
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [typed, setTyped] = useState(query);
  const box = useRef(null);
  const gen = useRef(0); // the current query's generation: answers to older queries are dropped
  const loadingMore = useRef(false);
  const stateRef = useRef(state);
  stateRef.current = state;
  const now = useNow(30000);

  const searching = query.trim() !== '';
  const baseURL = (cursor, limit) =>
    searching
      ? '/v1/search' + api.qs({ q: query.trim(), limit, cursor })
      : '/v1/conversations' + api.qs({ ...tab.query, sort, limit, cursor });
  const itemsOf = (r) => (searching ? r.results : r.conversations) || [];

  // A new query starts from the top.
  useEffect(() => {
    const g = ++gen.current;
    loadingMore.current = false;
    setState({ items: [], next: '', loading: true, error: '' });
    if (box.current) box.current.scrollTop = 0;
    setScrollTop(0);
    api.get(baseURL('', PAGE)).then(
      (r) => g === gen.current && setState({ items: itemsOf(r), next: r.next_cursor || '', loading: false, error: '' }),
      (e) => g === gen.current && setState({ items: [], next: '', loading: false, error: e.message }),
    );
  }, [tab.id, sort, query]);

  // An event touched the list: refetch what is loaded (up to 500 rows, the API's largest page), never patch it.
  useEffect(() => {
    if (!tick) return;
    const g = gen.current;
    const limit = Math.min(500, Math.max(PAGE, Math.ceil(stateRef.current.items.length / PAGE) * PAGE));
    api.get(baseURL('', limit)).then(
      (r) => g === gen.current && setState({ items: itemsOf(r), next: r.next_cursor || '', loading: false, error: '' }),
      () => {},
    );
  }, [tick]);

  const loadMore = () => {
    const s = stateRef.current;
    if (!s.next || loadingMore.current) return;
    loadingMore.current = true;
    const g = gen.current;
    api.get(baseURL(s.next, PAGE)).then(
      (r) => {
        loadingMore.current = false;
        if (g !== gen.current) return;
        setState((cur) => {
          const have = new Set(cur.items.map((c) => c.id));
          return { ...cur, items: cur.items.concat(itemsOf(r).filter((c) => !have.has(c.id))), next: r.next_cursor || '' };
        });
      },
      () => {
        loadingMore.current = false;
      },
    );
  };

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const { items, next, loading, error } = state;
  idsRef.current = items.map((c) => c.id);
  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  useEffect(() => {
    if (next && last >= items.length - OVERSCAN) loadMore();
  }, [last, items.length, next]);

  // Keep the open conversation in view when it is chosen with the keyboard.
  useEffect(() => {
    const i = items.findIndex((c) => c.id === selected);
    const el = box.current;
    if (i < 0 || !el) return;
    if (i * ROW < el.scrollTop) el.scrollTop = i * ROW;
    else if ((i + 1) * ROW > el.scrollTop + el.clientHeight) el.scrollTop = (i + 1) * ROW - el.clientHeight;
  }, [selected]);

  const submitSearch = (e) => {
    e.preventDefault();
    setQuery(typed);
  };
  useEffect(() => setTyped(query), [query]);

  const rows = [];
  for (let i = first; i < last; i++) {
    const c = items[i];
    rows.push(
      <Row key={c.id} c={c} top={i * ROW} active={c.id === selected} onSelect={onSelect} now={now} names={names}
        presence={presence[c.id]} me={me} tab={tab.id} labels={labels} />,
    );
  }

  return (
    <section class="list" aria-label="Conversations">
      <header class="list-head">
        {headAction}
        <div class="list-title">
          <h2>{searching ? 'Search' : tab.label}</h2>
          {!searching && (
            <select id="sort" value={sort} onChange={(e) => setSort(e.currentTarget.value)} aria-label="Sort">
              {SORTS.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          )}
        </div>
        <form class="search" onSubmit={submitSearch} role="search">
          <Icon d="M11 4a7 7 0 100 14 7 7 0 000-14zm9 16l-4-4" />
          <input
            ref={searchRef}
            id="search"
            type="search"
            placeholder="Search name, number or text"
            value={typed}
            onInput={(e) => {
              const v = e.currentTarget.value;
              setTyped(v);
              if (v === '') setQuery('');
            }}
          />
        </form>
      </header>
      <div class="list-body" ref={box} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} id="conv-list">
        <div class="list-inner" style={{ height: items.length * ROW + (next ? ROW : 0) + 'px' }}>
          {rows}
          {next && (
            <div class="row-loading" style={{ top: items.length * ROW + 'px' }}>
              Loading more…
            </div>
          )}
        </div>
        {!loading && !error && items.length === 0 && (
          <div class="list-empty">
            <Icon d="M5 12l4 4 10-10" size={28} />
            <div>{searching ? 'Nothing matches “' + query + '”.' : 'Nothing here. All caught up.'}</div>
          </div>
        )}
        {loading && <div class="list-empty muted">Loading…</div>}
        {error && <div class="list-empty error-text">{error}</div>}
      </div>
    </section>
  );
}

function Row({ c, top, active, onSelect, now, names, presence, me, tab, labels }) {
  const name = contactName(c);
  const lm = c.last_message || {};
  const open = windowOpen(c, now);
  const waiting = !zero(c.waiting_since) && c.status !== 'closed';
  const others = Object.values(presence || {}).filter((p) => p.operator_id !== me.id && Date.parse(p.expires_at) > now - 1000);
  const preview = c.match && c.match.field === 'message' ? c.match.snippet : lm.preview || '';
  const prefix = lm.direction === 'out' ? 'You: ' : lm.direction === 'note' ? 'Note: ' : '';
  const assignee = c.assignee_id ? names[c.assignee_id] || c.assignee_id : '';
  return (
    <div
      class={'row' + (active ? ' active' : '') + (c.unread > 0 ? ' unread' : '')}
      style={{ top: top + 'px', height: ROW + 'px' }}
      onClick={() => onSelect(c.id)}
      role="button"
      tabIndex={-1}
      data-id={c.id}
    >
      <span class="avatar" style={{ '--h': hue(c.contact && c.contact.wa_id) }}>
        {initials(name)}
        <span class={'window-dot ' + (open ? 'open' : 'shut')} title={open ? '24-hour window open' : 'Window closed: templates only'} />
      </span>
      <div class="row-main">
        <div class="row-top">
          <span class="row-name">{name}</span>
          <span class="row-time" title={waiting ? 'Waiting since' : 'Last activity'}>
            {waiting ? <span class="waiting">{ago(c.waiting_since, now)}</span> : ago(c.last_activity_at || c.updated_at, now)}
          </span>
        </div>
        <div class="row-bottom">
          <span class="row-preview">
            {prefix && <span class="muted">{prefix}</span>}
            {preview || <span class="muted">No messages</span>}
          </span>
          {c.unread > 0 && <span class="badge">{c.unread}</span>}
        </div>
        <div class="row-meta">
          {others.length > 0 && (
            <span class="chip presence">
              {others.map((p) => p.operator_name || p.operator_id).join(', ')} {others.some((p) => p.state === 'typing') ? 'typing' : 'viewing'}
            </span>
          )}
          {assignee && tab !== 'mine' && <span class="chip">{assignee}</span>}
          {!open && <span class="chip warn">Window closed</span>}
          {c.priority ? (
            <span class={'chip prio' + (c.priority < 0 ? ' low' : '')} title="Queue priority (routing rules)">
              P{c.priority}
            </span>
          ) : null}
          {(c.required_skills || []).length > 0 && c.status === 'unassigned' && (
            <span class="chip skill" title="Needs an operator with these skills">
              needs {c.required_skills.join(' + ')}
            </span>
          )}
          {(c.labels || []).slice(0, 2).map((l) => (
            <LabelChip key={l} name={l} labels={labels} />
          ))}
          {c.match && c.match.field !== 'message' && <span class="chip">matched {c.match.field.replace('_', ' ')}</span>}
        </div>
      </div>
    </div>
  );
}
