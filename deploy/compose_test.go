package deploy_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
)

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string            `yaml:"image"`
	Build           *composeBuild     `yaml:"build"`
	Hostname        string            `yaml:"hostname"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	Ports           []string          `yaml:"ports"`
	DependsOn       any               `yaml:"depends_on"`
	Healthcheck     map[string]any    `yaml:"healthcheck"`
	Ulimits         map[string]any    `yaml:"ulimits"`
	Restart         string            `yaml:"restart"`
	StopSignal      string            `yaml:"stop_signal"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	Pid             string            `yaml:"pid"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (s composeService) dependsOn() []string {
	switch d := s.DependsOn.(type) {
	case []any:
		var out []string
		for _, x := range d {
			out = append(out, fmt.Sprint(x))
		}
		return out
	case map[string]any:
		var out []string
		for k := range d {
			out = append(out, k)
		}
		return out
	}
	return nil
}

func TestCompose(t *testing.T) {
	const rel = "docker/compose.yaml"
	var c composeFile
	decodeStrict(t, rel, &c)
	dir := filepath.Join(deployDir, "docker")
	for _, want := range []string{"kafka", "clickhouse", "prometheus", "grafana", "switchboard"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("%s: no %s service", rel, want)
		}
	}
	if !strings.HasPrefix(c.Services["kafka"].Image, "apache/kafka:") ||
		!strings.Contains(c.Services["kafka"].Environment["KAFKA_PROCESS_ROLES"], "controller") {
		t.Errorf("%s: kafka must be the apache/kafka image in KRaft mode (KAFKA_PROCESS_ROLES with controller)", rel)
	}

	for name, s := range c.Services {
		where := rel + " " + name
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", where)
		}
		if s.Build != nil {
			ctx := filepath.Join(dir, s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil {
				t.Errorf("%s: build context %s is not the repository root: %v", where, s.Build.Context, err)
			}
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: dockerfile: %v", where, err)
			}
		}
		for _, d := range s.dependsOn() {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("%s: depends on unknown service %q", where, d)
			}
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if strings.HasPrefix(src, ".") {
					src = filepath.Join(dir, src)
				}
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s: volume %q: %v", where, v, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %q is not declared under volumes", where, src)
			}
		}
	}

	sb := c.Services["switchboard"]
	inv, err := parseArgs(rel+" switchboard command", sb.Command)
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, inv)
	env, err := envFlags(rel+" switchboard environment", sb.Environment)
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, env)
	eff := effective(imageEnv(t), env, inv)
	checkListen(t, rel+" switchboard", eff["http-addr"])
	if !slices.ContainsFunc(sb.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+httpPort) }) {
		t.Errorf("%s: switchboard publishes %v, not container port %s", rel, sb.Ports, httpPort)
	}
	if !slices.ContainsFunc(sb.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+eff["data-dir"]) }) {
		t.Errorf("%s: switchboard's data dir %q is not a volume: %v", rel, eff["data-dir"], sb.Volumes)
	}
	if d, err := time.ParseDuration(sb.StopGracePeriod); err != nil || d < 30*time.Second {
		t.Errorf("%s: switchboard stop_grace_period %q: want at least 30s for the drain", rel, sb.StopGracePeriod)
	}

	// Addresses name the services that serve them.
	if eff["kafka-brokers"] != "kafka:9092" {
		t.Errorf("%s: --kafka-brokers %q, want kafka:9092", rel, eff["kafka-brokers"])
	}
	if adv := c.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"]; !strings.Contains(adv, "//kafka:9092") {
		t.Errorf("%s: kafka advertises %q, not kafka:9092 that switchboard bootstraps from", rel, adv)
	}
	if eff["clickhouse-addr"] != "clickhouse:9000" {
		t.Errorf("%s: --clickhouse-addr %q, want clickhouse:9000 (native protocol)", rel, eff["clickhouse-addr"])
	}
	// The simulator and the node point at each other, and the simulator signs with the demo channel's secret.
	if sim, ok := c.Services["whatsapp-sim"]; ok {
		simInv, err := parseArgs(rel+" whatsapp-sim command", sim.Command)
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, simInv)
		simAddr, _ := simInv.get("addr")
		_, simPort := hostPort(t, rel+" whatsapp-sim --addr", simAddr)
		if u, err := url.Parse(eff["whatsapp-api-url"]); err != nil || u.Hostname() != "whatsapp-sim" || u.Port() != simPort {
			t.Errorf("%s: --whatsapp-api-url %q, want http://whatsapp-sim:%s", rel, eff["whatsapp-api-url"], simPort)
		}
		hook, _ := simInv.get("webhook-url")
		if u, err := url.Parse(hook); err != nil || u.Hostname() != "switchboard" || u.Port() != httpPort ||
			u.Path != "/webhooks/whatsapp" {
			t.Errorf("%s: whatsapp-sim --webhook-url %q, want http://switchboard:%s/webhooks/whatsapp", rel, hook, httpPort)
		}
		secret, _ := simInv.get("app-secret")
		cfg := mountedConfig(t, sb, dir, eff["config"])
		if !slices.ContainsFunc(cfg.Tenants, func(tn tenant.Tenant) bool {
			return slices.ContainsFunc(tn.Channels, func(ch tenant.Channel) bool { return ch.AppSecret == secret })
		}) {
			t.Errorf("%s: whatsapp-sim --app-secret is no channel's app_secret in the mounted config", rel)
		}
	}

	// Prometheus gets the scrape config with the rules next to it; its targets are these services.
	prom := c.Services["prometheus"]
	if !slices.Contains(prom.Volumes, "../prometheus:/etc/prometheus:ro") ||
		!slices.Contains(prom.Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("%s: prometheus must mount ../prometheus at /etc/prometheus and load prometheus.yml from there", rel)
	}
	for _, sc := range promConfig(t).ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				h, _ := hostPort(t, "prometheus/prometheus.yml "+sc.JobName, target)
				if _, ok := c.Services[h]; !ok {
					t.Errorf("prometheus/prometheus.yml: job %s scrapes %s, which is no compose service", sc.JobName, target)
				}
			}
		}
	}
	// Grafana gets the data source and the dashboard provisioned.
	graf := c.Services["grafana"]
	for _, want := range []string{"../grafana/provisioning:/etc/grafana/provisioning:ro",
		"../grafana/router.json:/var/lib/grafana/dashboards/router.json:ro"} {
		if !slices.Contains(graf.Volumes, want) {
			t.Errorf("%s: grafana does not mount %s", rel, want)
		}
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			UID       string         `yaml:"uid"`
			Type      string         `yaml:"type"`
			Access    string         `yaml:"access"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			Editable  bool           `yaml:"editable"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decodeStrict(t, "grafana/provisioning/datasources/prometheus.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || !ds.Datasources[0].IsDefault {
		t.Fatalf("grafana data source: want one default prometheus data source, got %+v", ds.Datasources)
	}
	if u, err := url.Parse(ds.Datasources[0].URL); err != nil || u.Hostname() != "prometheus" || u.Port() != "9090" {
		t.Errorf("grafana data source url %q, want http://prometheus:9090", ds.Datasources[0].URL)
	}
	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeStrict(t, "grafana/provisioning/dashboards/switchboard.yaml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("grafana dashboard provider: want one file provider on /var/lib/grafana/dashboards, got %+v", dp.Providers)
	}
}

// mountedConfig reads the config file a compose service mounts at path and parses it as the node would.
func mountedConfig(t *testing.T, s composeService, dir, path string) *tenant.Config {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == path {
			cfg, err := tenant.Load(filepath.Join(dir, parts[0]))
			if err != nil {
				t.Fatalf("config mounted at %s: %v", path, err)
			}
			return cfg
		}
	}
	t.Fatalf("no volume mounts the config file %s", path)
	return nil
}

// TestComposeCommandsHaveTheirBinaries: a compose service that runs `switchboard bench` or `switchboard
// whatsapp-sim` from the image needs the sibling binary those commands run (switchboard-bench,
// switchboard-whatsapp-sim) copied beside /usr/local/bin/switchboard by the Dockerfile.
func TestComposeCommandsHaveTheirBinaries(t *testing.T) {
	const rel = "docker/compose.yaml"
	var c composeFile
	decodeStrict(t, rel, &c)
	copied := map[string]bool{}
	for _, in := range parseDockerfile(read(t, "docker/Dockerfile")) {
		if in.cmd == "COPY" {
			f := strings.Fields(in.args)
			copied[f[len(f)-1]] = true
		}
	}
	if !copied["/usr/local/bin/switchboard"] {
		t.Fatal("docker/Dockerfile does not copy /usr/local/bin/switchboard")
	}
	for name, s := range c.Services {
		if s.Build == nil || len(s.Command) == 0 {
			continue
		}
		switch cmd := s.Command[0]; cmd {
		case "bench", "whatsapp-sim":
			if bin := "/usr/local/bin/switchboard-" + cmd; !copied[bin] {
				t.Errorf("%s: service %s runs `switchboard %s`, but docker/Dockerfile does not copy %s", rel, name, cmd, bin)
			}
		}
	}
}
