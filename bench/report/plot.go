package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// A PNG is drawn at vgimg.DefaultDPI (96 pixels per 72 points), so 600×300 points make an 800×400 pixel image.
const (
	plotWidth  vg.Length = 600
	plotHeight vg.Length = 300
)

// plotGroup is the series drawn in one PNG.
type plotGroup struct {
	// name is the Series.Plot of the group's first series; file the PNG's base name.
	name string
	file string
	// series are the group's series that have points, each with its non-finite points dropped.
	series []Series
}

// plotGroups groups r.Series by the PNG they go into, in the order the plots first appear. Series without a finite
// point are left out, and so is a plot left with no series.
func (r *Report) plotGroups() []plotGroup {
	var groups []plotGroup
	index := map[string]int{}
	for _, s := range r.Series {
		pts := make([]Point, 0, len(s.Points))
		for _, p := range s.Points {
			if finite(p.T) && finite(p.V) {
				pts = append(pts, p)
			}
		}
		if len(pts) == 0 {
			continue
		}
		s.Points = pts
		file := plotFile(s.Plot)
		i, ok := index[file]
		if !ok {
			i = len(groups)
			index[file] = i
			groups = append(groups, plotGroup{name: s.Plot, file: file})
		}
		groups[i].series = append(groups[i].series, s)
	}
	return groups
}

// plotFile is the PNG file name of a plot: the name with anything but letters, digits, '-', '_' and '.' replaced by
// '_', so that a plot name can never leave the report directory.
func plotFile(plot string) string {
	name := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			return c
		}
		return '_'
	}, plot)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "plot"
	}
	return name + ".png"
}

// plotTitle makes a plot name readable: "latency_webhook_ack" → "latency webhook ack".
func plotTitle(plot string) string {
	title := strings.NewReplacer("_", " ", "-", " ").Replace(plot)
	if strings.TrimSpace(title) == "" {
		return "plot"
	}
	return title
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// WritePlots writes one PNG of about 800×400 pixels per distinct Series.Plot into dir, named <plot>.png, with every
// series of that plot as a line over the run's seconds, and returns the paths written. Series without points are
// skipped; when no series has points nothing is written, dir is not created, and the error is nil.
func (r *Report) WritePlots(dir string) ([]string, error) {
	groups := r.plotGroups()
	if len(groups) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create plot directory: %w", err)
	}
	files := make([]string, 0, len(groups))
	for _, g := range groups {
		p, err := g.plot()
		if err != nil {
			return files, fmt.Errorf("plot %s: %w", g.name, err)
		}
		path := filepath.Join(dir, g.file)
		if err := p.Save(plotWidth, plotHeight, path); err != nil {
			return files, fmt.Errorf("save plot %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}

// plot draws the group: one coloured line per series, a legend, and the series' units on the y axis.
func (g plotGroup) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = plotTitle(g.name)
	p.X.Label.Text = "seconds"
	p.Title.Padding = vg.Points(6)
	// Lines in a run mostly rise with the load, so the top left corner is the one most often free.
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Add(plotter.NewGrid())

	var units []string
	for i, s := range g.series {
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			y := pt.V
			if g.logScale() {
				y = math.Max(y, minLogMillis)
			}
			xys[j] = plotter.XY{X: pt.T, Y: y}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", s.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("series %d", i+1)
		}
		p.Legend.Add(name, line)
		if s.Unit != "" && !slices.Contains(units, s.Unit) {
			units = append(units, s.Unit)
		}
	}
	p.Y.Label.Text = strings.Join(units, ", ")
	if g.logScale() && p.Y.Max > 0 {
		// Latencies span milliseconds to seconds within one run (a ramp into overload): on a log scale both the
		// quiet steps and the overload read. Points at or below zero cannot be drawn on it and are clamped.
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min = math.Max(minLogMillis, p.Y.Min)
		p.Y.Label.Text = "ms (log scale)"
		return p, nil
	}
	// Rates and sizes read honestly only from zero.
	p.Y.Min = math.Min(p.Y.Min, 0)
	return p, nil
}

// minLogMillis is the floor of a log-scale latency axis: 0.01 ms.
const minLogMillis = 0.01

// logScale reports whether the group is drawn on a log scale: latencies, all in ms.
func (g plotGroup) logScale() bool {
	for _, s := range g.series {
		if s.Unit != "ms" {
			return false
		}
	}
	return len(g.series) > 0
}
