package insights

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes r as plain-text tables for a terminal: the totals, then by operator, label and channel, then
// the hourly and daily series (buckets without activity left out). Durations are in seconds.
func WriteTable(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	tenant := r.Tenant
	if tenant == "" {
		tenant = "all tenants"
	}
	fmt.Fprintf(w, "Insights for %s, %s to %s (UTC)\n\n", tenant, r.From.Format(time.DateTime), r.To.Format(time.DateTime))
	p("finished\tactive\tunanswered\tawaiting reply\tmessages in\tmessages out\t\n")
	p("%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Finished, r.Active, r.Unanswered, r.AwaitingReply, r.MessagesIn, r.MessagesOut)
	p("\t\t\t\t\t\t\n")
	p("seconds\tcount\tavg\tp50\tp90\t\n")
	for _, s := range []struct {
		name string
		s    Stats
	}{{"wait", r.Wait}, {"first response", r.FirstResponse}, {"reply", r.Reply}, {"handling", r.Handling}} {
		p("%s\t%d\t%s\t%s\t%s\t\n", s.name, s.s.Count, secs(s.s.Avg), secs(s.s.P50), secs(s.s.P90))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	groups := func(title string, n int, key func(int) string, fig func(int) Figures) error {
		if n == 0 {
			return nil
		}
		fmt.Fprintf(w, "\n%s\n", title)
		p("\tfinished\tactive\tunanswered\tin\tout\twait avg\twait p90\tfirst resp avg\tfirst resp p90\treply avg\treply p90\thandling avg\thandling p90\t\n")
		for i := range n {
			f := fig(i)
			p("%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", key(i), f.Finished, f.Active, f.Unanswered,
				f.MessagesIn, f.MessagesOut, secs(f.Wait.Avg), secs(f.Wait.P90), secs(f.FirstResponse.Avg),
				secs(f.FirstResponse.P90), secs(f.Reply.Avg), secs(f.Reply.P90), secs(f.Handling.Avg), secs(f.Handling.P90))
		}
		return tw.Flush()
	}
	if err := groups("By operator", len(r.ByOperator), func(i int) string { return r.ByOperator[i].OperatorID },
		func(i int) Figures { return r.ByOperator[i].Figures }); err != nil {
		return err
	}
	if err := groups("By label", len(r.ByLabel), func(i int) string { return r.ByLabel[i].Label },
		func(i int) Figures { return r.ByLabel[i].Figures }); err != nil {
		return err
	}
	if err := groups("By channel", len(r.ByChannel), func(i int) string { return r.ByChannel[i].ChannelID },
		func(i int) Figures { return r.ByChannel[i].Figures }); err != nil {
		return err
	}
	for _, s := range []struct {
		title  string
		layout string
		bs     []Bucket
	}{{"Hourly", "2006-01-02 15:04", r.Hourly}, {"Daily", time.DateOnly, r.Daily}} {
		var busy []Bucket
		for _, b := range s.bs {
			if b.Finished+b.MessagesIn+b.MessagesOut+b.Wait.Count+b.FirstResponse.Count+b.Reply.Count+b.Handling.Count > 0 {
				busy = append(busy, b)
			}
		}
		if err := groups(s.title, len(busy), func(i int) string { return busy[i].Start.Format(s.layout) },
			func(i int) Figures { return busy[i].Figures }); err != nil {
			return err
		}
	}
	return nil
}

// secs formats seconds for the table: "-" for none, one decimal otherwise.
func secs(x float64) string {
	if x == 0 {
		return "-"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", x), ".0")
}
