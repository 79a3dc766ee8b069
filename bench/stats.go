package main

import (
	"slices"
	"time"
)

// Latency summarises a sample of durations, in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	Mean float64 `json:"meanMs"`
	P50  float64 `json:"p50Ms"`
	P95  float64 `json:"p95Ms"`
	P99  float64 `json:"p99Ms"`
	Max  float64 `json:"maxMs"`
}

// summarize computes percentiles by nearest rank.
func summarize(sample []time.Duration) Latency {
	if len(sample) == 0 {
		return Latency{}
	}
	sorted := slices.Clone(sample)
	slices.Sort(sorted)
	var total time.Duration
	for _, d := range sorted {
		total += d
	}
	return Latency{
		N:    len(sorted),
		Mean: ms(total / time.Duration(len(sorted))),
		P50:  ms(percentile(sorted, 50)),
		P95:  ms(percentile(sorted, 95)),
		P99:  ms(percentile(sorted, 99)),
		Max:  ms(sorted[len(sorted)-1]),
	}
}

// percentile of a sorted sample, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile names a percentile of a Latency.
type quantile struct {
	name string
	get  func(Latency) float64
}

var quantiles = []quantile{
	{"p50", func(l Latency) float64 { return l.P50 }},
	{"p95", func(l Latency) float64 { return l.P95 }},
	{"p99", func(l Latency) float64 { return l.P99 }},
}
