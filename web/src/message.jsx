// One message of a conversation, by direction (customer, operator, private note) and type (text, media cards,
// location, contacts, buttons, interactive replies, reactions, templates), with delivery ticks. Everything a
// customer wrote is rendered as text nodes: Preact escapes it, and nothing here sets HTML.
import { useState, useEffect } from 'preact/hooks';
import { clock, initials, hue } from './util.js';
import { Icon } from './icon.jsx';

const MEDIA = {
  image: ['Photo', 'M4 5h16v14H4zM4 15l4-4 4 4 3-3 5 5M15 9.5a1.5 1.5 0 103 0 1.5 1.5 0 00-3 0'],
  video: ['Video', 'M4 6h11v12H4zM15 10l5-3v10l-5-3'],
  audio: ['Audio', 'M9 18V6l10-2v12M9 18a3 3 0 11-3-3 3 3 0 013 3zm10-2a3 3 0 11-3-3 3 3 0 013 3z'],
  sticker: ['Sticker', 'M12 3a9 9 0 109 9h-6a3 3 0 01-3-3zm0 0l9 9'],
  document: ['Document', 'M6 3h8l4 4v14H6zM14 3v4h4M9 13h6M9 17h6'],
};

function obj(c) {
  if (!c) return {};
  if (typeof c === 'string') {
    try {
      return JSON.parse(c);
    } catch (e) {
      return {};
    }
  }
  return c;
}

/** mediaURL is where the console fetches a media id: the permission-checked proxy. */
function mediaURL(id) {
  return '/v1/media/' + encodeURIComponent(id);
}

/** Lightbox shows an image full size over the page; Esc or a click closes it. */
function Lightbox({ src, alt, onClose }) {
  useEffect(() => {
    const k = (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener('keydown', k, true);
    return () => window.removeEventListener('keydown', k, true);
  }, []);
  return (
    <div class="lightbox" id="lightbox" role="dialog" aria-label={alt} onClick={onClose}>
      <img src={src} alt={alt} onClick={(e) => e.stopPropagation()} />
      <div class="lightbox-bar" onClick={(e) => e.stopPropagation()}>
        <a href={src} target="_blank" rel="noopener noreferrer" class="link-btn">
          Open original
        </a>
        <button class="link-btn" id="lightbox-close" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

/** Media shows a media message carried by id: images inline (click for full size), players for video and audio,
 * a download link for documents. A media WhatsApp no longer has falls back to the card. */
function Media({ m, c, t, card }) {
  const [broken, setBroken] = useState(false);
  const [open, setOpen] = useState(false);
  const src = mediaURL(c.id);
  const caption = c.caption || (m.text && m.text !== c.filename ? m.text : '');
  if (broken) return card('Not available any more');
  let body;
  if (t === 'image' || t === 'sticker') {
    const alt = caption || (t === 'sticker' ? 'Sticker' : 'Photo');
    body = (
      <>
        <button class={'media-thumb ' + t} type="button" title="Open full size" onClick={() => setOpen(true)} data-media={c.id}>
          <img src={src} alt={alt} loading="lazy" onError={() => setBroken(true)} />
        </button>
        {open && <Lightbox src={src} alt={alt} onClose={() => setOpen(false)} />}
      </>
    );
  } else if (t === 'video') {
    body = <video class="media-player" controls preload="metadata" src={src} data-media={c.id} onError={() => setBroken(true)} />;
  } else if (t === 'audio') {
    body = <audio class="media-player" controls preload="metadata" src={src} data-media={c.id} onError={() => setBroken(true)} />;
  } else {
    const name = c.filename || 'Document';
    body = (
      <a class="media-card document doc-link" href={src} download={c.filename || ''} data-media={c.id} title={'Download ' + name}>
        <div class="media-icon">
          <Icon d={MEDIA.document[1]} size={22} />
        </div>
        <div class="media-text">
          <div class="media-label">{name}</div>
          <div class="media-sub">{c.mime_type ? c.mime_type + ' · ' : ''}Download</div>
        </div>
      </a>
    );
  }
  return (
    <div class={'media ' + t} data-type={t}>
      {body}
      {caption && <div class="caption">{caption}</div>}
    </div>
  );
}

/** MediaCard names a media message without showing it: its kind, a line under it, its caption. */
function MediaCard({ t, sub, caption }) {
  const [label, icon] = MEDIA[t];
  return (
    <div class={'media-card ' + t} data-type={t}>
      <div class="media-icon">
        <Icon d={icon} size={22} />
      </div>
      <div class="media-text">
        <div class="media-label">{label}</div>
        {sub && <div class="media-sub">{sub}</div>}
      </div>
      {caption && <div class="caption">{caption}</div>}
    </div>
  );
}

function Body({ m }) {
  const c = obj(m.content);
  const t = m.type;
  if (t === 'text') return <div class="text">{m.text}</div>;
  if (MEDIA[t] && c.id && !c.link) {
    return <Media m={m} c={c} t={t} card={(sub) => <MediaCard t={t} sub={sub} />} />;
  }
  if (MEDIA[t]) {
    const sub = t === 'audio' && c.voice ? 'Voice message' : c.filename || c.mime_type || (c.link ? c.link : '');
    return <MediaCard t={t} sub={sub} caption={c.caption || (m.text && m.text !== c.filename ? m.text : '')} />;
  }
  if (t === 'location') {
    const has = c.latitude !== undefined && c.longitude !== undefined;
    return (
      <div class="media-card location" data-type="location">
        <div class="media-icon">
          <Icon d="M12 21s-7-6-7-11a7 7 0 0114 0c0 5-7 11-7 11zm0-9a2 2 0 100-4 2 2 0 000 4z" size={22} />
        </div>
        <div class="media-text">
          <div class="media-label">{c.name || 'Location'}</div>
          {c.address && <div class="media-sub">{c.address}</div>}
          {has && (
            <div class="media-sub mono">
              {Number(c.latitude).toFixed(5)}, {Number(c.longitude).toFixed(5)}
            </div>
          )}
        </div>
      </div>
    );
  }
  if (t === 'contacts') {
    const list = Array.isArray(c) ? c : c.contacts || [];
    return (
      <div class="media-card contacts" data-type="contacts">
        <div class="media-icon">
          <Icon d="M12 12a4 4 0 100-8 4 4 0 000 8zm-7 8a7 7 0 0114 0z" size={22} />
        </div>
        <div class="media-text">
          <div class="media-label">{list.length === 1 ? 'Contact' : list.length + ' contacts'}</div>
          {list.map((p, i) => (
            <div class="media-sub" key={i}>
              {(p.name && (p.name.formatted_name || p.name.first_name)) || 'Unnamed'}
              {p.phones && p.phones[0] && <span class="mono"> · {p.phones[0].phone || p.phones[0].wa_id}</span>}
            </div>
          ))}
        </div>
      </div>
    );
  }
  if (t === 'button') {
    return (
      <div class="choice" data-type="button">
        <span class="choice-kind">Tapped a button</span>
        <span class="choice-title">{c.text || m.text}</span>
      </div>
    );
  }
  if (t === 'interactive') {
    if (m.direction !== 'in') {
      const buttons = (c.action && c.action.buttons) || [];
      return (
        <div data-type="interactive">
          <div class="text">{(c.body && c.body.text) || m.text}</div>
          <div class="buttons">
            {buttons.map((b, i) => (
              <span class="btn-preview" key={i}>
                {(b.reply && b.reply.title) || b.title}
              </span>
            ))}
          </div>
        </div>
      );
    }
    const r = c.button_reply || c.list_reply || {};
    return (
      <div class="choice" data-type="interactive">
        <span class="choice-kind">{c.list_reply ? 'Chose from a list' : 'Replied with a button'}</span>
        <span class="choice-title">{r.title || m.text}</span>
        {r.description && <span class="muted small">{r.description}</span>}
      </div>
    );
  }
  if (t === 'template') {
    return (
      <div class="template-msg" data-type="template">
        <div class="media-label">
          <Icon d="M5 4h14v16H5zM8 8h8M8 12h8M8 16h5" size={14} /> Template <span class="mono">{c.name}</span>{' '}
          <span class="muted small">({c.language})</span>
        </div>
        {m.text && <div class="template-body">{m.text}</div>}
        {!m.text && c.params && c.params.length > 0 && (
          <div class="params">
            {c.params.map((p, i) => (
              <span class="param" key={i}>
                {'{{' + (i + 1) + '}}'} {p}
              </span>
            ))}
          </div>
        )}
      </div>
    );
  }
  return (
    <div class="text muted" data-type={t}>
      {m.text || 'A message of type “' + t + '” that the console cannot show.'}
    </div>
  );
}

/** Ticks shows an outbound message's delivery status: pending ◷, sent ✓, delivered ✓✓, read (blue) ✓✓, failed. */
export function Ticks({ m }) {
  const s = m.status;
  const label = { pending: 'Pending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Failed' }[s] || s;
  const glyph = { pending: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' }[s] || '';
  return (
    <span class={'ticks ' + s} title={label} data-status={s} aria-label={label}>
      {glyph}
    </span>
  );
}

export function Message({ m, at, now, names, me, contact }) {
  if (m.type === 'reaction') {
    const c = obj(m.content);
    const who = m.direction === 'in' ? contact : m.operator_id === me.id ? 'You' : names[m.operator_id] || m.operator_id || 'An operator';
    return (
      <div class={'reaction-line ' + m.direction} data-seq={m.seq} data-type="reaction">
        {who} {c.emoji ? 'reacted ' : 'removed a reaction'}
        {c.emoji && <span class="emoji">{c.emoji}</span>}
        <span class="muted small"> · {clock(at, now)}</span>
      </div>
    );
  }
  const author =
    m.direction === 'in' ? null : m.operator_id === me.id ? 'You' : names[m.operator_id] || m.operator_id || 'Switchboard';
  if (m.direction === 'note') {
    return (
      <div class="msg note" data-seq={m.seq}>
        <div class="note-head">
          <span class="avatar tiny" style={{ '--h': hue(m.operator_id) }}>{initials(names[m.operator_id] || m.operator_id)}</span>
          <b>{author}</b> <span class="muted">wrote a private note</span>
          <span class="muted small"> · {clock(at, now)}</span>
        </div>
        <div class="text">{m.text}</div>
      </div>
    );
  }
  return (
    <div class={'msg ' + m.direction + (m.status === 'failed' ? ' failed' : '')} data-seq={m.seq} data-status={m.status}>
      <div class="bubble">
        {m.direction === 'out' && <div class="author">{author}</div>}
        <Body m={m} />
        <div class="meta">
          <span>{clock(at, now)}</span>
          {m.direction === 'out' && <Ticks m={m} />}
        </div>
      </div>
      {m.status === 'failed' && (
        <div class="failed-reason" role="alert">
          Not delivered{m.error_title ? ': ' + m.error_title : ''}
          {m.error_code && !String(m.error_title || '').includes(String(m.error_code)) ? ' (' + m.error_code + ')' : ''}
        </div>
      )}
    </div>
  );
}
