package control

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// serveTest answers on a fresh abstract socket with handle until the test
// ends and returns the socket's address.
func serveTest(t *testing.T, handle func(string) (any, error)) string {
	t.Helper()
	addr := fmt.Sprintf("@tlsvpn-control-test/%d/%s", os.Getpid(), t.Name())
	ln, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(ln, handle, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { s.Close() })
	return addr
}

func TestRequestsGetTheirAnswer(t *testing.T) {
	addr := serveTest(t, func(req string) (any, error) {
		switch req {
		case RequestStatus:
			return map[string]string{"node": "office-a"}, nil
		case RequestReload:
			return nil, errors.New("config.toml:3: unknown key \"nmae\"")
		}
		return nil, fmt.Errorf("unknown request %q", req)
	})
	for _, tc := range []struct {
		name, req, want, wantErr string
	}{
		{"a status request gets the status", RequestStatus, `{"node":"office-a"}`, ""},
		{"a failed reload says why", RequestReload, "", `unknown key "nmae"`},
		{"an unknown request is refused by name", "frobnicate", "", `unknown request "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Query(addr, tc.req)
			if tc.wantErr == "" {
				if err != nil || string(got) != tc.want {
					t.Fatalf("got %s, %v; want %s", got, err, tc.want)
				}
				return
			}
			var ne *NodeError
			if !errors.As(err, &ne) || !strings.Contains(ne.Msg, tc.wantErr) || ne.Addr != addr {
				t.Fatalf("error %v, want a NodeError from %s saying %q", err, addr, tc.wantErr)
			}
		})
	}
}

func TestNoNodeIsToldApartFromAFailedRequest(t *testing.T) {
	addr := fmt.Sprintf("@tlsvpn-control-test/%d/nobody", os.Getpid())
	_, err := Query(addr, RequestReload)
	if !errors.Is(err, ErrNoNode) {
		t.Fatalf("error %v, want ErrNoNode", err)
	}
	var ne *NodeError
	if errors.As(err, &ne) {
		t.Fatalf("no node, yet a NodeError: %v", err)
	}
}

func TestASecondNodeCannotTakeALiveSocket(t *testing.T) {
	addr := serveTest(t, func(string) (any, error) { return "ok", nil })
	if ln, err := Listen(addr); err == nil {
		ln.Close()
		t.Fatal("a second Listen on a socket a node answers on succeeded")
	} else if !strings.Contains(err.Error(), "another node is running") {
		t.Fatalf("error %v does not say another node runs there", err)
	}
}
