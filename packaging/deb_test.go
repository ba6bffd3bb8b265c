// Package packaging holds the Debian package's definition (nfpm.yaml, the
// maintainer scripts in deb/, the version rule in version); its tests
// build the package with `make deb` and check what a user would get.
package packaging

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// repo is the repository's root, relative to this folder.
const repo = ".."

// makeTimeout bounds a make run; the first builds nfpm from the module proxy.
const makeTimeout = 10 * time.Minute

// runIn runs name with args in dir and returns its standard output.
func runIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), makeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// debFile is one entry of dpkg-deb --contents.
type debFile struct {
	mode string // as ls shows it: drwxr-x---, -rwxr-xr-x
	path string // without the leading "."
}

// The package all tests look at, built once by the first that asks.
var built struct {
	once sync.Once
	deb  string
	err  error
}

// TestMain removes the folder the package was built in.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.deb != "" {
		os.RemoveAll(filepath.Dir(filepath.Dir(built.deb)))
	}
	os.Exit(code)
}

// buildDeb runs make deb into a temp folder, once, and returns the
// package's path.
func buildDeb(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("needs dpkg-deb (Debian's dpkg)")
	}
	built.once.Do(func() { built.deb, built.err = makeDeb() })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.deb
}

func makeDeb() (string, error) {
	tmp, err := os.MkdirTemp("", "tlsvpn-deb-")
	if err != nil {
		return "", err
	}
	deb, err := lab.BuildDeb(repo, tmp, "")
	if err != nil {
		os.RemoveAll(tmp)
	}
	return deb, err
}

// contents lists the package's files by path.
func contents(t *testing.T, deb string) map[string]debFile {
	t.Helper()
	files := map[string]debFile{}
	for _, line := range strings.Split(strings.TrimSpace(runIn(t, repo, "dpkg-deb", "--contents", deb)), "\n") {
		f := strings.Fields(line) // mode owner size date time path
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents line %q", line)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		files[p] = debFile{mode: f[0], path: p}
	}
	return files
}

func TestDebFileNameAndControl(t *testing.T) {
	deb := buildDeb(t)
	field := func(name string) string {
		return strings.TrimSpace(runIn(t, repo, "dpkg-deb", "--field", deb, name))
	}
	version, arch := field("Version"), field("Architecture")
	if want := strings.TrimSpace(runIn(t, repo, "packaging/version")); version != want {
		t.Errorf("Version: %s, want %s (packaging/version)", version, want)
	}
	if !regexp.MustCompile(`^(\d+\.\d+\.\d+(~[0-9A-Za-z.]+)?|0\.0\.0~git\d{8}\.[0-9a-f]{7,})$`).MatchString(version) {
		t.Errorf("Version %q is neither a tag's nor 0.0.0~gitYYYYMMDD.SHA", version)
	}
	if got, want := filepath.Base(deb), "tlsvpn_"+version+"_"+arch+".deb"; got != want {
		t.Errorf("package file %s, want %s", got, want)
	}
	host := strings.TrimSpace(runIn(t, repo, "dpkg", "--print-architecture"))
	if arch != host {
		t.Errorf("Architecture %s, want the host's %s", arch, host)
	}
	if got := field("Package"); got != "tlsvpn" {
		t.Errorf("Package: %s", got)
	}
	// Nothing a minimal Debian lacks: no dependencies at all.
	for _, name := range []string{"Depends", "Pre-Depends", "Recommends"} {
		if got := field(name); got != "" {
			t.Errorf("%s: %s, want none", name, got)
		}
	}
	for _, name := range []string{"Maintainer", "Description", "Section"} {
		if field(name) == "" {
			t.Errorf("no %s", name)
		}
	}
}

func TestDebContents(t *testing.T) {
	deb := buildDeb(t)
	files := contents(t, deb)
	want := map[string]string{
		"/usr/bin/tlsvpn":                                       "-rwxr-xr-x",
		"/usr/lib/systemd/system/tlsvpn@.service":               "-rw-r--r--",
		"/usr/share/man/man1/tlsvpn.1.gz":                       "-rw-r--r--",
		"/usr/share/man/man1/tlsvpn-up.1.gz":                    "-rw-r--r--",
		"/usr/share/man/man1/tlsvpn-check.1.gz":                 "-rw-r--r--",
		"/usr/share/man/man1/tlsvpn-status.1.gz":                "-rw-r--r--",
		"/usr/share/man/man1/tlsvpn-pki-issue.1.gz":             "-rw-r--r--",
		"/usr/share/bash-completion/completions/tlsvpn":         "-rw-r--r--",
		"/usr/share/zsh/vendor-completions/_tlsvpn":             "-rw-r--r--",
		"/usr/share/fish/vendor_completions.d/tlsvpn.fish":      "-rw-r--r--",
		"/usr/share/doc/tlsvpn/examples/office-a.toml":          "-rw-r--r--",
		"/usr/share/doc/tlsvpn/examples/office-b.toml":          "-rw-r--r--",
		"/usr/share/doc/tlsvpn/examples/grafana-dashboard.json": "-rw-r--r--",
		"/etc/tlsvpn": "drwxr-x---",
	}
	for path, mode := range want {
		f, ok := files[path]
		switch {
		case !ok:
			t.Errorf("the package lacks %s", path)
		case f.mode != mode:
			t.Errorf("%s has mode %s, want %s", path, f.mode, mode)
		}
	}
	for p, f := range files {
		if strings.HasPrefix(p, "/etc/tlsvpn/") {
			t.Errorf("the package ships %s in /etc/tlsvpn, which is the admin's", p)
		}
		if strings.HasPrefix(p, "/usr/local") {
			t.Errorf("the package ships %s under /usr/local", p)
		}
		if strings.HasPrefix(f.mode, "-") && f.mode != "-rw-r--r--" && p != "/usr/bin/tlsvpn" {
			t.Errorf("%s has mode %s", p, f.mode)
		}
	}
	t.Logf("dpkg-deb --contents:\n%s", runIn(t, repo, "dpkg-deb", "--contents", deb))
}

// extract unpacks the package's files into a temp folder.
func extract(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	runIn(t, repo, "dpkg-deb", "--extract", deb, dir)
	return dir
}

func TestDebUnitIsTheSourceUnitNamingUsrBin(t *testing.T) {
	root := extract(t, buildDeb(t))
	got, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/tlsvpn@.service"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(repo, "systemd/tlsvpn@.service"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(string(src), "/usr/local/bin/tlsvpn", "/usr/bin/tlsvpn"); string(got) != want {
		t.Errorf("the packaged unit is not the source with /usr/bin:\n%s", got)
	}
	for _, line := range []string{
		"ExecStart=/usr/bin/tlsvpn up -c /etc/tlsvpn/%i.toml",
		"ExecReload=/usr/bin/tlsvpn reload -c /etc/tlsvpn/%i.toml",
		"StateDirectory=tlsvpn",
	} {
		if !strings.Contains(string(got), "\n"+line+"\n") {
			t.Errorf("the packaged unit lacks %s", line)
		}
	}
	if strings.Contains(string(got), "/usr/local") {
		t.Errorf("the packaged unit still names /usr/local")
	}
}

func TestDebBinaryIsStaticAndKnowsItsVersion(t *testing.T) {
	deb := buildDeb(t)
	root := extract(t, deb)
	bin := filepath.Join(root, "usr/bin/tlsvpn")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary is dynamically linked; the package would need its libraries")
		}
	}
	version := strings.TrimSpace(runIn(t, repo, "dpkg-deb", "--field", deb, "Version"))
	if got := strings.TrimSpace(runIn(t, root, bin, "version")); got != "tlsvpn "+version {
		t.Errorf("tlsvpn version says %q, want tlsvpn %s", got, version)
	}
}

func TestDebManualPagesAreGzippedRoff(t *testing.T) {
	root := extract(t, buildDeb(t))
	pages, err := filepath.Glob(filepath.Join(root, "usr/share/man/man1/*.1.gz"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages: %v", err)
	}
	for _, p := range pages {
		name := strings.TrimSuffix(filepath.Base(p), ".1.gz")
		roff := gunzip(t, p)
		th := `.TH "` + strings.ToUpper(name) + `" "1"`
		if !strings.Contains("\n"+roff, "\n"+th) || !strings.Contains(roff, "\n.SH SYNOPSIS\n") {
			t.Errorf("%s lacks the title line %s or a SYNOPSIS:\n%.200s", filepath.Base(p), th, roff)
		}
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

func TestDebMaintainerScriptsStopOnRemoveOnly(t *testing.T) {
	deb := buildDeb(t)
	dir := t.TempDir()
	runIn(t, repo, "dpkg-deb", "--control", deb, dir)
	if _, err := os.Stat(filepath.Join(dir, "conffiles")); err == nil {
		t.Errorf("the package has conffiles: %s", readFile(t, filepath.Join(dir, "conffiles")))
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(dir, s)
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("no %s: %v", s, err)
			continue
		}
		if st.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", s, st.Mode())
		}
		runIn(t, dir, "sh", "-n", path)
	}
	// What the scripts do with a systemd present is tried in a booted
	// container (e2e's TestPackageUnderARealSystemd: the upgrade keeps the
	// running instance, the removal stops it); here, that none of them
	// restarts anything, and that the only stop is on remove.
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		body := readFile(t, filepath.Join(dir, s))
		if regexp.MustCompile(`(try-)?restart\s+tlsvpn|deb-systemd-invoke|systemctl[^\n]*\brestart\b`).MatchString(stripComments(body)) {
			t.Errorf("%s restarts instances:\n%s", s, body)
		}
	}
	prerm := stripComments(readFile(t, filepath.Join(dir, "prerm")))
	if !regexp.MustCompile(`(?s)\bremove\)\s+.*systemctl --system stop 'tlsvpn@\*\.service'`).MatchString(prerm) ||
		strings.Contains(prerm, "upgrade") {
		t.Errorf("prerm does not stop the instances on remove only:\n%s", prerm)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stripComments drops shell comment lines and echoed text, what a script
// says rather than does.
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "echo ") {
			continue
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

func TestMakeInstallPutsTheUnitBesideTheBinary(t *testing.T) {
	for _, prefix := range []string{"/usr/local", "/opt/tlsvpn"} {
		t.Run(prefix, func(t *testing.T) {
			dest := t.TempDir()
			runIn(t, repo, "make", "--no-print-directory", "install", "DESTDIR="+dest, "PREFIX="+prefix)
			unit := readFile(t, filepath.Join(dest, "etc/systemd/system/tlsvpn@.service"))
			if want := "\nExecStart=" + prefix + "/bin/tlsvpn up -c /etc/tlsvpn/%i.toml\n"; !strings.Contains(unit, want) {
				t.Errorf("the installed unit lacks %q", strings.TrimSpace(want))
			}
			for _, p := range []string{
				"bin/tlsvpn", "share/man/man1/tlsvpn.1", "share/man/man1/tlsvpn-up.1",
				"share/bash-completion/completions/tlsvpn", "share/zsh/site-functions/_tlsvpn",
				"share/fish/vendor_completions.d/tlsvpn.fish",
			} {
				if _, err := os.Stat(filepath.Join(dest, prefix, p)); err != nil {
					t.Errorf("make install did not put %s in place: %v", p, err)
				}
			}
			if st, err := os.Stat(filepath.Join(dest, "etc/tlsvpn")); err != nil || st.Mode().Perm() != 0o750 {
				t.Errorf("/etc/tlsvpn: %v, %v; want a folder of mode 0750", st, err)
			}
		})
	}
}
