package config

import (
	"bufio"
	"bytes"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// ControlSocket finds the control socket a node started from path
// listens on, reading the file leniently: `tlsvpn status` must reach a node
// even while its file has a problem (say, after an edit that a reload
// refused). It falls back to a line scan when the file is not valid TOML,
// and to the default socket when the keys are absent.
func ControlSocket(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var doc struct {
		Interface struct{ Name string }
		Control   struct{ Socket string }
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		doc.Interface.Name, doc.Control.Socket = scanSocketKeys(data)
	}
	if doc.Control.Socket != "" {
		return doc.Control.Socket, nil
	}
	if doc.Interface.Name == "" {
		doc.Interface.Name = DefaultInterfaceName
	}
	return defaultControlSocket(doc.Interface.Name), nil
}

// defaultControlSocket is the control socket of a node whose file names none: an abstract socket
// named after the interface, so one per interface and network namespace.
func defaultControlSocket(ifname string) string {
	return "@tlsvpn/" + ifname
}

// scanSocketKeys picks `name` in [interface] and `socket` in [control] out
// of text that does not parse as a whole.
func scanSocketKeys(data []byte) (ifname, socket string) {
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[] \t")
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		val = strings.Trim(strings.TrimSpace(strings.SplitN(val, "#", 2)[0]), `"'`)
		switch {
		case table == "interface" && key == "name":
			ifname = val
		case table == "control" && key == "socket":
			socket = val
		}
	}
	return ifname, socket
}
