package lab

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// debBuildTimeout bounds one `make deb`; the first on a machine builds nfpm
// from the module proxy.
const debBuildTimeout = 10 * time.Minute

// BuildDeb builds the Debian package with `make deb` in the repository at
// repo, writing the package to dir/dist and staging its files in dir/stage,
// and returns the package's path. version is its version; "" takes
// packaging/version's (the tag, or 0.0.0~gitDATE.SHA), and a later version
// makes a package that upgrades that one. dir is the caller's to remove.
// Several builds may run at once in different dirs.
func BuildDeb(repo, dir, version string) (string, error) {
	dist := filepath.Join(dir, "dist")
	args := []string{"--no-print-directory", "deb", "DIST=" + dist, "DEB_STAGE=" + filepath.Join(dir, "stage")}
	if version != "" {
		args = append(args, "DEB_VERSION="+version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), debBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Dir = repo
	if _, err := combined(cmd); err != nil {
		return "", fmt.Errorf("build the Debian package: %w", err)
	}
	debs, err := filepath.Glob(filepath.Join(dist, "*.deb"))
	if err != nil || len(debs) != 1 {
		return "", fmt.Errorf("build the Debian package: make deb made %v in %s, want one package", debs, dist)
	}
	return debs[0], nil
}
