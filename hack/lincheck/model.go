package main

// etcd's KV model, split the way porcupine checks fastest (P-compositionality): one partition per
// key, holding that key's versions, and one partition for the store's revision counter, which
// every answer's header reports. Each is a sequential specification; a history is rejected only
// when some partition has no linearization, so a rejection is always a real violation.
//
// An operation whose outcome is unknown (a timeout, a lost connection) returns at +infinity and
// accepts any output, as in Jepsen and porcupine: it may take effect anywhere after its call, or
// never (linearized last, where nothing observes it). A write applied with an unknown revision
// gives its version only a lower bound; the first read that shows the version pins it.

import (
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Input is one request. Kind: put, get, del, cas. Rev (get only): 0 reads the latest version,
// otherwise the key as of that revision. Cas puts Value when the key's value equals *Expect
// (Expect nil: when the key is absent).
type Input struct {
	Kind   string  `json:"kind"`
	Key    string  `json:"key"`
	Value  string  `json:"value,omitempty"`
	Expect *string `json:"expect,omitempty"`
	Rev    int64   `json:"rev,omitempty"`
}

// Output is one answer; nil when the outcome is unknown. Rev is the header revision.
type Output struct {
	Rev       int64  `json:"rev"`
	Exists    bool   `json:"exists,omitempty"`
	Value     string `json:"value,omitempty"`
	ModRev    int64  `json:"modRev,omitempty"`
	Deleted   int64  `json:"deleted,omitempty"`
	Succeeded bool   `json:"succeeded,omitempty"`
}

// version is one value of a key. Rev is its mod revision when Exact, else a strict lower bound.
type version struct {
	Exists bool
	Value  string
	Rev    int64
	Exact  bool
}

// keyState is the key's versions, oldest first (a new slice on every change: states are values).
type keyState []version

func (s keyState) current() (version, bool) {
	if len(s) == 0 {
		return version{}, false
	}
	return s[len(s)-1], true
}

func (s keyState) with(v version) keyState {
	out := make(keyState, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}

func (s keyState) lastRev() int64 {
	if c, ok := s.current(); ok {
		return c.Rev
	}
	return 0
}

// written is the version a write leaves, exact when its answer is known.
func written(s keyState, exists bool, value string, out *Output) version {
	if out == nil {
		return version{Exists: exists, Value: value, Rev: s.lastRev(), Exact: false}
	}
	return version{Exists: exists, Value: value, Rev: out.Rev, Exact: true}
}

// matchesLatest: does a read of the latest version showing out fit version c? A read that shows an
// inexact version pins it to the mod revision it saw.
func readFits(c version, out *Output) (bool, version) {
	if !c.Exists {
		return !out.Exists, c
	}
	if !out.Exists || out.Value != c.Value {
		return false, c
	}
	if c.Exact {
		return out.ModRev == c.Rev, c
	}
	if out.ModRev <= c.Rev {
		return false, c
	}
	return true, version{Exists: true, Value: c.Value, Rev: out.ModRev, Exact: true}
}

func keyStep(st keyState, in Input, out *Output) (bool, keyState) {
	cur, has := st.current()
	exists := has && cur.Exists
	// A write's header revision is above every earlier version of the key.
	if out != nil && in.Kind != "get" && out.Rev <= st.lastRev() && (in.Kind == "put" || (in.Kind == "del" && exists) || (in.Kind == "cas" && out.Succeeded)) {
		return false, st
	}
	switch in.Kind {
	case "put":
		return true, st.with(written(st, true, in.Value, out))
	case "del":
		if out != nil && (out.Deleted == 1) != exists {
			return false, st
		}
		if !exists {
			return true, st
		}
		return true, st.with(written(st, false, "", out))
	case "cas":
		match := (in.Expect == nil && !exists) || (in.Expect != nil && exists && cur.Value == *in.Expect)
		if out != nil && out.Succeeded != match {
			return false, st
		}
		if !match {
			return true, st
		}
		return true, st.with(written(st, true, in.Value, out))
	case "get":
		if out == nil {
			return true, st
		}
		if out.Exists && out.ModRev > out.Rev {
			return false, st
		}
		if in.Rev == 0 {
			if !has {
				return !out.Exists, st
			}
			ok, pinned := readFits(cur, out)
			if !ok {
				return false, st
			}
			if pinned != cur {
				next := make(keyState, len(st))
				copy(next, st)
				next[len(next)-1] = pinned
				return true, next
			}
			return true, st
		}
		return historicalFits(st, in.Rev, out), st
	}
	panic(fmt.Sprintf("unknown kind %q", in.Kind))
}

// historicalFits: can a read as of revision r show out? Walks back from the newest version; an
// inexact version may lie on either side of r, so it is tried and, failing, stepped over.
func historicalFits(st keyState, r int64, out *Output) bool {
	for i := len(st) - 1; i >= 0; i-- {
		v := st[i]
		if v.Exact {
			if v.Rev > r {
				continue
			}
			ok, _ := readFits(v, out)
			return ok
		}
		if v.Rev >= r {
			continue // its revision is above its bound, so above r
		}
		if ok, _ := readFits(v, out); ok && (!out.Exists || out.ModRev <= r) {
			return true
		}
	}
	return !out.Exists
}

func keyStatesEqual(a, b interface{}) bool {
	x, y := a.(keyState), b.(keyState)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func describe(in Input, out *Output) string {
	var b strings.Builder
	switch in.Kind {
	case "put":
		fmt.Fprintf(&b, "put(%q, %q)", in.Key, in.Value)
	case "del":
		fmt.Fprintf(&b, "del(%q)", in.Key)
	case "cas":
		exp := "<absent>"
		if in.Expect != nil {
			exp = fmt.Sprintf("%q", *in.Expect)
		}
		fmt.Fprintf(&b, "cas(%q, %s -> %q)", in.Key, exp, in.Value)
	case "get":
		if in.Rev != 0 {
			fmt.Fprintf(&b, "get(%q @%d)", in.Key, in.Rev)
		} else {
			fmt.Fprintf(&b, "get(%q)", in.Key)
		}
	}
	if out == nil {
		b.WriteString(" -> unknown")
		return b.String()
	}
	fmt.Fprintf(&b, " -> rev %d", out.Rev)
	switch in.Kind {
	case "get":
		if out.Exists {
			fmt.Fprintf(&b, " %q mod %d", out.Value, out.ModRev)
		} else {
			b.WriteString(" absent")
		}
	case "del":
		fmt.Fprintf(&b, " deleted %d", out.Deleted)
	case "cas":
		fmt.Fprintf(&b, " succeeded %v", out.Succeeded)
	}
	return b.String()
}

// KeyModel: one key's versions.
var KeyModel = porcupine.Model{
	Init: func() interface{} { return keyState(nil) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return keyStep(state.(keyState), input.(Input), output.(*Output))
	},
	Equal:             keyStatesEqual,
	DescribeOperation: func(in, out interface{}) string { return describe(in.(Input), out.(*Output)) },
	DescribeState: func(s interface{}) string {
		c, ok := s.(keyState).current()
		if !ok || !c.Exists {
			return "absent"
		}
		if c.Exact {
			return fmt.Sprintf("%q mod %d", c.Value, c.Rev)
		}
		return fmt.Sprintf("%q mod >%d", c.Value, c.Rev)
	},
}

// changes: did a write with a known answer create a revision?
func changes(in Input, out *Output) bool {
	switch in.Kind {
	case "put":
		return true
	case "del":
		return out.Deleted > 0
	case "cas":
		return out.Succeeded
	}
	return false
}

// RevisionModel returns the store's revision counter, starting at initial: a known write that
// changed something moves it up by exactly one, every other known answer reports it unchanged,
// and an unknown write may or may not have moved it. Foreign revisions were written by operations
// outside this history (lease keys, their revocation and expiry; their own checker judges them):
// the counter may pass over a run of them at any moment, and no write of this history takes one.
func RevisionModel(initial int64, foreign map[int64]bool) porcupine.Model {
	// reachable: the counter s, then s passed over each following foreign revision in turn.
	reachable := func(s int64) []int64 {
		out := []int64{s}
		for foreign[s+1] {
			s++
			out = append(out, s)
		}
		return out
	}
	nm := porcupine.NondeterministicModel{
		Init: func() []interface{} { return []interface{}{initial} },
		Step: func(state, input, output interface{}) []interface{} {
			in, out := input.(Input), output.(*Output)
			var next []interface{}
			for _, s := range reachable(state.(int64)) {
				if out == nil {
					next = append(next, s)
					if in.Kind != "get" && !foreign[s+1] {
						next = append(next, s+1)
					}
					continue
				}
				if changes(in, out) {
					if out.Rev == s+1 && !foreign[s+1] {
						next = append(next, s+1)
					}
					continue
				}
				if out.Rev == s {
					next = append(next, s)
				}
			}
			return next
		},
		Equal:             func(a, b interface{}) bool { return a.(int64) == b.(int64) },
		DescribeOperation: func(in, out interface{}) string { return describe(in.(Input), out.(*Output)) },
		DescribeState:     func(s interface{}) string { return fmt.Sprintf("revision %d", s.(int64)) },
	}
	return nm.ToModel()
}
