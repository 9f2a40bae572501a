// Package schema holds the table schemas the project knows, taken from
// Microsoft's table reference pages: Defender XDR advanced hunting
// (defender-tables.json, the package-level functions) and Microsoft Sentinel's
// Log Analytics tables (sentinel-tables.json, Sentinel()). Each hunting
// backend writes its queries against one catalogue.
package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
)

//go:embed defender-tables.json
var tablesJSON []byte

//go:embed sentinel-tables.json
var sentinelJSON []byte

// Column is one column of a table.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // Kusto type name: string, datetime, long, int, bool, dynamic ...
}

// Table is one advanced hunting table.
type Table struct {
	Name            string   `json:"-"`
	TimeColumn      string   `json:"time_column"`
	IPColumns       []string `json:"ip_columns"`
	RemoteIPColumns []string `json:"remote_ip_columns"`
	Columns         []Column `json:"columns"`
	// Normalise lists IP columns whose values may carry a port, brackets
	// or ::ffff: ("[::ffff:1.2.3.4]:5555"): queries rewrite them first.
	Normalise []string `json:"normalise"`
	// Roles names the columns that fill a hit's evidence (Sentinel's
	// tables; Defender's are found by name in package kql).
	Roles *Roles `json:"roles"`
}

// Roles are the evidence columns of a table.
type Roles struct {
	Device  string            `json:"device"`
	User    string            `json:"user"`
	Process string            `json:"process"`
	Action  string            `json:"action"`
	Ports   map[string]string `json:"ports"` // IP column -> the port on its side
}

// Has reports whether the table has the column.
func (t *Table) Has(col string) bool {
	return slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == col })
}

// Catalog is one backend's set of tables.
type Catalog struct {
	Name   string // "defender" or "sentinel"
	File   string // the embedded document
	tables map[string]*Table
}

func parse(name, file string, data []byte) *Catalog {
	var doc struct {
		Tables map[string]*Table `json:"tables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		panic("schema: embedded " + file + ": " + err.Error())
	}
	for n, t := range doc.Tables {
		t.Name = n
	}
	return &Catalog{Name: name, File: file, tables: doc.Tables}
}

var (
	defender = sync.OnceValue(func() *Catalog { return parse("defender", "defender-tables.json", tablesJSON) })
	sentinel = sync.OnceValue(func() *Catalog { return parse("sentinel", "sentinel-tables.json", sentinelJSON) })
)

// Defender is the advanced hunting catalogue (Graph and MDE).
func Defender() *Catalog { return defender() }

// Sentinel is the Log Analytics catalogue (Microsoft Sentinel).
func Sentinel() *Catalog { return sentinel() }

// Named returns the catalogue called name; "" is Defender's.
func Named(name string) (*Catalog, error) {
	switch name {
	case "", "defender":
		return Defender(), nil
	case "sentinel":
		return Sentinel(), nil
	}
	return nil, fmt.Errorf("unknown table catalogue %q (defender, sentinel)", name)
}

// Lookup returns the named table.
func (c *Catalog) Lookup(name string) (*Table, bool) {
	t, ok := c.tables[name]
	return t, ok
}

// Names lists the catalogue's tables, sorted.
func (c *Catalog) Names() []string {
	var out []string
	for n := range c.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the named Defender table.
func Lookup(name string) (*Table, bool) { return Defender().Lookup(name) }

// Names lists the Defender tables, sorted.
func Names() []string { return Defender().Names() }

// CheckTarget verifies that the Defender table exists and column is one of
// its IP columns.
func CheckTarget(table, column string) error { return Defender().CheckTarget(table, column) }

// CheckTarget verifies that table exists and column is one of its IP columns.
func (c *Catalog) CheckTarget(table, column string) error {
	t, ok := c.Lookup(table)
	if !ok {
		return fmt.Errorf("unknown table %q (known: %v)", table, c.Names())
	}
	if !slices.Contains(t.IPColumns, column) {
		return fmt.Errorf("table %s has no IP column %q (IP columns: %v)", table, column, t.IPColumns)
	}
	return nil
}

// DefaultSweep is what a target of this catalogue sweeps when it lists no
// columns: every table's first remote IP column, as "Table.Column", in
// table name order. Defender's catalogue has none: there the hunts' own
// sweep lists apply.
func (c *Catalog) DefaultSweep() []string {
	if c.Name != "sentinel" {
		return nil
	}
	var out []string
	for _, n := range c.Names() {
		if t := c.tables[n]; len(t.RemoteIPColumns) > 0 {
			out = append(out, n+"."+t.RemoteIPColumns[0])
		}
	}
	return out
}
