package pki

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped with the command, the file and the fix.
var (
	// ErrInvalidArgument reports a bad name, lifetime or route: a usage error.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrExists reports that Init or Issue would replace existing files.
	ErrExists = errors.New("already exists")
	// ErrNoCA reports a directory without a CA.
	ErrNoCA = errors.New("no CA")
	// ErrUnknownName reports a name the CA never issued a certificate to.
	ErrUnknownName = errors.New("unknown name")
	// ErrRevoked reports a name whose current certificate is revoked.
	ErrRevoked = errors.New("revoked")
	// ErrInsecureKey reports a CA key that group or others can read.
	ErrInsecureKey = errors.New("key readable by others")
	// ErrBadRequest reports a certificate request that Sign refuses.
	ErrBadRequest = errors.New("bad certificate request")
	// ErrNotClient reports a bundle asked for a name whose certificate is not a client's.
	ErrNotClient = errors.New("not a client certificate")
	// ErrNoKey reports a bundle asked for a name whose key is not in the PKI directory.
	ErrNoKey = errors.New("key not held")
)

// kindError is an error of a sentinel kind whose message does not repeat
// the sentinel's text.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }

// Unwrap returns the sentinel, for errors.Is.
func (e *kindError) Unwrap() error { return e.kind }

// errorf returns an error of the given kind with a formatted message.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
