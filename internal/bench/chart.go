package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one group of bars: a label and one value per row.
type series struct {
	label  string
	values []float64
}

// panel is one chart of the figure.
type panel struct {
	title  string
	yLabel string
	style  panelStyle
	// rows, transports and families run in parallel: one entry per row shown.
	rows       []string
	transports []string
	families   []Family
	series     []series
}

// WriteSVG draws the report as panels a reader takes in at a glance:
// latency by percentile for unary calls and ping-pong (one line per row,
// colored by transport, dashed for bare grpc-go, dotted for raw sockets),
// unary RPC/s per concurrency, bulk MiB/s, new-channel time (gRPC channel
// and connection-level) and idle heap per channel (bars per row).
func (r *Report) WriteSVG(w io.Writer) error {
	return r.writeChart(w, func(width, height vg.Length) chartCanvas { return vgsvg.New(width, height) })
}

// WritePNG draws the same chart as WriteSVG as a PNG image.
func (r *Report) WritePNG(w io.Writer) error {
	return r.writeChart(w, func(width, height vg.Length) chartCanvas {
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	})
}

// chartCanvas is a vg canvas that can write itself out (SVG or PNG).
type chartCanvas interface {
	vg.CanvasSizer
	io.WriterTo
}

func (r *Report) writeChart(w io.Writer, newCanvas func(width, height vg.Length) chartCanvas) error {
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
	canvas := newCanvas(vg.Points(1100), vg.Points(420*float64(rows)))
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
		return fmt.Errorf("podwire/bench: write chart: %w", err)
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
	build := func(pn panel, specs ...seriesSpec) (panel, bool) {
		for _, id := range order {
			for _, sp := range specs {
				if _, found := ok[id+"/"+sp.workload]; found {
					pn.rows = append(pn.rows, id)
					pn.transports = append(pn.transports, ok[id+"/"+sp.workload].Transport)
					pn.families = append(pn.families, ok[id+"/"+sp.workload].Family)
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
	var out []panel
	for _, c := range chartSpecs() {
		if pn, found := build(c.pn, c.specs...); found {
			out = append(out, pn)
		}
	}
	return out
}

// chartSpec is a panel to draw when any row produced its workloads.
type chartSpec struct {
	pn    panel
	specs []seriesSpec
}

// chartSpecs lists the panels of the chart, in reading order.
func chartSpecs() []chartSpec {
	ladder := func(wl string) []seriesSpec {
		return []seriesSpec{
			{"p50", wl, func(x Result) float64 { return x.P50US }},
			{"p90", wl, func(x Result) float64 { return x.P90US }},
			{"p99", wl, func(x Result) float64 { return x.P99US }},
			{"p99.9", wl, func(x Result) float64 { return x.P999US }},
		}
	}
	rps := func(x Result) float64 { return x.RPS }
	return []chartSpec{
		{panel{title: "unary 64 B, 1 caller: latency by percentile (lower is better)", yLabel: "µs (log)", style: styleLadder}, ladder("unary_c1")},
		{panel{title: "ping-pong 64 B on one stream (raw = socket floor): latency (lower is better)", yLabel: "µs (log)", style: styleLadder}, ladder("pingpong")},
		{panel{title: "unary 64 B: throughput (higher is better)", yLabel: "RPC/s", style: styleBars}, []seriesSpec{
			{"1 caller", "unary_c1", rps}, {"16 callers", "unary_c16", rps}, {"64 callers", "unary_c64", rps}}},
		{panel{title: "bulk stream, 1 MiB messages (higher is better)", yLabel: "MiB/s", style: styleBars}, []seriesSpec{
			{"MiB/s", "bulk", func(x Result) float64 { return x.MiBS }}}},
		{panel{title: "new channel, p50 (lower is better)", yLabel: "µs", style: styleBars}, []seriesSpec{
			{"gRPC channel to first reply (setup)", "setup", func(x Result) float64 { return x.P50US }},
			{"connection or mux stream (channel_open)", "channel_open", func(x Result) float64 { return x.P50US }}}},
		{panel{title: "idle channel, heap per channel, both ends (lower is better)", yLabel: "KiB", style: styleBars}, []seriesSpec{
			{"KiB", "idle_mem", func(x Result) float64 { return x.HeapBytesPerUnit / 1024 }}}},
	}
}

// panelStyle is how a panel draws its series.
type panelStyle int

const (
	styleBars   panelStyle = iota // grouped bars, one group per row
	styleLadder                   // one line per row across the series (percentiles), log scale
)

// transportColor gives each transport one color across every panel.
func transportColor(transport string) color.Color {
	switch transport {
	case "uds":
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	case "tcp":
		return color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	case "tls":
		return color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	case "mux+tls":
		return color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	default:
		return color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	}
}

// familyDashes tells bare grpc-go (dashed) and the raw floor (dotted) from
// podwire and the sidecar (solid) in line charts.
func familyDashes(f Family) []vg.Length {
	switch f {
	case FamilyGRPC:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case FamilyRaw:
		return []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	default:
		return nil
	}
}

// plot draws a panel in its style.
func (pn panel) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.title
	p.Y.Label.Text = pn.yLabel
	p.Legend.Top = true
	if pn.style == styleLadder {
		return p, pn.drawLadder(p)
	}
	return p, pn.drawBars(p)
}

// drawLadder draws one line per row through its percentiles on a log axis.
func (pn panel) drawLadder(p *plot.Plot) error {
	names := make([]string, len(pn.series))
	for i, s := range pn.series {
		names[i] = s.label
	}
	p.NominalX(names...)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Left = true
	for r, id := range pn.rows {
		var xys plotter.XYs
		for i, s := range pn.series {
			if v := s.values[r]; v > 0 && !math.IsInf(v, 0) {
				xys = append(xys, plotter.XY{X: float64(i), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("podwire/bench: chart %q row %s: %w", pn.title, id, err)
		}
		c := transportColor(pn.transports[r])
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		line.Dashes = familyDashes(pn.families[r])
		points.Shape = plotutil.Shape(r)
		p.Add(line, points)
		p.Legend.Add(id, line, points)
	}
	return nil
}

// drawBars draws grouped bars, one group per row. A single series is
// colored by transport (as in the line charts) and labelled with values.
func (pn panel) drawBars(p *plot.Plot) error {
	p.Y.Min = 0
	p.NominalX(pn.rows...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Y.Tick.Marker = plainTicks{}
	p.Legend.Left = true
	// Headroom above the tallest bar for the legend and the value labels.
	top := 0.0
	for _, s := range pn.series {
		for _, v := range s.values {
			if !math.IsInf(v, 0) && !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	if top > 0 {
		p.Y.Max = top * 1.3
	}
	n := len(pn.series)
	width := vg.Points(math.Min(60, 360/float64(max(len(pn.rows), 1)))) / vg.Length(n)
	for i, s := range pn.series {
		vals := make(plotter.Values, len(s.values))
		for k, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && v > 0 {
				vals[k] = v
			}
		}
		if n == 1 {
			return pn.drawSingle(p, vals, width)
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return fmt.Errorf("podwire/bench: chart %q: %w", pn.title, err)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(2*i-(n-1)) / 2
		p.Add(bars)
		p.Legend.Add(s.label, bars)
	}
	return nil
}

// drawSingle draws one bar per row in its transport's color, labelled.
func (pn panel) drawSingle(p *plot.Plot, vals plotter.Values, width vg.Length) error {
	for r := range vals {
		only := make(plotter.Values, len(vals))
		only[r] = vals[r]
		bars, err := plotter.NewBarChart(only, width)
		if err != nil {
			return fmt.Errorf("podwire/bench: chart %q: %w", pn.title, err)
		}
		bars.Color = transportColor(pn.transports[r])
		bars.LineStyle.Width = 0
		p.Add(bars)
	}
	labels, err := valueLabels(vals)
	if err != nil {
		return fmt.Errorf("podwire/bench: chart %q labels: %w", pn.title, err)
	}
	p.Add(labels)
	return nil
}

// valueLabels prints each bar's value just above it.
func valueLabels(vals plotter.Values) (*plotter.Labels, error) {
	xy := plotter.XYLabels{XYs: make(plotter.XYs, len(vals)), Labels: make([]string, len(vals))}
	for i, v := range vals {
		xy.XYs[i] = plotter.XY{X: float64(i), Y: v}
		xy.Labels[i] = formatFigure(v)
	}
	l, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XCenter
		l.Offset = vg.Point{Y: vg.Points(3)}
	}
	return l, nil
}

// plainTicks are gonum's default ticks labelled without trailing decimals
// (25000, not 25000.00).
type plainTicks struct{}

// Ticks returns plot.DefaultTicks with their labels reformatted.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
