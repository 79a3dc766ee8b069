package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// process is what a command is given of the process it runs in.
type process struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// command is one of the binary's commands.
type command struct {
	name string
	// args is what follows the name on the command line, for usage.
	args    string
	summary string
	run     func(ctx context.Context, p process, args []string) int
}

// defaultCommand runs when the first argument names no command.
const defaultCommand = "serve"

// commands are the binary's commands, in the order help lists them.
func commands() []command {
	return []command{
		{"serve", "[flags]", "serve the API, and unless WORKER=false the outbox worker and the webhook sender (the default command)",
			func(ctx context.Context, p process, args []string) int { return runServer(ctx, p, "serve", args) }},
		{"worker", "[flags]", "run the outbox worker and the webhook sender without the API",
			func(ctx context.Context, p process, args []string) int { return runServer(ctx, p, "worker", args) }},
		{"migrate", "[flags]", "apply the database migrations and exit",
			func(ctx context.Context, p process, args []string) int { return runServer(ctx, p, "migrate", args) }},
		{"mcp-stdio", "--url URL [flags]", "serve a running gateway's MCP tools on standard input and output", runMCPStdio},
		{"healthcheck", "[flags]", "exit 0 when the gateway answers ready on /readyz (the probe of images without curl)", runHealthcheck},
		{"trusted-documents", "[flags]", "print the console's GraphQL documents as a TRUSTED_DOCUMENTS_FILE",
			func(_ context.Context, p process, args []string) int {
				return runTrustedDocuments(args, p.stdout, p.stderr)
			}},
		{"keys", "create [flags]", "make API keys: 'keys create' prints a new key once with its keys-file entry, or adds it to a keys file", runKeys},
		{"version", "", "print the version", runVersion},
		{"help", "[command]", "list the commands, or say what one does and list its flags", runHelp},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run runs the command args name (serve when they start with a flag or
// are empty) and returns the exit code: 0, 1 when the command failed, 2
// for a command line that is wrong. It is Main without process globals, so
// tests can drive it.
func run(ctx context.Context, args []string, p process) int {
	name := defaultCommand
	if len(args) > 0 {
		switch first := args[0]; first {
		case "-h", "-help", "--help":
			writeHelp(p.stdout)
			return 0
		case "-version", "--version":
			return runVersion(ctx, p, args[1:])
		default:
			if first != "" && first[0] != '-' {
				name, args = first, args[1:]
			}
		}
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(p.stderr, "memory-gateway: unknown command %q\n\n", name)
		writeHelp(p.stderr)
		return 2
	}
	return cmd.run(ctx, p, args)
}

// newFlagSet is the flag set of the named command: its usage (-h, --help,
// help <command>) says what the command does and lists its flags.
func newFlagSet(name string, output io.Writer) *flag.FlagSet {
	cmd, _ := lookup(name)
	return newUsageFlagSet(name, cmd.args, cmd.summary, output)
}

// newUsageFlagSet is the flag set of a command or subcommand (name, as in
// "keys create") given its usage: what follows its name, and what it does.
func newUsageFlagSet(name, args, summary string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("memory-gateway "+name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s.\n", strings.TrimSpace("memory-gateway "+name+" "+args), capitalize(summary))
		flags := 0
		fs.VisitAll(func(*flag.Flag) { flags++ })
		if flags == 0 {
			return
		}
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// exitCode is the exit code of a command line its flag set refused: 0 when
// it asked for help.
func exitCode(parseErr error) int {
	if errors.Is(parseErr, flag.ErrHelp) {
		return 0
	}
	return 2
}

// writeHelp lists the commands.
func writeHelp(w io.Writer) {
	fmt.Fprintf(w, "Memory Gateway %s: a GraphQL control plane for AI-agent memory.\n\n", version())
	fmt.Fprintln(w, "Usage: memory-gateway [command] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-19s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n'memory-gateway help <command>' (or 'memory-gateway <command> --help') lists a command's flags.")
	fmt.Fprintln(w, "Every flag of serve, worker and migrate is also an environment variable; flags win.")
}

// runHelp lists the commands, or shows one's usage and flags.
func runHelp(ctx context.Context, p process, args []string) int {
	fs := newFlagSet("help", p.stderr)
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	switch fs.NArg() {
	case 0:
		writeHelp(p.stdout)
		return 0
	case 1:
		cmd, ok := lookup(fs.Arg(0))
		if !ok {
			fmt.Fprintf(p.stderr, "memory-gateway help: unknown command %q\n\n", fs.Arg(0))
			writeHelp(p.stderr)
			return 2
		}
		// The command's own flag set says it, to standard output.
		return cmd.run(ctx, process{getenv: p.getenv, stdout: p.stdout, stderr: p.stdout}, []string{"--help"})
	default:
		fmt.Fprintf(p.stderr, "memory-gateway help: one command at most, got %v\n", fs.Args())
		return 2
	}
}

// runVersion prints the version.
func runVersion(_ context.Context, p process, args []string) int {
	fs := newFlagSet("version", p.stderr)
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(p.stderr, "memory-gateway version: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	fmt.Fprintln(p.stdout, version())
	return 0
}

// runServer runs serve, worker or migrate: the commands configured by
// settings (flags and environment variables) that open the database.
func runServer(ctx context.Context, p process, name string, args []string) int {
	cfg, err := parseConfig(name, args, p.getenv, p.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(p.stderr, "memory-gateway:", err)
		return 2
	}
	logger, err := newLogger(cfg.LogLevel, cfg.LogFormat, p.stderr)
	if err != nil {
		fmt.Fprintln(p.stderr, "memory-gateway:", err)
		return 2
	}
	switch name {
	case "serve":
		err = serve(ctx, cfg, logger, nil)
	case "migrate":
		err = migrateOnly(ctx, cfg, logger)
	case "worker":
		err = runWorker(ctx, cfg, logger)
	}
	if err != nil {
		logger.Error("memory-gateway: exiting on error", slog.String("err", err.Error()))
		return 1
	}
	return 0
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
