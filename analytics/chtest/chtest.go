// Package chtest runs a private ClickHouse server for a test: Debian's clickhouse-server with the project's own config
// (deploy/clickhouse), on free loopback ports, with its data under t.TempDir(). When clickhouse-server is not
// installed it installs it through deploy/clickhouse/start.sh, so tests bring what they need.
//
// It imports the standard library and actors/eventually; only tests import it.
package chtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// Start starts a private ClickHouse server for t, stopped in t.Cleanup, and returns its native-protocol address.
func Start(t testing.TB) (addr string) {
	t.Helper()
	return StartServer(t).Addr()
}

// Server is a private ClickHouse server. Its methods are for the test goroutine only.
type Server struct {
	t         testing.TB
	dir       string
	tcp, http int
	cmd       *exec.Cmd
	exited    chan struct{}
}

// StartServer starts a private ClickHouse server for t, stopped in t.Cleanup.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := ensureInstalled(t)
	s := &Server{t: t, dir: t.TempDir()}
	t.Cleanup(s.Stop)
	var err error
	// Free ports are found by binding :0 and closing; another process may take one meanwhile, so retry.
	for attempt := 0; attempt < 5; attempt++ {
		s.tcp, s.http = freePort(t), freePort(t)
		if s.tcp == s.http {
			continue
		}
		if err = s.start(bin); err == nil {
			return s
		}
	}
	t.Fatalf("chtest: start clickhouse-server: %v", err)
	return nil
}

// Addr is the server's native-protocol address (127.0.0.1:port).
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcp)) }

// HTTPAddr is the server's HTTP address.
func (s *Server) HTTPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.http)) }

// Dir is the directory that holds the server's config, data and logs.
func (s *Server) Dir() string { return s.dir }

// Stop stops the server with SIGTERM and waits until it exits (SIGKILL after 30 s). Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.t.Logf("chtest: clickhouse-server did not stop in 30 s after SIGTERM; killing it")
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts a stopped server again on the same directory and ports.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatalf("chtest: restart of a running server")
	}
	if err := s.start(ensureInstalled(s.t)); err != nil {
		s.t.Fatalf("chtest: restart clickhouse-server: %v", err)
	}
}

func (s *Server) start(bin string) error {
	script, err := startScript()
	if err != nil {
		return err
	}
	out, err := exec.Command("bash", script, "config", s.dir, strconv.Itoa(s.tcp), strconv.Itoa(s.http)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("write config: %v: %s", err, out)
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test binary, even when that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	client := http.Client{Timeout: time.Second}
	url := "http://" + s.HTTPAddr() + "/ping"
	var exitErr error
	err = eventually.Wait(30*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-exited:
			tail, _ := os.ReadFile(filepath.Join(s.dir, "log", "clickhouse-server.err.log"))
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			exitErr = fmt.Errorf("clickhouse-server exited during start (tcp %d, http %d): %s", s.tcp, s.http, tail)
			return nil // nothing left to wait for
		default:
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if !bytes.HasPrefix(b.Bytes(), []byte("Ok.")) {
			return fmt.Errorf("%s answered %q", url, b.Bytes())
		}
		return nil
	})
	switch {
	case exitErr != nil:
		return exitErr
	case err != nil:
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("clickhouse-server did not answer %s: %w", url, err)
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

var install struct {
	once sync.Once
	bin  string
	err  error
}

// ensureInstalled returns the path of clickhouse-server, installing it with the start script when it is missing.
func ensureInstalled(t testing.TB) string {
	t.Helper()
	install.once.Do(func() {
		if install.bin, install.err = exec.LookPath("clickhouse-server"); install.err == nil {
			return
		}
		script, err := startScript()
		if err != nil {
			install.err = err
			return
		}
		out, err := exec.Command("bash", script, "install").CombinedOutput()
		if err != nil {
			install.err = fmt.Errorf("install clickhouse-server: %v: %s", err, out)
			return
		}
		install.bin, install.err = exec.LookPath("clickhouse-server")
	})
	if install.err != nil {
		t.Fatalf("chtest: %v", install.err)
	}
	return install.bin
}

// startScript finds deploy/clickhouse/start.sh in the module that contains the working directory (a test runs in
// its package's directory).
func startScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "deploy", "clickhouse", "start.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("chtest: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("chtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("chtest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
