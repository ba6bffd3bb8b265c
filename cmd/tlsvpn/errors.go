package main

// usageError marks a mistake in how a command was called (a missing
// argument or flag, a bad value): run exits 2 for it instead of 1.
type usageError struct{ error }

// Unwrap returns the error being marked.
func (e usageError) Unwrap() error { return e.error }
