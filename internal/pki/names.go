package pki

import (
	"fmt"
	"strings"
	"unicode"
)

// reservedNames would make NAME.pem collide with the CA's own files.
var reservedNames = map[string]bool{"ca": true, "crl": true}

// ValidateName checks that name can name a node: a DNS name of lowercase
// letters, digits and hyphens in dot-separated labels of 1 to 63 characters
// (no leading or trailing hyphen), at most 253 characters, and not "ca" or
// "crl". Such a name is also a safe file name. Errors wrap ErrInvalidArgument.
func ValidateName(name string) error {
	if name == "" {
		return errorf(ErrInvalidArgument, "empty name")
	}
	if len(name) > 253 {
		return errorf(ErrInvalidArgument, "name %q is longer than 253 characters", name)
	}
	if reservedNames[name] {
		return errorf(ErrInvalidArgument, "name %q is reserved for the CA's own %s.pem", name, name)
	}
	for _, label := range strings.Split(name, ".") {
		if err := validateLabel(label); err != nil {
			return errorf(ErrInvalidArgument, "name %q: %v", name, err)
		}
	}
	return nil
}

func validateLabel(label string) error {
	switch {
	case label == "":
		return fmt.Errorf("empty label")
	case len(label) > 63:
		return fmt.Errorf("label %q is longer than 63 characters", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for _, r := range label {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
		case unicode.IsUpper(r):
			return fmt.Errorf("%q is not lowercase (use %q)", label, strings.ToLower(label))
		default:
			return fmt.Errorf("character %q not allowed (letters, digits, hyphens and dots only)", r)
		}
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
