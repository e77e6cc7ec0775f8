package scenario

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// node is a `switchboard serve` child process on loopback, with its own data dir and embedded broker, so the
// generator measures it from outside, can kill -9 it, and its CPU and memory are its own.
type node struct {
	exe, dir           string
	http, kafka, pprof string
	args               []string
	cmd                *exec.Cmd
	exited             chan struct{}
	logFile            *os.File
}

// newNode prepares a node: config written to dir/config.yaml, data in dir/data, log in dir/node.log.
func newNode(exe, dir, configYAML, simURL string, extra ...string) (*node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		return nil, fmt.Errorf("write node config: %w", err)
	}
	n := &node{exe: exe, dir: dir}
	var err error
	for _, a := range []*string{&n.http, &n.kafka, &n.pprof} {
		if *a, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	n.args = append([]string{"serve", "--config", cfgPath, "--data-dir", n.dataDir(), "--http-addr", n.http,
		"--embedded-kafka-addr", n.kafka, "--pprof-addr", n.pprof, "--whatsapp-api-url", simURL, "--log-level", "info"}, extra...)
	return n, nil
}

func (n *node) dataDir() string { return filepath.Join(n.dir, "data") }
func (n *node) url() string     { return "http://" + n.http }

// start runs the node and waits until /readyz answers 200 (at most timeout).
func (n *node) start(ctx context.Context, timeout time.Duration) error {
	f, err := os.OpenFile(filepath.Join(n.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.logFile = f
	n.cmd = exec.Command(n.exe, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	n.cmd.Env = benchEnv()
	// The node dies with the bench, even when the bench is killed and its defers do not run.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start node: %w", err)
	}
	n.exited = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	return n.waitReady(ctx, timeout)
}

// waitReady polls /readyz until 200.
func (n *node) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-n.exited: // nil for a node this process did not start: never ready
			return fmt.Errorf("node exited while starting; see %s", filepath.Join(n.dir, "node.log"))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if code, _, err := fasthttp.GetTimeout(nil, n.url()+"/readyz", time.Second); err == nil && code == 200 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n.cmd == nil {
		return fmt.Errorf("%s/readyz not 200 after %v", n.url(), timeout)
	}
	return fmt.Errorf("node not ready after %v; see %s", timeout, filepath.Join(n.dir, "node.log"))
}

// kill ends the node with SIGKILL, as a crash would.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	n.logFile.Close()
	n.cmd = nil
}

// stop ends the node with SIGTERM (graceful), or SIGKILL after 30s.
func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.exited
	}
	n.logFile.Close()
	n.cmd = nil
}

// gcHeap forces a garbage collection in the node (pprof's heap profile with gc=1) so the next scrape of
// go_memstats_heap_alloc_bytes counts live memory only.
func (n *node) gcHeap() error {
	code, _, err := fasthttp.GetTimeout(nil, "http://"+n.pprof+"/debug/pprof/heap?gc=1", time.Minute)
	if err != nil || code != 200 {
		return fmt.Errorf("force gc in node: %d %v", code, err)
	}
	return nil
}

// benchEnv is this process's environment without SWITCHBOARD_* variables: serve reads every flag it is not given
// from them, and a bench node must not pick up an operator's --kafka-brokers or --clickhouse-addr.
func benchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHBOARD_") {
			env = append(env, kv)
		}
	}
	return env
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
