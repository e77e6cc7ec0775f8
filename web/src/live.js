// One EventSource on /v1/events for the whole page. The browser resends Last-Event-ID by itself when it reconnects,
// so the server replays exactly what was missed; when it cannot, it sends `reset` and the app refetches everything.
// The console never patches lists or counts from events: events only say what to refetch.

/** Durable event types the server streams (named SSE events need a listener each). */
export const DURABLE = [
  'conversation.created', 'message.received', 'message.queued', 'message.status', 'note.created',
  'operator.mentioned', 'conversation.assigned', 'conversation.unassigned', 'conversation.transferred',
  'conversation.closed', 'conversation.reopened', 'conversation.snoozed', 'conversation.unsnoozed',
  'conversation.labels_changed', 'window.closing', 'conversation.read', 'operator.availability',
  'template.updated', 'contact.created', 'contact.updated', 'contact.deleted', 'contact.blocked', 'contact.unblocked',
  'contact.erased', 'canned.changed',
];

// seen keeps the ids of the last durable events received, newest last, for the browser tests (a replay after a
// dropped stream must deliver each missed event exactly once).
const seen = [];
const debug = { events: seen, resets: 0 };
if (typeof window !== 'undefined') window.__switchboard = debug;

/**
 * connect opens the stream and calls the handlers: state('connecting'|'live'|'reconnecting'), event(type, data, id),
 * counts(data), presence(data), reset(), gone() when the browser gave up (e.g. a 401). It returns a close function.
 */
export function connect(h) {
  let es = null;
  let closed = false;
  let retry = null;
  let fresh = false; // a new EventSource sends no Last-Event-ID: what it missed must be refetched
  const open = () => {
    h.state(fresh ? 'reconnecting' : 'connecting');
    es = new EventSource('/v1/events', { withCredentials: true });
    const resync = fresh;
    es.onopen = () => {
      h.state('live');
      if (resync) {
        debug.resets++;
        h.reset();
      }
    };
    es.onerror = () => {
      if (closed) return;
      if (es.readyState === EventSource.CLOSED) {
        // The browser stops retrying after a non-200 answer: ask the app (it checks the session), then retry.
        h.state('reconnecting');
        h.gone();
        fresh = true;
        retry = setTimeout(open, 3000);
      } else {
        h.state('reconnecting');
      }
    };
    const parse = (e) => {
      try {
        return JSON.parse(e.data || '{}');
      } catch (err) {
        return {};
      }
    };
    for (const t of DURABLE) {
      es.addEventListener(t, (e) => {
        seen.push(e.lastEventId);
        if (seen.length > 2000) seen.splice(0, seen.length - 2000);
        const data = parse(e);
        h.event(t, data, e.lastEventId);
        // Components that follow one kind of event listen for it on window (the template picker: template.updated).
        if (t === 'template.updated') window.dispatchEvent(new CustomEvent('switchboard:' + t, { detail: data }));
      });
    }
    es.addEventListener('counts', (e) => h.counts(parse(e)));
    es.addEventListener('presence', (e) => h.presence(parse(e)));
    es.addEventListener('reset', () => {
      debug.resets++;
      h.reset();
    });
  };
  open();
  return () => {
    closed = true;
    clearTimeout(retry);
    if (es) es.close();
  };
}
