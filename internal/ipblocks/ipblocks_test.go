package ipblocks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func prefixes(t testing.TB, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarshalWritesCanonicalDER(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		der  string
	}{
		{"one IPv4 prefix is one addressPrefix", []string{"10.0.0.0/8"},
			"300c 300a 04020001 3004 0302000a"},
		{"all addresses of both families", []string{"::/0", "0.0.0.0/0"},
			"3016 3009 04020001 3003 030100 3009 04020002 3003 030100"},
		{"two halves are joined into one prefix", []string{"10.0.0.128/25", "10.0.0.0/25"},
			"300e 300c 04020001 3006 0304000a0000"},
		{"touching prefixes that are no prefix become a range", []string{"10.0.0.0/24", "10.0.1.0/25"},
			"3015 3013 04020001 300d 300b 0302010a 0305070a000100"},
		{"a prefix inside another disappears", []string{"10.0.0.0/8", "10.1.0.0/16"},
			"300c 300a 04020001 3004 0302000a"},
		{"a host route keeps all its bits", []string{"fd64::2/128"},
			"301b 3019 04020002 3013 031100 fd640000000000000000000000000002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(prefixes(t, tt.in...))
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.der); !slices.Equal(got, want) {
				t.Errorf("Marshal(%v) = %x, want %x", tt.in, got, want)
			}
		})
	}
}

func TestMarshalRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   []netip.Prefix
		want string
	}{
		{"an empty list", nil, "no prefixes"},
		{"a prefix with host bits set", prefixes(t, "10.0.0.1/24"), "host bits"},
		{"the zero prefix", []netip.Prefix{{}}, "invalid prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Marshal(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Marshal(%v) error = %v, want it to mention %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseReadsPrefixesAndRanges(t *testing.T) {
	tests := []struct {
		name string
		der  string
		want []string
	}{
		{"a range is split into the fewest prefixes",
			"3015 3013 04020001 300d 300b 0302010a 0305070a000100",
			[]string{"10.0.0.0/24", "10.0.1.0/25"}},
		{"an unaligned range",
			// 10.0.0.1 - 10.0.0.6: both bounds need all 32 bits
			"3018 3016 04020001 3010 300e 0305000a000001 0305000a000006",
			[]string{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}},
		{"unsorted, overlapping entries are normalised",
			"3011 300f 04020001 3009 0303000a01 0302000a",
			[]string{"10.0.0.0/8"}},
		{"IPv6 before IPv4 comes out IPv4 first",
			"3016 3009 04020002 3003 030100 3009 04020001 3003 030100",
			[]string{"0.0.0.0/0", "::/0"}},
		{"no families", "3000", nil},
		{"a family without entries", "3008 3006 04020001 3000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(mustHex(t, tt.der))
			if err != nil {
				t.Fatal(err)
			}
			if want := prefixes(t, tt.want...); !slices.Equal(got, want) {
				t.Errorf("Parse = %v, want %v", got, want)
			}
		})
	}
}

func TestParseRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name string
		der  string
		want error
	}{
		{"empty input", "", ErrMalformed},
		{"trailing data", "3000 00", ErrMalformed},
		{"not a sequence", "0400", ErrMalformed},
		{"truncated", "300c 300a 04020001 3004 0302", ErrMalformed},
		{"inherit", "3008 3006 04020001 0500", ErrInherit},
		{"SAFI", "3009 3007 0403000101 3000", ErrUnsupported},
		{"unknown AFI", "3008 3006 04020003 3000", ErrUnsupported},
		{"one-octet family", "3007 3005 040101 3000", ErrMalformed},
		{"IPv4 prefix of 33 bits", "3010 300e 04020001 3008 030607 0a00000080", ErrMalformed},
		{"nonzero padding bits", "300c 300a 04020001 3004 0302010b", ErrMalformed},
		{"inverted range", "3015 3013 04020001 300d 300b 0302000b 0305070a000100", ErrMalformed},
		{"range of three bounds", "3014 3012 04020001 300c 300a 0302000b 030100 030100", ErrMalformed},
		{"family twice", "3010 3006 04020001 3000 3006 04020001 3000", ErrMalformed},
		{"entry of wrong type", "300b 3009 04020001 3003 020101", ErrMalformed},
		{"choice of wrong type", "3008 3006 04020001 0400", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(mustHex(t, tt.der))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse = %v, %v; want error %v", got, err, tt.want)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestParseMarshalRoundTrip(t *testing.T) {
	tests := [][]string{
		{"10.1.0.0/24"},
		{"10.1.0.0/24", "10.2.0.0/24", "fd01::/64", "fd02::/64"},
		{"0.0.0.0/0", "::/0"},
		{"10.0.0.0/24", "10.0.1.0/25", "192.168.0.0/16"},
		{"255.255.255.255/32", "255.255.255.254/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
		{"::ffff:10.0.0.0/120"},
	}
	for _, in := range tests {
		t.Run(strings.Join(in, ","), func(t *testing.T) {
			der, err := Marshal(prefixes(t, in...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range prefixes(t, in...) {
				if !Covers(got, p) {
					t.Errorf("Parse(Marshal(%v)) = %v, lost %s", in, got, p)
				}
			}
			again, err := Marshal(got)
			if err != nil || !slices.Equal(again, der) {
				t.Errorf("Marshal(Parse(Marshal(x))) = %x, %v; want %x", again, err, der)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	blocks := prefixes(t, "10.1.0.0/24", "10.2.0.0/25", "10.2.0.128/25", "fd01::/64")
	tests := []struct {
		p    string
		want bool
	}{
		{"10.1.0.0/24", true},
		{"10.1.0.7/32", true},
		{"10.1.0.0/23", false},
		{"10.2.0.0/24", true}, // union of two halves
		{"10.3.0.0/24", false},
		{"fd01::5/128", true},
		{"fd02::/64", false},
		{"::ffff:10.1.0.1/128", false}, // a 4in6 address is IPv6
	}
	for _, tt := range tests {
		if got := Covers(blocks, netip.MustParsePrefix(tt.p)); got != tt.want {
			t.Errorf("Covers(%v, %s) = %v, want %v", blocks, tt.p, got, tt.want)
		}
	}
	if Covers(nil, netip.MustParsePrefix("10.0.0.0/8")) {
		t.Error("no blocks cover something")
	}
}

// chainWith makes a CA certificate carrying caExt (when not nil) and signs a
// child carrying childExt with it.
func chainWith(t *testing.T, caExt, childExt []byte) (ca, child *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := func(cn string, ext []byte) *x509.Certificate {
		c := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			BasicConstraintsValid: true, IsCA: cn == "ca",
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		if ext != nil {
			c.ExtraExtensions = []pkix.Extension{{Id: OID, Critical: true, Value: ext}}
		}
		return c
	}
	parse := func(der []byte, err error) *x509.Certificate {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caTmpl := tmpl("ca", caExt)
	ca = parse(x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key))
	child = parse(x509.CreateCertificate(rand.Reader, tmpl("node", childExt), ca, key.Public(), key))
	return ca, child
}

func mustMarshal(t *testing.T, s ...string) []byte {
	t.Helper()
	der, err := Marshal(prefixes(t, s...))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestMarkHandledLetsVerifyAcceptTheChain(t *testing.T) {
	ca, leaf := chainWith(t, mustMarshal(t, "0.0.0.0/0", "::/0"), mustMarshal(t, "10.1.0.0/24"))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots}); err == nil {
		t.Fatal("Verify accepted an unhandled critical extension; MarkHandled is pointless")
	}
	roots = x509.NewCertPool()
	roots.AddCert(MarkHandled(ca))
	chains, err := MarkHandled(leaf).Verify(x509.VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatalf("Verify after MarkHandled: %v", err)
	}
	if len(leaf.UnhandledCriticalExtensions) != 1 {
		t.Error("MarkHandled modified its argument")
	}
	if err := CheckChain(chains[0]); err != nil {
		t.Errorf("CheckChain: %v", err)
	}
}

func TestMarkHandledKeepsAMalformedExtension(t *testing.T) {
	_, leaf := chainWith(t, nil, []byte{0x30, 0x03, 0x04, 0x01, 0x01})
	if got := MarkHandled(leaf); len(got.UnhandledCriticalExtensions) != 1 {
		t.Errorf("MarkHandled dropped a malformed extension: %v", got.UnhandledCriticalExtensions)
	}
	if _, present, err := FromCertificate(leaf); !present || err == nil {
		t.Errorf("FromCertificate = present %v, err %v; want present and an error", present, err)
	}
}

func TestCheckChain(t *testing.T) {
	tests := []struct {
		name      string
		ca, leaf  []byte
		wantError string
	}{
		{"leaf inside the CA's blocks", mustMarshal(t, "10.0.0.0/8"), mustMarshal(t, "10.1.0.0/24"), ""},
		{"leaf without blocks", mustMarshal(t, "10.0.0.0/8"), nil, ""},
		{"CA without blocks", nil, mustMarshal(t, "10.1.0.0/24"), "has no ipAddrBlocks"},
		{"leaf outside the CA's blocks", mustMarshal(t, "10.0.0.0/8"), mustMarshal(t, "192.168.0.0/24"), "does not delegate 192.168.0.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, leaf := chainWith(t, tt.ca, tt.leaf)
			err := CheckChain([]*x509.Certificate{leaf, ca})
			if tt.wantError == "" && err != nil || tt.wantError != "" && (err == nil || !strings.Contains(err.Error(), tt.wantError)) {
				t.Errorf("CheckChain = %v, want error containing %q", err, tt.wantError)
			}
		})
	}
}

func TestFromCertificateWithoutExtension(t *testing.T) {
	_, leaf := chainWith(t, nil, nil)
	if p, present, err := FromCertificate(leaf); p != nil || present || err != nil {
		t.Errorf("FromCertificate = %v, %v, %v; want nothing", p, present, err)
	}
}
