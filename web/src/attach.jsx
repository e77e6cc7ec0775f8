// Attachments in the composer: a paperclip button, drag-and-drop and paste pick a file, which is uploaded at once to
// POST /v1/media (with progress) and shown as a chip with its name, size and type; the composer then sends it by
// id with the text as its caption. The server judges the file by its content: its refusal (type, size) is shown as
// it says it.
import { useState, useRef, useEffect } from 'preact/hooks';
import * as api from './api.js';
import { Icon } from './icon.jsx';

const CLIP = 'M21 12.5l-8.5 8.5a5.5 5.5 0 01-7.8-7.8l9.2-9.2a3.7 3.7 0 015.2 5.2l-9.2 9.2a1.8 1.8 0 01-2.6-2.6l8.5-8.5';
const ACCEPT = 'image/jpeg,image/png,image/webp,video/mp4,video/3gpp,audio/*,.txt,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx';
const NO_CAPTION = { audio: true, sticker: true };

/** size writes a byte count for people. */
export function size(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1).replace(/\.0$/, '') + ' MB';
  if (n >= 1 << 10) return Math.round(n / (1 << 10)) + ' KB';
  return n + ' bytes';
}

/**
 * useAttachment holds the composer's attachment for conversation id: pick(file) uploads it; state is null or
 * {file, preview, sent, total, result, error}; ready is true once uploaded; send(caption) sends it and clears it.
 */
export function useAttachment(id) {
  const [att, setAtt] = useState(null);
  const gen = useRef(0);
  const input = useRef(null);

  useEffect(() => () => clear(), [id]); // a draft attachment stays with its conversation's composer only

  const clear = () => {
    gen.current++;
    setAtt((a) => {
      if (a && a.preview) URL.revokeObjectURL(a.preview);
      return null;
    });
  };

  const pick = (file) => {
    if (!file) return;
    const g = ++gen.current;
    const preview = /^image\/(png|jpeg|webp|gif)$/.test(file.type) ? URL.createObjectURL(file) : '';
    setAtt({ file, preview, sent: 0, total: file.size, result: null, error: '' });
    const form = new FormData();
    form.append('conversation_id', id);
    form.append('file', file, file.name);
    api
      .upload('/v1/media', form, (sent, total) => g === gen.current && setAtt((a) => a && { ...a, sent, total }))
      .then(
        (result) => g === gen.current && setAtt((a) => a && { ...a, result, sent: a.total }),
        (e) => g === gen.current && setAtt((a) => a && { ...a, error: e.message || 'The upload failed.' }),
      );
  };

  const send = async (caption) => {
    const r = att.result;
    const obj = { id: r.id };
    if (caption && !NO_CAPTION[r.type]) obj.caption = caption;
    if (r.type === 'document' && r.filename) obj.filename = r.filename;
    await api.post('/v1/conversations/' + id + '/messages', { type: r.type, [r.type]: obj });
    if (caption && NO_CAPTION[r.type]) await api.post('/v1/conversations/' + id + '/messages', { type: 'text', text: caption });
    clear();
  };

  const dropProps = {
    onDragOver: (e) => {
      if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) e.preventDefault();
    },
    onDrop: (e) => {
      const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) {
        e.preventDefault();
        pick(f);
      }
    },
    onPaste: (e) => {
      const f = e.clipboardData && e.clipboardData.files && e.clipboardData.files[0];
      if (f) {
        e.preventDefault();
        pick(f);
      }
    },
  };

  const button = (
    <>
      <button
        class="btn icon-only attach-btn"
        id="attach"
        type="button"
        title="Attach a file (photo, video, audio or document)"
        aria-label="Attach a file"
        onClick={() => input.current && input.current.click()}
      >
        <Icon d={CLIP} size={17} />
      </button>
      <input
        ref={input}
        type="file"
        id="attach-input"
        accept={ACCEPT}
        hidden
        onChange={(e) => {
          pick(e.currentTarget.files[0]);
          e.currentTarget.value = '';
        }}
      />
    </>
  );

  const chip = att && (
    <div class={'attach-chip' + (att.error ? ' refused' : att.result ? ' ready' : '')} id="attach-chip" data-state={att.error ? 'refused' : att.result ? 'ready' : 'uploading'}>
      {att.preview ? (
        <img class="attach-thumb" src={att.preview} alt="" onError={() => setAtt((a) => a && { ...a, preview: '' })} />
      ) : (
        <span class="attach-thumb icon-thumb">
          <Icon d="M6 3h8l4 4v14H6zM14 3v4h4" size={18} />
        </span>
      )}
      <div class="attach-info">
        <div class="attach-name" title={att.file.name}>{att.file.name}</div>
        <div class="muted small">
          {size(att.file.size)}
          {att.result ? ' · ' + att.result.type + ' · ' + att.result.mime_type : att.error ? '' : ' · uploading ' + Math.round((100 * att.sent) / (att.total || 1)) + '%'}
        </div>
        {!att.result && !att.error && (
          <div class="attach-progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={Math.round((100 * att.sent) / (att.total || 1))}>
            <span style={{ width: Math.round((100 * att.sent) / (att.total || 1)) + '%' }} />
          </div>
        )}
        {att.error && (
          <div class="attach-error" id="attach-error" role="alert">
            {att.error}
          </div>
        )}
      </div>
      <button class="chip-x" type="button" id="attach-remove" title="Remove the attachment" aria-label="Remove the attachment" onClick={clear}>
        ×
      </button>
    </div>
  );

  return { att, ready: !!(att && att.result), pick, clear, send, button, chip, dropProps, noCaption: !!(att && att.result && NO_CAPTION[att.result.type]) };
}
