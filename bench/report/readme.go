package report

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrNoBlock is returned by Splice for a block name the document does not mark.
var ErrNoBlock = errors.New("no such block in the document")

// Splice replaces, in doc, the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` with blocks[NAME], for
// every name in blocks. The markers stay, so the document can be spliced again after the next run.
func Splice(doc string, blocks map[string]string) (string, error) {
	for name, text := range blocks {
		re := regexp.MustCompile(`(?s)<!-- bench:` + regexp.QuoteMeta(name) + ` -->\n.*?\n<!-- /bench:` + regexp.QuoteMeta(name) + ` -->`)
		if !re.MatchString(doc) {
			return doc, fmt.Errorf("%w: %q", ErrNoBlock, name)
		}
		repl := "<!-- bench:" + name + " -->\n" + strings.TrimRight(text, "\n") + "\n<!-- /bench:" + name + " -->"
		doc = re.ReplaceAllLiteralString(doc, repl)
	}
	return doc, nil
}

// ReadmeBlocks are the README's benchmark blocks from the latest reports: "standard" (the steps of the standard
// run), "ingest" (its ingest-only step), "aims" (every aim of the reports given) and "memrec" (the figures of the
// memory and recovery runs). A nil report leaves its blocks out.
func ReadmeBlocks(standard, memory, recovery *Report) map[string]string {
	blocks := map[string]string{}
	var aims []Aim
	if standard != nil {
		blocks["standard"] = stepsTable(standard)
		if b := ingestLine(standard); b != "" {
			blocks["ingest"] = b
		}
		aims = append(aims, standard.Aims...)
	}
	var figs []Figure
	for _, r := range []*Report{memory, recovery} {
		if r != nil {
			aims = append(aims, r.Aims...)
			figs = append(figs, r.Figures...)
		}
	}
	if len(aims) > 0 {
		var b strings.Builder
		b.WriteString("| aim | measured | met |\n|---|---|:---:|\n")
		for _, a := range aims {
			fmt.Fprintf(&b, "| %s (%s) | %s | %s |\n", a.Name, a.Target, a.Measured, mark(a.Met))
		}
		blocks["aims"] = b.String()
	}
	if len(figs) > 0 {
		var b strings.Builder
		b.WriteString("| figure | value |\n|---|---|\n")
		for _, f := range figs {
			fmt.Fprintf(&b, "| %s | %s %s |\n", f.Name, number(f.Value), f.Unit)
		}
		blocks["memrec"] = b.String()
	}
	return blocks
}

func mark(ok bool) string {
	if ok {
		return "✅"
	}
	return "❌"
}

func stepsTable(r *Report) string {
	var b strings.Builder
	b.WriteString("| step | sustained | webhooks acked /s | ack p50 / p99 ms | webhook → assigned p50 / p99 ms | " +
		"operator API p50 / p99 ms | reply → simulator p50 / p99 ms | records applied /s | node CPU (cores) | " +
		"load generator + simulator CPU (cores) |\n" +
		"|---|:---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, st := range r.Steps {
		s := stagesByName(st)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", st.Name, mark(st.Sustained),
			integer(s["webhook_ack"].Throughput), p50p99(s["webhook_ack"]), p50p99(s["webhook_to_assigned"]),
			p50p99(s["operator_api"]), p50p99(s["reply_to_simulator"]), integer(s["router_apply"].Throughput), st.NodeCPUCores,
			st.LoadCPUCores)
	}
	var cs []string
	for _, c := range r.Ceilings {
		u := ""
		if c.UsedBy != "" {
			u = " (" + percent(c.Share) + " used)"
		}
		cs = append(cs, fmt.Sprintf("%s %s/s%s", c.Name, integer(c.Throughput), u))
	}
	fmt.Fprintf(&b, "\nCeilings in the same run: %s. Run %s, commit `%s`.", strings.Join(cs, ", "),
		r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), r.Machine.Commit)
	return b.String()
}

func ingestLine(r *Report) string {
	for _, st := range r.Steps {
		if !strings.HasPrefix(st.Name, "ingest only") || st.NodeCPUCores <= 0 {
			continue
		}
		a := stagesByName(st)["webhook_ack"]
		return fmt.Sprintf("Ingest alone (`--roles ingest`, the last step) acknowledges %s webhooks/s with the node at "+
			"%.2f cores (%s per core), %.0f %% of the `http_json` ceiling: there the load generator, which builds and signs "+
			"every webhook on the same %d cores, is as much the limit as the node.",
			integer(a.Throughput), st.NodeCPUCores, integer(a.Throughput/st.NodeCPUCores), 100*a.Share, r.Machine.CPUs)
	}
	return ""
}

func stagesByName(st Step) map[string]Stage {
	m := map[string]Stage{}
	for _, s := range st.Stages {
		m[s.Name] = s
	}
	return m
}

func p50p99(s Stage) string {
	if s.Latency.Count == 0 {
		return "–"
	}
	return millis(s.Latency.P50) + " / " + millis(s.Latency.P99)
}
