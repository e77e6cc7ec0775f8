package conversation

// ValidID reports whether id has the format of the ids ID returns: "c" and 16 characters of [0-9a-v] (80 bits in
// lower-case base32hex). The API's edge calls it to answer conversation_not_found for any other id without
// producing a command, so random ids cannot make the router start actors; it does not say the conversation exists.
func ValidID(id string) bool {
	if len(id) != idLen || id[0] != 'c' {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'v') {
			return false
		}
	}
	return true
}

// idLen is the length of an id ID returns: the prefix and 10 bytes in base32 without padding.
const idLen = 1 + 16
