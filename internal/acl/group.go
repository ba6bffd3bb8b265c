package acl

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxGroupName is the longest group name: an X.509 organizationalUnitName holds at most 64 characters
// (ub-organizational-unit-name, RFC 5280).
const MaxGroupName = 64

// CheckGroupName checks a group name, which a client certificate carries as an organizationalUnitName
// (OU) of its subject and which matches a [[group]] name exactly, case included: 1 to 64 printable
// characters, not starting or ending with a space. The error says how to write it.
func CheckGroupName(name string) error {
	const fix = `use 1 to 64 printable characters, like "admins"`
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return fmt.Errorf("group name %q is not UTF-8; %s", name, fix)
	case n == 0:
		return fmt.Errorf("empty group name; %s", fix)
	case n > MaxGroupName:
		return fmt.Errorf("group name %q has %d characters, an OU at most %d; %s", name, n, MaxGroupName, fix)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("group name %q starts or ends with a space; write %q", name, strings.TrimSpace(name))
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("group name %q has the non-printable character %U; %s", name, r, fix)
		}
	}
	return nil
}
