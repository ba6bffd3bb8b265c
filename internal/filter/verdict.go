package filter

import "strconv"

// Verdict is the filter's decision on one packet. The caller counts drops
// per client under String's name (docs/logging.md's drop reasons).
type Verdict uint8

// The verdicts.
const (
	Pass          Verdict = iota
	DropACL               // no group allows it, or no flow the client opened admits it
	DropSource            // from a client, its inner source is not the client's lease
	DropMalformed         // not a well-formed IP packet (packet.Parse failed)
	NumVerdicts
)

var verdictNames = [NumVerdicts]string{
	Pass:          "pass",
	DropACL:       "acl",
	DropSource:    "source_not_allowed",
	DropMalformed: "malformed",
}

// String returns the verdict's name: "pass" or the drop reason.
func (v Verdict) String() string {
	if v < NumVerdicts {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}
