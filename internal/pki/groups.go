package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"

	"github.com/tlsvpn/tlsvpn/internal/acl"
)

// Attribute types of the subject of a client certificate (RFC 4519).
var (
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// checkGroups checks the groups of a client certificate: each a group
// name as the configuration's [[group]] name takes it (acl.CheckGroupName),
// none twice. Names compare exactly, case included, as the hub matches them.
func checkGroups(groups []string) error {
	for i, g := range groups {
		if err := acl.CheckGroupName(g); err != nil {
			return errorf(ErrInvalidArgument, "--group: %v", err)
		}
		if slices.Contains(groups[:i], g) {
			return errorf(ErrInvalidArgument, "--group %q is given twice; name each group once", g)
		}
	}
	return nil
}

// clientSubject returns the DER subject of a client certificate: one
// organizationalUnitName per group, in the order given, then the
// CommonName name, each attribute its own RDN. (crypto/x509 would put all
// OUs into one multi-valued RDN, which few tools expect.)
func clientSubject(name string, groups []string) ([]byte, error) {
	seq := make(pkix.RDNSequence, 0, len(groups)+1)
	for _, g := range groups {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oidOrganizationalUnit, Value: g}})
	}
	seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oidCommonName, Value: name}})
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("encode the subject of %s: %w", name, err)
	}
	return der, nil
}
