package wire

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -7)
	b = AppendString(b, "héllo")
	b = AppendBytes(b, []byte{1, 2})
	b = append(b, 9)
	r := NewReader(b)
	if v := r.Uvarint(); v != 300 {
		t.Errorf("Uvarint %d", v)
	}
	if v := r.Int(); v != -7 {
		t.Errorf("Int %d", v)
	}
	if s := string(r.Field()); s != "héllo" {
		t.Errorf("Field %q", s)
	}
	if f := r.Field(); !bytes.Equal(f, []byte{1, 2}) || cap(f) != 2 {
		t.Errorf("Field %v cap %d", f, cap(f))
	}
	if v := r.Byte(); v != 9 || r.Len() != 0 || r.Err() != nil {
		t.Errorf("Byte %d, %d left, err %v", v, r.Len(), r.Err())
	}
	for _, x := range []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64} {
		if n := SizeVarint(x); n != len(binary.AppendVarint(nil, x)) {
			t.Errorf("SizeVarint(%d) = %d", x, n)
		}
	}
	if n := SizeString("héllo"); n != 7 {
		t.Errorf("SizeString = %d", n)
	}
}

func TestTheFirstErrorSticks(t *testing.T) {
	b := AppendString(nil, "ab")
	b[0] = 9 // a length beyond the end
	r := NewReader(append(b, 0, 0, 0))
	if f := r.Field(); len(f) != 0 {
		t.Errorf("Field %q past the end", f)
	}
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), "beyond the end") {
		t.Fatalf("err %v", err)
	}
	if r.Byte() != 0 || r.Uvarint() != 0 || r.Len() != 0 || r.Err() != err {
		t.Errorf("reads after an error: not zero, or the error changed to %v", r.Err())
	}
}

func TestEnd(t *testing.T) {
	strict := NewReader(nil)
	if strict.Varint() != 0 || strict.Err() == nil {
		t.Errorf("strict read past the end: err %v", strict.Err())
	}
	lenient := NewLenientReader(nil)
	if lenient.Varint() != 0 || len(lenient.Field()) != 0 || lenient.Err() != nil {
		t.Errorf("lenient read past the end: err %v", lenient.Err())
	}
	if lenient.Byte(); lenient.Err() == nil {
		t.Error("lenient Byte past the end: no error")
	}
	bad := NewReader([]byte{0x80}) // a uvarint cut short
	if bad.Uvarint(); bad.Err() == nil {
		t.Error("truncated uvarint: no error")
	}
}
