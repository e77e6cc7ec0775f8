// Package deploy_test checks the deployment files of deploy/ against the real binary, the README and Prometheus'
// own tools. No container engine runs here, so it checks what can be checked without one: every file parses;
// every flag and SWITCHBOARD_* variable they set exists in `switchboard serve -h` and its value parses; ports,
// paths and names agree between the files; every metric the alerts and the dashboard use is documented; promtool
// accepts the rules and the config and the rules fire on their scenarios; and a real Prometheus server scrapes a
// running node through the shipped scrape config, evaluates the shipped rules and answers the dashboard's queries.
package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
)

// Shared by the tests of every artifact: the switchboard binary built once, its flags, reading the files of deploy/,
// and checking the flags and SWITCHBOARD_* variables an artifact sets.

// httpPort is the port every deployment file serves on and Prometheus scrapes.
const httpPort = "8080"

var (
	root      string // the repository root
	deployDir string // root/deploy
	binary    string // switchboard, built from ./cmd/switchboard
	// Flags of `switchboard serve` and `switchboard whatsapp-sim`, from their -h output: name → is a bool flag.
	serveFlags map[string]bool
	simFlags   map[string]bool
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	deployDir, root = wd, filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "switchboard-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "switchboard")
		// `switchboard whatsapp-sim` runs the simulator's own binary from beside it, as make build places them.
		build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/switchboard", "./cmd/switchboard-whatsapp-sim")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build switchboard: %v\n%s", err, out)
			return 1
		}
		if serveFlags, err = helpFlags("serve"); err == nil {
			simFlags, err = helpFlags("whatsapp-sim")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// helpFlag is a flag line of Go's flag package usage: "  -name type" (no type for a bool flag).
var helpFlag = regexp.MustCompile(`(?m)^  -([a-zA-Z0-9][a-zA-Z0-9-]*)( \S+)?$`)

// helpFlags runs `switchboard <command> -h` and returns its flags, each with whether it is a bool flag.
func helpFlags(command string) (map[string]bool, error) {
	out, err := exec.Command(binary, command, "-h").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("switchboard %s -h: %w\n%s", command, err, out)
	}
	flags := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = m[2] == ""
	}
	if len(flags) == 0 {
		return nil, fmt.Errorf("switchboard %s -h lists no flags:\n%s", command, out)
	}
	return flags, nil
}

// ---- files ----

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeStrict decodes one YAML document into v, refusing keys v does not model (catches misspelt keys).
func decodeStrict(t *testing.T, rel string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(read(t, rel)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// yamlDocs decodes every document of a YAML stream with decode.
func yamlDocs(b []byte, decode func(*yaml.Node) error) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if err := decode(&n); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
	}
}

// ---- flags and environment ----

// flagUse is one flag as a deployment file sets it.
type flagUse struct {
	name, value string
	hasValue    bool
}

// invocation is a switchboard command line from a deployment file.
type invocation struct {
	where   string // file and place, for messages
	command string // serve, whatsapp-sim
	flags   []flagUse
}

// parseArgs reads "command --flag value --flag=value --bool ..." with the flag types of the command.
func parseArgs(where string, args []string) (invocation, error) {
	inv := invocation{where: where}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return inv, fmt.Errorf("%s: %q does not start with a command", where, args)
	}
	inv.command = args[0]
	known := map[string]map[string]bool{"serve": serveFlags, "whatsapp-sim": simFlags}[inv.command]
	if known == nil {
		return inv, fmt.Errorf("%s: unknown command %q", where, inv.command)
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return inv, fmt.Errorf("%s: stray argument %q", where, a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isBool, ok := known[name]
		if !ok {
			return inv, fmt.Errorf("%s: switchboard %s has no flag --%s", where, inv.command, name)
		}
		if !hasValue && !isBool {
			if i+1 == len(args) {
				return inv, fmt.Errorf("%s: --%s needs a value", where, name)
			}
			i++
			value, hasValue = args[i], true
		}
		inv.flags = append(inv.flags, flagUse{name: name, value: value, hasValue: hasValue})
	}
	return inv, nil
}

// envFlags turns SWITCHBOARD_<FLAG> variables into the serve flags they set.
func envFlags(where string, env map[string]string) (invocation, error) {
	inv := invocation{where: where, command: "serve"}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "SWITCHBOARD_")
		if !ok {
			continue
		}
		name := strings.ToLower(strings.ReplaceAll(rest, "_", "-"))
		if _, ok := serveFlags[name]; !ok {
			return inv, fmt.Errorf("%s: %s names no flag of switchboard serve (--%s)", where, k, name)
		}
		inv.flags = append(inv.flags, flagUse{name: name, value: env[k], hasValue: true})
	}
	return inv, nil
}

// checkValues runs `switchboard <command> --flag=value ... -h`: the flag package parses every value before -h
// stops it, so a value of the wrong type (a bad duration, a word for a number) fails.
func checkValues(t *testing.T, inv invocation) {
	t.Helper()
	args := []string{inv.command}
	for _, f := range inv.flags {
		if f.hasValue {
			args = append(args, "--"+f.name+"="+f.value)
		} else {
			args = append(args, "--"+f.name)
		}
	}
	args = append(args, "-h")
	if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Errorf("%s: switchboard refuses %q: %v\n%s", inv.where, args, err, lastLines(string(out), 3))
	}
	if inv.command == "serve" {
		if roles, ok := inv.get("roles"); ok {
			for _, r := range strings.Split(roles, ",") {
				if r = strings.TrimSpace(r); r != "all" && !slices.Contains(node.AllRoles, r) {
					t.Errorf("%s: role %q is not one of all, %s", inv.where, r, strings.Join(node.AllRoles, ", "))
				}
			}
		}
	}
}

func (inv invocation) get(name string) (string, bool) {
	v, ok := "", false
	for _, f := range inv.flags {
		if f.name == name {
			v, ok = f.value, true
		}
	}
	return v, ok
}

// effective is what a node runs with: flags win over the environment, which wins over the image's environment.
func effective(layers ...invocation) map[string]string {
	out := map[string]string{}
	for i := len(layers) - 1; i >= 0; i-- {
		for _, f := range layers[i].flags {
			if _, set := out[f.name]; !set {
				v := f.value
				if !f.hasValue {
					v = "true"
				}
				out[f.name] = v
			}
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// checkListen checks that a node listens on all interfaces on httpPort (a container or a server, not a laptop).
func checkListen(t *testing.T, where, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: http-addr %q: %v", where, addr, err)
		return
	}
	if port != httpPort {
		t.Errorf("%s: http-addr %q: port %s, want %s (what Prometheus and the probes use)", where, addr, port, httpPort)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
		t.Errorf("%s: http-addr %q listens on loopback only", where, addr)
	}
}

// hostPort splits hp, failing t with where when it is not host:port.
func hostPort(t *testing.T, where, hp string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Errorf("%s: %q: %v", where, hp, err)
	}
	return h, p
}
