package insights_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// Every panel query of the Grafana insights dashboard runs on the project's ClickHouse (18.16) with the dashboard's
// macros filled in as the ClickHouse data source fills them.
func TestGrafanaDashboardQueriesRun(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/insights.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawSQL string `json:"rawSql"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	conn, err := schema.Open(chtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Migrate(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("${tenant}", "acme", "$__fromTime", "toDateTime(0)", "$__toTime", "now()")
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			rows, err := conn.Query(context.Background(), fill.Replace(tg.RawSQL))
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
			}
			rows.Close()
			n++
		}
	}
	if n < 6 {
		t.Errorf("%d panel queries ran, want at least 6", n)
	}
}
