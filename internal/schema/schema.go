// Package schema holds the advanced hunting table schemas the project knows,
// taken from Microsoft's table reference pages (defender-tables.json).
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
}

// Has reports whether the table has the column.
func (t *Table) Has(col string) bool {
	return slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == col })
}

var load = sync.OnceValue(func() map[string]*Table {
	var doc struct {
		Tables map[string]*Table `json:"tables"`
	}
	if err := json.Unmarshal(tablesJSON, &doc); err != nil {
		panic("schema: embedded defender-tables.json: " + err.Error())
	}
	for name, t := range doc.Tables {
		t.Name = name
	}
	return doc.Tables
})

// Lookup returns the named table.
func Lookup(name string) (*Table, bool) {
	t, ok := load()[name]
	return t, ok
}

// Names lists the known tables, sorted.
func Names() []string {
	var out []string
	for n := range load() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckTarget verifies that table exists and column is one of its IP columns.
func CheckTarget(table, column string) error {
	t, ok := Lookup(table)
	if !ok {
		return fmt.Errorf("unknown table %q (known: %v)", table, Names())
	}
	if !slices.Contains(t.IPColumns, column) {
		return fmt.Errorf("table %s has no IP column %q (IP columns: %v)", table, column, t.IPColumns)
	}
	return nil
}
