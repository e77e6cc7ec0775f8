// Package jsonappend appends JSON values to a byte slice exactly as encoding/json's Marshal writes them, without
// reflection, for the records and events encoded on hot paths (a contact, a conversation event). Anything out of the
// ordinary (a string to escape, a year outside 0-9999, a float that is not finite) goes to encoding/json itself, so
// the bytes are Marshal's whichever engine builds it. It imports only the standard library: the pure domain uses it.
package jsonappend

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// plain reports whether s is written by json.Marshal as itself between quotes: UTF-8 with no byte it escapes
// (controls, the quote, the backslash, and <, > and & for HTML) and no U+2028 or U+2029 (whose UTF-8 starts with
// 0xE2; any 0xE2 goes the slow way).
func plain(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&', c == 0xE2:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// String appends s as json.Marshal writes a string.
func String(dst []byte, s string) []byte {
	if plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// Time appends t as time.Time.MarshalJSON does (RFC 3339 with nanoseconds, quoted); it fails, as Marshal does, for
// a year outside 0-9999.
func Time(dst []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

// Float appends f as json.Marshal writes a float64 (the shortest decimal that reads back as f, in exponent form
// below 1e-6 and from 1e21); it fails, as Marshal does, for NaN and the infinities.
func Float(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
}
