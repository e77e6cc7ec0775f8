// The open conversation: its header and actions, the messages (loaded backwards in pages), the composer (reply or
// private note, locked outside the 24-hour window with the template picker), and the details column on the right.
import { Fragment } from 'preact';
import { useState, useEffect, useRef, useLayoutEffect, useCallback } from 'preact/hooks';
import * as api from './api.js';
import { ago, clock, countdown, day, contactName, erased, initials, hue, windowOpen, zero, localInput } from './util.js';
import { Icon } from './icon.jsx';
import { useNow } from './now.js';
import { Message } from './message.jsx';
import { ContactPanel } from './contact.jsx';
import { useAttachment } from './attach.jsx';
import { TemplatePicker } from './templates.jsx';
import { LabelChip, useLabels } from './catalogue.jsx';
import { useCannedPicker, sendWithMedia, MediaChip } from './canned.jsx';

const PAGE = 50;

// What the console says for the refusals an operator can fix, instead of the API's message.
const REFUSALS = {
  operator_not_online: 'You are offline: set yourself Online (bottom left) to attend conversations.',
  at_capacity: 'You are at your capacity: close or hand over a conversation first.',
  window_closed: 'The 24-hour window is closed: send a template.',
  forbidden: 'Your role does not allow that here.',
};

const STATUS_LABEL = { unassigned: 'Unassigned', assigned: 'Open', snoozed: 'Snoozed', closed: 'Closed' };

export function ConversationPane({ id, me, operators, names, tick, resync, touched, presence, command, contactsTick }) {
  const [conv, setConv] = useState(null);
  const [msgs, setMsgs] = useState([]);
  const [older, setOlder] = useState(false);
  const [error, setError] = useState('');
  const [toast, setToast] = useState(null);
  const [menu, setMenu] = useState(''); // '', 'snooze', 'assign'
  const [mode, setMode] = useState('reply');
  const readSeq = useRef(0);
  const scroller = useRef(null);
  const pinned = useRef(true); // the view follows new messages while it is at the bottom
  const keepFrom = useRef(null); // scrollHeight before older messages were prepended
  const composer = useRef(null);
  const now = useNow(1000);

  const flash = useCallback((text, kind = 'error') => {
    setToast({ text, kind, n: Date.now() });
  }, []);
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 3500);
    return () => clearTimeout(t);
  }, [toast]);

  const markRead = (list) => {
    const top = list.reduce((m, x) => Math.max(m, x.seq), 0);
    if (top > readSeq.current && document.visibilityState !== 'hidden') {
      readSeq.current = top;
      api.post('/v1/conversations/' + id + '/read', {}).catch(() => {});
    }
  };

  const load = useCallback(() => {
    return api.get('/v1/conversations/' + id).then(
      (r) => {
        const { messages, ...c } = r;
        const page = messages || [];
        setConv(c);
        setMsgs((cur) => {
          const low = page.length ? page[0].seq : Infinity;
          const kept = cur.filter((m) => m.seq < low);
          if (!cur.length) setOlder(page.length >= PAGE);
          return kept.concat(page);
        });
        markRead(page);
        setError('');
      },
      (e) => setError(e.status === 404 ? 'This conversation does not exist.' : e.message),
    );
  }, [id]);

  useEffect(() => {
    load();
  }, [id]);
  useEffect(() => {
    if (tick && touched[id]) load();
  }, [tick]);
  useEffect(() => {
    if (resync) load();
  }, [resync]);

  // Presence: viewing, renewed every 10 s while open; left when closed.
  useEffect(() => {
    const say = (state) => api.post('/v1/conversations/' + id + '/presence', { state }).catch(() => {});
    say('viewing');
    const t = setInterval(() => say('viewing'), 10000);
    return () => {
      clearInterval(t);
      say('left');
    };
  }, [id]);

  const loadOlder = () => {
    if (!older || !msgs.length) return;
    setOlder(false);
    api.get('/v1/conversations/' + id + '/messages' + api.qs({ before: msgs[0].seq, limit: PAGE })).then(
      (r) => {
        const page = r.messages || [];
        if (scroller.current) keepFrom.current = scroller.current.scrollHeight;
        setMsgs((cur) => {
          const have = new Set(cur.map((m) => m.seq));
          return page.filter((m) => !have.has(m.seq)).concat(cur);
        });
        setOlder(page.length >= PAGE);
      },
      () => setOlder(true),
    );
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (keepFrom.current !== null) {
      el.scrollTop += el.scrollHeight - keepFrom.current;
      keepFrom.current = null;
    } else if (pinned.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [msgs]);

  const onScroll = (e) => {
    const el = e.currentTarget;
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80) loadOlder();
  };

  const act = async (path, body, done) => {
    setMenu('');
    try {
      const r = await api.post('/v1/conversations/' + id + '/' + path, body);
      if (r && r.id) setConv((c) => ({ ...c, ...r }));
      if (done) flash(done, 'ok');
    } catch (e) {
      flash(REFUSALS[e.code] || e.message);
    }
  };

  // Shortcuts from the app: close, snooze, focus the composer.
  useEffect(() => {
    if (!command || !conv) return;
    const handles = !conv.assignee_id || conv.assignee_id === me.id || me.role === 'admin' || me.role === 'builder';
    if (command.name === 'close' && handles && conv.status !== 'closed') act('close', {}, 'Conversation closed');
    if (command.name === 'snooze' && handles && conv.status !== 'closed') setMenu('snooze');
    if (command.name === 'escape') setMenu('');
    if (command.name === 'reply' || command.name === 'note') {
      setMode(command.name);
      setTimeout(() => composer.current && composer.current.focus(), 0);
    }
  }, [command]);

  if (error && !conv) {
    return (
      <div class="pane empty-pane">
        <h2>{error}</h2>
      </div>
    );
  }
  if (!conv) return <div class="pane empty-pane muted">Loading…</div>;

  const name = contactName(conv);
  const mine = conv.assignee_id === me.id;
  const lead = me.role === 'admin' || me.role === 'builder';
  // Close, snooze and send are for the holder: anyone while nobody holds it, else its assignee, admins and builders.
  const canHandle = !conv.assignee_id || mine || lead;
  const open = windowOpen(conv, now);
  const left = countdown(conv.window_expires_at, now);
  const viewers = Object.values(presence).filter((p) => p.operator_id !== me.id && Date.parse(p.expires_at) > now);
  const typers = viewers.filter((p) => p.state === 'typing');

  const actions = [];
  if (conv.status === 'unassigned') {
    actions.push(<button class="btn primary" id="attend" onClick={() => act('take', {}, 'You are now handling this conversation')}>Attend</button>);
  }
  if (conv.status === 'assigned' && !mine) {
    actions.push(<button class="btn primary" id="takeover" onClick={() => act('take', {}, 'You took over this conversation')}>Take over</button>);
  }
  if (conv.status === 'snoozed' && canHandle) {
    actions.push(<button class="btn" id="unsnooze" onClick={() => act('unsnooze', {}, 'Snooze ended')}>Unsnooze</button>);
  }
  if (canHandle && conv.status !== 'closed' && conv.status !== 'snoozed') {
    actions.push(
      <button class="btn" id="snooze" title="Snooze (Alt M)" onClick={() => setMenu(menu === 'snooze' ? '' : 'snooze')}>
        <Icon d="M12 3a9 9 0 100 18 9 9 0 000-18zm0 4v5l3 2" size={14} /> Snooze
      </button>,
    );
  }
  if (conv.status !== 'closed') {
    if (canHandle) actions.push(
      <button class="btn success" id="close" title="Close (Alt E)" onClick={() => act('close', {}, 'Conversation closed')}>
        <Icon d="M5 12l4 4 10-10" size={14} /> Close
      </button>,
    );
  } else if (!erased(conv)) {
    // An erased customer's conversation reopens only when they write again (the server refuses Reopen).
    actions.push(<button class="btn primary" id="reopen" onClick={() => act('reopen', {}, 'Conversation reopened')}>Reopen</button>);
  }
  // Less frequent moves live in the ⋯ menu: assign (admins, builders), transfer, unassign.
  const more = [];
  if (conv.status === 'assigned' && (mine || lead)) {
    more.push(<button role="menuitem" id="transfer" onClick={() => setMenu('assign')}>Transfer to…</button>);
    more.push(<button role="menuitem" id="unassign" onClick={() => act('unassign', {}, 'Returned to Unassigned')}>Unassign</button>);
  } else if (lead && conv.status === 'unassigned') {
    more.push(<button role="menuitem" id="assign" onClick={() => setMenu('assign')}>Assign to…</button>);
  }
  if (more.length) {
    actions.push(
      <button class="btn icon-only" id="more" title="More actions" aria-label="More actions" onClick={() => setMenu(menu === 'more' ? '' : 'more')}>
        <Icon d="M5 12h.01M12 12h.01M19 12h.01" size={18} />
      </button>,
    );
  }

  return (
    <>
      <section class="pane" aria-label="Conversation">
        <header class="pane-head">
          <span class="avatar" style={{ '--h': hue(conv.contact && conv.contact.wa_id) }}>{initials(name)}</span>
          <div class="pane-title">
            <h2 id="conv-name">{name}</h2>
            <div class="pane-sub">
              <span class={'status-chip ' + conv.status} id="conv-status">{STATUS_LABEL[conv.status] || conv.status}</span>
              {conv.assignee_id && <span class="muted">· {conv.assignee_id === me.id ? 'You' : names[conv.assignee_id] || conv.assignee_id}</span>}
              {conv.priority ? (
                <span class={'chip prio' + (conv.priority < 0 ? ' low' : '')} id="conv-priority" title={'Queue priority ' + conv.priority + ', from the routing rules'}>
                  P{conv.priority}
                </span>
              ) : null}
              {(conv.required_skills || []).length > 0 && (
                <span class="chip skill" id="conv-skills" title="Only operators with these skills are offered it">
                  needs {conv.required_skills.join(' + ')}
                </span>
              )}
              <span class={'window-chip ' + (open ? 'open' : 'shut')} id="window-chip">
                <Icon d="M12 3a9 9 0 100 18 9 9 0 000-18zm0 4v5l3 2" size={12} />
                {open ? left + ' left' : 'Window closed'}
              </span>
            </div>
          </div>
          <div class="actions">{actions}</div>
          {menu === 'more' && (
            <div class="popover menu more-menu" role="menu" id="more-menu">
              {more}
            </div>
          )}
          {menu === 'snooze' && <SnoozeMenu onPick={(body, label) => act('snooze', body, label)} onCancel={() => setMenu('')} />}
          {menu === 'assign' && (
            <AssignMenu
              operators={operators}
              current={conv.assignee_id}
              transfer={conv.status === 'assigned'}
              onPick={(op) => act(conv.status === 'assigned' ? 'transfer' : 'assign', { operator_id: op.id }, 'Assigned to ' + (op.name || op.id))}
              onCancel={() => setMenu('')}
            />
          )}
        </header>
        {viewers.length > 0 && (
          <div class="collision" id="presence">
            <Icon d="M2 12s4-7 10-7 10 7 10 7-4 7-10 7S2 12 2 12zm10 3a3 3 0 100-6 3 3 0 000 6z" size={14} />
            {typers.length > 0
              ? typers.map((p) => p.operator_name || p.operator_id).join(', ') + (typers.length > 1 ? ' are' : ' is') + ' typing…'
              : viewers.map((p) => p.operator_name || p.operator_id).join(', ') + (viewers.length > 1 ? ' are' : ' is') + ' viewing this conversation'}
          </div>
        )}
        <div
          class="messages"
          ref={scroller}
          onScroll={onScroll}
          id="messages"
          onLoadCapture={() => pinned.current && scroller.current && (scroller.current.scrollTop = scroller.current.scrollHeight)}
        >
          {older && <div class="older muted">Loading earlier messages…</div>}
          {msgs.map((m, i) => {
            const prev = msgs[i - 1];
            const t = m.sent_at && !zero(m.sent_at) ? m.sent_at : m.created_at;
            const pt = prev ? (prev.sent_at && !zero(prev.sent_at) ? prev.sent_at : prev.created_at) : null;
            const sep = !pt || new Date(pt).toDateString() !== new Date(t).toDateString();
            return (
              <Fragment key={m.seq}>
                {sep && <div class="day-sep"><span>{day(t, now)}</span></div>}
                <Message m={m} at={t} now={now} names={names} me={me} contact={name} />
              </Fragment>
            );
          })}
          {!msgs.length && (
            <div class="older muted" id="no-messages">
              {erased(conv) ? 'The customer was erased with their messages; only anonymous counts remain.' : 'No messages yet.'}
            </div>
          )}
        </div>
        <Composer
          id={id}
          conv={conv}
          open={open}
          mode={mode}
          setMode={setMode}
          operators={operators}
          holder={canHandle ? '' : names[conv.assignee_id] || conv.assignee_id}
          inputRef={composer}
          flash={flash}
          onSent={() => {
            pinned.current = true;
            load();
          }}
        />
        {toast && (
          <div class={'toast ' + toast.kind} role="status" id="toast">
            {toast.text}
          </div>
        )}
      </section>
      <Details conv={conv} names={names} me={me} now={now} open={open} left={left} flash={flash} setConv={setConv} contactsTick={contactsTick} reload={() => {
        // An erase removed the messages' content: drop what the pane holds rather than merge with it.
        setMsgs([]);
        load();
      }} />
    </>
  );
}

function SnoozeMenu({ onPick, onCancel }) {
  const d = new Date();
  const tomorrow = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1, 9, 0);
  const monday = new Date(d.getFullYear(), d.getMonth(), d.getDate() + ((8 - d.getDay()) % 7 || 7), 9, 0);
  const [custom, setCustom] = useState(localInput(new Date(Date.now() + 3 * 3600e3)));
  const at = (t) => ({ until: t.toISOString() });
  return (
    <div class="popover menu snooze-menu" role="menu" id="snooze-menu">
      <div class="menu-title">Snooze until…</div>
      <button role="menuitem" id="snooze-reply" onClick={() => onPick({}, 'Snoozed until the customer replies')}>
        The customer replies
      </button>
      <button role="menuitem" onClick={() => onPick(at(new Date(Date.now() + 3600e3)), 'Snoozed for an hour')}>
        In 1 hour
      </button>
      <button role="menuitem" onClick={() => onPick(at(tomorrow), 'Snoozed until tomorrow')}>
        Tomorrow, 09:00
      </button>
      <button role="menuitem" onClick={() => onPick(at(monday), 'Snoozed until next week')}>
        Next Monday, 09:00
      </button>
      <form
        class="menu-custom"
        onSubmit={(e) => {
          e.preventDefault();
          const t = new Date(custom);
          if (!isNaN(t)) onPick(at(t), 'Snoozed until ' + t.toLocaleString());
        }}
      >
        <input type="datetime-local" value={custom} onInput={(e) => setCustom(e.currentTarget.value)} aria-label="Snooze until" />
        <button class="btn small primary" type="submit">Snooze</button>
      </form>
      <button class="link-btn" onClick={onCancel}>Cancel</button>
    </div>
  );
}

function AssignMenu({ operators, current, transfer, onPick, onCancel }) {
  return (
    <div class="popover menu assign-menu" role="menu" id="assign-menu">
      <div class="menu-title">{transfer ? 'Transfer to…' : 'Assign to…'}</div>
      {operators
        .filter((o) => o.id !== current)
        .map((o) => (
          <button role="menuitem" key={o.id} data-operator={o.id} onClick={() => onPick(o)}>
            <span class={'avail-dot ' + (o.availability || 'offline')} />
            <span class="grow">{o.name || o.id}</span>
            <span class="muted small">
              {o.load !== undefined ? o.load + '/' + o.capacity : o.capacity ? 'cap ' + o.capacity : ''}
            </span>
          </button>
        ))}
      <button class="link-btn" onClick={onCancel}>Cancel</button>
    </div>
  );
}

function Composer({ id, conv, open, mode, setMode, operators, holder, inputRef, flash, onSent }) {
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const [tpl, setTpl] = useState(false);
  const [mention, setMention] = useState(null); // {start, q, i}
  const typedAt = useRef(0);
  const attach = useAttachment(id);
  const locked = mode === 'reply' && !open;
  const closed = conv.status === 'closed';

  // "/" at the start of the field opens the canned responses picker; the chosen one replaces the "/query".
  const [cannedMedia, setCannedMedia] = useState(null); // a canned response's file, sent with the reply
  const canned = useCannedPicker({
    conversationId: id,
    flash,
    insert: (t, media) => {
      setCannedMedia(media);
      const el = inputRef.current;
      if (el) {
        el.value = t;
        el.focus();
        el.setSelectionRange(t.length, t.length);
      }
      setText(t);
    },
  });

  const candidates = mention
    ? operators.filter((o) => (o.id + ' ' + (o.name || '')).toLowerCase().includes(mention.q.toLowerCase())).slice(0, 6)
    : [];

  const onInput = (e) => {
    const el = e.currentTarget;
    const v = el.value;
    setText(v);
    canned.onInput(v);
    if (Date.now() - typedAt.current > 3000) {
      typedAt.current = Date.now();
      api.post('/v1/conversations/' + id + '/presence', { state: 'typing' }).catch(() => {});
    }
    if (mode === 'note') {
      const before = v.slice(0, el.selectionStart);
      const m = /(^|\s)@([\w.-]*)$/.exec(before);
      setMention(m ? { start: before.length - m[2].length - 1, q: m[2], i: 0 } : null);
    }
  };

  const pick = (o) => {
    const el = inputRef.current;
    const end = el ? el.selectionStart : text.length;
    const v = text.slice(0, mention.start) + '@' + o.id + ' ' + text.slice(end);
    const caret = mention.start + o.id.length + 2;
    // Update the field and its caret now, not after the next render: keys typed meanwhile land after the mention.
    if (el) {
      el.value = v;
      el.focus();
      el.setSelectionRange(caret, caret);
    }
    setText(v);
    setMention(null);
  };

  const withMedia = mode === 'reply' && cannedMedia;
  const send = async () => {
    const t = text.trim();
    const withFile = mode === 'reply' && attach.ready;
    if ((!t && !withFile && !withMedia) || sending || locked || (mode === 'reply' && attach.att && !attach.ready)) return;
    setSending(true);
    try {
      if (mode === 'note') await api.post('/v1/conversations/' + id + '/notes', { text: t });
      else if (withFile) await attach.send(t);
      else if (withMedia) await sendWithMedia(id, cannedMedia, t);
      else await api.post('/v1/conversations/' + id + '/messages', { type: 'text', text: t });
      setText('');
      if (withMedia) setCannedMedia(null);
      onSent();
    } catch (e) {
      flash(REFUSALS[e.code] || e.message);
    } finally {
      setSending(false);
    }
  };

  const onKeyDown = (e) => {
    if (canned.onKeyDown(e)) return;
    if (mention && candidates.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const d = e.key === 'ArrowDown' ? 1 : -1;
        setMention({ ...mention, i: (mention.i + d + candidates.length) % candidates.length });
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pick(candidates[mention.i] || candidates[0]);
        return;
      }
      if (e.key === 'Escape') {
        setMention(null);
        e.stopPropagation();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <div class={'composer ' + mode}>
      {canned.popup}
      <div class="composer-tabs" role="tablist">
        <button role="tab" id="mode-reply" aria-selected={mode === 'reply'} class={mode === 'reply' ? 'active' : ''} onClick={() => setMode('reply')}>
          Reply
        </button>
        <button role="tab" id="mode-note" aria-selected={mode === 'note'} class={mode === 'note' ? 'active' : ''} onClick={() => setMode('note')}>
          Private note
        </button>
        <span class="grow" />
        {mode === 'reply' && !closed && !holder && open && (
          <button class="link-btn" id="template-toggle" onClick={() => setTpl(!tpl)}>
            {tpl ? 'Write a reply' : 'Send a template'}
          </button>
        )}
      </div>
      {closed && mode === 'reply' ? (
        <div class="locked" id="composer-locked">
          {erased(conv) ? 'The customer was erased: the conversation reopens if they write again.' : 'This conversation is closed. Reopen it to reply.'}
        </div>
      ) : holder && mode === 'reply' ? (
        <div class="locked info" id="composer-locked">
          {holder} is handling this conversation. Take over to reply, or write a private note.
        </div>
      ) : locked ? (
        <>
          <div class="locked" id="composer-locked">
            <Icon d="M7 11V7a5 5 0 0110 0v4M5 11h14v10H5z" size={14} />
            {zero(conv.last_inbound_at)
              ? 'The customer has not written yet: WhatsApp allows only an approved template until they reply.'
              : "The customer's last message is over 24 hours old: WhatsApp allows only an approved template until they write again."}
          </div>
          <TemplateComposer id={id} conv={conv} flash={flash} onSent={onSent} locked />
        </>
      ) : mode === 'reply' && tpl ? (
        <TemplateComposer id={id} conv={conv} flash={flash} onSent={onSent} />
      ) : (
        <div class="composer-box" {...(mode === 'reply' ? attach.dropProps : {})}>
          {mode === 'reply' && attach.chip}
          {withMedia && <MediaChip media={cannedMedia} onRemove={() => setCannedMedia(null)} />}
          {mention && candidates.length > 0 && (
            <ul class="popover mentions" role="listbox" id="mention-list">
              {candidates.map((o, i) => (
                <li
                  key={o.id}
                  role="option"
                  aria-selected={i === mention.i}
                  class={i === mention.i ? 'active' : ''}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    pick(o);
                  }}
                >
                  <span class="avatar tiny" style={{ '--h': hue(o.id) }}>{initials(o.name || o.id)}</span>
                  {o.name || o.id} <span class="muted">@{o.id}</span>
                </li>
              ))}
            </ul>
          )}
          <textarea
            ref={inputRef}
            id="composer"
            rows={2}
            value={text}
            onInput={onInput}
            onKeyDown={onKeyDown}
            placeholder={
              mode === 'note'
                ? 'Private note, visible to your team only. @ to mention someone.'
                : attach.att
                  ? attach.noCaption ? 'A message to send after it (optional)…' : 'Add a caption (optional)…'
                  : 'Reply to the customer…  (Enter sends, Shift+Enter for a new line, / for canned responses)'
            }
          />
          <div class="composer-foot">
            {mode === 'reply' && attach.button}
            <span class="muted small grow">{mode === 'note' ? 'Only operators see notes.' : 'Sent on WhatsApp.'}</span>
            <button
              class={'btn ' + (mode === 'note' ? 'note-btn' : 'primary')}
              id="send"
              disabled={sending || (mode === 'note' ? !text.trim() : attach.att ? !attach.ready : !text.trim() && !withMedia)}
              onClick={send}
            >
              {mode === 'note' ? 'Add note' : 'Send'}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

// TemplateComposer sends a template from the catalogue of the conversation's channel, its parameters prefilled from
// the contact (with its custom fields when the contacts API has them).
function TemplateComposer({ id, conv, flash, onSent, locked }) {
  const ct = conv.contact || {};
  const [contact, setContact] = useState({ name: ct.name || '', fields: {} });
  useEffect(() => {
    let live = true;
    setContact({ name: ct.name || '', fields: {} });
    if (ct.id) {
      api
        .get('/v1/contacts/' + encodeURIComponent(ct.id), { quiet401: true })
        .then((c) => live && c && setContact({ name: c.name || ct.name || '', fields: c.fields || {} }))
        .catch(() => {});
    }
    return () => {
      live = false;
    };
  }, [ct.id, ct.name]);
  const submit = async (template) => {
    try {
      await api.post('/v1/conversations/' + id + '/messages', { type: 'template', template });
      flash('Template sent', 'ok');
      onSent();
    } catch (err) {
      flash(REFUSALS[err.code] || err.message);
      throw err;
    }
  };
  return <TemplatePicker channelId={conv.channel_id} contact={contact} onSubmit={submit} locked={locked} />;
}

function Details({ conv, names, me, now, open, left, flash, setConv, reload, contactsTick }) {
  const [label, setLabel] = useState('');
  const labels = conv.labels || [];
  const catalogue = useLabels();
  const choices = catalogue.filter((l) => !labels.includes(l.name));
  const change = async (body) => {
    try {
      const r = await api.post('/v1/conversations/' + conv.id + '/labels', body);
      if (r && r.id) setConv((c) => ({ ...c, ...r }));
    } catch (e) {
      flash(e.message);
    }
  };
  const ct = conv.contact || {};
  return (
    <aside class="details" aria-label="Details">
      <div class="card contact-card">
        <span class="avatar big" style={{ '--h': hue(ct.wa_id) }}>{initials(contactName(conv))}</span>
        <div class="contact-name">{contactName(conv)}</div>
        {ct.wa_id && <div class="muted">+{ct.wa_id}</div>}
        <div class="muted small">WhatsApp · {conv.channel_id}</div>
      </div>
      <ContactPanel key={ct.id} id={ct.id} fallback={ct} me={me} flash={flash} current={conv.id} currentStatus={conv.status} tick={contactsTick} onErased={reload} />
      <div class="card">
        <h4>Assignee</h4>
        <div class="assignee" id="assignee">
          {conv.assignee_id ? (
            <>
              <span class="avatar tiny" style={{ '--h': hue(conv.assignee_id) }}>{initials(names[conv.assignee_id] || conv.assignee_id)}</span>
              {conv.assignee_id === me.id ? 'You' : names[conv.assignee_id] || conv.assignee_id}
            </>
          ) : (
            <span class="muted">Nobody</span>
          )}
        </div>
      </div>
      <div class="card">
        <h4>Labels</h4>
        <div class="labels" id="labels">
          {labels.map((l) => (
            <LabelChip key={l} name={l} labels={catalogue}>
              <button class="chip-x" title={'Remove ' + l} aria-label={'Remove label ' + l} onClick={() => change({ remove: [l] })}>
                ×
              </button>
            </LabelChip>
          ))}
          {!labels.length && <span class="muted small">No labels</span>}
        </div>
        {catalogue.length ? (
          // The tenant has a catalogue: only its labels can be added (the server refuses others, unknown_label).
          <select
            id="label-select"
            class="label-add"
            value=""
            disabled={!choices.length}
            onChange={(e) => {
              const l = e.currentTarget.value;
              e.currentTarget.value = '';
              if (l) change({ add: [l] });
            }}
          >
            <option value="">{choices.length ? 'Add a label…' : 'Every label is on'}</option>
            {choices.map((l) => (
              <option key={l.name} value={l.name}>
                {l.name}
                {l.description ? ' — ' + l.description : ''}
              </option>
            ))}
          </select>
        ) : (
          <form
            class="label-add"
            onSubmit={(e) => {
              e.preventDefault();
              const l = label.trim();
              if (!l) return;
              setLabel('');
              change({ add: [l] });
            }}
          >
            <input id="label-input" value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder="Add a label…" />
          </form>
        )}
      </div>
      <div class="card">
        <h4>24-hour window</h4>
        {open ? (
          <>
            <div class="window-big open">{left}</div>
            <div class="muted small">left to reply freely</div>
            <div class="meter">
              <span style={{ width: Math.max(2, Math.min(100, ((Date.parse(conv.window_expires_at) - now) / 864e5) * 100)) + '%' }} />
            </div>
          </>
        ) : (
          <>
            <div class="window-big shut">Closed</div>
            <div class="muted small">Only templates until the customer writes.</div>
          </>
        )}
      </div>
      <div class="card facts">
        <h4>Conversation</h4>
        <dl>
          <dt>Status</dt>
          <dd>{STATUS_LABEL[conv.status] || conv.status}</dd>
          {conv.status === 'snoozed' && (
            <>
              <dt>Snoozed</dt>
              <dd>{zero(conv.snoozed_until) ? 'until the customer replies' : 'until ' + clock(conv.snoozed_until, now)}</dd>
            </>
          )}
          <dt>Started</dt>
          <dd>{clock(conv.created_at, now)}</dd>
          {!zero(conv.last_inbound_at) && (
            <>
              <dt>Customer wrote</dt>
              <dd>{ago(conv.last_inbound_at, now) === 'now' ? 'just now' : ago(conv.last_inbound_at, now) + ' ago'}</dd>
            </>
          )}
          {conv.priority ? (
            <>
              <dt>Priority</dt>
              <dd id="fact-priority">{conv.priority}</dd>
            </>
          ) : null}
          {(conv.required_skills || []).length > 0 && (
            <>
              <dt>Needs</dt>
              <dd id="fact-skills">{conv.required_skills.join(', ')}</dd>
            </>
          )}
          {!zero(conv.waiting_since) && conv.status !== 'closed' && (
            <>
              <dt>Waiting</dt>
              <dd>{ago(conv.waiting_since, now)}</dd>
            </>
          )}
          <dt>Id</dt>
          <dd class="mono">{conv.id}</dd>
        </dl>
      </div>
    </aside>
  );
}
