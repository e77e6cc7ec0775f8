package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type dockerInstr struct {
	cmd, args string
	line      int
}

// parseDockerfile returns the instructions with continuation lines joined and comments dropped.
func parseDockerfile(b []byte) []dockerInstr {
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	return out
}

// dockerEnv parses ENV key=value pairs (values without spaces or quotes, as ours are).
func dockerEnv(args string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range strings.Fields(args) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("ENV %q: use the key=value form", args)
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env, nil
}

// imageEnv is the environment of the image deploy/docker/Dockerfile builds, as an invocation.
func imageEnv(t *testing.T) invocation {
	t.Helper()
	env := map[string]string{}
	final := false
	for _, in := range parseDockerfile(read(t, "docker/Dockerfile")) {
		switch in.cmd {
		case "FROM":
			final, env = true, map[string]string{} // only the last stage's ENV reaches the image
		case "ENV":
			e, err := dockerEnv(in.args)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range e {
				env[k] = v
			}
		}
	}
	if !final {
		t.Fatal("docker/Dockerfile has no FROM")
	}
	inv, err := envFlags("docker/Dockerfile ENV", env)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestDockerfile(t *testing.T) {
	const rel = "docker/Dockerfile"
	instrs := parseDockerfile(read(t, rel))
	stages := map[string]bool{}
	var final struct {
		from, user, entrypoint string
		cmd                    []string
		expose                 []string
		volumes                []string
	}
	var build string
	for _, in := range instrs {
		switch in.cmd {
		case "FROM":
			f := strings.Fields(in.args)
			final.from, final.user = f[0], ""
			final.expose, final.volumes, final.cmd, final.entrypoint = nil, nil, nil, ""
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stages[f[2]] = true
			}
		case "RUN":
			if strings.Contains(in.args, "go build") && strings.Contains(in.args, "-o /out/switchboard ") {
				build = in.args // the production binary's build; the simulator's is checked by the compose test
			}
		case "COPY":
			for _, f := range strings.Fields(in.args) {
				if from, ok := strings.CutPrefix(f, "--from="); ok && !stages[from] {
					t.Errorf("%s:%d: COPY --from=%s names no earlier stage", rel, in.line, from)
				}
			}
		case "USER":
			final.user = in.args
		case "EXPOSE":
			final.expose = append(final.expose, strings.Fields(in.args)...)
		case "VOLUME":
			var v []string
			if err := json.Unmarshal([]byte(in.args), &v); err != nil {
				t.Errorf("%s:%d: VOLUME %s: %v", rel, in.line, in.args, err)
			}
			final.volumes = append(final.volumes, v...)
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(in.args), &v); err != nil {
				t.Errorf("%s:%d: %s must be an exec-form JSON array (so SIGTERM reaches switchboard): %v",
					rel, in.line, in.cmd, err)
				continue
			}
			if in.cmd == "ENTRYPOINT" {
				final.entrypoint = strings.Join(v, " ")
			} else {
				final.cmd = v
			}
		}
	}
	if len(stages) == 0 {
		t.Errorf("%s: not a multi-stage build", rel)
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/") && !regexp.MustCompile(`^debian:\S*slim`).MatchString(final.from) {
		t.Errorf("%s: final image %s, want distroless or debian-slim", rel, final.from)
	}
	if u := strings.Split(final.user, ":")[0]; u == "" || u == "root" || u == "0" {
		t.Errorf("%s: final stage USER %q: the image must run as non-root", rel, final.user)
	}
	if !slices.Contains(final.expose, httpPort) {
		t.Errorf("%s: EXPOSE %v, want %s", rel, final.expose, httpPort)
	}
	if !slices.Contains(final.volumes, "/data") {
		t.Errorf("%s: VOLUME %v, want /data", rel, final.volumes)
	}
	if filepath.Base(final.entrypoint) != "switchboard" {
		t.Errorf("%s: ENTRYPOINT %q, want the switchboard binary", rel, final.entrypoint)
	}
	if inv, err := parseArgs(rel+" CMD", final.cmd); err != nil {
		t.Error(err)
	} else {
		checkValues(t, inv)
	}

	// The build: static (the runtime image has no libc) and of the package the tests build.
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Errorf("%s: go build without CGO_ENABLED=0: %q", rel, build)
	}
	target := ""
	for _, f := range strings.Fields(build) {
		if strings.HasPrefix(f, "./") {
			target = f
		}
	}
	if target != "./cmd/switchboard" {
		t.Errorf("%s: go build target %q, want ./cmd/switchboard", rel, target)
	}
	// The Go image follows go.mod's language version.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if want := "golang:" + string(m[1]); !strings.Contains(string(read(t, rel)), want) {
		t.Errorf("%s: build stage is not %s (go.mod says go %s)", rel, want, m[1])
	}

	env := imageEnv(t)
	checkValues(t, env)
	eff := effective(env)
	checkListen(t, rel+" ENV", eff["http-addr"])
	if eff["data-dir"] != "/data" {
		t.Errorf("%s: data dir %q, want the volume /data", rel, eff["data-dir"])
	}
}
