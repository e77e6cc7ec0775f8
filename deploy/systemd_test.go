package deploy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

type unitFile map[string][][2]string // section → key, value in order

func parseUnit(b []byte) (unitFile, error) {
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q", n, line)
			}
			u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return u, sc.Err()
}

func (u unitFile) get(section, key string) string {
	v := ""
	for _, kv := range u[section] {
		if kv[0] == key {
			v = kv[1]
		}
	}
	return v
}

// parseEnvFile reads KEY=value lines (systemd EnvironmentFile, without quoting).
func parseEnvFile(b []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not KEY=value", n, line)
		}
		env[k] = v
	}
	return env, sc.Err()
}

func TestSystemdUnit(t *testing.T) {
	const rel = "systemd/switchboard.service"
	raw := read(t, rel)
	u, err := parseUnit(raw)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for _, want := range []struct{ section, key, value string }{
		{"Service", "Restart", "on-failure"},
		{"Service", "KillSignal", "SIGTERM"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "PrivateTmp", "yes"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if got := u.get(want.section, want.key); got != want.value {
			t.Errorf("%s: [%s] %s=%q, want %q", rel, want.section, want.key, got, want.value)
		}
	}
	if user := u.get("Service", "User"); user == "" || user == "root" || user == "0" {
		t.Errorf("%s: User=%q: the node must not run as root", rel, user)
	}
	stop, err := time.ParseDuration(u.get("Service", "TimeoutStopSec"))
	if err != nil || stop < 30*time.Second {
		t.Errorf("%s: TimeoutStopSec=%q: want a duration of at least 30s for the drain", rel, u.get("Service", "TimeoutStopSec"))
	}

	fields := strings.Fields(u.get("Service", "ExecStart"))
	if len(fields) < 2 || filepath.Base(fields[0]) != "switchboard" || !filepath.IsAbs(fields[0]) {
		t.Fatalf("%s: ExecStart=%q: want an absolute path to switchboard and a command", rel, fields)
	}
	inv, err := parseArgs(rel+" ExecStart", fields[1:])
	if err != nil {
		t.Fatal(err)
	}
	if inv.command != "serve" {
		t.Errorf("%s: ExecStart runs %q, want serve", rel, inv.command)
	}
	checkValues(t, inv)

	envPath := u.get("Service", "EnvironmentFile")
	if envPath == "" {
		t.Fatalf("%s: no EnvironmentFile", rel)
	}
	const envRel = "systemd/switchboard.env"
	if filepath.Base(strings.TrimPrefix(envPath, "-")) != filepath.Base(envRel) {
		t.Errorf("%s: EnvironmentFile=%s, but the example shipped is deploy/%s", rel, envPath, envRel)
	}
	env, err := parseEnvFile(read(t, envRel))
	if err != nil {
		t.Fatalf("%s: %v", envRel, err)
	}
	envInv, err := envFlags(envRel, env)
	if err != nil {
		t.Fatal(err)
	}
	checkValues(t, envInv)

	eff := effective(envInv, inv)
	checkListen(t, rel, eff["http-addr"])
	if want := "/var/lib/" + u.get("Service", "StateDirectory"); eff["data-dir"] != want {
		t.Errorf("%s: data dir %q, want the StateDirectory %s (the only writable path under ProtectSystem=strict)",
			rel, eff["data-dir"], want)
	}
	if eff["kafka-brokers"] == "" {
		t.Errorf("%s: no Kafka brokers: a server runs against a real cluster, not the embedded broker", rel)
	}

	// systemd's own check of the unit, with ExecStart pointing at the binary built here.
	t.Run("systemd-analyze", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed")
		}
		dir := t.TempDir()
		unit := filepath.Join(dir, "switchboard.service")
		patched := strings.Replace(string(raw), "ExecStart="+fields[0]+" ", "ExecStart="+binary+" ", 1)
		if err := os.WriteFile(unit, []byte(patched), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sa, "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		out, err := exec.Command(sa, "security", "--offline=true", "--no-pager", unit).CombinedOutput()
		if err != nil && bytes.Contains(out, []byte("unrecognized option")) {
			t.Logf("systemd-analyze security has no --offline here: %s", lastLines(string(out), 1))
			return
		}
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security: %v\n%s", err, lastLines(string(out), 5))
		}
		exposure, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("systemd-analyze security: exposure %.1f", exposure)
		if exposure > 2.0 {
			t.Errorf("systemd-analyze security: exposure %.1f, want at most 2.0 (hardening options lost?)\n%s",
				exposure, lastLines(string(out), 40))
		}
	})
}
