package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// BenchmarkSearch measures GET /v1/search's store query over one tenant of SWITCHBOARD_SEARCH_CONVERSATIONS
// conversations (default 1,000,000): contact names drawn from word lists, a phone number each, one or two
// messages of 4-12 words drawn from a 20,000-word vocabulary with a Zipf distribution (the commonest word is in
// about a third of the messages, most words in a handful). The store is built once, with large unsynced batches,
// before the sub-benchmarks; with SWITCHBOARD_SEARCH_BENCH_DIR set it is built there and reused by later runs.
// Each sub-benchmark is one kind of query, varied on every iteration, and reports its latency percentiles:
//
//	go test ./actors/store -run '^$' -bench Search -benchtime 2000x
//
// The 1M build takes minutes, which is why it is only ever built under -bench.
func BenchmarkSearch(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("SWITCHBOARD_SEARCH_CONVERSATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	dir := os.Getenv("SWITCHBOARD_SEARCH_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir = filepath.Join(dir, fmt.Sprintf("search-%d-v3", n)) // v3: postings by token only (issue 15)
	}
	s := openStore(b, dir)
	c := newCorpus()
	if _, err := os.Stat(filepath.Join(dir, "built")); err != nil {
		start := time.Now()
		buildSearchStore(b, s, c, n)
		b.Logf("built %d conversations in %v", n, time.Since(start).Round(time.Second))
		if err := os.WriteFile(filepath.Join(dir, "built"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	queries := []struct {
		name string
		q    func(r *rand.Rand) string
	}{
		// A full name: a common first name and a last name.
		{"name", func(r *rand.Rand) string { return c.first[r.IntN(len(c.first))] + " " + c.last[r.IntN(len(c.last))] }},
		// A first name alone: thousands of matches, one page of them.
		{"first_name", func(r *rand.Rand) string { return c.first[r.IntN(len(c.first))] + " " }},
		// A phone number being typed: country, area and the first digits of the number.
		{"phone_prefix", func(r *rand.Rand) string { return fmt.Sprintf("+55 11 9%04d", r.IntN(10000))[:9+r.IntN(4)] }},
		// A common word and a rare one: the rare one paces the common one.
		{"common_rare", func(r *rand.Rand) string {
			return c.vocab[r.IntN(10)] + " " + c.vocab[5000+r.IntN(15000)] + " "
		}},
		// A word and the start of the next, as typed in the search box.
		{"word_prefix", func(r *rand.Rand) string {
			w := c.vocab[r.IntN(2000)]
			return c.vocab[r.IntN(100)] + " " + w[:min(len(w), 3)]
		}},
		// Two rare words that seldom meet: the walk leapfrogs to the end.
		{"rare_rare", func(r *rand.Rand) string {
			return c.vocab[5000+r.IntN(15000)] + " " + c.vocab[5000+r.IntN(15000)] + " "
		}},
	}
	all := func(r *rand.Rand) string { return queries[r.IntN(len(queries))].q(r) }
	queries = append(queries, struct {
		name string
		q    func(r *rand.Rand) string
	}{"mix", all})
	for _, qk := range queries {
		b.Run(qk.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 7))
			lat := make([]time.Duration, 0, b.N)
			hits := 0
			b.ReportAllocs()
			for b.Loop() {
				q := qk.q(r)
				t0 := time.Now()
				h, _, err := s.Search("bench", SearchQuery{Text: q, Limit: 20})
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				hits += len(h)
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
		})
	}
}

// corpus is the benchmark's word lists, made from syllables so they need no file.
type corpus struct {
	first, last, vocab []string
}

func newCorpus() *corpus {
	r := rand.New(rand.NewPCG(1, 1))
	syll := []string{"ka", "lo", "mi", "ra", "te", "su", "na", "do", "ve", "li", "an", "el", "or", "ia", "ben", "car",
		"dan", "fer", "gil", "har", "jo", "mar", "nel", "pau", "ros", "sil", "tor", "val", "ze", "qui"}
	words := func(n, parts int) []string {
		seen := map[string]bool{}
		var out []string
		for len(out) < n {
			w := ""
			for range parts + r.IntN(2) {
				w += syll[r.IntN(len(syll))]
			}
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
		return out
	}
	return &corpus{first: words(300, 2), last: words(3000, 2), vocab: words(20000, 3)}
}

// buildSearchStore writes n conversations of tenant "bench" with their messages, as the conversation actor would
// (PutConversation, PutMessage), in batches of 2,000 conversations applied without sync.
func buildSearchStore(b *testing.B, s *Store, c *corpus, n int) {
	r := rand.New(rand.NewPCG(3, 3))
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(c.vocab)-1))
	var prev conversation.Conversation
	batch := s.NewBatch()
	for i := range n {
		phone := fmt.Sprintf("55119%08d", r.IntN(100_000_000))
		cv := conversation.Conversation{
			ID: conversation.ID("bench-wa", phone), TenantID: "bench", ChannelID: "bench-wa",
			Contact: conversation.Contact{ID: "k" + phone, WaID: phone,
				Name: c.first[r.IntN(len(c.first))] + " " + c.last[r.IntN(len(c.last))]},
			Status: conversation.Unassigned, CreatedAt: at, UpdatedAt: at, LastInboundAt: at, Messages: uint64(1 + r.IntN(2)),
		}
		if err := batch.PutConversation(&prev, &cv); err != nil {
			b.Fatal(err)
		}
		for seq := uint64(1); seq <= cv.Messages; seq++ {
			words := make([]string, 4+r.IntN(9))
			for j := range words {
				words[j] = c.vocab[zipf.Uint64()]
			}
			m := conversation.Message{ConversationID: cv.ID, Seq: seq, ID: fmt.Sprintf("wamid.%d.%d", i, seq),
				Direction: conversation.DirIn, Type: "text", Text: fmt.Sprint(words), Status: conversation.Received,
				CreatedAt: at}
			m.Text = m.Text[1 : len(m.Text)-1]
			if err := batch.PutMessage("bench", &m); err != nil {
				b.Fatal(err)
			}
		}
		if (i+1)%2000 == 0 || i == n-1 {
			if err := s.db.Apply(batch.b, pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch.Discard()
			batch = s.NewBatch()
		}
	}
	batch.Discard()
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
}
