// Settings → Labels, Contact fields and Routing rules (issue 13): the tenant's labels catalogue (GET/POST /v1/labels,
// PATCH/DELETE /v1/labels/{name}), its contact fields (GET/PUT /v1/contacts/fields) and its routing rules
// (GET/PUT /v1/routing/rules), for admins and builders. Also the catalogue's colours for every label chip of the
// inbox (LabelChip, useLabels).
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

// The catalogue is read once per console and again after a change on the Labels page; chips of a label outside it
// (one removed from the catalogue) are grey.
let catalogue = null; // Promise of the labels list
const listeners = new Set();

function loadLabels(force) {
  if (!catalogue || force) {
    catalogue = api.get('/v1/labels').then(
      (r) => (r && r.labels) || [],
      () => [],
    );
    catalogue.then((ls) => listeners.forEach((fn) => fn(ls)));
  }
  return catalogue;
}

/** useLabels is the tenant's labels catalogue (a list of {name, color, description}; [] until loaded or without one). */
export function useLabels() {
  const [labels, setLabels] = useState([]);
  useEffect(() => {
    let live = true;
    loadLabels().then((ls) => live && setLabels(ls));
    listeners.add(setLabels);
    return () => {
      live = false;
      listeners.delete(setLabels);
    };
  }, []);
  return labels;
}

/** LabelChip is a label as the inbox shows it: in its catalogue colour, or grey (plain text) outside the catalogue. */
export function LabelChip({ name, labels, children }) {
  const l = (labels || []).find((x) => x.name === name);
  const style = l ? { '--lc': l.color } : undefined;
  return (
    <span class={'chip label' + (l ? ' known' : ' plain')} style={style} title={l ? l.description || name : name + ' (not in the catalogue)'} data-label={name}>
      {l && <span class="label-dot" />}
      {name}
      {children}
    </span>
  );
}

function Head({ title }) {
  return (
    <header class="settings-head">
      <div>
        <div class="muted small">Settings</div>
        <h2>{title}</h2>
      </div>
    </header>
  );
}

function Alerts({ error, notice, id }) {
  return (
    <>
      {error && (
        <div class="alert error" role="alert" id={id + '-error'}>
          {error}
        </div>
      )}
      {notice && (
        <div class="alert info" role="status" id={id + '-notice'}>
          {notice}
        </div>
      )}
    </>
  );
}

const SWATCHES = ['#b91c1c', '#c2410c', '#a16207', '#15803d', '#0f766e', '#1d4ed8', '#6d28d9', '#be185d', '#64748b'];

/** LabelsPage is Settings → Labels. */
export function LabelsPage() {
  const labels = useLabels();
  const [form, setForm] = useState({ name: '', color: SWATCHES[5], description: '' });
  const [edit, setEdit] = useState(null); // {name, color, description} being changed
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const run = async (fn, done) => {
    setError('');
    setNotice('');
    try {
      await fn();
      await loadLabels(true);
      setNotice(done);
    } catch (e) {
      setError(e.message);
    }
  };
  const add = (e) => {
    e.preventDefault();
    const name = form.name.trim();
    run(async () => {
      await api.post('/v1/labels', { name, color: form.color, description: form.description.trim() });
      setForm({ name: '', color: form.color, description: '' });
    }, 'Label ' + name + ' added.');
  };
  return (
    <section class="settings-page" id="labels-page">
      <Head title="Labels" />
      <p class="settings-intro muted">
        The labels operators put on conversations, with their colours. Once there is a catalogue, only its labels can be added to a conversation.
        Removing a label leaves it on the conversations that carry it, as plain text.
      </p>
      <form class="canned-form settings-form" id="label-form" onSubmit={add}>
        <div class="canned-form-row">
          <label>
            Name
            <input id="label-name" value={form.name} placeholder="billing" onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
            <span class="muted small">lower case letters, digits, - and _</span>
          </label>
          <label>
            Colour
            <ColourPicker id="label-color" value={form.color} onChange={(c) => setForm({ ...form, color: c })} />
          </label>
          <label class="grow">
            Description
            <input id="label-description" value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />
          </label>
        </div>
        <Alerts error={error} notice={notice} id="labels" />
        <div class="canned-form-foot">
          <span class="muted small grow">{labels.length ? labels.length + ' labels' : 'No catalogue yet: any label can be used.'}</span>
          <button class="btn primary" id="label-add">
            Add label
          </button>
        </div>
      </form>
      <ul class="catalogue-list" id="labels-list">
        {labels.map((l) =>
          edit && edit.name === l.name ? (
            <li class="catalogue-item editing" key={l.name}>
              <LabelChip name={l.name} labels={[{ ...l, color: edit.color }]} />
              <ColourPicker id={'label-color-' + l.name} value={edit.color} onChange={(c) => setEdit({ ...edit, color: c })} />
              <input class="grow" value={edit.description} onInput={(e) => setEdit({ ...edit, description: e.currentTarget.value })} aria-label="Description" />
              <button
                class="btn small primary"
                onClick={() =>
                  run(async () => {
                    await api.request('PATCH', '/v1/labels/' + l.name, { color: edit.color, description: edit.description });
                    setEdit(null);
                  }, 'Label ' + l.name + ' saved.')
                }
              >
                Save
              </button>
              <button class="btn small" onClick={() => setEdit(null)}>
                Cancel
              </button>
            </li>
          ) : (
            <li class="catalogue-item" key={l.name} data-label={l.name}>
              <LabelChip name={l.name} labels={labels} />
              <span class="muted grow">{l.description}</span>
              <button class="link-btn" onClick={() => setEdit({ name: l.name, color: l.color, description: l.description || '' })}>
                Edit
              </button>
              <button
                class="link-btn danger"
                onClick={() => confirm('Remove the label ' + l.name + '? Conversations keep it as plain text.') && run(() => api.del('/v1/labels/' + l.name), 'Label ' + l.name + ' removed.')}
              >
                Remove
              </button>
            </li>
          ),
        )}
      </ul>
    </section>
  );
}

function ColourPicker({ id, value, onChange }) {
  return (
    <span class="swatches" id={id}>
      {SWATCHES.map((c) => (
        <button
          type="button"
          key={c}
          class={'swatch' + (c === value ? ' on' : '')}
          style={{ background: c }}
          title={c}
          aria-label={'Colour ' + c}
          aria-pressed={c === value}
          onClick={() => onChange(c)}
        />
      ))}
    </span>
  );
}

const TYPES = ['text', 'number', 'date', 'boolean', 'choice'];

/** FieldsPage is Settings → Contact fields. */
export function FieldsPage() {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [version, setVersion] = useState(null);
  const take = (fields) =>
    setRows(fields.map((f) => ({ key: f.key, label: f.label === f.key ? '' : f.label || '', type: f.type, required: !!f.required, choices: (f.choices || []).join(', ') })));
  useEffect(() => {
    api.get('/v1/contacts/fields').then((r) => take(r.fields || []), (e) => setError(e.message));
  }, []);
  if (!rows) {
    return (
      <section class="settings-page" id="fields-page">
        <Head title="Contact fields" />
        {error ? <div class="alert error">{error}</div> : <div class="muted">Loading…</div>}
      </section>
    );
  }
  const set = (i, k, v) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  const save = async (e) => {
    e.preventDefault();
    setError('');
    setNotice('');
    const fields = rows.map((r) => {
      const f = { key: r.key.trim(), type: r.type };
      if (r.label.trim()) f.label = r.label.trim();
      if (r.required) f.required = true;
      if (r.type === 'choice') f.choices = r.choices.split(',').map((s) => s.trim()).filter(Boolean);
      return f;
    });
    try {
      const r = await api.put('/v1/contacts/fields', { fields });
      take(r.fields || []);
      setVersion(r.version);
      setNotice('Saved. Contacts are checked against these fields from now on.');
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <section class="settings-page" id="fields-page">
      <Head title="Contact fields" />
      <p class="settings-intro muted">
        The custom fields of your contacts, in the order the contact panel shows them. Removing a field or changing its type never deletes what
        contacts hold: values the new definition does not accept are hidden, and come back if you restore it.
      </p>
      <form class="canned-form settings-form" id="fields-form" onSubmit={save}>
        <table class="fields-table">
          <thead>
            <tr>
              <th>Key</th>
              <th>Label</th>
              <th>Type</th>
              <th>Choices</th>
              <th>Required</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} class="field-row">
                <td>
                  <input class="field-key" value={r.key} placeholder="tier" onInput={(e) => set(i, 'key', e.currentTarget.value)} aria-label="Key" />
                </td>
                <td>
                  <input class="field-label" value={r.label} placeholder={r.key} onInput={(e) => set(i, 'label', e.currentTarget.value)} aria-label="Label" />
                </td>
                <td>
                  <select class="field-type" value={r.type} onChange={(e) => set(i, 'type', e.currentTarget.value)} aria-label="Type">
                    {TYPES.map((t) => (
                      <option key={t}>{t}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <input
                    class="field-choices"
                    value={r.choices}
                    disabled={r.type !== 'choice'}
                    placeholder={r.type === 'choice' ? 'gold, silver' : ''}
                    onInput={(e) => set(i, 'choices', e.currentTarget.value)}
                    aria-label="Choices"
                  />
                </td>
                <td>
                  <input type="checkbox" class="field-required" checked={r.required} onChange={(e) => set(i, 'required', e.currentTarget.checked)} aria-label="Required" />
                </td>
                <td>
                  <button type="button" class="link-btn danger" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" class="btn small" id="field-add" onClick={() => setRows([...rows, { key: '', label: '', type: 'text', required: false, choices: '' }])}>
          Add a field
        </button>
        <Alerts error={error} notice={notice} id="fields" />
        <div class="canned-form-foot">
          <span class="muted small grow">{version ? 'Version ' + version : ''}</span>
          <button class="btn primary" id="fields-save">
            Save fields
          </button>
        </div>
      </form>
    </section>
  );
}

const KINDS = [
  ['channel', 'Channel is'],
  ['label', 'Has the label'],
  ['field', 'Contact field'],
];

/** RulesPage is Settings → Routing rules. */
export function RulesPage() {
  const [rules, setRules] = useState(null);
  const [channels, setChannels] = useState([]);
  const [fields, setFields] = useState([]);
  const labels = useLabels();
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const take = (rs) =>
    setRules(
      rs.map((r) => ({
        name: r.name || '',
        when: (r.when || []).map((c) => (c.channel ? { kind: 'channel', value: c.channel } : c.label ? { kind: 'label', value: c.label } : { kind: 'field', field: c.field, value: (c.in || []).join(', ') })),
        skills: (r.skills || []).join(', '),
        priority: r.priority === undefined || r.priority === null ? '' : String(r.priority),
      })),
    );
  useEffect(() => {
    api.get('/v1/routing/rules').then((r) => take(r.rules || []), (e) => setError(e.message));
    api.get('/v1/channels').then((r) => setChannels((r && r.channels) || []), () => {});
    api.get('/v1/contacts/fields').then((r) => setFields((r && r.fields) || []), () => {});
  }, []);
  if (!rules) {
    return (
      <section class="settings-page" id="rules-page">
        <Head title="Routing rules" />
        {error ? <div class="alert error">{error}</div> : <div class="muted">Loading…</div>}
      </section>
    );
  }
  const setRule = (i, patch) => setRules(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const setCond = (i, k, patch) => setRule(i, { when: rules[i].when.map((c, j) => (j === k ? { ...c, ...patch } : c)) });
  const move = (i, d) => {
    const next = rules.slice();
    [next[i], next[i + d]] = [next[i + d], next[i]];
    setRules(next);
  };
  const save = async (e) => {
    e.preventDefault();
    setError('');
    setNotice('');
    const body = rules.map((r) => {
      const out = { when: r.when.map((c) => (c.kind === 'field' ? { field: c.field, in: c.value.split(',').map((s) => s.trim()).filter(Boolean) } : { [c.kind]: c.value })) };
      if (r.name.trim()) out.name = r.name.trim();
      const skills = r.skills.split(',').map((s) => s.trim()).filter(Boolean);
      if (skills.length) out.skills = skills;
      if (r.priority.trim() !== '') out.priority = Number(r.priority);
      return out;
    });
    try {
      const r = await api.put('/v1/routing/rules', { rules: body });
      take(r.rules || []);
      setNotice('Saved. Conversations waiting now are routed by these rules at once.');
    } catch (err) {
      setError(err.message);
    }
  };
  const firstValue = (kind) => (kind === 'channel' ? (channels[0] || {}).id || '' : kind === 'label' ? (labels[0] || {}).name || '' : '');
  return (
    <section class="settings-page" id="rules-page">
      <Head title="Routing rules" />
      <p class="settings-intro muted">
        When a conversation enters the queue — and while it waits, when its labels or these rules change — every rule whose conditions all hold
        applies: the skills of all of them are needed (only operators with every one are offered it), and the highest priority wins (higher is
        offered first; 0 by default). Anyone may still take a conversation by hand.
      </p>
      <form class="canned-form settings-form" id="rules-form" onSubmit={save}>
        {rules.length === 0 && <div class="settings-empty muted">No rules: every operator may be offered every conversation, in the order they came.</div>}
        <ol class="rules-list">
          {rules.map((r, i) => (
            <li class="rule-card" key={i} data-rule={i}>
              <div class="rule-head">
                <span class="rule-n">{i + 1}</span>
                <input class="rule-name grow" value={r.name} placeholder="Name (optional)" onInput={(e) => setRule(i, { name: e.currentTarget.value })} aria-label="Rule name" />
                <button type="button" class="link-btn" disabled={i === 0} onClick={() => move(i, -1)} aria-label="Move up">
                  ↑
                </button>
                <button type="button" class="link-btn" disabled={i === rules.length - 1} onClick={() => move(i, 1)} aria-label="Move down">
                  ↓
                </button>
                <button type="button" class="link-btn danger" onClick={() => setRules(rules.filter((_, j) => j !== i))}>
                  Remove
                </button>
              </div>
              <div class="rule-body">
                <div class="rule-part">
                  <div class="rule-label">When</div>
                  {r.when.length === 0 && <div class="muted small">always</div>}
                  {r.when.map((c, k) => (
                    <div class="rule-cond" key={k}>
                      <select class="cond-kind" value={c.kind} onChange={(e) => setCond(i, k, { kind: e.currentTarget.value, value: firstValue(e.currentTarget.value), field: (fields[0] || {}).key || '' })} aria-label="Condition">
                        {KINDS.map(([v, t]) => (
                          <option key={v} value={v}>
                            {t}
                          </option>
                        ))}
                      </select>
                      {c.kind === 'channel' && (
                        <select class="cond-value" value={c.value} onChange={(e) => setCond(i, k, { value: e.currentTarget.value })} aria-label="Channel">
                          {channels.map((ch) => (
                            <option key={ch.id} value={ch.id}>
                              {ch.id}
                            </option>
                          ))}
                        </select>
                      )}
                      {c.kind === 'label' &&
                        (labels.length ? (
                          <select class="cond-value" value={c.value} onChange={(e) => setCond(i, k, { value: e.currentTarget.value })} aria-label="Label">
                            {labels.map((l) => (
                              <option key={l.name} value={l.name}>
                                {l.name}
                              </option>
                            ))}
                          </select>
                        ) : (
                          <input class="cond-value" value={c.value} onInput={(e) => setCond(i, k, { value: e.currentTarget.value })} aria-label="Label" />
                        ))}
                      {c.kind === 'field' && (
                        <>
                          <select class="cond-field" value={c.field} onChange={(e) => setCond(i, k, { field: e.currentTarget.value })} aria-label="Field">
                            {fields.map((f) => (
                              <option key={f.key} value={f.key}>
                                {f.label || f.key}
                              </option>
                            ))}
                          </select>
                          <span class="muted small">is one of</span>
                          <input class="cond-value" value={c.value} placeholder="gold, platinum" onInput={(e) => setCond(i, k, { value: e.currentTarget.value })} aria-label="Values" />
                        </>
                      )}
                      <button type="button" class="chip-x" aria-label="Remove condition" onClick={() => setRule(i, { when: r.when.filter((_, j) => j !== k) })}>
                        ×
                      </button>
                    </div>
                  ))}
                  <button type="button" class="link-btn cond-add" onClick={() => setRule(i, { when: [...r.when, { kind: 'channel', value: firstValue('channel'), field: '' }] })}>
                    + condition
                  </button>
                </div>
                <div class="rule-part">
                  <div class="rule-label">Then</div>
                  <label>
                    Needs the skills
                    <input class="rule-skills" value={r.skills} placeholder="billing, es" onInput={(e) => setRule(i, { skills: e.currentTarget.value })} />
                  </label>
                  <label>
                    Priority
                    <input class="rule-priority" type="number" min="-1000" max="1000" value={r.priority} placeholder="0" onInput={(e) => setRule(i, { priority: e.currentTarget.value })} />
                  </label>
                </div>
              </div>
            </li>
          ))}
        </ol>
        <button type="button" class="btn small" id="rule-add" onClick={() => setRules([...rules, { name: '', when: [], skills: '', priority: '' }])}>
          Add a rule
        </button>
        <Alerts error={error} notice={notice} id="rules" />
        <div class="canned-form-foot">
          <span class="muted small grow">{rules.length} rules</span>
          <button class="btn primary" id="rules-save">
            Save rules
          </button>
        </div>
      </form>
    </section>
  );
}
