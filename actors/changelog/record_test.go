package changelog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   string
		value []byte
		gen   int32
		del   bool
	}{
		{"set", "t/acme/c/c1", []byte(`{"id":"c1"}`), 7, false},
		{"set of an empty value", "t/acme/x/assigned/c1", []byte{}, 7, false},
		{"set of a nil value", "t/acme/l/", nil, 0, false},
		{"delete", "q/\x00\x00\x00\x00\x00\x00\x00\x01/acme", nil, 3, true},
		{"delete ignores a value", "t/acme/m/c1/x", []byte("ignored"), 3, true},
		{"no generation", "t/acme/o/op1", []byte("{}"), NoGeneration, false},
		{"binary key and value", "t/acme/i/\xff\x00", []byte{0, 1, 2, 255}, 1 << 30, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("reused")
			env := Append(prefix, []byte(tc.key), tc.value, tc.gen, tc.del)
			if !bytes.Equal(env[:len(prefix)], prefix) {
				t.Fatalf("Append overwrote dst")
			}
			env = env[len(prefix):]
			r, err := Decode(4, 99, []byte(tc.key), env, tc.del)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if string(r.Key) != tc.key || r.Delete != tc.del || r.Generation != tc.gen {
				t.Fatalf("decoded %+v", r)
			}
			switch {
			case tc.del && r.Value != nil:
				t.Fatalf("a delete decoded with value %q", r.Value)
			case !tc.del && (r.Value == nil || !bytes.Equal(r.Value, tc.value)):
				t.Fatalf("value %q (nil %v), want %q", r.Value, r.Value == nil, tc.value)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	key := []byte("t/acme/c/c1")
	good := Append(nil, key, []byte(`{"id":"c1"}`), 5, false)
	del := Append(nil, key, nil, 5, true)
	mutate := func(env []byte, f func([]byte) []byte) []byte { return f(append([]byte{}, env...)) }
	// reseal recomputes the checksum, so the test reaches the check after it.
	reseal := func(env []byte) []byte {
		binary.BigEndian.PutUint32(env[6:10], checksum(env, key))
		return env
	}
	for _, tc := range []struct {
		name      string
		key       []byte
		env       []byte
		tombstone bool
		reason    string
	}{
		{"empty key", nil, good, false, "empty key"},
		{"no envelope", key, nil, false, "shorter than its 10-byte header"},
		{"short envelope", key, good[:9], false, "shorter than its 10-byte header"},
		{"unknown format", key, mutate(good, func(e []byte) []byte { e[0] = 2; return e }), false, "unknown format 2"},
		{"unknown flag", key, mutate(good, func(e []byte) []byte { e[5] |= 4; return e }), false, "unknown flags 0x4"},
		{"value flipped", key, mutate(good, func(e []byte) []byte { e[len(e)-1] ^= 1; return e }), false, "checksum"},
		{"generation flipped", key, mutate(good, func(e []byte) []byte { e[2] ^= 1; return e }), false, "checksum"},
		{"delete flag flipped", key, mutate(good, func(e []byte) []byte { e[5] ^= FlagDelete; return e }), false, "checksum"},
		{"another key", []byte("t/acme/c/c2"), good, false, "checksum"},
		{"value truncated", key, good[:len(good)-1], false, "checksum"},
		{"delete with a value", key, mutate(del, func(e []byte) []byte { return reseal(append(e, 'x')) }), false, "a delete carrying a 1-byte value"},
		{"tombstone of a set", key, good, true, "a tombstone whose envelope is not a delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(3, 1234, tc.key, tc.env, tc.tombstone)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v, want a *DecodeError", err)
			}
			if de.Partition != 3 || de.Offset != 1234 || !strings.Contains(de.Reason, tc.reason) {
				t.Fatalf("error %+v, want partition 3 offset 1234 reason %q", de, tc.reason)
			}
			msg := err.Error()
			if !strings.Contains(msg, "switchboard.changelog partition 3 offset 1234") {
				t.Fatalf("message %q does not say where", msg)
			}
		})
	}
}

// FuzzDecode: whatever the bytes, Decode returns a record or a *DecodeError, never panics, and a record it accepts
// encodes back to the same envelope.
func FuzzDecode(f *testing.F) {
	key := []byte("t/acme/c/c1")
	f.Add(key, Append(nil, key, []byte("v"), 1, false), false)
	f.Add(key, Append(nil, key, nil, 1, true), true)
	f.Add([]byte("q/x"), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, key, env []byte, tombstone bool) {
		r, err := Decode(0, 0, key, env, tombstone)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		if again := Append(nil, r.Key, r.Value, r.Generation, r.Delete); !bytes.Equal(again, env) {
			t.Fatalf("accepted %x, which encodes back to %x", env, again)
		}
	})
}

// TestLeaf: the format imports only the standard library, so any component (and the pure domain) may use it.
func TestLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/switchboard-hq/switchboard/actors/changelog" {
			t.Errorf("the changelog format depends on %s", p)
		}
	}
}
