package main

import "github.com/tlsvpn/tlsvpn/internal/lab"

// median returns the median of vs, or 0 for none.
func median(vs []float64) float64 { return lab.Summarize(vs).Median }

// maxOf returns the largest of vs, or 0 for none.
func maxOf(vs []float64) float64 { return lab.Summarize(vs).Max }
