// The Insights page (issue 13): the tenant's figures for a range — finished, active and unanswered conversations,
// average response (first response) and handling time — as cards, an hourly bar chart, a by-operator table for
// admins and builders, and CSV export. One GET /v1/insights?from=&to= per range (README, "Analytics").
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
              <OperatorTable rows={data.by_operator} />
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

/** HourChart draws one bar per hour of the range (plain SVG), with the day under each midnight. */
function HourChart({ hours, series }) {
  const max = Math.max(1, ...hours.map((h) => h[series] || 0));
  const W = 960;
  const H = 180;
  const bw = W / Math.max(hours.length, 1);
  const label = SERIES.find((s) => s.id === series).label;
  if (!hours.some((h) => h[series])) {
    return (
      <div class="ins-chart-empty muted small" id="ins-chart-empty">
        No {label.toLowerCase()} in this range.
      </div>
    );
  }
  return (
    <svg class="ins-chart" id="ins-chart" viewBox={`0 0 ${W} ${H + 22}`} role="img" aria-label={label + ' by hour'}>
      <line x1="0" y1={H} x2={W} y2={H} class="ins-axis" />
      <text x="4" y="12" class="ins-tick">
        {max}
      </text>
      {hours.map((h, i) => {
        const v = h[series] || 0;
        const bh = (v / max) * (H - 16);
        const start = new Date(h.start);
        const midnight = start.getHours() === 0;
        return (
          <g key={h.start}>
            {v > 0 && (
              <rect class="ins-bar" x={i * bw + bw * 0.12} y={H - bh} width={Math.max(bw * 0.76, 0.8)} height={bh} data-v={v}>
                <title>
                  {start.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })}: {v}
                </title>
              </rect>
            )}
            {midnight && (
              <text x={i * bw + 2} y={H + 16} class="ins-tick">
                {start.toLocaleDateString([], { month: 'short', day: 'numeric' })}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

function OperatorTable({ rows }) {
  if (!rows.length) {
    return (
      <div class="ins-chart-empty muted small" id="ins-operators-empty">
        No operator activity in this range.
      </div>
    );
  }
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
