// Command porcupine-check decides the linearizability of the map keys of hzlab history files
// with Porcupine (github.com/anishathalye/porcupine), as an independent check of hzlab's own
// checker (host/src/history/register.rs): the same register-with-compare-and-set model, read
// from the same JSON lines, searched by another implementation.
//
//	porcupine-check [-model auto|register] [-timeout 10s] FILE
//
// prints one JSON object: {"keys":[{"run","map","key","ops","verdict","ms"}]}, verdict one of
// linearizable, not-linearizable, unknown. With -model auto, a counter key's ok map.get and
// the same instance's next set or put of the key are one read-modify-write operation (as
// hzlab's auto model checks counters); -model register checks every operation on its own.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

type event struct {
	Run      *string           `json:"run"`
	Scenario string            `json:"scenario"`
	Phase    string            `json:"phase"`
	Instance int               `json:"instance"`
	Op       string            `json:"op"`
	Name     string            `json:"name"`
	Args     []json.RawMessage `json:"args"`
	Outcome  string            `json:"outcome"`
	Value    json.RawMessage   `json:"value"`
	StartUs  float64           `json:"start_us"`
	EndUs    float64           `json:"end_us"`
}

const (
	absent = 0
	any    = -1
)

// A step of an operation; known is false when the outcome is unknown.
type step struct {
	kind  string
	v     int // value written (put, set, put-if-absent, replace, cas new)
	old   int // cas expected
	out   int // value answered (get, put, put-if-absent, replace, remove)
	ok    bool
	known bool
}

type input struct{ steps []step }

func is(s, want int) bool { return s == any || s == want }

func apply(st step, s int) (bool, int) {
	switch st.kind {
	case "get":
		return is(s, st.out), st.out
	case "contains":
		if s == any {
			if !st.ok {
				return true, absent
			}
			return true, any
		}
		return (s != absent) == st.ok, s
	case "set":
		return true, st.v
	case "put":
		if !st.known {
			return true, st.v
		}
		return is(s, st.out), st.v
	case "put-if-absent":
		if !st.known {
			switch s {
			case any:
				return true, any
			case absent:
				return true, st.v
			}
			return true, s
		}
		if st.out == absent {
			return is(s, absent), st.v
		}
		return is(s, st.out), st.out
	case "replace":
		if !st.known {
			switch s {
			case any:
				return true, any
			case absent:
				return true, absent
			}
			return true, st.v
		}
		if st.out == absent {
			return is(s, absent), absent
		}
		return is(s, st.out), st.v
	case "cas":
		if !st.known {
			if s == any {
				return true, any
			}
			if s == st.old {
				return true, st.v
			}
			return true, s
		}
		if st.ok {
			return is(s, st.old), st.v
		}
		return s != st.old, s
	case "remove":
		if !st.known {
			return true, absent
		}
		return is(s, st.out), absent
	}
	panic("unknown step " + st.kind)
}

var model = porcupine.Model{
	Init: func() interface{} { return any },
	Step: func(state, in, _ interface{}) (bool, interface{}) {
		s := state.(int)
		for _, st := range in.(input).steps {
			ok, n := apply(st, s)
			if !ok {
				return false, s
			}
			s = n
		}
		return true, s
	},
	Equal: func(a, b interface{}) bool { return a.(int) == b.(int) },
}

type keyHistory struct {
	run, mapName, key string
	ops               []porcupine.Operation
	ids               map[string]int
	// pending read per (scenario, phase, instance), as an index into ops
	pending map[string]int
}

func (h *keyHistory) id(raw json.RawMessage) int {
	if len(raw) == 0 {
		return absent
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		panic(err)
	}
	t := buf.String()
	if t == "null" {
		return absent
	}
	if id, ok := h.ids[t]; ok {
		return id
	}
	id := len(h.ids) + 1
	h.ids[t] = id
	return id
}

func arg(e *event, i int) json.RawMessage {
	if i < len(e.Args) {
		return e.Args[i]
	}
	return nil
}

func asBool(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "true" }

func ns(us float64) int64 { return int64(math.Round(us * 1000)) }

func isRegisterOp(op string) bool {
	switch op {
	case "map.get", "map.put", "map.set", "map.put-if-absent", "map.remove", "map.contains-key",
		"replace.replace", "replace.replace-if-same":
		return true
	}
	return false
}

func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

// asInt: an integer JSON value (null or missing: 0, as a counter absent reads).
func asInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || compact(raw) == "null" {
		return 0, true
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&n) != nil {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// counterKeys: keys (map NUL key) of a run where at least two ok writes of `run` are
// read-modify-writes of integers (a replace-if-same, a put-if-absent that applied, or a
// set/put/replace based on the same instance's last read or write of the key) that all move
// the key the same way, and no ok write of `run` is blind (no operation on the key before it).
func counterKeys(events []*event) map[string]bool {
	type st struct {
		rmw, blind, up, down int
	}
	stats := map[string]*st{}
	known := map[string]*int64{}
	for _, e := range events {
		if !isRegisterOp(e.Op) || len(e.Args) == 0 {
			continue
		}
		k := e.Scenario + "\x00" + e.Name + "\x00" + compact(e.Args[0])
		who := k + "\x00" + e.Phase + "\x00" + fmt.Sprint(e.Instance)
		s := stats[k]
		if s == nil {
			s = &st{}
			stats[k] = s
		}
		delta := func(base int64, raw json.RawMessage) {
			if w, ok := asInt(raw); ok && len(raw) > 0 {
				s.rmw++
				switch {
				case w > base:
					s.up++
				case w < base:
					s.down++
				}
			}
		}
		set := func(applied bool, raw json.RawMessage) {
			if w, ok := asInt(raw); applied && ok && e.Outcome == "ok" {
				known[who] = &w
			} else {
				known[who] = nil
			}
		}
		inRun := e.Phase == "run" && e.Outcome == "ok"
		switch e.Op {
		case "map.get":
			if v, ok := asInt(e.Value); ok && e.Outcome == "ok" {
				known[who] = &v
			} else {
				known[who] = nil
			}
		case "map.set", "map.put", "replace.replace":
			applied := e.Op != "replace.replace" || (len(e.Value) > 0 && compact(e.Value) != "null")
			if _, isInt := asInt(arg(e, 1)); inRun && applied && isInt && len(arg(e, 1)) > 0 {
				base, seen := known[who]
				if !seen {
					s.blind++
				} else if base != nil {
					delta(*base, arg(e, 1))
				}
			}
			set(applied, arg(e, 1))
		case "replace.replace-if-same":
			applied := asBool(e.Value)
			if base, ok := asInt(arg(e, 1)); inRun && applied && ok {
				delta(base, arg(e, 2))
			}
			set(applied, arg(e, 2))
		case "map.put-if-absent":
			applied := len(e.Value) == 0 || compact(e.Value) == "null"
			if inRun && applied {
				delta(0, arg(e, 1))
			}
			set(applied, arg(e, 1))
		default:
			known[who] = nil
		}
	}
	// By map and key: a key that is a counter in one scenario pairs in every scenario.
	out := map[string]bool{}
	for k, s := range stats {
		oneWay := (s.up == s.rmw) || (s.down == s.rmw)
		if s.rmw >= 2 && s.blind == 0 && oneWay {
			out[k[bytes.IndexByte([]byte(k), 0)+1:]] = true
		}
	}
	return out
}

func main() {
	modelName := flag.String("model", "auto", "auto or register")
	timeout := flag.Duration("timeout", 20*time.Second, "time budget per key")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: porcupine-check [-model auto|register] [-timeout 10s] FILE")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var all []*event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", flag.Arg(0), line, err)
			os.Exit(2)
		}
		all = append(all, &e)
	}
	// Runs, in order of first appearance.
	var runs []string
	byRun := map[string][]*event{}
	for _, e := range all {
		r := ""
		if e.Run != nil {
			r = *e.Run
		}
		if _, ok := byRun[r]; !ok {
			runs = append(runs, r)
		}
		byRun[r] = append(byRun[r], e)
	}
	type result struct {
		Run     string  `json:"run"`
		Map     string  `json:"map"`
		Key     string  `json:"key"`
		Ops     int     `json:"ops"`
		Verdict string  `json:"verdict"`
		Ms      float64 `json:"ms"`
	}
	var results []result
	for _, r := range runs {
		events := byRun[r]
		sort.SliceStable(events, func(i, j int) bool { return events[i].StartUs < events[j].StartUs })
		counters := map[string]bool{}
		if *modelName == "auto" {
			counters = counterKeys(events)
		}
		keys := map[string]*keyHistory{}
		var order []string
		var clears []*event
		for _, e := range events {
			if e.Op == "map.clear" {
				clears = append(clears, e)
				continue
			}
			if !isRegisterOp(e.Op) || len(e.Args) == 0 {
				continue
			}
			kt := compact(e.Args[0])
			k := e.Name + "\x00" + kt
			h := keys[k]
			if h == nil {
				h = &keyHistory{run: r, mapName: e.Name, key: kt, ids: map[string]int{}, pending: map[string]int{}}
				keys[k] = h
				order = append(order, k)
			}
			who := e.Scenario + "\x00" + e.Phase + "\x00" + fmt.Sprint(e.Instance)
			pairWith, paired := h.pending[who]
			delete(h.pending, who)
			var ret int64
			switch e.Outcome {
			case "ok":
				ret = ns(e.EndUs)
			case "unknown":
				ret = math.MaxInt64
			default:
				continue
			}
			known := e.Outcome == "ok"
			var st step
			switch e.Op {
			case "map.get":
				if !known {
					continue
				}
				st = step{kind: "get", out: h.id(e.Value), known: true}
			case "map.contains-key":
				if !known {
					continue
				}
				st = step{kind: "contains", ok: asBool(e.Value), known: true}
			case "map.put":
				st = step{kind: "put", v: h.id(arg(e, 1)), known: known}
				if known {
					st.out = h.id(e.Value)
				}
			case "map.set":
				st = step{kind: "set", v: h.id(arg(e, 1)), known: true}
			case "map.put-if-absent":
				st = step{kind: "put-if-absent", v: h.id(arg(e, 1)), known: known}
				if known {
					st.out = h.id(e.Value)
				}
			case "replace.replace":
				st = step{kind: "replace", v: h.id(arg(e, 1)), known: known}
				if known {
					st.out = h.id(e.Value)
				}
			case "replace.replace-if-same":
				st = step{kind: "cas", old: h.id(arg(e, 1)), v: h.id(arg(e, 2)), known: known}
				if known {
					st.ok = asBool(e.Value)
				}
			case "map.remove":
				st = step{kind: "remove", known: known}
				if known {
					st.out = h.id(e.Value)
				}
			}
			if paired && known && (st.kind == "set" || st.kind == "put") {
				op := &h.ops[pairWith]
				in := op.Input.(input)
				in.steps = append(append([]step{}, in.steps...), st)
				op.Input = in
				op.Return = ret
				continue
			}
			h.ops = append(h.ops, porcupine.Operation{
				ClientId: e.Instance,
				Input:    input{steps: []step{st}},
				Call:     ns(e.StartUs),
				Return:   ret,
			})
			if st.kind == "get" && counters[e.Name+"\x00"+kt] {
				h.pending[who] = len(h.ops) - 1
			}
		}
		for _, e := range clears {
			var ret int64
			switch e.Outcome {
			case "ok":
				ret = ns(e.EndUs)
			case "unknown":
				ret = math.MaxInt64
			default:
				continue
			}
			for _, k := range order {
				h := keys[k]
				if h.mapName == e.Name {
					h.ops = append(h.ops, porcupine.Operation{
						ClientId: e.Instance,
						Input:    input{steps: []step{{kind: "remove"}}},
						Call:     ns(e.StartUs),
						Return:   ret,
					})
				}
			}
		}
		for _, k := range order {
			h := keys[k]
			started := time.Now()
			res := porcupine.CheckOperationsTimeout(model, h.ops, *timeout)
			v := map[porcupine.CheckResult]string{
				porcupine.Ok:      "linearizable",
				porcupine.Illegal: "not-linearizable",
				porcupine.Unknown: "unknown",
			}[res]
			results = append(results, result{r, h.mapName, h.key, len(h.ops), v,
				float64(time.Since(started).Microseconds()) / 1e3})
		}
	}
	out := map[string]interface{}{"keys": results}
	if results == nil {
		out["keys"] = []result{}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
