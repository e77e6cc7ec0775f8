// The Insights page (issue 13): the tenant's figures for a range — finished, active and unanswered conversations,
// average response (first response) and handling time — as cards, an hourly bar chart, a by-operator chart (finished
// conversations and average handling time, values written beside the bars) with its table, and CSV export. One
// GET /v1/insights?from=&to= per range (README, "The insights screen").
import { useState, useEffect, useMemo } from 'preact/hooks';
import * as api from './api.js';
import { Icon } from './icon.jsx';

const HOUR = 3600 * 1000;
const PRESETS = [
  { id: '24h', label: 'Last 24 hours', ms: 24 * HOUR },
  { id: '7d', label: '7 days', ms: 7 * 24 * HOUR },
  { id: '30d', label: '30 days', ms: 30 * 24 * HOUR },
  { id: 'custom', label: 'Custom' },
];

const SERIES = [
  { id: 'finished', label: 'Finished' },
  { id: 'messages_in', label: 'Messages in' },
  { id: 'messages_out', label: 'Messages out' },
  { id: 'first_responses', label: 'First responses' },
];

/** mayReadOperators: per-operator figures come with the permission insights.read (the session's permissions). */
const mayReadOperators = (me) => me.permissions.includes('insights.read');

/** duration formats seconds for a card: 0.4s, 42s, 4m 12s, 1h 05m; a dash when there were no samples. */
export function duration(secs, n) {
  if (!n) return '—';
  if (secs < 9.95) return (Math.round(secs * 10) / 10).toFixed(1) + 's';
  const s = Math.round(secs);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
}

/** localInput formats a Date for an <input type="datetime-local"> (local time, minutes). */
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
}

export function InsightsPage({ me }) {
  const [preset, setPreset] = useState('24h');
  const [custom, setCustom] = useState(() => {
    const to = new Date();
    return { from: localInput(new Date(to.getTime() - 7 * 24 * HOUR)), to: localInput(to) };
  });
  const [series, setSeries] = useState('finished');
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const [reload, setReload] = useState(0);

  // The query of the chosen range: a preset ends now (no to: the live counts), a custom range has both ends.
  const params = useMemo(() => {
    const p = PRESETS.find((x) => x.id === preset);
    if (p && p.ms) return { from: new Date(Date.now() - p.ms).toISOString() };
    const from = new Date(custom.from);
    const to = new Date(custom.to);
    if (isNaN(from) || isNaN(to)) return null;
    return { from: from.toISOString(), to: to.toISOString() };
  }, [preset, custom, reload]);

  useEffect(() => {
    if (!params) {
      setError('Choose both ends of the range.');
      return;
    }
    let live = true;
    setLoading(true);
    setError('');
    api
      .get('/v1/insights' + api.qs(params))
      .then((d) => live && setData(d))
      .catch((e) => {
        if (!live) return;
        setData(null);
        setError(
          e.code === 'analytics_unavailable'
            ? 'Insights are unavailable: the analytics store cannot be reached. Try again in a moment.'
            : e.message,
        );
      })
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [params]);

  const t = data && data.totals;
  const empty = t && !t.finished && !t.active && !t.unanswered && !t.messages_in && !t.messages_out;
  const csv = (rows) => '/v1/insights.csv' + api.qs({ ...(params || {}), rows });

  return (
    <section class="settings-page insights-page" id="insights-page" aria-busy={loading ? 'true' : 'false'}>
      <header class="settings-head">
        <div>
          <div class="muted small">Reports</div>
          <h2>Insights</h2>
        </div>
        <span class="grow" />
        <div class="seg" role="group" aria-label="Range">
          {PRESETS.map((p) => (
            <button
              key={p.id}
              id={'ins-preset-' + p.id}
              class={'seg-btn' + (preset === p.id ? ' active' : '')}
              aria-pressed={preset === p.id ? 'true' : 'false'}
              onClick={() => {
                setPreset(p.id);
                setReload((n) => n + 1);
              }}
            >
              {p.label}
            </button>
          ))}
        </div>
        <button class="icon-btn" title="Refresh" id="ins-refresh" onClick={() => setReload((n) => n + 1)}>
          <Icon d="M20 11a8 8 0 10-2.3 5.7M20 4v7h-7" />
        </button>
      </header>
      {preset === 'custom' && (
        <div class="ins-custom">
          <label>
            From{' '}
            <input
              type="datetime-local"
              id="ins-from"
              value={custom.from}
              onChange={(e) => setCustom((c) => ({ ...c, from: e.currentTarget.value }))}
            />
          </label>
          <label>
            To{' '}
            <input
              type="datetime-local"
              id="ins-to"
              value={custom.to}
              onChange={(e) => setCustom((c) => ({ ...c, to: e.currentTarget.value }))}
            />
          </label>
          <span class="muted small">Your local time; up to 92 days.</span>
        </div>
      )}
      {data && (
        <p class="muted small settings-intro" id="ins-range">
          {new Date(data.from).toLocaleString()} – {new Date(data.to).toLocaleString()}
          {!params.to && ' (now)'} · active and unanswered are counted at the end of the range.
        </p>
      )}
      {error && (
        <div class="alert error" role="alert" id="ins-error">
          {error}
        </div>
      )}
      {!data && !error && <div class="muted">Loading…</div>}
      {data && (
        <>
          <div class="ins-cards">
            <Card id="finished" label="Finished" value={t.finished} raw={t.finished} hint="conversations closed" />
            <Card id="active" label="Active" value={t.active} raw={t.active} hint="assigned now" />
            <Card id="unanswered" label="Unanswered" value={t.unanswered} raw={t.unanswered} hint="waiting in the queue" />
            <Card
              id="response"
              label="Avg response time"
              value={duration(t.avg_first_response_seconds, t.first_responses)}
              raw={t.avg_first_response_seconds}
              hint={t.first_responses + ' first responses'}
            />
            <Card
              id="handling"
              label="Avg handling time"
              value={duration(t.avg_handling_seconds, t.handlings)}
              raw={t.avg_handling_seconds}
              hint={t.handlings + ' handlings'}
            />
          </div>
          {empty && (
            <div class="settings-empty muted" id="ins-empty">
              No conversations in this range yet.
            </div>
          )}
          <div class="ins-panel">
            <div class="ins-panel-head">
              <h3>By hour</h3>
              <span class="grow" />
              <select id="ins-series" value={series} onChange={(e) => setSeries(e.currentTarget.value)} aria-label="Chart">
                {SERIES.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.label}
                  </option>
                ))}
              </select>
              <a class="btn small" id="ins-csv-hour" href={csv('hour')} download>
                <Icon d="M12 4v11M7 10l5 5 5-5M5 20h14" size={14} /> CSV
              </a>
            </div>
            <HourChart hours={data.by_hour} series={series} />
          </div>
          {mayReadOperators(me) && data.by_operator && (
            <div class="ins-panel">
              <div class="ins-panel-head">
                <h3>By operator</h3>
                <span class="grow" />
                <a class="btn small" id="ins-csv-operator" href={csv('operator')} download>
                  <Icon d="M12 4v11M7 10l5 5 5-5M5 20h14" size={14} /> CSV
                </a>
              </div>
              {data.by_operator.length === 0 ? (
                <div class="ins-chart-empty muted small" id="ins-operators-empty">
                  No operator activity in this range.
                </div>
              ) : (
                <div class="ins-operators-grid">
                  <OperatorChart rows={data.by_operator} />
                  <OperatorTable rows={data.by_operator} />
                </div>
              )}
            </div>
          )}
        </>
      )}
    </section>
  );
}

function Card({ id, label, value, raw, hint }) {
  return (
    <div class="ins-card" id={'ins-' + id} data-value={String(raw)}>
      <div class="ins-card-label">{label}</div>
      <div class="ins-card-value">{value}</div>
      <div class="muted small">{hint}</div>
    </div>
  );
}

/** niceMax rounds a maximum up to an even number up to 10, else to 1, 2 or 5 times a power of ten, so the grid's
 * labels (0, half, top) are whole numbers. */
function niceMax(v) {
  if (v <= 10) return Math.max(2, Math.ceil(v / 2) * 2);
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** HourChart draws one bar per hour of the range (plain SVG) over a grid with round values, the hour under every
 * few bars and the day under each midnight, and says the total and the peak in words beneath. */
function HourChart({ hours, series }) {
  const label = SERIES.find((s) => s.id === series).label;
  if (!hours.some((h) => h[series])) {
    return (
      <div class="ins-chart-empty muted small" id="ins-chart-empty">
        No {label.toLowerCase()} in this range.
      </div>
    );
  }
  const values = hours.map((h) => h[series] || 0);
  const top = niceMax(Math.max(...values));
  const total = values.reduce((a, b) => a + b, 0);
  const peak = values.indexOf(Math.max(...values));
  const when = (d) => d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const L = 40; // the grid labels' column
  const W = 960;
  const H = 180;
  const plot = H - 8;
  const bw = (W - L) / Math.max(hours.length, 1);
  // Hour labels every `every` bars, about 56 units apart, for ranges of up to four days; day labels at midnights
  // every `days` days, about 110 units apart (and under the first bar when the first midnight is far enough).
  const every = hours.length <= 96 ? [1, 2, 3, 4, 6, 12].find((n) => n * bw >= 56) || 12 : 0;
  const days = Math.max(1, Math.ceil(110 / (24 * bw)));
  const firstMidnight = hours.findIndex((h) => new Date(h.start).getHours() === 0);
  const dayLabel = (i, start) =>
    L + i * bw <= W - 80 && // a label needs about 80 units to the right edge
    start.getHours() === 0
      ? Math.round((i - firstMidnight) / 24) % days === 0
      : i === 0 && (firstMidnight < 0 || firstMidnight * bw >= 110);
  const summary = `${label} by hour: ${total} in total, at most ${values[peak]} (${when(new Date(hours[peak].start))}).`;
  return (
    <figure class="ins-chart-fig">
      <svg class="ins-chart" id="ins-chart" viewBox={`0 0 ${W} ${H + 34}`} role="img" aria-label={summary}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={L} y1={H - f * plot} x2={W} y2={H - f * plot} class={f === 0 ? 'ins-axis' : 'ins-grid'} />
            <text x={L - 6} y={H - f * plot + 4} class="ins-tick" text-anchor="end">
              {Math.round(f * top * 10) / 10}
            </text>
          </g>
        ))}
        {hours.map((h, i) => {
          const v = values[i];
          const bh = (v / top) * plot;
          const start = new Date(h.start);
          const x = L + i * bw;
          return (
            <g key={h.start}>
              {v > 0 && (
                <rect class="ins-bar" x={x + bw * 0.12} y={H - bh} width={Math.max(bw * 0.76, 0.8)} height={bh} data-v={v}>
                  <title>
                    {when(start)}: {v}
                  </title>
                </rect>
              )}
              {every > 0 && i % every === 0 && (
                <text x={x + bw / 2} y={H + 14} class="ins-tick" text-anchor="middle">
                  {String(start.getHours()).padStart(2, '0')}h
                </text>
              )}
              {dayLabel(i, start) && (
                <text x={x + 2} y={H + 30} class="ins-tick ins-day">
                  {start.toLocaleDateString([], { weekday: 'short', month: 'short', day: 'numeric' })}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption class="muted small" id="ins-chart-caption">
        {summary} Hours in your local time.
      </figcaption>
    </figure>
  );
}

/** OperatorChart draws, per operator, a bar of finished conversations and a bar of average handling time, each
 * with its value written beside it (the chart reads without colour or hover); longest bars are the largest values. */
function OperatorChart({ rows }) {
  const byFinished = [...rows].sort((a, b) => b.finished - a.finished || a.operator_id.localeCompare(b.operator_id));
  const maxFinished = Math.max(1, ...rows.map((o) => o.finished));
  const maxHandling = Math.max(1, ...rows.map((o) => (o.handlings ? o.avg_handling_seconds : 0)));
  const pct = (v, m) => Math.max(v > 0 ? 1.5 : 0, (v / m) * 100) + '%';
  return (
    <div class="ins-opchart" id="ins-opchart">
      <div class="ins-opchart-legend muted small" aria-hidden="true">
        <span class="ins-key ins-key-finished" /> Finished conversations
        <span class="ins-key ins-key-handling" /> Avg handling time
      </div>
      <ul class="ins-opchart-rows" aria-label="Finished conversations and average handling time by operator">
        {byFinished.map((o) => {
          const handling = duration(o.avg_handling_seconds, o.handlings);
          return (
            <li
              key={o.operator_id}
              class="ins-oprow"
              data-operator={o.operator_id}
              aria-label={`${o.operator_id}: ${o.finished} finished, average handling time ${handling === '—' ? 'none' : handling}`}
            >
              <span class="ins-opname" title={o.operator_id}>
                {o.operator_id}
              </span>
              <span class="ins-opbars" aria-hidden="true">
                <span class="ins-opbar-line">
                  <span class="ins-opbar ins-opbar-finished" style={{ width: pct(o.finished, maxFinished) }} data-v={o.finished} />
                  <span class="ins-opval" data-k="finished">
                    {o.finished}
                  </span>
                </span>
                <span class="ins-opbar-line">
                  <span
                    class="ins-opbar ins-opbar-handling"
                    style={{ width: pct(o.handlings ? o.avg_handling_seconds : 0, maxHandling) }}
                    data-v={o.handlings ? o.avg_handling_seconds : 0}
                  />
                  <span class="ins-opval" data-k="handling">
                    {handling}
                  </span>
                </span>
              </span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function OperatorTable({ rows }) {
  return (
    <table class="ins-table" id="ins-operators">
      <thead>
        <tr>
          <th>Operator</th>
          <th>Finished</th>
          <th>Active</th>
          <th>Messages out</th>
          <th>Avg response</th>
          <th>Avg handling</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((o) => (
          <tr key={o.operator_id} data-operator={o.operator_id}>
            <td>{o.operator_id}</td>
            <td class="num" data-k="finished">
              {o.finished}
            </td>
            <td class="num">{o.active}</td>
            <td class="num">{o.messages_out}</td>
            <td class="num">{duration(o.avg_first_response_seconds, o.first_responses)}</td>
            <td class="num">{duration(o.avg_handling_seconds, o.handlings)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
