package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"c2sweep/internal/kql"

	yaml "go.yaml.in/yaml/v3"
)

// Error is one problem in a config file, located by line and key, with a
// hint for the command line to print.
type Error struct {
	File string
	Line int
	Key  string // e.g. "hunts[2].max_age"; empty for the file as a whole
	Msg  string
	Hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" { // not from a file: the caller names the source
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String() // the command line prints Hint on its own line
}

// Errors is every problem found in one file, in line order, so that a
// hunter fixes them in one pass instead of one per run.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// nodeDecoder is implemented by types that read their own YAML shape
// (a secret is a string or a mapping, a target a string or a mapping).
type nodeDecoder interface {
	decodeNode(w *walker, n *yaml.Node, path string)
}

// walker decodes a YAML node tree into Go values strictly: it knows every
// key from the yaml tags, rejects the rest with a hint, and records the
// line of every key so later checks can point at it. It does what
// yaml's KnownFields(true) does, but names the key path and keeps going.
type walker struct {
	file     string
	dir      string // relative paths in the file are relative to it
	errs     Errors
	warnings Errors
	lines    map[string]int
}

func newWalker(file string) *walker {
	dir := "."
	if file != "" {
		dir = filepath.Dir(file)
	}
	return &walker{file: file, dir: dir, lines: map[string]int{}}
}

func (w *walker) fail(line int, key, msg, hint string) {
	w.errs = append(w.errs, &Error{File: w.file, Line: line, Key: key, Msg: msg, Hint: hint})
}

func (w *walker) warn(line int, key, msg, hint string) {
	w.warnings = append(w.warnings, &Error{File: w.file, Line: line, Key: key, Msg: msg, Hint: hint})
}

func (w *walker) sorted() Errors {
	sort.SliceStable(w.errs, func(i, j int) bool { return w.errs[i].Line < w.errs[j].Line })
	return w.errs
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's shape for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

var (
	nodeDecoderType = reflect.TypeFor[nodeDecoder]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	targetType      = reflect.TypeFor[kql.Target]()
)

// decode stores n into v, which must be addressable.
func (w *walker) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if _, ok := w.lines[path]; !ok {
		w.lines[path] = n.Line
	}
	pt := v.Addr().Type()
	switch {
	case pt.Implements(nodeDecoderType):
		v.Addr().Interface().(nodeDecoder).decodeNode(w, n, path)
		return
	case v.Type() == targetType:
		decodeTarget(w, n, v.Addr().Interface().(*kql.Target), path)
		return
	case pt.Implements(unmarshalerType):
		if isNull(n) {
			return
		}
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			w.fail(n.Line, path, err.Error(), "")
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		before := len(w.errs)
		w.decode(n, p.Elem(), path)
		if len(w.errs) == before {
			v.Set(p)
		}
	case reflect.Struct:
		w.decodeStruct(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			w.fail(n.Line, path, "expected a list (lines starting with -), got "+describe(n), "")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			w.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if isNull(n) {
			v.SetString("")
			return
		}
		if n.Kind != yaml.ScalarNode {
			w.fail(n.Line, path, "expected text, got "+describe(n), "")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			w.fail(n.Line, path, describe(n)+" is not true or false", "")
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			w.fail(n.Line, path, describe(n)+" is not a whole number", "")
			return
		}
		v.SetInt(i)
	default:
		panic("config: walker cannot decode " + v.Type().String())
	}
}

// fieldsOf maps yaml keys to field indexes, in declaration order.
func fieldsOf(t reflect.Type) (map[string]int, []string) {
	idx := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		idx[tag] = i
		names = append(names, tag)
	}
	return idx, names
}

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	idx, names := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		w.fail(n.Line, path, fmt.Sprintf("expected keys (%s), got %s", strings.Join(names, ", "), describe(n)), "")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.fail(k.Line, path, "a key must be a plain word, got "+describe(k), "")
			continue
		}
		key := k.Value
		kp := join(path, key)
		if key == "<<" && (k.Tag == "" || k.ShortTag() == "!!merge") {
			w.fail(k.Line, kp, "merge keys (<<) are not supported", "write the keys out, or use defaults: for what hunts share")
			continue
		}
		if first, dup := seen[key]; dup {
			w.fail(k.Line, kp, fmt.Sprintf("set twice (first on line %d)", first), "")
			continue
		}
		seen[key] = k.Line
		fi, ok := idx[key]
		if !ok {
			w.fail(k.Line, kp, "unknown key", unknownKeyHint(key, names, path))
			continue
		}
		w.lines[kp] = k.Line
		w.decode(val, v.Field(fi), kp)
	}
}

// unknownKeyHint suggests the nearest known key, or says where the key
// belongs when it is valid elsewhere in the file.
func unknownKeyHint(key string, known []string, path string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && bestD <= max(2, len(key)/3) {
		return "did you mean " + best + "?"
	}
	homes := keyHomes()
	if where, ok := homes[key]; ok {
		return fmt.Sprintf("%s belongs under %s", key, strings.Join(where, " or "))
	}
	all := make([]string, 0, len(homes))
	for k := range homes {
		all = append(all, k)
	}
	sort.Strings(all)
	if n := nearest(key, all); n != "" {
		return fmt.Sprintf("did you mean %s (under %s)?", n, strings.Join(homes[n], " or "))
	}
	where := "here"
	if path != "" {
		where = "in " + path
	}
	return "known keys " + where + ": " + strings.Join(known, ", ")
}

// keyHomes maps each key of the file to the sections that accept it.
func keyHomes() map[string][]string {
	homes := map[string][]string{}
	var visit func(t reflect.Type, at string)
	visit = func(t reflect.Type, at string) {
		_, names := fieldsOf(t)
		idx, _ := fieldsOf(t)
		for _, name := range names {
			label := at
			if label == "" {
				label = "the top level"
			}
			if !slices.Contains(homes[name], label) {
				homes[name] = append(homes[name], label)
			}
			ft := t.Field(idx[name]).Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != targetType && !reflect.PointerTo(ft).Implements(nodeDecoderType) {
				visit(ft, join(at, name)+":")
			}
		}
	}
	visit(reflect.TypeFor[fileConfig](), "")
	homes["env"] = []string{"a secret: {env: VAR}"}
	return homes
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeTarget reads a sweep target: "Table.Column" or {table, column}.
func decodeTarget(w *walker, n *yaml.Node, t *kql.Target, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		table, column, ok := strings.Cut(n.Value, ".")
		if !ok || table == "" || column == "" {
			w.fail(n.Line, path, describe(n)+" is not a table and column", "write DeviceNetworkEvents.RemoteIP or {table: DeviceNetworkEvents, column: RemoteIP}")
			return
		}
		*t = kql.Target{Table: table, Column: column}
	case yaml.MappingNode:
		var spec struct {
			Table  string `yaml:"table"`
			Column string `yaml:"column"`
		}
		before := len(w.errs)
		w.decodeStruct(n, reflect.ValueOf(&spec).Elem(), path)
		if len(w.errs) > before {
			return
		}
		if spec.Table == "" || spec.Column == "" {
			w.fail(n.Line, path, "needs both table and column", "e.g. {table: DeviceNetworkEvents, column: RemoteIP}")
			return
		}
		*t = kql.Target{Table: spec.Table, Column: spec.Column}
	default:
		w.fail(n.Line, path, "expected Table.Column or {table, column}, got "+describe(n), "")
	}
}

// resolvePath expands ~/ and makes a relative path relative to the config
// file, so that a scheduled service finds the same files as the hunter.
func (w *walker) resolvePath(p string) string {
	return resolvePath(w.dir, p)
}

func resolvePath(dir, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if !filepath.IsAbs(p) {
		if abs, err := filepath.Abs(filepath.Join(dir, p)); err == nil {
			p = abs
		}
	}
	return p
}

// checkSecretFile warns when others may read a secret file. A missing file
// is not an error here: it is reported when the secret is needed.
func (w *walker) checkSecretFile(line int, key, path string) {
	st, err := os.Stat(path)
	if err != nil {
		if !os.IsNotExist(err) {
			w.warn(line, key, fmt.Sprintf("cannot check %s: %v", path, errNoPath(err)), "")
		}
		return
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		w.warn(line, key, fmt.Sprintf("%s can be read by group or others (mode %04o)", path, mode), "chmod 600 "+path)
	}
}

func errNoPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// commandNode returns the value node of "command" in a secret mapping.
func (w *walker) commandNode(n *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "command" {
			return n.Content[i+1]
		}
	}
	return nil
}
