package main

import (
	"fmt"
	"strings"

	"github.com/tlsvpn/tlsvpn/config"
)

// refuseUnbuilt refuses a configuration that uses a feature this build checks but does not run yet:
// `tlsvpn check` accepts its keys, but `up` would silently ignore them. The builder of each feature
// removes its line here when the feature lands.
func refuseUnbuilt(cfg *config.Config) error {
	var uses []string
	add := func(used bool, what string) {
		if used {
			uses = append(uses, what)
		}
	}
	add(cfg.RemoteAccess != nil, "[remote_access] (a remote-access hub)")
	add(len(cfg.Groups) > 0, "[[group]]")
	add(cfg.IsClient(), "remote_access = true on a peer (a remote-access client)")
	if len(uses) == 0 {
		return nil
	}
	return fmt.Errorf("%s uses %s, which this build of tlsvpn checks but cannot run yet; remove it to start the node",
		cfg.Path, strings.Join(uses, ", "))
}
