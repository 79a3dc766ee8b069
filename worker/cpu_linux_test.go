package worker_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the CPU time used so far by this process and by each
// PostgreSQL process on the machine (read from /proc).
// BenchmarkOutboxDrain reports the difference per event when BENCH_CPU is
// set: a steadier figure than wall-clock throughput on a shared machine.
type cpuSample struct {
	self     time.Duration
	postgres map[int]time.Duration // by pid
}

func sampleCPU() cpuSample {
	s := cpuSample{postgres: map[int]time.Duration{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, comm := range comms {
		name, err := os.ReadFile(comm)
		if err != nil || strings.TrimSpace(string(name)) != "postgres" {
			continue
		}
		dir := filepath.Dir(comm)
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// Fields after the ")" that closes the command name; utime and
		// stime are the 14th and 15th fields of the whole line.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		s.postgres[pid] = time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
	}
	return s
}

// postgresSince is the PostgreSQL CPU spent since before: processes that
// started meanwhile count whole; processes that ended meanwhile are left
// out, since what they spent after before is unknown.
func (s cpuSample) postgresSince(before cpuSample) time.Duration {
	var d time.Duration
	for pid, t := range s.postgres {
		d += max(0, t-before.postgres[pid])
	}
	return d
}
