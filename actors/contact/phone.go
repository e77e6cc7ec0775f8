package contact

import "strings"

// E.164 bounds: a number has at most 15 digits, country code included. The shortest numbers in use (a few small
// countries' subscriber numbers behind a 3-digit code) give 8 digits; nothing shorter reaches a WhatsApp account.
const (
	minDigits = 8
	maxDigits = 15
)

// NormalizePhone returns the E.164 form of a phone number ("+15551234567") and its WhatsApp address (its digits,
// "15551234567"), or a refusal with code CodeInvalidPhone.
//
// The check is cheap on purpose (a CSV import runs it on every row): the number must be "+" (or the international
// prefix "00") and 8 to 15 digits starting with a country calling code the ITU assigned; spaces, dashes, dots and
// parentheses between the digits are dropped. A number without "+" is refused: without its country code it is
// ambiguous. Whether the number exists, or has a WhatsApp account, only the channel can tell.
func NormalizePhone(phone string) (e164, waID string, err error) {
	s := strings.TrimSpace(phone)
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		s = s[2:]
	default:
		if s == "" {
			return "", "", refuse(CodeInvalidPhone, "a phone number is required")
		}
		return "", "", refuse(CodeInvalidPhone, "%q must start with + and the country code (E.164, e.g. +15551234567)", clip(phone))
	}
	var d [maxDigits]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == maxDigits {
				return "", "", refuse(CodeInvalidPhone, "%q has more than %d digits", clip(phone), maxDigits)
			}
			d[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", "", refuse(CodeInvalidPhone, "%q holds %q: a phone number is digits after the +", clip(phone), string(rune(c)))
		}
	}
	if n < minDigits {
		return "", "", refuse(CodeInvalidPhone, "%q has %d digits, fewer than the %d of the shortest international number", clip(phone), n, minDigits)
	}
	if d[0] == '0' || !knownCountryCode(d[:n]) {
		return "", "", refuse(CodeInvalidPhone, "%q does not start with a country calling code", clip(phone))
	}
	wa := string(d[:n])
	return "+" + wa, wa, nil
}

// clip shortens a value quoted in a refusal.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// knownCountryCode reports whether digits start with an assigned country calling code (ITU-T E.164 list: 1, 7,
// two-digit and three-digit codes). Codes are prefix-free, so at most one matches.
func knownCountryCode(digits []byte) bool {
	switch digits[0] {
	case '1', '7':
		return true
	}
	if cc2[string(digits[:2])] {
		return true
	}
	return len(digits) >= 3 && cc3[string(digits[:3])]
}

var cc2, cc3 = func() (map[string]bool, map[string]bool) {
	two := map[string]bool{}
	for _, c := range strings.Fields(`20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58
		60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98`) {
		two[c] = true
	}
	three := map[string]bool{}
	for _, c := range strings.Fields(`211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234
		235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 262
		263 264 265 266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374
		375 376 377 378 379 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590
		591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689
		690 691 692 850 852 853 855 856 880 886 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977
		992 993 994 995 996 998`) {
		three[c] = true
	}
	return two, three
}()
