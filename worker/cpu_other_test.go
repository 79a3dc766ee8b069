//go:build !linux

package worker_test

import "time"

// cpuSample is zero where /proc is missing: BENCH_CPU then reports zeros.
type cpuSample struct {
	self time.Duration
}

func sampleCPU() cpuSample { return cpuSample{} }

func (cpuSample) postgresSince(cpuSample) time.Duration { return 0 }
