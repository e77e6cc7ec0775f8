package report

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Markdown renders r as a Markdown document for a README to include. The title is a level-2 heading and each section
// a level-3 one, so the document nests under the README's own title. Sections with nothing in them are left out;
// plots are linked as <plot>.png relative to the document, as WriteAll lays them out.
func (r *Report) Markdown() string {
	var b strings.Builder
	r.mdHeader(&b)
	for i, s := range r.Steps {
		r.mdStep(&b, i, s)
	}
	r.mdCeilings(&b)
	r.mdResources(&b)
	r.mdFigures(&b)
	r.mdAims(&b)
	r.mdNotes(&b)
	r.mdPlots(&b)
	return b.String()
}

func (r *Report) mdHeader(b *strings.Builder) {
	title := "Benchmark"
	if r.Scenario != "" {
		title += ": " + r.Scenario
	}
	fmt.Fprintf(b, "## %s\n\n", title)

	var facts []string
	if !r.StartedAt.IsZero() {
		facts = append(facts, r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if r.Seconds > 0 {
		facts = append(facts, duration(r.Seconds))
	}
	m := r.Machine
	if m.CPUs > 0 {
		facts = append(facts, fmt.Sprintf("%d CPUs", m.CPUs))
	}
	if m.GoVersion != "" {
		facts = append(facts, m.GoVersion)
	}
	if m.OS != "" || m.Arch != "" {
		facts = append(facts, strings.Trim(m.OS+"/"+m.Arch, "/"))
	}
	if m.Commit != "" {
		facts = append(facts, "commit `"+m.Commit+"`")
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · ") + "\n\n")
	}

	if len(r.Config) > 0 {
		keys := make([]string, 0, len(r.Config))
		for k := range r.Config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = "`" + k + "=" + configValue(r.Config[k]) + "`"
		}
		b.WriteString("Config: " + strings.Join(items, ", ") + "\n\n")
	}
}

func (r *Report) mdStep(b *strings.Builder, i int, s Step) {
	name := s.Name
	if name == "" {
		name = fmt.Sprintf("step %d", i+1)
	}
	fmt.Fprintf(b, "### Step %d: %s\n\n", i+1, inline(name))
	var line []string
	if s.OfferedRate > 0 {
		line = append(line, "offered "+integer(s.OfferedRate)+"/s")
	}
	if s.Seconds > 0 {
		line = append(line, "for "+duration(s.Seconds))
	}
	verdict := "not sustained ❌"
	if s.Sustained {
		verdict = "sustained ✅"
	}
	if len(line) > 0 {
		fmt.Fprintf(b, "%s: %s.\n\n", upperFirst(strings.Join(line, " ")), verdict)
	} else {
		fmt.Fprintf(b, "%s.\n\n", upperFirst(verdict))
	}
	if s.LoadCPUCores > 0 { // measured since issue 15; older reports have only the node's
		fmt.Fprintf(b, "CPU: the node %.2f cores, the load generator and the simulator %.2f.\n\n", s.NodeCPUCores, s.LoadCPUCores)
	}
	if len(s.Stages) == 0 {
		return
	}
	b.WriteString("| Stage | Throughput /s | Errors | p50 ms | p90 ms | p99 ms | max ms | Share of ceiling |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, st := range s.Stages {
		l := st.Latency
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(st.Name), integer(st.Throughput), integer(float64(st.Errors)),
			latencyCell(l, l.P50), latencyCell(l, l.P90), latencyCell(l, l.P99), latencyCell(l, l.Max),
			r.share(st))
	}
	b.WriteString("\n")
}

// share renders a stage's share of its ceiling. Share is computed from the ceiling when the producer left it out.
func (r *Report) share(st Stage) string {
	if st.Ceiling == "" {
		return "–"
	}
	share, known := st.Share, st.Share != 0
	for _, c := range r.Ceilings {
		if !known && c.Name == st.Ceiling && c.Throughput > 0 {
			share, known = st.Throughput/c.Throughput, true
		}
	}
	if !known {
		// A zero Share with no ceiling to compute it from means the ceiling was not measured, not 0%.
		return "– of " + cell(st.Ceiling)
	}
	return percent(share) + " of " + cell(st.Ceiling)
}

func (r *Report) mdCeilings(b *strings.Builder) {
	if len(r.Ceilings) == 0 {
		return
	}
	withLatency, used := false, false
	for _, c := range r.Ceilings {
		withLatency = withLatency || measured(c.Latency)
		used = used || c.UsedBy != ""
	}
	b.WriteString("### Ceilings\n\n")
	b.WriteString("| Ceiling | Description | Throughput /s |")
	sep := "|---|---|---:|"
	if withLatency {
		b.WriteString(" p50 ms | p99 ms |")
		sep += "---:|---:|"
	}
	if used {
		b.WriteString(" Used |")
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, c := range r.Ceilings {
		fmt.Fprintf(b, "| %s | %s | %s |", cell(c.Name), cell(c.Description), integer(c.Throughput))
		if withLatency {
			fmt.Fprintf(b, " %s | %s |", latencyCell(c.Latency, c.Latency.P50), latencyCell(c.Latency, c.Latency.P99))
		}
		if used {
			u := "–"
			if c.UsedBy != "" {
				u = percent(c.Share) + " by " + cell(c.UsedBy)
			}
			fmt.Fprintf(b, " %s |", u)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (r *Report) mdResources(b *strings.Builder) {
	n := r.Node
	if n == (Resources{}) {
		return
	}
	b.WriteString("### Node resources\n\n")
	b.WriteString("| CPU cores avg | CPU cores max | RSS max MiB | RSS end MiB | Heap end MiB |\n")
	b.WriteString("|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n\n", number(n.CPUCoresAvg), number(n.CPUCoresMax),
		mebibytes(n.RSSMaxBytes), mebibytes(n.RSSEndBytes), mebibytes(n.HeapEndBytes))
}

func (r *Report) mdFigures(b *strings.Builder) {
	if len(r.Figures) == 0 {
		return
	}
	b.WriteString("### Figures\n\n| Figure | Value | Note |\n|---|---:|---|\n")
	for _, f := range r.Figures {
		value := number(f.Value)
		if f.Unit != "" {
			value += " " + f.Unit
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", cell(f.Name), cell(value), cell(f.Note))
	}
	b.WriteString("\n")
}

func (r *Report) mdAims(b *strings.Builder) {
	if len(r.Aims) == 0 {
		return
	}
	b.WriteString("### Aims\n\n| Aim | Target | Measured | Met | Limited by |\n|---|---|---|:---:|---|\n")
	for _, a := range r.Aims {
		met := "❌"
		if a.Met {
			met = "✅"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", cell(a.Name), cell(a.Target), cell(a.Measured), met, cell(a.Limit))
	}
	b.WriteString("\n")
}

func (r *Report) mdNotes(b *strings.Builder) {
	if len(r.Notes) == 0 {
		return
	}
	b.WriteString("### Notes\n\n")
	for _, n := range r.Notes {
		// Continuation lines are indented so that a multi-line note stays one list item.
		b.WriteString("- " + strings.ReplaceAll(strings.TrimSpace(n), "\n", "\n  ") + "\n")
	}
	b.WriteString("\n")
}

func (r *Report) mdPlots(b *strings.Builder) {
	groups := r.plotGroups()
	if len(groups) == 0 {
		return
	}
	b.WriteString("### Plots\n\n")
	for _, g := range groups {
		fmt.Fprintf(b, "![%s](%s)\n\n", inline(plotTitle(g.name)), g.file)
	}
}

// measured reports whether l holds a measurement rather than being left zero.
func measured(l Latency) bool { return l.Count > 0 || l.Max > 0 || l.P50 > 0 }

// latencyCell renders v, one figure of l, or a dash when l was not measured.
func latencyCell(l Latency, v float64) string {
	if !measured(l) {
		return "–"
	}
	return millis(v)
}

// millis renders a latency in milliseconds: two decimals below 10 ms (two significant digits below 0.01 ms, so
// that microsecond figures do not read as 0.00), a whole number from 10 ms up.
func millis(v float64) string {
	switch a := math.Abs(v); {
	case !finite(v):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case a >= 10:
		return integer(v)
	case a == 0 || a >= 0.01:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return significant(v, 2)
	}
}

// number renders a figure with about three significant digits, without trailing zeros: 12,345 · 123 · 12.3 · 1.23.
func number(v float64) string {
	var s string
	switch a := math.Abs(v); {
	case !finite(v):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case a >= 100:
		return integer(v)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case a == 0 || a >= 0.01:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return significant(v, 2)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// significant renders v rounded to n significant digits, without an exponent.
func significant(v float64, n int) string {
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	return strconv.FormatFloat(rounded, 'f', -1, 64)
}

// integer renders v rounded to a whole number with thousands separators: 12,345.
func integer(v float64) string {
	if !finite(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	digits := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 && digits != "0" {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// percent renders a fraction as a percentage with one decimal (0.4321 → 43.2%), or two significant digits below
// 0.1% (0.00026 → 0.026%).
func percent(f float64) string {
	if p := f * 100; p > 0 && p < 0.1 {
		return significant(p, 2) + "%" // 0.026%, not 0.0%
	}
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}

func mebibytes(n int64) string { return number(float64(n) / (1 << 20)) }

// duration renders seconds for a reader: "2.5 s", "60 s", "5m 12s", "1h 0m 30s".
func duration(seconds float64) string {
	if seconds < 100 {
		return number(seconds) + " s"
	}
	d := time.Duration(math.Round(seconds)) * time.Second
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	if h > 0 {
		return fmt.Sprintf("%dh %dm %ds", h, m, s)
	}
	return fmt.Sprintf("%dm %ds", m, s)
}

// configValue renders one config value compactly: numbers without exponent, anything structured as JSON.
func configValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case fmt.Stringer, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	}
	if j, err := json.Marshal(v); err == nil {
		return string(j)
	}
	return fmt.Sprint(v)
}

// cell makes s safe inside a table cell: no line breaks, no column separators.
func cell(s string) string {
	return strings.ReplaceAll(inline(s), "|", `\|`)
}

// inline puts s on one line.
func inline(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
