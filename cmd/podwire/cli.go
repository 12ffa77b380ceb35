package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/peterbourgon/ff/v3"
)

// flags is one subcommand's flag set with the conventions every podwire
// subcommand shares:
//   - each flag --name also reads PODWIRE_<CMD>_<NAME> (upper case, '-'
//     as '_'); a flag on the command line wins; no other variable is read
//     for flags;
//   - --log-format text|json and --log-level debug|info|warn|error;
//   - -h prints the help to stdout; every parse problem is one usageError.
type flags struct {
	*flag.FlagSet
	cmd      string // subcommand name, e.g. "serve"
	synopsis string // e.g. "podwire serve inventory|purchase [flags]"
	about    string // what the command does, printed under the synopsis
	envNote  string // other environment the command reads (not flags)
	maxArgs  int    // positional arguments allowed
	split    bool   // comma-split list values read from the environment

	logFormat, logLevel string
	log                 *slog.Logger
	stdout, stderr      io.Writer
}

// newFlags starts the flag set of `podwire cmd`. Logs go to stderr in
// defaultFormat unless --log-format says otherwise.
func newFlags(cmd, synopsis, about string, stdout, stderr io.Writer) *flags {
	f := &flags{FlagSet: flag.NewFlagSet("podwire "+cmd, flag.ContinueOnError), cmd: cmd,
		synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
	f.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&f.logLevel, "log-level", "info", "lowest level logged: debug, info, warn or error")
	f.SetOutput(io.Discard) // errors are returned once, never printed by flag
	f.Usage = func() {}
	return f
}

// envPrefix is the prefix of this command's environment variables.
func (f *flags) envPrefix() string {
	return "PODWIRE_" + strings.ToUpper(strings.ReplaceAll(f.cmd, "-", "_"))
}

// envName is the environment variable of flag name.
func (f *flags) envName(name string) string {
	return f.envPrefix() + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parse parses args and this command's environment, builds the logger and
// returns the positional arguments. -h prints the help and returns
// flag.ErrHelp; anything wrong is a *usageError.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for rest := args; ; { // flags may come before and after positional arguments
		if err := f.FlagSet.Parse(rest); err != nil {
			return nil, f.parseError(err)
		}
		if rest = f.Args(); len(rest) == 0 {
			break
		}
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	opts := []ff.Option{ff.WithEnvVarPrefix(f.envPrefix())}
	if f.split {
		opts = append(opts, ff.WithEnvVarSplit(","))
	}
	if err := ff.Parse(f.FlagSet, nil, opts...); err != nil {
		return nil, f.parseError(err)
	}
	if len(pos) > f.maxArgs {
		return nil, usagef("unexpected argument %q (%s takes %s)", strings.Join(pos[f.maxArgs:], " "), f.Name(), argsWord(f.maxArgs))
	}
	log, err := newLogger(f.stderr, f.logLevel, f.logFormat)
	if err != nil {
		return nil, err
	}
	f.log = log
	return pos, nil
}

// parseError prints the help for -h and turns anything else into one
// usage error.
func (f *flags) parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		f.printHelp(f.stdout)
		return err
	}
	return usagef("%s", strings.TrimPrefix(err.Error(), "error parsing commandline arguments: "))
}

func argsWord(n int) string {
	switch n {
	case 0:
		return "no arguments"
	case 1:
		return "one argument"
	}
	return fmt.Sprintf("%d arguments", n)
}

// set reports whether flag name was given on the command line or in the
// environment.
func (f *flags) set(name string) bool {
	found := false
	f.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// printHelp writes the synopsis, the description, every flag with its
// environment variable and default, and the other environment read.
func (f *flags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n", f.synopsis)
	if f.about != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(f.about))
	}
	fmt.Fprintf(w, "Flags (each also read from the environment variable shown; the command line wins):\n")
	f.VisitAll(func(fl *flag.Flag) {
		typ, usage := flag.UnquoteUsage(fl)
		head := "  --" + fl.Name
		if typ != "" {
			head += " " + typ
		}
		fmt.Fprintf(w, "%s   (env %s)\n      %s", head, f.envName(fl.Name), usage)
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" && fl.DefValue != "[]" && fl.DefValue != "0s" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
	if f.split {
		fmt.Fprintf(w, "\nList flags take a comma-separated list in the environment.\n")
	}
	if f.envNote != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(f.envNote))
	}
}

// newLogger builds a slog logger on w from --log-level and --log-format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: use text or json", format)
}

// usageError is a mistake in how a command was called; main prints it as
// one line and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a *usageError.
func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// asUsage turns err into a usage error when it wraps one of the sentinels
// that mean "bad argument", dropping the sentinel's own text.
func asUsage(err error, sentinels ...error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return &usageError{msg: strings.TrimPrefix(cliMessage(err), cliMessage(s)+": ")}
		}
	}
	return err
}
