package main_test

// BenchmarkImportContacts sends 1,000,000 contacts (SWITCHBOARD_IMPORT_ROWS to change it) through POST
// /v1/contacts/import of a node started from the binary (embedded Kafka, Pebble on disk), the file generated as it is
// sent (never held in memory), and reports rows/s, the node's CPU per row, its peak RSS and peak Go heap. It
// asserts nothing about time. Run it alone:
//
//	go test -run '^$' -bench ImportContacts -benchtime 1x ./cmd/switchboard/
//
// SWITCHBOARD_IMPORT_PPROF=127.0.0.1:6061 serves the node's pprof there (--pprof-addr) for a CPU profile taken while
// it runs. The figures are in the README's "Importing contacts".

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func BenchmarkImportContacts(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("SWITCHBOARD_IMPORT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("SWITCHBOARD_IMPORT_ROWS: %v", err)
		}
		rows = n
	}
	var extra []string
	if a := os.Getenv("SWITCHBOARD_IMPORT_PPROF"); a != "" {
		extra = append(extra, "-pprof-addr", a) // go tool pprof http://<a>/debug/pprof/profile while it runs
	}
	n := newNodeConfig(b, importConfig, extra...)
	n.start()
	pid := n.cmd.Process.Pid

	// The node's Go heap, sampled from its metrics while the import runs.
	var peakHeap float64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// Not n.metric: it fails the benchmark from this goroutine when a scrape fails.
				if code, body := n.get("/metrics", ""); code == 200 {
					for _, l := range strings.Split(string(body), "\n") {
						if v, ok := strings.CutPrefix(l, "go_memstats_heap_inuse_bytes "); ok {
							f, _ := strconv.ParseFloat(v, 64)
							peakHeap = max(peakHeap, f)
						}
					}
				}
			}
		}
	})

	pr, pw := io.Pipe()
	var sent int64
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		w.WriteString("phone,name,city,plan,birthday,vip\n")
		for i := 0; i < rows; i++ {
			fmt.Fprintf(w, "+49151%08d,Person %d,City %d,premium,1980-01-%02d,yes\n", i, i, i%7, 1+i%28)
		}
		w.Flush()
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, n.url("/v1/contacts/import"), &countReader{r: pr, n: &sent})
	req.Header.Set("Authorization", "Bearer "+importToken)
	req.Header.Set("Accept", "application/x-ndjson")
	cpu0 := procCPU(b, pid)
	b.ResetTimer()
	start := time.Now()
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var last []byte
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		last = append(last[:0], sc.Bytes()...)
	}
	resp.Body.Close()
	took := time.Since(start)
	b.StopTimer()
	cpu := procCPU(b, pid) - cpu0
	close(stop)
	sampler.Wait()
	var rep importReport
	if err := json.Unmarshal(last, &rep); err != nil || rep.Created != rows || rep.Rows != rows || rep.Error != nil {
		b.Fatalf("report %s (%v)", last, err)
	}
	rss := procStatusKB(b, pid, "VmHWM")
	b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
	b.ReportMetric(cpu.Seconds()*1e6/float64(rows), "node-cpu-µs/row")
	b.ReportMetric(float64(rss)/1024, "peak-rss-MiB")
	b.ReportMetric(peakHeap/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(sent)/(1<<20), "file-MiB")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d rows (%.1f MiB) in %s: %.0f rows/s; node CPU %s (%.1f µs/row); node peak RSS %d MiB, peak heap %.0f MiB",
		rows, float64(sent)/(1<<20), took.Round(time.Millisecond), float64(rows)/took.Seconds(), cpu.Round(time.Millisecond),
		cpu.Seconds()*1e6/float64(rows), rss/1024, peakHeap/(1<<20))
}

type countReader struct {
	r io.Reader
	n *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// procCPU is a process's user plus system CPU time (Linux /proc).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// procStatusKB is a "kB" line of /proc/<pid>/status, such as VmHWM (the peak RSS).
func procStatusKB(b *testing.B, pid int, key string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	b.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}
