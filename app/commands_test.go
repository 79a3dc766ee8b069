package app

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runCommand runs the binary's command line and returns its exit code and
// what it wrote.
func runCommand(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(context.Background(), args, process{getenv: func(string) string { return "" }, stdout: &out, stderr: &errs})
	return code, out.String(), errs.String()
}

// TestHelpListsEveryCommand: help (and --help) lists every command; each
// command's --help, and help <command>, says what it does and exits 0.
func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, _ := runCommand(args...)
		require.Equal(t, 0, code, args)
		for _, c := range commands() {
			require.Contains(t, out, "\n  "+c.name+" ", "%v lists %s", args, c.name)
		}
	}
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			usage := "Usage: memory-gateway " + c.name
			code, _, errs := runCommand(c.name, "--help")
			require.Equal(t, 0, code)
			require.Contains(t, errs, usage)
			require.Contains(t, errs, capitalize(c.summary))

			code, out, _ := runCommand("help", c.name)
			require.Equal(t, 0, code)
			require.Contains(t, out, usage, "help <command> writes to standard output")
		})
	}
	code, _, errs := runCommand("help", "serve")
	require.Equal(t, 0, code)
	require.Empty(t, errs)

	code, _, errs = runCommand("dance")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `unknown command "dance"`)
	code, _, _ = runCommand("help", "dance")
	require.Equal(t, 2, code)
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runCommand(args...)
		require.Equal(t, 0, code)
		require.Equal(t, testVersion+"\n", out)
	}
	code, _, _ := runCommand("version", "extra")
	require.Equal(t, 2, code)
}

func TestVersionOf(t *testing.T) {
	t.Parallel()
	build := func(version string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/memory-gateway/memory-gateway", Version: version}, Settings: settings}
	}
	revision := debug.BuildSetting{Key: "vcs.revision", Value: "22444d6a1b2c3d4e5f60718293a4b5c6d7e8f901"}
	modified := debug.BuildSetting{Key: "vcs.modified", Value: "true"}
	for _, tc := range []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"stamped at build time", "v1.4.0", build("v1.3.0"), "v1.4.0"},
		{"installed at a version", "", build("v1.3.0"), "v1.3.0"},
		{"built in a checkout", "", build("v0.0.0-20261207085600-22444d6a1b2c+dirty"), "v0.0.0-20261207085600-22444d6a1b2c+dirty"},
		{"a source build with its commit", "", build("(devel)", revision), "dev+22444d6a1b2c"},
		{"a source build with changes", "", build("(devel)", revision, modified), "dev+22444d6a1b2c.dirty"},
		{"a source build without its commit", "", build("(devel)"), "dev"},
		{"no build information", "", nil, "dev"},
	} {
		require.Equal(t, tc.want, versionOf(tc.stamped, tc.info), tc.name)
	}
	require.False(t, strings.Contains(version(), "(devel)"))
}
