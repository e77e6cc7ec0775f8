// People → Import (/people/import): pick a CSV file, see how its header maps to the contact's columns (the node
// answers POST /v1/contacts/import?check=header with the first line), send the file (the browser streams it from
// disk), follow the NDJSON progress lines (rows, rows/s, ETA), then read the report with the refused rows.
// Everything from the file is rendered as text.
import { useState, useRef } from 'preact/hooks';
import * as api from './api.js';
import { go } from './contact.jsx';

const HEADER_BYTES = 1 << 20; // the node's longest line

/** firstLine is the header row of a file: up to its first newline, within the first MiB. */
async function firstLine(file) {
  const text = await file.slice(0, HEADER_BYTES).text();
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl + 1);
}

const fmt = (n) => (n || 0).toLocaleString('en-US');

function duration(secs) {
  if (!Number.isFinite(secs) || secs < 0) return '—';
  if (secs < 60) return Math.ceil(secs) + ' s';
  return Math.floor(secs / 60) + ' min ' + String(Math.ceil(secs % 60)).padStart(2, '0') + ' s';
}

/** post sends body to the import path; the caller reads the Response. */
function post(query, body, ndjson) {
  const headers = { 'Content-Type': 'text/csv', Accept: ndjson ? 'application/x-ndjson' : 'application/json' };
  const csrf = api.csrfToken();
  if (csrf) headers['X-CSRF-Token'] = csrf;
  return fetch('/v1/contacts/import' + api.qs(query), { method: 'POST', headers, body, credentials: 'same-origin' });
}

async function errorOf(resp) {
  try {
    const b = await resp.json();
    if (b && b.error) return b.error;
  } catch (e) {
    /* not the error shape */
  }
  return { code: 'http_' + resp.status, message: 'The server answered ' + resp.status + '.' };
}

export function ImportPage() {
  const [file, setFile] = useState(null);
  const [check, setCheck] = useState(null); // {columns, error}
  const [ignore, setIgnore] = useState(false);
  const [failure, setFailure] = useState(null); // {code, message} of the whole file or the request
  const [progress, setProgress] = useState(null); // {rows, created, …, bytes, lines, rate, eta}
  const [report, setReport] = useState(null);
  const [busy, setBusy] = useState(false);
  const input = useRef(null);

  const runCheck = async (f, ign) => {
    setCheck(null);
    setFailure(null);
    setReport(null);
    setProgress(null);
    if (!f) return;
    try {
      const resp = await post({ check: 'header', ignore_unknown: ign ? 'true' : '' }, await firstLine(f), false);
      if (!resp.ok) {
        setFailure(await errorOf(resp));
        return;
      }
      setCheck(await resp.json());
    } catch (e) {
      setFailure({ code: 'network', message: 'The server cannot be reached.' });
    }
  };

  const choose = (e) => {
    const f = e.currentTarget.files && e.currentTarget.files[0];
    setFile(f || null);
    runCheck(f, ignore);
  };

  const start = async () => {
    if (!file || busy) return;
    setBusy(true);
    setFailure(null);
    setReport(null);
    const t0 = performance.now();
    let lines = 0;
    setProgress({ rows: 0, created: 0, updated: 0, unchanged: 0, refused: 0, bytes: 0, lines: 0, rate: 0, eta: NaN });
    try {
      const resp = await post({ ignore_unknown: ignore ? 'true' : '' }, file, true);
      if (!resp.ok) {
        setFailure(await errorOf(resp));
        return;
      }
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (value) buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line);
          if (msg.import_id !== undefined) {
            setReport(msg);
            continue;
          }
          lines++;
          const secs = (performance.now() - t0) / 1000;
          const bps = msg.bytes / Math.max(secs, 0.001);
          setProgress({ ...msg, lines, rate: msg.rows / Math.max(secs, 0.001), eta: (file.size - msg.bytes) / bps });
        }
        if (done) break;
      }
    } catch (e) {
      setFailure({ code: 'network', message: 'The connection to the server was lost during the import: the report did not arrive. Import the file again: rows already imported will be unchanged.' });
    } finally {
      setBusy(false);
    }
  };

  const canStart = file && check && !check.error && !busy;
  const pct = progress && file && file.size ? Math.min(100, (100 * (report ? file.size : progress.bytes)) / file.size) : 0;
  return (
    <div class="pane import-page" id="import-page">
      <div class="import-head">
        <h2>Import contacts</h2>
        <p class="muted">
          A CSV file in UTF-8 whose first row names the columns: <code>phone</code> (with + and the country code),{' '}
          <code>name</code> and the keys of your contact fields. Rows add or update contacts by phone; an empty cell leaves the
          value as it is. Importing the same file again changes nothing.
        </p>
      </div>
      <div class="import-body">
        <div class="import-pick">
          <input ref={input} type="file" id="import-file" accept=".csv,text/csv" onChange={choose} disabled={busy} />
          <label class="import-ignore">
            <input
              type="checkbox"
              id="import-ignore"
              checked={ignore}
              disabled={busy}
              onChange={(e) => {
                const v = e.currentTarget.checked;
                setIgnore(v);
                runCheck(file, v);
              }}
            />
            Leave out unknown columns
          </label>
          <button class="btn primary" id="import-start" disabled={!canStart} onClick={start}>
            {busy ? 'Importing…' : 'Import'}
          </button>
        </div>

        {failure && (
          <div class="alert error" role="alert" id="import-error">
            <strong>{failure.code}</strong>: {failure.message}
          </div>
        )}

        {check && (
          <div class="import-mapping" id="import-mapping">
            <h3>Columns of {file && file.name}</h3>
            <table>
              <thead>
                <tr>
                  <th>Column</th>
                  <th>Imported as</th>
                </tr>
              </thead>
              <tbody>
                {check.columns.map((c, i) => (
                  <tr key={i} class={c.unknown ? 'unknown' : c.read_only ? 'left-out' : ''}>
                    <td class="mono">{c.column || '(empty)'}</td>
                    <td>
                      {c.unknown ? (
                        <span class="badge bad">{ignore ? 'unknown — left out' : 'unknown column'}</span>
                      ) : c.read_only ? (
                        <span class="badge">left out (set by Switchboard)</span>
                      ) : (
                        <>
                          <b>{c.maps_to}</b> <span class="muted">{c.type}</span>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {check.error && (
              <div class="alert error" id="import-check-error">
                <strong>{check.error.code}</strong>: {check.error.message}
              </div>
            )}
          </div>
        )}

        {progress && (
          <div class="import-progress" id="import-progress" data-lines={progress.lines}>
            <progress max="100" value={pct} />
            <div class="import-figures">
              <span id="import-rows">{fmt(report ? report.rows : progress.rows)} rows</span>
              <span id="import-rate">{fmt(Math.round(progress.rate))} rows/s</span>
              <span id="import-eta">{report ? 'done' : 'ETA ' + duration(progress.eta)}</span>
            </div>
          </div>
        )}

        {report && <Report report={report} />}
      </div>
    </div>
  );
}

function Report({ report }) {
  return (
    <div class="import-report" id="import-report">
      {report.error && (
        <div class="alert error" role="alert" id="import-stopped">
          <strong>The import stopped at line {report.stopped_at_line}</strong> ({report.error.code}): {report.error.message}
          {report.unconfirmed > 0 && <> {fmt(report.unconfirmed)} rows were sent without an answer and may still apply.</>}
        </div>
      )}
      <div class="import-counts">
        {[
          ['rows', 'Rows'],
          ['created', 'Created'],
          ['updated', 'Updated'],
          ['unchanged', 'Unchanged'],
          ['refused', 'Refused'],
        ].map(([k, label]) => (
          <div class={'import-count ' + k + (report[k] ? '' : ' zero')} key={k} id={'import-' + k}>
            <div class="n">{fmt(report[k])}</div>
            <div class="label">{label}</div>
          </div>
        ))}
      </div>
      {report.created + report.updated > 0 && (
        <p class="import-next">
          <a
            href="/people"
            class="btn small"
            id="import-people"
            onClick={(e) => {
              e.preventDefault();
              go('/people');
            }}
          >
            See them on People
          </a>
        </p>
      )}
      {report.errors.length > 0 && (
        <>
          <h3>Refused rows</h3>
          <table class="import-errors" id="import-errors">
            <thead>
              <tr>
                <th>Line</th>
                <th>Phone</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {report.errors.map((e) => (
                <tr key={e.line}>
                  <td class="mono">{e.line}</td>
                  <td class="mono">{e.phone}</td>
                  <td>
                    <span class="badge bad">{e.code}</span> {e.reason}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {report.errors_truncated && (
            <p class="muted">The first {fmt(report.errors.length)} refused rows are listed; {fmt(report.refused)} were refused.</p>
          )}
        </>
      )}
    </div>
  );
}
