package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/podwire/podwire/internal/statusapi"
	"github.com/podwire/podwire/sidecar"
)

// ChildEnv names the environment variable that turns a re-executed podwire
// binary (or test binary) into one server of a bench row: its value is the
// server's description as JSON. `podwire bench` checks it before parsing
// flags and calls RunChild; a test binary does the same in TestMain.
const ChildEnv = "PODWIRE_BENCH_CHILD"

// kindSidecarRun is a child that runs sidecar.Run on a config file, as
// `podwire sidecar --config FILE` does, for binaries that have no sidecar
// subcommand (tests).
const kindSidecarRun = "sidecar-run"

// ChildSpec returns the value of ChildEnv and whether it is set.
func ChildSpec() (string, bool) { return os.LookupEnv(ChildEnv) }

// childReady is the line a child prints once it listens.
type childReady struct {
	Addrs      serverAddrs `json:"addrs"`
	PID        int         `json:"pid"`
	GOMAXPROCS int         `json:"gomaxprocs"`
}

// goStats is a Go process's scheduler view, read by the parent around a
// workload: SchedEvents counts goroutines put on a thread to run (every
// hand-off from one goroutine to another that was waiting ends in one).
type goStats = statusapi.RuntimeInfo

// readGoStats reads this process's goStats.
func readGoStats() goStats { return statusapi.ReadRuntime() }

// RunChild runs the bench server spec describes until stdin reaches EOF,
// ctx ends or SIGTERM arrives. Once listening it writes one JSON line
// (where it listens, its pid and GOMAXPROCS) to stdout; after that every
// "stats" line on stdin is answered with one JSON line of scheduler
// counts. A "sidecar-run" spec instead runs sidecar.Run on its config file,
// exactly like `podwire sidecar --config FILE`.
func RunChild(ctx context.Context, spec string, stdin io.Reader, stdout io.Writer) error {
	var s serverSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return fmt.Errorf("podwire/bench: %s is not a server description: %w", ChildEnv, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if s.Kind == kindSidecarRun {
		cfg, err := sidecar.LoadConfig(s.SidecarConfig, nil)
		if err != nil {
			return err
		}
		return sidecar.Run(ctx, cfg, sidecar.WithLogger(logger))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	addrs, closeServer, err := serve(ctx, s, logger)
	if err != nil {
		return err
	}
	ready := childReady{Addrs: addrs, PID: os.Getpid(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if err := writeJSONLine(stdout, ready); err != nil {
		return errors.Join(err, closeServer())
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return closeServer()
		case l, ok := <-lines:
			if !ok {
				return closeServer()
			}
			if strings.TrimSpace(l) == "stats" {
				if err := writeJSONLine(stdout, readGoStats()); err != nil {
					return errors.Join(err, closeServer())
				}
			}
		}
	}
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("podwire/bench: encode %T: %w", v, err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
