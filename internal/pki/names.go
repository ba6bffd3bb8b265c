package pki

import (
	"unicode"

	"github.com/tlsvpn/tlsvpn/internal/netparse"
)

// reservedNames would make NAME.pem collide with the CA's own files.
var reservedNames = map[string]bool{"ca": true, "crl": true}

// ValidateName checks that name can name a node: a DNS name as the configuration takes it
// (netparse.NodeName: dot-separated labels of letters, digits and hyphens, no wildcard, not an IP
// address), in lower case, and not "ca" or "crl". Names compare without case; the PKI writes them
// lower-case so that each name has one certificate file. Such a name is also a safe file name.
// Errors wrap ErrInvalidArgument.
func ValidateName(name string) error {
	if name == "" {
		return errorf(ErrInvalidArgument, "empty name")
	}
	if err := netparse.NodeName(name); err != nil {
		return errorf(ErrInvalidArgument, "name %v", err)
	}
	if lower := netparse.CanonicalName(name); lower != name {
		return errorf(ErrInvalidArgument, "name %q is not lowercase (use %q): names compare without case, and each has one certificate file", name, lower)
	}
	if reservedNames[name] {
		return errorf(ErrInvalidArgument, "name %q is reserved for the CA's own %s.pem", name, name)
	}
	return nil
}

// validateCAName checks a CA common name: 1 to 64 printable characters
// (64 is ub-common-name of RFC 5280).
func validateCAName(name string) error {
	if name == "" || len(name) > 64 {
		return errorf(ErrInvalidArgument, "CA name must have 1 to 64 characters, got %d", len(name))
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return errorf(ErrInvalidArgument, "CA name %q has a non-printable character", name)
		}
	}
	return nil
}

// validateDays checks a lifetime in days.
func validateDays(days int) error {
	if days < 1 || days > maxDays {
		return errorf(ErrInvalidArgument, "--days must be between 1 and %d, got %d", maxDays, days)
	}
	return nil
}
