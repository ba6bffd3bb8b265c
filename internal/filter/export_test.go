package filter

// FlowSlots returns the number of slots of c's flow table.
func FlowSlots(c *Client) int { return len(c.flows.Load().slots) }

// AllowedByList is the plain rule of an allow list, which the fuzz target
// holds the filter to.
var AllowedByList = allowedByList
