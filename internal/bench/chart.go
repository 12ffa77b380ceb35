package bench

import (
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one group of bars: a label and one value per row.
type series struct {
	label  string
	values []float64
}

// panel is one bar chart of the figure.
type panel struct {
	title  string
	yLabel string
	rows   []string
	series []series
}

// WriteSVG draws the report as four panels a reader takes in at a glance:
// unary latency percentiles, unary RPC/s per concurrency, bulk MiB/s and
// channel setup time, each with one bar group per transport row.
func (r *Report) WriteSVG(w io.Writer) error {
	panels := r.panels()
	if len(panels) == 0 {
		return fmt.Errorf("podwire/bench: nothing to chart; run the unary_c1, unary_c16, unary_c64, bulk or setup workloads")
	}
	const cols = 2
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for j := range grid {
		grid[j] = make([]*plot.Plot, cols)
	}
	for i, pn := range panels {
		p, err := pn.plot()
		if err != nil {
			return err
		}
		grid[i/cols][i%cols] = p
	}
	canvas := vgsvg.New(vg.Points(1100), vg.Points(420*float64(rows)))
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(24), PadY: vg.Points(24),
		PadTop: vg.Points(12), PadBottom: vg.Points(12), PadLeft: vg.Points(12), PadRight: vg.Points(12)}
	canvases := plot.Align(grid, tiles, dc)
	for j := range grid {
		for i := range grid[j] {
			if grid[j][i] != nil {
				grid[j][i].Draw(canvases[j][i])
			}
		}
	}
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("podwire/bench: write SVG: %w", err)
	}
	return nil
}

// seriesSpec says where one series of a panel comes from.
type seriesSpec struct {
	label    string
	workload string
	fig      func(Result) float64
}

// panels picks the figures to chart from the results that ran.
func (r *Report) panels() []panel {
	ok := make(map[string]Result, len(r.Rows))
	var order []string
	seen := map[string]bool{}
	for _, x := range r.Rows {
		if x.Error == "" && x.Rounds > 0 {
			ok[x.Row+"/"+x.Workload] = x
		}
		if !seen[x.Row] {
			seen[x.Row] = true
			order = append(order, x.Row)
		}
	}
	build := func(title, yLabel string, specs ...seriesSpec) (panel, bool) {
		pn := panel{title: title, yLabel: yLabel}
		for _, id := range order {
			for _, sp := range specs {
				if _, found := ok[id+"/"+sp.workload]; found {
					pn.rows = append(pn.rows, id)
					break
				}
			}
		}
		if len(pn.rows) == 0 {
			return panel{}, false
		}
		for _, sp := range specs {
			s := series{label: sp.label}
			for _, id := range pn.rows {
				s.values = append(s.values, sp.fig(ok[id+"/"+sp.workload]))
			}
			pn.series = append(pn.series, s)
		}
		return pn, true
	}
	p50 := func(x Result) float64 { return x.P50US }
	p99 := func(x Result) float64 { return x.P99US }
	rps := func(x Result) float64 { return x.RPS }
	candidates := []func() (panel, bool){
		func() (panel, bool) {
			return build("unary 64 B, 1 caller: latency (lower is better)", "µs",
				seriesSpec{"p50", "unary_c1", p50},
				seriesSpec{"p90", "unary_c1", func(x Result) float64 { return x.P90US }},
				seriesSpec{"p99", "unary_c1", p99},
				seriesSpec{"p99.9", "unary_c1", func(x Result) float64 { return x.P999US }})
		},
		func() (panel, bool) {
			return build("unary 64 B: throughput (higher is better)", "RPC/s",
				seriesSpec{"1 caller", "unary_c1", rps},
				seriesSpec{"16 callers", "unary_c16", rps},
				seriesSpec{"64 callers", "unary_c64", rps})
		},
		func() (panel, bool) {
			return build("bulk stream, 1 MiB messages (higher is better)", "MiB/s",
				seriesSpec{"MiB/s", "bulk", func(x Result) float64 { return x.MiBS }})
		},
		func() (panel, bool) {
			return build("new channel to first reply (lower is better)", "µs",
				seriesSpec{"p50", "setup", p50}, seriesSpec{"p99", "setup", p99})
		},
	}
	var out []panel
	for _, c := range candidates {
		if pn, found := c(); found {
			out = append(out, pn)
		}
	}
	return out
}

// plot draws a panel as grouped bars, one group per row.
func (pn panel) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.title
	p.Y.Label.Text = pn.yLabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.NominalX(pn.rows...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	n := len(pn.series)
	width := vg.Points(math.Min(60, 240/float64(max(len(pn.rows), 1)))) / vg.Length(n)
	for i, s := range pn.series {
		vals := make(plotter.Values, len(s.values))
		for k, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && v > 0 {
				vals[k] = v
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("podwire/bench: chart %q: %w", pn.title, err)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(2*i-(n-1)) / 2
		p.Add(bars)
		if n > 1 {
			p.Legend.Add(s.label, bars)
		}
	}
	return p, nil
}
