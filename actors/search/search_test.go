package search

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	long := strings.Repeat("a", 40)
	many := make([]string, 100)
	for i := range many {
		many[i] = "w" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"José Müller", []string{"jose", "muller"}},
		{"STRASSE Straße", []string{"strasse"}},
		{"Jose\u0301", []string{"jose"}}, // a combining accent
		{"a b cd 7 42", []string{"cd", "42"}},
		{"order #A-1234, ok?", []string{"order", "1234", "ok"}},
		{"where is my order where", []string{"where", "is", "my", "order"}},
		{"Łódź Čapek Ørsted Œuvre", []string{"lodz", "capek", "orsted", "oeuvre"}},
		{"Привет мир", []string{"привет", "мир"}},
		{"東京 タワー", []string{"東京", "タワー"}},
		{"<script>alert(1)</script>", []string{"script", "alert"}},
		{long, []string{long[:MaxTokenBytes]}},
		{strings.Repeat("é", 20), []string{strings.Repeat("e", 20)}},
		{strings.Repeat("ж", 20), []string{strings.Repeat("ж", 16)}}, // 2 bytes a rune: cut at 32 bytes
		{strings.Join(many, " "), many[:MaxTokensPerText]},
	} {
		if got := Tokens(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// HasPrefix agrees with Tokens: a prefix of one of the tokens Tokens returns, and nothing else, matches; so a word
// past the first MaxTokensPerText distinct ones does not.
func TestHasPrefix(t *testing.T) {
	many := make([]string, 100)
	for i := range many {
		many[i] = "w" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	texts := []string{"", "Hello, World!", "José Müller", "STRASSE Straße", "Jose\u0301", "a b cd 7 42",
		"order #A-1234, ok?", "Łódź Čapek Ørsted Œuvre", "Привет мир", "東京 タワー", strings.Repeat("a", 40),
		strings.Repeat("ж", 20), strings.Join(many, " "), strings.Repeat("same ", 80) + "last"}
	for _, text := range texts {
		toks := Tokens(text)
		prefixes := []string{"zz", "x", "wcd", "las", "las" + "t", strings.Repeat("a", 33)}
		for _, w := range append(strings.Fields(text), many...) {
			for n := 1; n <= len(w); n++ {
				prefixes = append(prefixes, normal(w[:n]), strings.ToLower(w[:n]))
			}
		}
		for _, p := range prefixes {
			if p == "" {
				continue
			}
			want := slices.ContainsFunc(toks, func(tok string) bool { return strings.HasPrefix(tok, p) })
			if got := HasPrefix(text, p); got != want {
				t.Errorf("HasPrefix(%.30q, %q) = %v, want %v", text, p, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { HasPrefix("Where is my order? It is late", "lat") }); n != 0 {
		t.Errorf("HasPrefix allocates %v times", n)
	}
}

func TestPhoneTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"7", nil},
		{"15551234567", []string{"15551234567", "4567"}},
		{"+1 (555) 123-4567", []string{"15551234567", "4567"}},
		{"1234", []string{"1234"}},
		{"12", []string{"12"}},
	} {
		if got := PhoneTokens(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PhoneTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Query
	}{
		{"", Query{}},
		{"a", Query{}},
		{"  ", Query{}},
		{"Ali", Query{Terms: []string{"ali"}, Prefix: true}},
		{"alice ", Query{Terms: []string{"alice"}}},
		{"refund ord", Query{Terms: []string{"refund", "ord"}, Prefix: true}},
		{"refund order.", Query{Terms: []string{"refund", "order"}}},
		{"+1 555", Query{Terms: []string{"1555"}, Prefix: true}},
		{"(555) 12", Query{Terms: []string{"55512"}, Prefix: true}},
		{"+", Query{}},
		{"order 1234", Query{Terms: []string{"order", "1234"}, Prefix: true}},
		{"José ", Query{Terms: []string{"jose"}}},
		{"x x x", Query{}},
		{"one two three four five six seven eight nine ten", Query{
			Terms: []string{"one", "two", "three", "four", "five", "six", "seven", "eight"}, Prefix: true}},
		{"<b>bold</b>", Query{Terms: []string{"bold"}}},
	} {
		if got := ParseQuery(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseQuery(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	text := "Hello there, I ordered a blue jacket last week and the parcel never arrived at my address in Lisbon"
	for _, tc := range []struct {
		q    string
		n    int
		want string
	}{
		{"hello", 200, text},
		{"parcel", 30, "…nd the parcel never arrived at…"},
		{"lisb", 30, "…rrived at my address in Lisbon"},
		{"nothing", 20, "Hello there, I order…"},
	} {
		if got := Snippet(text, ParseQuery(tc.q), tc.n); got != tc.want {
			t.Errorf("Snippet(%q, %d) = %q, want %q", tc.q, tc.n, got, tc.want)
		}
	}
}
