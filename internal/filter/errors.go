package filter

import "errors"

// ErrLeases: NewClient was given no lease, an invalid one, or two of one
// family.
var ErrLeases = errors.New("a client needs one valid leased address per family, at least one")
