package config

import (
	"errors"
	"path/filepath"
)

// ClientFile describes the configuration of a remote-access client that `tlsvpn pki bundle` hands
// out: a node without addresses of its own whose one peer is its hub.
type ClientFile struct {
	Name     string // the client's name: the first DNS SAN of its certificate
	Hub      string // the hub's name: a DNS SAN of the hub's certificate
	Endpoint string // host:port where the hub listens
	// CA, Cert, Key and CRL are the [tls] files, as written into the file: paths relative to the file's
	// folder, or absolute. CRL "" leaves tls.crl out.
	CA, Cert, Key, CRL string
}

// MarshalClient writes the configuration file of f: name, [tls], [interface] with its default name
// and no address, and one [[peer]] that is the hub, with remote_access = true. Every other key is left
// to its default, so the file stays as short as one written by hand. The text is checked as Parse
// checks a file (it touches no other file); an invalid value comes back as an *Error whose problems
// name the keys.
func MarshalClient(f ClientFile) ([]byte, error) {
	c := &Config{
		Path:      filepath.Join(string(filepath.Separator), f.Name+".toml"),
		Name:      f.Name,
		TLS:       TLS{CA: f.CA, Cert: f.Cert, Key: f.Key},
		Interface: Interface{Name: DefaultInterfaceName},
		Peers:     []Peer{{Name: f.Hub, Endpoint: f.Endpoint, RemoteAccess: true}},
	}
	if f.CRL != "" {
		c.TLS.CRLs = []string{f.CRL}
	}
	mode := lookup("interface.mode").defValue.(string) // the file leaves the mode to its default
	data, err := c.marshal(encodeTable(c, &encoding{mode: mode, sparse: true}, schema))
	if err != nil {
		return nil, err
	}
	if _, err := parse(data, c.Path); err != nil {
		return nil, err
	}
	return data, nil
}

// CheckEndpoint says why s cannot be a [[peer]] endpoint, as the configuration writes it (host:port,
// the host an IP address, IPv6 in brackets, or a DNS name), or returns nil. The error says how to
// write it.
func CheckEndpoint(s string) error {
	if _, why := checkEndpoint(s); why != "" {
		return errors.New(why)
	}
	return nil
}
