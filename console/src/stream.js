// The stream: one EventSource on /v1/stream. The browser resends Last-Event-ID by itself on
// reconnect, so nothing is lost or repeated. When the connection fails for good (the session
// ended: 401), the caller's `onClosed` decides what to show.

const KINDS = ['alert', 'ack', 'escalation', 'conflict', 'message', 'message.read',
  'track.dropped', 'peer.ack', 'operation', 'revoked'];

export function openStream(handlers, { onOpen, onClosed } = {}) {
  let source = null;
  let stopped = false;
  let lastId = null;

  function connect() {
    const url = lastId === null ? '/v1/stream' : `/v1/stream?after=${encodeURIComponent(lastId)}`;
    source = new EventSource(url, { withCredentials: true });
    source.onopen = () => onOpen && onOpen();
    for (const kind of KINDS) {
      source.addEventListener(kind, (e) => {
        lastId = e.lastEventId || lastId;
        let data;
        try { data = JSON.parse(e.data); } catch { return; }
        const fn = handlers[kind];
        if (fn) fn(data, e);
      });
    }
    source.onerror = () => {
      // CONNECTING: the browser retries by itself. CLOSED: it gave up (e.g. 401 or a refused
      // connection); ask the caller, then try again from the last event we saw.
      if (source.readyState === EventSource.CLOSED && !stopped) {
        source.close();
        Promise.resolve(onClosed ? onClosed() : true).then((again) => {
          if (again && !stopped) setTimeout(connect, 1000);
        });
      }
    };
  }
  connect();
  return { close() { stopped = true; if (source) source.close(); } };
}
