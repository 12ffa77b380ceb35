package bench

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestEveryRowStartsServesAndCleansUp starts each row on its own in both
// placements, proves it carries traffic, closes it, and checks nothing is
// left in its socket dir and, as deployed, that its processes have exited;
// goleak in TestMain catches goroutines a row leaves behind. A row that
// cannot run here (nginx not installed) must say so with errUnavailable.
func TestEveryRowStartsServesAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	pk, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, placement := range []string{PlacementDeployed, PlacementInProcess} {
		for _, spec := range allRows() {
			t.Run(placement+"/"+spec.ID, func(t *testing.T) {
				testRow(t, &env{dir: filepath.Join(dir, placement, spec.ID), pki: pk, logger: discardLogger(),
					placement: placement, launch: launcher{exe: exe}}, spec)
			})
		}
	}
}

func testRow(t *testing.T, e *env, spec rowSpec) {
	{
		{
			rowDir := e.dir
			if err := os.MkdirAll(rowDir, 0o700); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			in, err := spec.start(ctx, e)
			if in != nil {
				in.row = spec.Row
			}
			if errors.Is(err, errUnavailable) {
				t.Logf("row %s reports itself unavailable: %v", spec.ID, err)
				return
			}
			if err != nil {
				t.Fatalf("start %s: %v", spec.ID, err)
			}
			if err := exercise(ctx, in); err != nil {
				t.Errorf("%s carries no traffic: %v", spec.ID, err)
			}
			procs := in.procs
			if e.placement == PlacementDeployed && spec.Family != FamilyRaw && len(procs) == 0 {
				t.Errorf("%s as deployed runs no server process of its own", spec.ID)
			}
			if err := in.close(); err != nil {
				t.Errorf("close %s: %v", spec.ID, err)
			}
			for _, p := range procs {
				select {
				case <-p.done:
				default:
					t.Errorf("%s: %s (pid %d) still runs after close", spec.ID, p.role, p.pid())
				}
			}
			if left := socketsIn(t, rowDir); len(left) > 0 {
				t.Errorf("%s left sockets behind: %v", spec.ID, left)
			}
		}
	}
}

// exercise sends one ping (raw rows) or one unary call and one ping-pong,
// and opens and closes one connection-level channel where the row has them.
func exercise(ctx context.Context, in *instance) error {
	if in.row.OpensChannels != (in.openChannel != nil) {
		return errors.New("row.OpensChannels disagrees with instance.openChannel")
	}
	if in.openChannel != nil {
		c, err := in.openChannel(ctx)
		if err != nil {
			return err
		}
		if err := c.Close(); err != nil {
			return err
		}
	}
	if in.rawConn != nil {
		return rawPing(in.rawConn, make([]byte, smallPayload), make([]byte, smallPayload))
	}
	if err := callUnary(ctx, in.conn, make([]byte, smallPayload)); err != nil {
		return err
	}
	s, err := openPingPong(ctx, in.conn)
	if err != nil {
		return err
	}
	if err := pingOnce(s, wrapperspb.Bytes(make([]byte, smallPayload)), new(wrapperspb.BytesValue)); err != nil {
		return err
	}
	return closePingPong(s)
}

func socketsIn(t testing.TB, dir string) []string {
	t.Helper()
	var socks []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSocket != 0 {
			socks = append(socks, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return socks
}
