package api

// Passwords (README "## Team"): argon2id hashes in the PHC string format, and the password policy.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: 64 MiB, one pass, two lanes (RFC 9106's second recommended option, memory-bound), 16-byte
// salt, 32-byte key.
const (
	argonMemory  = 64 * 1024
	argonTime    = 1
	argonThreads = 2
	argonKeyLen  = 32
)

// PasswordPolicy is the documented policy, as the API tells a caller whose password it refused.
const PasswordPolicy = "at least 12 characters (at most 256 bytes), not one of the most common passwords, and not " +
	"containing your operator id"

// commonPasswords are refused whatever their length (lower-cased comparison); a small list of the most used
// passwords of 12 characters or more.
var commonPasswords = []string{"123456789012", "1234567890123", "12345678901234", "password1234", "password12345",
	"passwordpassword", "qwertyuiop12", "qwertyuiopasdf", "111111111111", "000000000000", "iloveyou1234",
	"aaaaaaaaaaaa", "abcdefghijkl", "abc123abc123", "letmeinletmein", "welcome12345", "administrator",
	"changemechangeme", "switchboard1", "switchboard123", "qwerty123456", "1q2w3e4r5t6y"}

// CheckPassword reports why pw breaks the policy for operator id, or "" when it is fine.
func CheckPassword(pw, operatorID string) string {
	lower := strings.ToLower(pw)
	switch {
	case utf8.RuneCountInString(pw) < 12:
		return "it is shorter than 12 characters"
	case len(pw) > 256:
		return "it is longer than 256 bytes"
	case slices.Contains(commonPasswords, lower):
		return "it is one of the most common passwords"
	case operatorID != "" && strings.Contains(lower, strings.ToLower(operatorID)):
		return "it contains your operator id"
	}
	return ""
}

// HashPassword is the argon2id hash of pw as a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// VerifyPassword reports whether pw matches hash (HashPassword's format, with the parameters the hash names).
func VerifyPassword(pw, hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}
