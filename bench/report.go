package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// Units of figures.
const (
	unitMs        = "ms"
	unitMicros    = "µs"
	unitPerSecond = "/s"
	unitBytes     = "B"
	unitCount     = ""
)

// Report is everything a run measured.
type Report struct {
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
	Machine    Machine           `json:"machine"`
	Settings   map[string]string `json:"settings"`
	Scenarios  []ScenarioResult  `json:"scenarios"`
}

// ScenarioResult is one scenario's table, notes and raw numbers.
type ScenarioResult struct {
	Name           string         `json:"name"`
	Title          string         `json:"title"`
	Rows           []Row          `json:"rows"`
	Notes          []string       `json:"notes,omitempty"`
	Raw            map[string]any `json:"raw,omitempty"`
	Error          string         `json:"error,omitempty"`
	ElapsedSeconds float64        `json:"elapsedSeconds"`
	// BackgroundBusy is the share of the cores other processes kept busy
	// in the second before the scenario.
	BackgroundBusy *float64 `json:"backgroundBusy,omitempty"`
}

// Row is one figure beside its baseline.
type Row struct {
	Figure   string   `json:"figure"`
	Unit     string   `json:"unit"`
	Value    *float64 `json:"value"`
	Baseline *float64 `json:"baseline"`
	// BaselineName says what the baseline is.
	BaselineName string `json:"baselineName"`
	// Ratio is Value / Baseline.
	Ratio  *float64 `json:"ratio"`
	Target string   `json:"target,omitempty"`
	Met    *bool    `json:"met,omitempty"`
}

// figure builds a row; a NaN value or baseline means "not measured".
func figure(name, unit string, value, baseline float64, baselineName string) Row {
	r := Row{Figure: name, Unit: unit, BaselineName: baselineName, Value: num(value), Baseline: num(baseline)}
	if r.Value != nil && r.Baseline != nil && *r.Baseline != 0 {
		r.Ratio = num(*r.Value / *r.Baseline)
	}
	return r
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// ratioAtLeast sets a target on the ratio.
func (r Row) ratioAtLeast(limit float64) Row {
	r.Target = fmt.Sprintf("ratio ≥ %.2f×", limit)
	if r.Ratio != nil {
		r.Met = boolPtr(*r.Ratio >= limit)
	}
	return r
}

// ratioAtMost sets a target on the ratio.
func (r Row) ratioAtMost(limit float64) Row {
	r.Target = fmt.Sprintf("ratio ≤ %.2f×", limit)
	if r.Ratio != nil {
		r.Met = boolPtr(*r.Ratio <= limit)
	}
	return r
}

// below sets a target on the value.
func (r Row) below(limit float64) Row {
	r.Target = "< " + formatValue(limit, r.Unit)
	if r.Value != nil {
		r.Met = boolPtr(*r.Value < limit)
	}
	return r
}

// equalToBaseline sets the target "same as the baseline".
func (r Row) equalToBaseline() Row {
	r.Target = "= baseline (constant)"
	if r.Value != nil && r.Baseline != nil {
		r.Met = boolPtr(*r.Value == *r.Baseline)
	}
	return r
}

func boolPtr(b bool) *bool { return &b }

// nan marks a figure that was not measured.
func nan() float64 { return math.NaN() }

func newReport(cfg config, m Machine) *Report {
	return &Report{
		StartedAt: time.Now().UTC(),
		Machine:   m,
		Settings: map[string]string{
			"database":             cfg.database,
			"duration":             cfg.duration.String(),
			"levels":               fmt.Sprint(cfg.levels),
			"drainEvents":          fmt.Sprint(cfg.drainEvents),
			"drainConcurrency":     fmt.Sprint(cfg.drainConcurrency),
			"commitSessions":       fmt.Sprint(cfg.commitSessions),
			"subscribers":          fmt.Sprint(cfg.subscribers),
			"subscriptionSessions": fmt.Sprint(cfg.subscriptionSessions),
			"subscriptionRounds":   fmt.Sprint(cfg.subscriptionRounds),
			"retrievalQueries":     fmt.Sprint(cfg.retrievalQueries),
			"openVikingLatency":    cfg.openVikingLatency.String(),
			"everMemOSLatency":     cfg.everMemOSLatency.String(),
			"dashboardRuns":        fmt.Sprint(cfg.dashboardRuns),
			"dashboardSizes":       fmt.Sprint(cfg.dashboardSizes),
			"scaleoutEvents":       fmt.Sprint(cfg.scaleoutEvents),
			"scaleoutProcesses":    fmt.Sprint(cfg.scaleoutProcesses),
			"scaleoutSubscribers":  fmt.Sprint(cfg.scaleoutSubscribers),
			"scaleoutConcurrency":  fmt.Sprint(cfg.scaleoutConcurrency),
		},
	}
}

// write saves the JSON and the markdown.
func (r *Report) write(jsonPath, mdPath string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("error encoding results: %w", err)
	}
	if err := os.WriteFile(jsonPath, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("error writing %s: %w", jsonPath, err)
	}
	var b strings.Builder
	b.WriteString(r.machineMarkdown())
	for _, s := range r.Scenarios {
		b.WriteString(s.markdown())
	}
	if err := os.WriteFile(mdPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("error writing %s: %w", mdPath, err)
	}
	return nil
}

func (r *Report) machineMarkdown() string {
	m := r.Machine
	var b strings.Builder
	fmt.Fprintf(&b, "# Memory Gateway benchmarks (%s)\n\n", r.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "**Machine:** %s, %d cores, %s RAM, %s; %s; PostgreSQL %s (shared_buffers=%s, synchronous_commit=%s) on the same host; %s.\n\n",
		orUnknown(m.CPUModel), m.Cores, formatBytes(float64(m.MemoryBytes)), m.OS, m.GoVersion,
		orUnknown(m.PostgresVersion), orUnknown(m.SharedBuffers), orUnknown(m.SynchronousCommit), orUnknown(m.Pgbench))
	b.WriteString("Every figure stands beside a baseline measured in the same run; ratio = figure ÷ baseline.\n\n")
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (s ScenarioResult) markdown() string {
	var b strings.Builder
	title := s.Title
	if title == "" {
		title = s.Name
	}
	fmt.Fprintf(&b, "## %s: %s\n\n", s.Name, title)
	if len(s.Rows) > 0 {
		b.WriteString("| figure | value | baseline | ratio | target | met? |\n|---|---|---|---|---|---|\n")
		for _, r := range s.Rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n",
				r.Figure, formatPtr(r.Value, r.Unit), formatBaseline(r), formatRatio(r.Ratio), dash(r.Target), formatMet(r.Met))
		}
		b.WriteString("\n")
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if s.BackgroundBusy != nil {
		fmt.Fprintf(&b, "- Background load: %.0f%% of the cores were busy with other processes in the second before this scenario.\n", 100**s.BackgroundBusy)
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "- **error:** %s\n", s.Error)
	}
	if len(s.Notes) > 0 || s.Error != "" || s.BackgroundBusy != nil {
		b.WriteString("\n")
	}
	return b.String()
}

func formatBaseline(r Row) string {
	v := formatPtr(r.Baseline, r.Unit)
	if r.BaselineName == "" {
		return v
	}
	return v + " (" + r.BaselineName + ")"
}

func formatPtr(v *float64, unit string) string {
	if v == nil {
		return "n/a"
	}
	return formatValue(*v, unit)
}

func formatValue(v float64, unit string) string {
	switch unit {
	case unitMs:
		if v < 10 {
			return fmt.Sprintf("%.2f ms", v)
		}
		return fmt.Sprintf("%.1f ms", v)
	case unitMicros:
		return fmt.Sprintf("%.1f µs", v)
	case unitBytes:
		return formatBytes(v)
	case unitCount:
		if v == math.Trunc(v) {
			return thousands(v)
		}
		return fmt.Sprintf("%.2f", v)
	default:
		return thousands(v) + " " + unit
	}
}

func formatBytes(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}

// thousands rounds to an integer and groups digits by three.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatRatio(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", *r)
}

func formatMet(m *bool) string {
	switch {
	case m == nil:
		return "–"
	case *m:
		return "yes"
	default:
		return "**no**"
	}
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
