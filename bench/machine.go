package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPUModel          string `json:"cpuModel"`
	Cores             int    `json:"cores"`
	MemoryBytes       int64  `json:"memoryBytes"`
	OS                string `json:"os"`
	GoVersion         string `json:"goVersion"`
	PostgresVersion   string `json:"postgresVersion"`
	SharedBuffers     string `json:"sharedBuffers"`
	SynchronousCommit string `json:"synchronousCommit"`
	Pgbench           string `json:"pgbench"`
}

// describeMachine reads /proc and the database; what it cannot read stays
// empty.
func describeMachine(ctx context.Context, db *bun.DB, pgbench string) Machine {
	m := Machine{
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:  procField("/proc/cpuinfo", "model name"),
	}
	if mem := procField("/proc/meminfo", "MemTotal"); mem != "" {
		kb, _ := strconv.ParseInt(strings.TrimSuffix(mem, " kB"), 10, 64)
		m.MemoryBytes = kb * 1024
	}
	if name := osRelease(); name != "" {
		m.OS = name + " (" + m.OS + ")"
	}
	for setting, dst := range map[string]*string{
		"server_version":     &m.PostgresVersion,
		"shared_buffers":     &m.SharedBuffers,
		"synchronous_commit": &m.SynchronousCommit,
	} {
		_ = db.QueryRowContext(ctx, "SHOW "+setting).Scan(dst)
	}
	if out, err := exec.CommandContext(ctx, pgbench, "--version").Output(); err == nil {
		m.Pgbench = strings.TrimSpace(string(out))
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func osRelease() string {
	raw, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
