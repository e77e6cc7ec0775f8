package main_test

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// brokerProc is a `switchboard broker` process under test.
type brokerProc struct {
	t      *testing.T
	addr   string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error
}

// startBroker runs `switchboard broker` on addr with its data under dir and waits until it says it is ready (its
// topics created).
func startBroker(t *testing.T, addr, dir string) *brokerProc {
	t.Helper()
	b := &brokerProc{t: t, addr: addr, logs: &syncBuffer{}, exited: make(chan struct{})}
	b.cmd = exec.Command(binary, "broker", "--kafka-addr", addr, "--data-dir", dir, "--partitions", "4")
	b.cmd.Stderr = b.logs
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "broker listening on "); ok {
				ready <- a
			}
		}
		b.err = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		_ = b.cmd.Process.Signal(syscall.SIGKILL)
		<-b.exited
		if t.Failed() {
			t.Logf("broker logs:\n%s", b.logs)
		}
	})
	select {
	case a := <-ready:
		if a != addr {
			t.Fatalf("broker says it listens on %s, asked for %s", a, addr)
		}
	case <-b.exited:
		t.Fatalf("broker exited during start: %v\n%s", b.err, b.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("broker not ready within 60 s\n%s", b.logs)
	}
	return b
}

// stop sends SIGTERM and requires a clean exit.
func (b *brokerProc) stop() {
	b.t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		if b.err != nil {
			b.t.Fatalf("broker exited with %v after SIGTERM\n%s", b.err, b.logs)
		}
	case <-time.After(60 * time.Second):
		b.t.Fatalf("broker did not stop within 60 s of SIGTERM\n%s", b.logs)
	}
}

// A broker run as its own process (`switchboard broker`) serves a node started with --kafka-brokers exactly as the
// node's embedded one would: webhooks are accepted and routed, and after both stop and start again (the broker
// first, from its data directory) the node resumes from its committed offsets — the earlier messages are neither
// lost nor applied again, and a new one lands in the same conversation; the configuration topic survived.
func TestBrokerProcess(t *testing.T) {
	brokerDir := t.TempDir()
	addr := freeAddr(t)
	b := startBroker(t, addr, brokerDir)
	n := newNode(t, "--kafka-brokers", addr)
	n.start()
	if strings.Contains(n.logs.String(), "embedded kafka broker started") {
		t.Fatalf("the node started its own broker although --kafka-brokers was given:\n%s", n.logs)
	}
	base := time.Now().Unix()
	for i := range 3 {
		n.deliver(acmePhone, acmeSecret, textMsg("15550100", fmt.Sprintf("wamid.broker.%d", i), "hello", base+int64(i)))
	}
	eventually.NoError(t, 30*time.Second, 50*time.Millisecond, func() error {
		if c := n.messageCount(aliceToken, true); c != 3 {
			return fmt.Errorf("%d inbound messages, want 3", c)
		}
		return nil
	}, "three messages through the broker process")

	n.stop()
	b.stop()
	startBroker(t, addr, brokerDir)
	n.start()
	// The broker kept switchboard.config: the second start finds both tenants there and seeds nothing again.
	if c := strings.Count(n.logs.String(), "config: seeding tenant"); c != 2 {
		t.Fatalf("tenants seeded %d times over two starts, want 2 (acme and beta, once):\n%s", c, n.logs)
	}
	// The same wamid again (Meta retries) and one new message: exactly four messages, in one conversation.
	n.deliver(acmePhone, acmeSecret, textMsg("15550100", "wamid.broker.2", "hello", base+2))
	n.deliver(acmePhone, acmeSecret, textMsg("15550100", "wamid.broker.3", "again", base+3))
	eventually.NoError(t, 30*time.Second, 50*time.Millisecond, func() error {
		cs := n.conversations(aliceToken)
		if len(cs) != 1 {
			return fmt.Errorf("%d conversations, want 1", len(cs))
		}
		if cs[0].InboundCount != 4 {
			return fmt.Errorf("%d inbound messages, want 4", cs[0].InboundCount)
		}
		return nil
	}, "four messages in one conversation after both restarted")
}
