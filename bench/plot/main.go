// Command plot draws how auditdetect's cost grows, from the output of `make bench` (out/bench.txt), as an SVG:
// CPU per event against event size (beside a fastjson parse of the same event), and against the number of rules
// loaded and the number of rules an event matches. `make bench-plot` writes docs/performance-growth.svg.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: plot out/bench.txt > growth.svg")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	cpu, err := readCPU(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	panels := []panel{
		{
			title: "CPU per event against event size (one ConfigMap update, full rule set)",
			xname: "event size (KiB)",
			series: []series{
				{"auditdetect, full rule set", "#1f77b4", points(cpu, "LargeEvent/auditdetect-%dKiB", 16, 128, 1024)},
				{"fastjson, full parse", "#ff7f0e", points(cpu, "LargeEvent/fastjson-%dKiB", 16, 128, 1024)},
			},
		},
		{
			title: "CPU per event against rules",
			xname: "rules",
			series: []series{
				{"rules loaded (the full set, and 10× as many), the mix", "#2ca02c", ruleCounts(cpu)},
				{"rules one event matches (10, 100, 1000)", "#d62728", points(cpu, "EveryRuleMatches/%d-rules", 10, 100, 1000)},
			},
		},
	}
	if err := draw(os.Stdout, panels); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// ruleCounts returns the RuleCount points: their names carry the number of rules loaded (`1x-79-rules`), which
// grows with the built-in pack and the corpus.
func ruleCounts(cpu map[string]float64) []point {
	var out []point
	for name, y := range cpu {
		var times, rules int
		if _, err := fmt.Sscanf(name, "RuleCount/%dx-%d-rules", &times, &rules); err == nil {
			out = append(out, point{float64(rules), y})
		}
	}
	slices.SortFunc(out, func(a, b point) int { return int(a.x - b.x) })
	return out
}

type point struct{ x, y float64 }

type series struct {
	name, color string
	pts         []point
}

type panel struct {
	title, xname string
	series       []series
}

// readCPU returns the median cpu-ns/op of every benchmark in a `go test -bench` output, by name without the
// Benchmark prefix and the -N GOMAXPROCS suffix.
func readCPU(r io.Reader) (map[string]float64, error) {
	runs := map[string][]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the -N GOMAXPROCS suffix, which go test leaves out when N is 1
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == "cpu-ns/op" {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					runs[name] = append(runs[name], v)
				}
			}
		}
	}
	out := map[string]float64{}
	for name, vs := range runs {
		slices.Sort(vs)
		out[name] = (vs[(len(vs)-1)/2] + vs[len(vs)/2]) / 2 // the median, as benchstat reports it
	}
	return out, sc.Err()
}

func points(cpu map[string]float64, format string, xs ...int) []point {
	var out []point
	for _, x := range xs {
		if y, ok := cpu[fmt.Sprintf(format, x)]; ok {
			out = append(out, point{float64(x), y})
		}
	}
	return out
}

const (
	width, panelHeight = 720, 300
	left, right        = 80, 20
	top, bottom        = 40, 60
)

// draw writes the panels one above the other, log-log, CPU in µs.
func draw(w io.Writer, panels []panel) error {
	b := bufio.NewWriter(w)
	height := panelHeight * len(panels)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	for i, p := range panels {
		if err := drawPanel(b, p, float64(i*panelHeight)); err != nil {
			return err
		}
	}
	fmt.Fprintln(b, "</svg>")
	return b.Flush()
}

func drawPanel(b *bufio.Writer, p panel, y0 float64) error {
	var xs, ys []float64
	for _, s := range p.series {
		for _, pt := range s.pts {
			xs, ys = append(xs, pt.x), append(ys, pt.y/1000)
		}
	}
	if len(xs) == 0 {
		return fmt.Errorf("%s: no data", p.title)
	}
	for i := range xs {
		// A zero would put a decade at -Inf: the grid loops below would never end.
		if !(xs[i] > 0 && ys[i] > 0) || math.IsInf(xs[i], 0) || math.IsInf(ys[i], 0) {
			return fmt.Errorf("%s: a point at (%g, %g µs) cannot go on a log scale", p.title, xs[i], ys[i])
		}
	}
	xlo, xhi := decades(xs)
	ylo, yhi := decades(ys)
	plotW, plotH := float64(width-left-right), float64(panelHeight-top-bottom)
	px := func(x float64) float64 {
		return left + (math.Log10(x)-xlo)/(xhi-xlo)*plotW
	}
	py := func(y float64) float64 {
		return y0 + top + plotH - (math.Log10(y)-ylo)/(yhi-ylo)*plotH
	}
	fmt.Fprintf(b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0+20, p.title)
	for d := xlo; d <= xhi; d++ {
		x := px(math.Pow(10, d))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, y0+top, x, y0+top+plotH)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x, y0+top+plotH+16, math.Pow(10, d))
	}
	for d := ylo; d <= yhi; d++ {
		y := py(math.Pow(10, d))
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+plotW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%g µs</text>`+"\n", left-6, y+4, math.Pow(10, d))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", left+plotW/2, y0+top+plotH+34, p.xname)
	for i, s := range p.series {
		var pts []string
		for _, pt := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(pt.x), py(pt.y/1000)))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		for _, pt := range s.pts {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%g: %.1f µs</title></circle>`+"\n",
				px(pt.x), py(pt.y/1000), s.color, pt.x, pt.y/1000)
		}
		ly := y0 + top + 14 + float64(i)*16
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", left+10, ly-4, left+30, ly-4, s.color)
		fmt.Fprintf(b, `<text x="%d" y="%.1f">%s</text>`+"\n", left+36, ly, s.name)
	}
	return nil
}

// decades returns the powers of ten around the values (log10 of the floor and ceiling).
func decades(vs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo, hi = math.Min(lo, math.Floor(math.Log10(v))), math.Max(hi, math.Ceil(math.Log10(v)))
	}
	if lo == hi {
		hi++
	}
	return lo, hi
}
