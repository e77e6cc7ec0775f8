// Package search turns contact names, phone numbers, message texts and queries into the tokens of the search index
// (actors/store keeps the postings). It is pure and imports only the standard library.
//
// A token is a run of Unicode letters and digits, lower-cased, with the common Latin accents folded ("José" →
// "jose", "Straße" → "strasse"); tokens of one character are dropped and longer ones are cut to MaxTokenBytes. A
// phone number gives two tokens: all its digits ("+1 555-123-4567" → "15551234567", so typing the number from its
// start, country code first, matches as a prefix) and its last four digits ("4567", so the ending people read out
// matches too); other substrings of a number do not match.
package search

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxTokenBytes is the longest token indexed; longer tokens are cut (at a rune boundary), in the index and in
	// queries alike, so a long word still finds itself.
	MaxTokenBytes = 32
	// MaxTokensPerText is the most distinct tokens indexed for one text; the rest of a long text is not searchable.
	MaxTokensPerText = 64
	// MaxQueryTerms is the most terms of a query that are used; the rest are ignored.
	MaxQueryTerms = 8
	// phoneSuffix is how many trailing digits of a phone number form a token of their own.
	phoneSuffix = 4
)

// Tokens returns the distinct tokens of text in the order they first appear, at most MaxTokensPerText.
func Tokens(text string) []string { return distinct(text, MaxTokensPerText) }

// distinct returns the first max distinct tokens of text, in the order they first appear.
func distinct(text string, max int) []string {
	var out []string
	each(text, func(tok string) bool {
		for _, t := range out {
			if t == tok {
				return true
			}
		}
		out = append(out, tok)
		return len(out) < max
	})
	return out
}

// PhoneTokens returns the tokens of a phone number: its digits, and its last four digits when it has more. A number
// with fewer than two digits has none.
func PhoneTokens(phone string) []string {
	d := digits(phone)
	if len(d) < 2 {
		return nil
	}
	d = cut(d)
	if len(d) > phoneSuffix {
		return []string{d, d[len(d)-phoneSuffix:]}
	}
	return []string{d}
}

// Query is a parsed search query: every term must match; the last matches as a prefix of a token when Prefix is
// set.
type Query struct {
	Terms  []string
	Prefix bool
}

// ParseQuery splits q into terms. A query made only of digits and the punctuation of phone numbers ("+", "-", "(",
// ")", ".", spaces) is one term, its digits, matched as a prefix (a phone number being typed). Otherwise the terms
// are q's tokens (as Tokens makes them, duplicates dropped, at most MaxQueryTerms) and the last one is a prefix
// unless q ends in a space or punctuation (the word is complete). A query with no term (only one-letter words, say)
// matches nothing.
func ParseQuery(q string) Query {
	if isPhone(q) {
		d := digits(q)
		if len(d) < 2 {
			return Query{}
		}
		return Query{Terms: []string{cut(d)}, Prefix: true}
	}
	terms := distinct(q, MaxQueryTerms)
	if len(terms) == 0 {
		return Query{}
	}
	last, _ := utf8.DecodeLastRuneInString(q)
	return Query{Terms: terms, Prefix: isWord(last)}
}

// Snippet returns at most n runes of text around the first word that one of the terms matches (the last term as
// a prefix when prefix is set), with "…" where it was cut; text's start when no word matches.
func Snippet(text string, q Query, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	runes := []rune(text)
	if len(runes) <= n {
		return text
	}
	at := matchAt(runes, q)
	start := max(0, at-n/4)
	end := min(len(runes), start+n)
	start = max(0, end-n)
	s := string(runes[start:end])
	if start > 0 {
		s = "…" + s
	}
	if end < len(runes) {
		s += "…"
	}
	return s
}

// matchAt returns the rune offset of the first word of runes that q matches, 0 when none does.
func matchAt(runes []rune, q Query) int {
	for i := 0; i < len(runes); {
		if !isWord(runes[i]) {
			i++
			continue
		}
		j := i
		for j < len(runes) && isWord(runes[j]) {
			j++
		}
		if tok := normal(string(runes[i:j])); tok != "" {
			for n, t := range q.Terms {
				if tok == t || (q.Prefix && n == len(q.Terms)-1 && strings.HasPrefix(tok, t)) {
					return i
				}
			}
		}
		i = j
	}
	return 0
}

// each calls f with every token of text until f returns false.
func each(text string, f func(string) bool) {
	var buf [4 * MaxTokenBytes]byte
	b := buf[:0]
	for _, r := range text {
		if isWord(r) {
			b = appendFolded(b, r)
			continue
		}
		if tok, ok := token(b); ok && !f(string(tok)) {
			return
		}
		b = b[:0]
	}
	if tok, ok := token(b); ok {
		f(string(tok))
	}
}

// token is the token a run of folded word runes gives: cut to MaxTokenBytes; none if shorter than two runes.
func token(run []byte) ([]byte, bool) {
	tok := cut(run)
	return tok, utf8.RuneCount(tok) >= 2
}

// HasPrefix reports whether one of the tokens Tokens(text) returns begins with prefix. It allocates nothing for a
// text of at most MaxTokensPerText words: a search checks the texts of many conversations for a prefix.
func HasPrefix(text, prefix string) bool {
	var buf [4 * MaxTokenBytes]byte
	b := buf[:0]
	n := 0 // tokens seen, repeats included: while n <= MaxTokensPerText each is one of the tokens Tokens returns
	// matches reports whether run's token begins with prefix, and whether that decides; past MaxTokensPerText
	// tokens, Tokens decides (a long text's first distinct ones are indexed).
	matches := func(run []byte) (match, decided bool) {
		tok, ok := token(run)
		if !ok {
			return false, false
		}
		if n++; n > MaxTokensPerText {
			return slices.ContainsFunc(Tokens(text), func(t string) bool { return strings.HasPrefix(t, prefix) }), true
		}
		match = len(tok) >= len(prefix) && string(tok[:len(prefix)]) == prefix
		return match, match
	}
	for _, r := range text {
		if isWord(r) {
			b = appendFolded(b, r)
			continue
		}
		if match, decided := matches(b); decided {
			return match
		}
		b = b[:0]
	}
	match, _ := matches(b)
	return match
}

// normal is the token a word gives, "" if it gives none.
func normal(word string) string {
	var b []byte
	for _, r := range word {
		b = appendFolded(b, r)
	}
	if tok, ok := token(b); ok {
		return string(tok)
	}
	return ""
}

func isWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// appendFolded appends r lower-cased and without its accent; combining marks are dropped.
func appendFolded(b []byte, r rune) []byte {
	if unicode.Is(unicode.Mn, r) {
		return b
	}
	r = unicode.ToLower(r)
	if r < 0xdf || r > 0x17f {
		return utf8.AppendRune(b, r)
	}
	if s, ok := fold[r]; ok {
		return append(b, s...)
	}
	return utf8.AppendRune(b, r)
}

// cut shortens tok to at most MaxTokenBytes, at a rune boundary.
func cut[T string | []byte](tok T) T {
	if len(tok) <= MaxTokenBytes {
		return tok
	}
	n := MaxTokenBytes
	for n > 0 && !utf8.RuneStart(tok[n]) {
		n--
	}
	return tok[:n]
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isPhone reports whether q looks like a phone number being typed: digits and phone punctuation only, at least one
// digit.
func isPhone(q string) bool {
	seen := false
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			seen = true
		case r == '+' || r == '-' || r == '(' || r == ')' || r == '.' || r == ' ':
		default:
			return false
		}
	}
	return seen
}

// fold maps the lower-case letters of Latin-1 Supplement and Latin Extended-A to their unaccented spelling.
var fold = map[rune]string{
	'ß': "ss", 'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae", 'ç': "c", 'è': "e", 'é': "e",
	'ê': "e", 'ë': "e", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ð': "d", 'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o",
	'õ': "o", 'ö': "o", 'ø': "o", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ý': "y", 'þ': "th", 'ÿ': "y",
	'ā': "a", 'ă': "a", 'ą': "a", 'ć': "c", 'ĉ': "c", 'ċ': "c", 'č': "c", 'ď': "d", 'đ': "d", 'ē': "e", 'ĕ': "e",
	'ė': "e", 'ę': "e", 'ě': "e", 'ĝ': "g", 'ğ': "g", 'ġ': "g", 'ģ': "g", 'ĥ': "h", 'ħ': "h", 'ĩ': "i", 'ī': "i",
	'ĭ': "i", 'į': "i", 'ı': "i", 'ĳ': "ij", 'ĵ': "j", 'ķ': "k", 'ĺ': "l", 'ļ': "l", 'ľ': "l", 'ŀ': "l", 'ł': "l",
	'ń': "n", 'ņ': "n", 'ň': "n", 'ŉ': "n", 'ŋ': "n", 'ō': "o", 'ŏ': "o", 'ő': "o", 'œ': "oe", 'ŕ': "r", 'ŗ': "r",
	'ř': "r", 'ś': "s", 'ŝ': "s", 'ş': "s", 'š': "s", 'ţ': "t", 'ť': "t", 'ŧ': "t", 'ũ': "u", 'ū': "u", 'ŭ': "u",
	'ů': "u", 'ű': "u", 'ų': "u", 'ŵ': "w", 'ŷ': "y", 'ź': "z", 'ż': "z", 'ž': "z", 'ſ': "s",
}
