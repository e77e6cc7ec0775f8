package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Headers of a forwarded call.
const (
	// HeaderForward carries the signature: "t=<unix seconds>,n=<nonce>,s=<hex HMAC-SHA256>".
	HeaderForward = "X-Switchboard-Forward"
	// HeaderIdentity carries the caller's session as the forwarding node verified it (Identity), when the caller
	// signed in with a cookie; a bearer token travels in Authorization instead and the owner checks it itself.
	HeaderIdentity = "X-Switchboard-Identity"
	// HeaderFrom names the forwarding node (for logs).
	HeaderFrom = "X-Switchboard-From"
)

// Errors of Verify. None of them says more than "refused" to the caller: the API answers them all 401.
var (
	ErrUnsigned = errors.New("cluster: forward signature missing or malformed")
	ErrStale    = errors.New("cluster: forward signed too long ago (or in the future)")
	ErrBadMAC   = errors.New("cluster: forward signature does not match")
	ErrReplayed = errors.New("cluster: forward replayed")
)

// Signed is what a forward's MAC covers.
type Signed struct {
	Method, RequestURI string
	// Body is the request body; BodyHash, when not zero, stands for its SHA-256 (computed once by the caller).
	Body     []byte
	BodyHash [32]byte
	// Identity is HeaderIdentity's value; Authorization the Authorization header's.
	Identity, Authorization string
	From                    string
}

func mac(secret []byte, s Signed, ts int64, nonce string) []byte {
	bh := s.BodyHash
	if bh == ([32]byte{}) {
		bh = sha256.Sum256(s.Body)
	}
	m := hmac.New(sha256.New, secret)
	for _, part := range []string{"switchboard-forward-v1", s.Method, s.RequestURI, hex.EncodeToString(bh[:]),
		strconv.FormatInt(ts, 10), nonce, s.Identity, s.Authorization, s.From} {
		m.Write([]byte(strconv.Itoa(len(part)))) // length-prefixed: no two field lists give the same input
		m.Write([]byte{':'})
		m.Write([]byte(part))
	}
	return m.Sum(nil)
}

// Sign returns HeaderForward's value for s, signed now with a fresh nonce.
func Sign(secret []byte, s Signed, now time.Time) string {
	var n [16]byte
	_, _ = rand.Read(n[:]) // never fails (crypto/rand)
	nonce := hex.EncodeToString(n[:])
	ts := now.Unix()
	return fmt.Sprintf("t=%d,n=%s,s=%s", ts, nonce, hex.EncodeToString(mac(secret, s, ts, nonce)))
}

// Verifier checks forwards: the MAC under the shared secret, the time within MaxAge either way, and each nonce
// accepted once. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	maxAge time.Duration
	now    func() time.Time

	mu    sync.Mutex
	seen  map[string]time.Time // nonce → when it may be forgotten
	sweep time.Time
}

// NewVerifier returns a Verifier; maxAge 0 means 30 s; now nil is time.Now.
func NewVerifier(secret []byte, maxAge time.Duration, now func() time.Time) *Verifier {
	if maxAge == 0 {
		maxAge = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{secret: secret, maxAge: maxAge, now: now, seen: map[string]time.Time{}}
}

// Verify checks header (HeaderForward's value) against s.
func (v *Verifier) Verify(header string, s Signed) error {
	var ts int64
	var nonce, sig string
	for f := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return ErrUnsigned
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return ErrUnsigned
			}
			ts = n
		case "n":
			nonce = val
		case "s":
			sig = val
		}
	}
	got, err := hex.DecodeString(sig)
	if ts == 0 || len(nonce) < 16 || err != nil || len(got) != sha256.Size {
		return ErrUnsigned
	}
	now := v.now()
	if d := now.Sub(time.Unix(ts, 0)); d > v.maxAge || d < -v.maxAge {
		return ErrStale
	}
	if !hmac.Equal(got, mac(v.secret, s, ts, nonce)) {
		return ErrBadMAC
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.After(v.sweep) {
		for k, until := range v.seen {
			if now.After(until) {
				delete(v.seen, k)
			}
		}
		v.sweep = now.Add(v.maxAge)
	}
	if _, ok := v.seen[nonce]; ok {
		return ErrReplayed
	}
	// A nonce is kept as long as its timestamp is acceptable: after that the time check refuses it anyway.
	v.seen[nonce] = time.Unix(ts, 0).Add(v.maxAge + time.Second)
	return nil
}
