package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of /proc CPU times on Linux.
const clockTicksPerSecond = 100

// Fields of the "cpu" line of /proc/stat.
const (
	statIdle   = 3
	statIOWait = 4
	statSteal  = 7
	statFields = 8
)

// backgroundWindow is how long the load before a scenario is sampled.
const backgroundWindow = time.Second

// cpuCounters are cumulative CPU seconds at one moment.
type cpuCounters struct {
	machineBusy  float64 // every core, all but idle and iowait
	machineTotal float64
	server       float64 // the gateway process (0 without one)
	self         float64 // the bench process
}

// readCPU reads /proc/stat, /proc/<server>/stat and /proc/self/stat; pid 0
// means no server.
func readCPU(serverPID int) (cpuCounters, error) {
	var c cpuCounters
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, fmt.Errorf("error reading /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 1+statFields || fields[0] != "cpu" {
		return c, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	// user nice system idle iowait irq softirq steal (guest times are
	// already counted in user and nice).
	for i, f := range fields[1 : 1+statFields] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return c, fmt.Errorf("unexpected /proc/stat field %q: %w", f, err)
		}
		v /= clockTicksPerSecond
		c.machineTotal += v
		if i != statIdle && i != statIOWait && i != statSteal {
			c.machineBusy += v
		}
	}
	if serverPID > 0 {
		if c.server, err = processCPU(strconv.Itoa(serverPID)); err != nil {
			return c, err
		}
	}
	if c.self, err = processCPU("self"); err != nil {
		return c, err
	}
	return c, nil
}

// processCPU returns utime + stime of a process, in seconds.
func processCPU(pid string) (float64, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("error reading /proc/%s/stat: %w", pid, err)
	}
	// The command name may hold spaces: fields start after its ')'.
	s := string(raw)
	rest := s[strings.LastIndexByte(s, ')')+1:]
	fields := strings.Fields(rest)
	// rest starts at field 3 (state); utime and stime are fields 14 and 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("unexpected /proc/%s/stat", pid)
	}
	u, err1 := strconv.ParseFloat(fields[utime], 64)
	st, err2 := strconv.ParseFloat(fields[stime], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%s/stat times", pid)
	}
	return (u + st) / clockTicksPerSecond, nil
}

// CPUPerOp splits the machine's CPU time over a measurement by process, in
// milliseconds per operation.
type CPUPerOp struct {
	MachineMs float64 `json:"machineMs"`
	ServerMs  float64 `json:"serverMs"`
	ClientMs  float64 `json:"clientMs"`
	// RestMs is PostgreSQL plus everything else on the machine.
	RestMs float64 `json:"restMs"`
	// Busy is the share of all cores' time that was busy.
	Busy float64 `json:"busy"`
}

// cpuPerOp divides the CPU spent between two readings by n operations;
// clientSeconds, if positive, replaces the bench's own time as the client's
// (pgbench runs as a child process).
func cpuPerOp(before, after cpuCounters, n int, clientSeconds float64) CPUPerOp {
	per := func(seconds float64) float64 { return seconds * 1000 / float64(max(n, 1)) }
	client := after.self - before.self
	if clientSeconds > 0 {
		client = clientSeconds
	}
	busy := after.machineBusy - before.machineBusy
	server := after.server - before.server
	out := CPUPerOp{
		MachineMs: per(busy),
		ServerMs:  per(server),
		ClientMs:  per(client),
		RestMs:    per(busy - server - client),
	}
	if total := after.machineTotal - before.machineTotal; total > 0 {
		out.Busy = busy / total
	}
	return out
}

func (c CPUPerOp) String() string {
	return fmt.Sprintf("%.2f ms (server %.2f, client %.2f, PostgreSQL and the rest %.2f; cores %.0f%% busy)",
		c.MachineMs, c.ServerMs, c.ClientMs, c.RestMs, 100*c.Busy)
}

// backgroundBusy is the share of the cores busy over backgroundWindow while
// the bench itself idles: what other tenants of the machine use.
func backgroundBusy(ctx context.Context) (float64, error) {
	before, err := readCPU(0)
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(backgroundWindow):
	}
	after, err := readCPU(0)
	if err != nil {
		return 0, err
	}
	total := after.machineTotal - before.machineTotal
	if total <= 0 {
		return 0, nil
	}
	return (after.machineBusy - before.machineBusy) / total, nil
}

// postgresCPU is the CPU seconds used so far by each PostgreSQL process on
// the machine (by pid), read from /proc.
func postgresCPU() map[int]float64 {
	out := map[int]float64{}
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, comm := range comms {
		name, err := os.ReadFile(comm)
		if err != nil || strings.TrimSpace(string(name)) != "postgres" {
			continue
		}
		pid := filepath.Base(filepath.Dir(comm))
		if seconds, err := processCPU(pid); err == nil {
			out[atoi(pid)] = seconds
		}
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// cpuSnapshot is the cumulative CPU time of the machine, of some gateway
// processes, of PostgreSQL and of the bench at one moment.
type cpuSnapshot struct {
	at        time.Time
	counters  cpuCounters
	processes []float64
	postgres  map[int]float64
}

// takeSnapshot reads the CPU time of the machine, of the processes pids, of
// every PostgreSQL process and of the bench.
func takeSnapshot(pids []int) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now(), postgres: postgresCPU()}
	var err error
	if s.counters, err = readCPU(0); err != nil {
		return s, err
	}
	for _, pid := range pids {
		seconds, err := processCPU(strconv.Itoa(pid))
		if err != nil {
			return s, err
		}
		s.processes = append(s.processes, seconds)
	}
	return s, nil
}

// CPUSplit divides the CPU time between two snapshots by operations, in
// microseconds per operation.
type CPUSplit struct {
	MachineMicros float64 `json:"machineMicros"`
	// ProcessMicros is each gateway process's; GatewayMicros their sum.
	ProcessMicros []float64 `json:"processMicros"`
	GatewayMicros float64   `json:"gatewayMicros"`
	// PostgresMicros counts every postgres process of the machine:
	// processes that started meanwhile count whole, those that ended are
	// left out.
	PostgresMicros float64 `json:"postgresMicros"`
	// BenchMicros is the bench process (load generator, fake backends).
	BenchMicros float64 `json:"benchMicros"`
	// RestMicros is everything else: the kernel, other tenants.
	RestMicros float64 `json:"restMicros"`
	// CoresBusy is the busy CPU seconds per wall-clock second.
	CoresBusy float64 `json:"coresBusy"`
	// PostgresCores is PostgreSQL's CPU seconds per wall-clock second.
	PostgresCores float64 `json:"postgresCores"`
	// ProcessCores is each gateway process's CPU seconds per wall-clock
	// second.
	ProcessCores []float64 `json:"processCores"`
}

func splitCPU(before, after cpuSnapshot, n int) CPUSplit {
	per := func(seconds float64) float64 { return seconds * 1e6 / float64(max(n, 1)) }
	wall := after.at.Sub(before.at).Seconds()
	busy := after.counters.machineBusy - before.counters.machineBusy
	var pg float64
	for pid, t := range after.postgres {
		pg += max(0, t-before.postgres[pid])
	}
	bench := after.counters.self - before.counters.self
	out := CPUSplit{MachineMicros: per(busy), PostgresMicros: per(pg), BenchMicros: per(bench)}
	var gateway float64
	for i := range min(len(before.processes), len(after.processes)) {
		d := after.processes[i] - before.processes[i]
		gateway += d
		out.ProcessMicros = append(out.ProcessMicros, per(d))
		if wall > 0 {
			out.ProcessCores = append(out.ProcessCores, d/wall)
		}
	}
	out.GatewayMicros = per(gateway)
	out.RestMicros = per(busy - gateway - pg - bench)
	if wall > 0 {
		out.CoresBusy, out.PostgresCores = busy/wall, pg/wall
	}
	return out
}
