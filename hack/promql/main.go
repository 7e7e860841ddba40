// Command promql-check runs PromQL expressions through Prometheus's own parser and query engine,
// so the chart's alert rules and dashboard queries are checked by the code that will run them.
//
// Input on stdin, JSON:
//
//	{"queries": [{"where": "...", "expr": "..."}],
//	 "samples": [{"labels": {"__name__": "...", ...}, "t": <unix ms>, "v": <number>}],
//	 "at": <unix ms>}
//
// Output on stdout, JSON: one finding per query, {"where", "error", "metrics", "labels", "series",
// "evalError"}: the parse error (empty when the expression is valid), the metric names it selects,
// every label name it matches on, groups by or joins on, and, when samples were given, how many
// series the expression returns at "at" over those samples in a real TSDB. Exit status 0 even when
// expressions are invalid; the caller judges.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
)

type query struct {
	Where string `json:"where"`
	Expr  string `json:"expr"`
}

type sample struct {
	Labels map[string]string `json:"labels"`
	T      int64             `json:"t"`
	V      float64           `json:"v"`
}

type input struct {
	Queries []query  `json:"queries"`
	Samples []sample `json:"samples"`
	At      int64    `json:"at"`
}

type finding struct {
	Where     string   `json:"where"`
	Error     string   `json:"error"`
	Metrics   []string `json:"metrics"`
	Labels    []string `json:"labels"`
	Series    int      `json:"series"`
	EvalError string   `json:"evalError"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("stdin is not {queries, samples, at}: %v", err)
	}
	// Default options: what a Prometheus server accepts without feature flags.
	promqlParser := parser.NewParser(parser.Options{})
	findings := make([]finding, 0, len(in.Queries))
	for _, q := range in.Queries {
		findings = append(findings, inspect(promqlParser, q))
	}
	if len(in.Samples) > 0 {
		evaluate(in, findings)
	}
	if err := json.NewEncoder(os.Stdout).Encode(findings); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "promql-check: "+format+"\n", args...)
	os.Exit(2)
}

func inspect(promqlParser parser.Parser, q query) finding {
	result := finding{Where: q.Where, Metrics: []string{}, Labels: []string{}, Series: -1}
	expr, err := promqlParser.ParseExpr(q.Expr)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	metrics, names := map[string]bool{}, map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					metrics[m.Value] = true
				} else {
					names[m.Name] = true
				}
			}
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				names[l] = true
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range n.VectorMatching.MatchingLabels {
					names[l] = true
				}
				for _, l := range n.VectorMatching.Include {
					names[l] = true
				}
			}
		}
		return nil
	})
	result.Metrics, result.Labels = sorted(metrics), sorted(names)
	return result
}

// evaluate loads the samples into a throwaway TSDB and runs every valid query on it at in.At.
func evaluate(in input, findings []finding) {
	dir, err := os.MkdirTemp("", "promql-check-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(dir)
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		fail("opening a TSDB in %s: %v", dir, err)
	}
	defer db.Close()

	ctx := context.Background()
	sort.SliceStable(in.Samples, func(i, j int) bool { return in.Samples[i].T < in.Samples[j].T })
	app := db.Appender(ctx)
	for _, s := range in.Samples {
		if _, err := app.Append(0, labels.FromMap(s.Labels), s.T, s.V); err != nil {
			fail("sample %v at %d: %v", s.Labels, s.T, err)
		}
	}
	if err := app.Commit(); err != nil {
		fail("committing samples: %v", err)
	}

	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples:    1_000_000,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
	})
	at := time.UnixMilli(in.At)
	for i := range findings {
		if findings[i].Error != "" {
			continue
		}
		q, err := engine.NewInstantQuery(ctx, db, nil, in.Queries[i].Expr, at)
		if err != nil {
			findings[i].EvalError = err.Error()
			continue
		}
		result := q.Exec(ctx)
		switch {
		case result.Err != nil:
			findings[i].EvalError = result.Err.Error()
		default:
			if vector, err := result.Vector(); err == nil {
				findings[i].Series = len(vector)
			} else if _, err := result.Scalar(); err == nil {
				findings[i].Series = 1
			} else {
				findings[i].EvalError = "returns neither an instant vector nor a scalar"
			}
		}
		q.Close()
	}
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
