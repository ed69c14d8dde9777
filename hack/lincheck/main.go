// lincheck reads a client history of an etcd-compatible store (JSON on stdin) and says whether it
// is linearizable under the model in model.go, with porcupine. It prints one JSON verdict:
// {"verdict":"ok"|"illegal"|"unknown", ...}; "unknown" means the search ran out of time.
// Exit status: 0 ok, 1 illegal, 2 unknown, 3 bad input.
//
//	lincheck [-timeout 60s] [-visualize out.html] < history.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// History is what the nemesis suite records. Times are from a monotonic clock (any unit). A null
// Return is an operation that never answered: with a null Output its outcome is unknown; with an
// Output, the outcome was learnt afterwards (from the store's event log) but not when it happened.
type History struct {
	InitialRev int64 `json:"initialRev"`
	Ops        []Op  `json:"ops"`
	// Foreign: revisions written by operations outside Ops (see RevisionModel).
	Foreign []int64 `json:"foreign,omitempty"`
}

type Op struct {
	Client int     `json:"client"`
	Call   int64   `json:"call"`
	Return *int64  `json:"return"`
	Input  Input   `json:"input"`
	Output *Output `json:"output"`
}

type partResult struct {
	Name    string `json:"name"`
	Ops     int    `json:"ops"`
	Verdict string `json:"verdict"`
}

type Verdict struct {
	Verdict    string       `json:"verdict"`
	Ops        int          `json:"ops"`
	Unknown    int          `json:"unknown"`
	Partitions int          `json:"partitions"`
	Failed     []partResult `json:"failed,omitempty"`
	Visualized string       `json:"visualized,omitempty"`
}

func toOperations(ops []Op) []porcupine.Operation {
	out := make([]porcupine.Operation, 0, len(ops))
	for _, o := range ops {
		ret := int64(math.MaxInt64)
		if o.Return != nil {
			ret = *o.Return
		}
		out = append(out, porcupine.Operation{ClientId: o.Client, Call: o.Call, Return: ret, Input: o.Input, Output: o.Output})
	}
	return out
}

func verdictName(r porcupine.CheckResult) string {
	switch r {
	case porcupine.Ok:
		return "ok"
	case porcupine.Illegal:
		return "illegal"
	}
	return "unknown"
}

func main() {
	timeout := flag.Duration("timeout", 60*time.Second, "time budget for the whole search")
	visualize := flag.String("visualize", "", "on a violation, write porcupine's HTML view of the failing partition here")
	flag.Parse()

	var h History
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&h); err != nil {
		fmt.Fprintf(os.Stderr, "lincheck: bad history: %v\n", err)
		os.Exit(3)
	}
	for i, o := range h.Ops {
		switch o.Input.Kind {
		case "put", "get", "del", "cas":
		default:
			fmt.Fprintf(os.Stderr, "lincheck: op %d: unknown kind %q\n", i, o.Input.Kind)
			os.Exit(3)
		}
		if o.Return != nil && o.Output == nil {
			fmt.Fprintf(os.Stderr, "lincheck: op %d returned without an output\n", i)
			os.Exit(3)
		}
	}

	byKey := map[string][]Op{}
	for _, o := range h.Ops {
		byKey[o.Input.Key] = append(byKey[o.Input.Key], o)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	type part struct {
		name  string
		model porcupine.Model
		ops   []Op
	}
	foreign := map[int64]bool{}
	for _, r := range h.Foreign {
		foreign[r] = true
	}
	parts := []part{{name: "revision", model: RevisionModel(h.InitialRev, foreign), ops: h.Ops}}
	for _, k := range keys {
		parts = append(parts, part{name: "key " + k, model: KeyModel, ops: byKey[k]})
	}

	v := Verdict{Verdict: "ok", Ops: len(h.Ops), Partitions: len(parts)}
	for _, o := range h.Ops {
		if o.Output == nil {
			v.Unknown++
		}
	}
	deadline := time.Now().Add(*timeout)
	for _, p := range parts {
		left := time.Until(deadline)
		if left <= 0 {
			left = time.Millisecond
		}
		res, info := porcupine.CheckOperationsVerbose(p.model, toOperations(p.ops), left)
		name := verdictName(res)
		if res == porcupine.Ok {
			continue
		}
		v.Failed = append(v.Failed, partResult{Name: p.name, Ops: len(p.ops), Verdict: name})
		if res == porcupine.Illegal {
			v.Verdict = "illegal"
			if *visualize != "" && v.Visualized == "" {
				if err := porcupine.VisualizePath(p.model, info, *visualize); err == nil {
					v.Visualized = *visualize
				}
			}
		} else if v.Verdict == "ok" {
			v.Verdict = "unknown"
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(v)
	switch v.Verdict {
	case "ok":
		os.Exit(0)
	case "illegal":
		os.Exit(1)
	}
	os.Exit(2)
}
