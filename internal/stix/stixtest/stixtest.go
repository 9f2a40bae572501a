// Package stixtest validates STIX 2.1 bundles for tests: against the OASIS
// JSON schemas vendored in internal/stix/testdata/schemas, and against the
// rules of the specification those schemas skip. Only tests import it.
package stixtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaBase is the $id prefix of the OASIS schema files.
const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// typeSchemas maps each object type c2sweep writes to its schema.
var typeSchemas = map[string]string{
	"identity":       "sdos/identity.json",
	"indicator":      "sdos/indicator.json",
	"infrastructure": "sdos/infrastructure.json",
	"malware":        "sdos/malware.json",
	"relationship":   "sros/relationship.json",
	"sighting":       "sros/sighting.json",
	"ipv4-addr":      "observables/ipv4-addr.json",
	"ipv6-addr":      "observables/ipv6-addr.json",
}

// allowed lists the relationships the STIX 2.1 specification defines
// between the types above (source type, relationship, target type).
var allowed = map[[3]string]bool{
	{"indicator", "indicates", "malware"}:                true,
	{"indicator", "indicates", "infrastructure"}:         true,
	{"infrastructure", "controls", "malware"}:            true,
	{"infrastructure", "controls", "infrastructure"}:     true,
	{"infrastructure", "consists-of", "ipv4-addr"}:       true,
	{"infrastructure", "consists-of", "ipv6-addr"}:       true,
	{"infrastructure", "communicates-with", "ipv4-addr"}: true,
	{"infrastructure", "communicates-with", "ipv6-addr"}: true,
	{"malware", "beacons-to", "infrastructure"}:          true,
	{"malware", "uses", "infrastructure"}:                true,
}

var (
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	loadErr error
)

// SchemaDir is where the vendored schema files are.
func SchemaDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "schemas", "schemas")
}

func load() (map[string]*jsonschema.Schema, error) {
	once.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		dir := SchemaDir()
		loadErr = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			doc, err := jsonschema.UnmarshalJSON(f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			rel, _ := filepath.Rel(dir, path)
			return c.AddResource(schemaBase+filepath.ToSlash(rel), doc)
		})
		if loadErr != nil {
			return
		}
		schemas = map[string]*jsonschema.Schema{}
		for typ, file := range typeSchemas {
			s, err := c.Compile(schemaBase + file)
			if err != nil {
				loadErr = fmt.Errorf("compile %s: %w", file, err)
				return
			}
			schemas[typ] = s
		}
	})
	return schemas, loadErr
}

var (
	identifier = regexp.MustCompile(`^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
	// created and modified need millisecond precision (STIX 2.1, 3.2).
	msStamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
)

// Validate checks one bundle and returns every problem found, joined.
func Validate(data []byte) error {
	sch, err := load()
	if err != nil {
		return err
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	var b struct {
		Type        string            `json:"type"`
		ID          string            `json:"id"`
		SpecVersion *string           `json:"spec_version"`
		Objects     []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if b.Type != "bundle" {
		fail("bundle: type %q", b.Type)
	}
	if m := identifier.FindStringSubmatch(b.ID); m == nil || m[1] != "bundle" {
		fail("bundle: id %q", b.ID)
	}
	if b.SpecVersion != nil {
		fail("bundle: a 2.1 bundle carries no spec_version")
	}
	if len(b.Objects) == 0 {
		fail("bundle: no objects")
	}

	objs := make([]map[string]any, 0, len(b.Objects))
	types := map[string]string{} // id -> type
	for i, raw := range b.Objects {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			fail("object %d: %v", i, err)
			continue
		}
		o, _ := inst.(map[string]any)
		typ, _ := o["type"].(string)
		id, _ := o["id"].(string)
		where := fmt.Sprintf("object %d (%s)", i, id)
		s, ok := sch[typ]
		if !ok {
			fail("%s: no schema for type %q", where, typ)
			continue
		}
		if err := s.Validate(inst); err != nil {
			fail("%s: schema %s: %v", where, typeSchemas[typ], err)
		}
		if m := identifier.FindStringSubmatch(id); m == nil || m[1] != typ {
			fail("%s: id does not name type %q", where, typ)
		}
		if _, dup := types[id]; dup {
			fail("%s: id given twice", where)
		}
		types[id] = typ
		objs = append(objs, o)
	}

	for _, o := range objs {
		id, _ := o["id"].(string)
		typ, _ := o["type"].(string)
		if _, sdo := o["created"]; sdo || typ == "relationship" || typ == "sighting" {
			for _, k := range []string{"created", "modified"} {
				if s, _ := o[k].(string); !msStamp.MatchString(s) {
					fail("%s: %s %q is not UTC with milliseconds", id, k, s)
				}
			}
		}
		later(o, "created", "modified", false, id, fail)
		later(o, "first_seen", "last_seen", false, id, fail)
		later(o, "valid_from", "valid_until", true, id, fail)
		for _, ref := range refs(o, "") {
			if _, ok := types[ref[1]]; !ok {
				fail("%s: %s %s is not in the bundle", id, ref[0], ref[1])
			}
		}
		switch typ {
		case "relationship":
			src, _ := o["source_ref"].(string)
			dst, _ := o["target_ref"].(string)
			rt, _ := o["relationship_type"].(string)
			if !allowed[[3]string{types[src], rt, types[dst]}] {
				fail("%s: %s %s %s is not a relationship STIX 2.1 defines", id, types[src], rt, types[dst])
			}
		case "sighting":
			of, _ := o["sighting_of_ref"].(string)
			if t := types[of]; t == "ipv4-addr" || t == "ipv6-addr" {
				fail("%s: sighting_of_ref %s is an observable, not an SDO", id, of)
			}
			where, _ := o["where_sighted_refs"].([]any)
			for _, r := range where {
				if t := types[fmt.Sprint(r)]; t != "identity" && t != "location" {
					fail("%s: where_sighted_refs %v is a %s, not an identity or location", id, r, t)
				}
			}
		case "indicator":
			p, _ := o["pattern"].(string)
			if err := checkPattern(p); err != nil {
				fail("%s: pattern %q: %v", id, p, err)
			}
		}
	}
	return errors.Join(errs...)
}

// later fails unless o[to] is at or after (strictly after when strict)
// o[from], when both are present.
func later(o map[string]any, from, to string, strict bool, id string, fail func(string, ...any)) {
	a, okA := o[from].(string)
	b, okB := o[to].(string)
	if !okA || !okB {
		return
	}
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	switch {
	case errA != nil || errB != nil:
		fail("%s: %s %q or %s %q is not RFC 3339", id, from, a, to, b)
	case strict && !tb.After(ta):
		fail("%s: %s %s must be later than %s %s", id, to, b, from, a)
	case tb.Before(ta):
		fail("%s: %s %s is before %s %s", id, to, b, from, a)
	}
}

// refs finds every *_ref and *_refs value in v, at any depth, as
// (property, id) pairs.
func refs(v any, key string) [][2]string {
	var out [][2]string
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch {
			case strings.HasSuffix(k, "_ref"):
				s, _ := x[k].(string)
				out = append(out, [2]string{k, s})
			case strings.HasSuffix(k, "_refs"):
				l, _ := x[k].([]any)
				for _, r := range l {
					s, _ := r.(string)
					out = append(out, [2]string{k, s})
				}
			default:
				out = append(out, refs(x[k], k)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, refs(e, key)...)
		}
	}
	return out
}

// comparison is the one form of pattern c2sweep writes: an address
// comparison whose string literal escapes backslash and quote.
var comparison = regexp.MustCompile(`^\[(ipv4-addr|ipv6-addr):value = '((?:[^'\\]|\\['\\])*)'\]$`)

// checkPattern parses the pattern and checks that the literal is an
// address of the type the object path names.
func checkPattern(p string) error {
	m := comparison.FindStringSubmatch(p)
	if m == nil {
		return errors.New("not an address comparison with a well-quoted literal")
	}
	v := strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(m[2])
	return checkAddr(m[1], v)
}

func checkAddr(kind, v string) error {
	a, err := netip.ParseAddr(v)
	switch {
	case err != nil:
		return err
	case a.Zone() != "":
		return errors.New("an address with a zone")
	case kind == "ipv4-addr" && !a.Is4():
		return fmt.Errorf("%s is not IPv4", v)
	case kind == "ipv6-addr" && (!a.Is6() || a.Is4In6()):
		return fmt.Errorf("%s is not IPv6", v)
	}
	return nil
}
