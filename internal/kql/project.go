package kql

import (
	"slices"

	"c2sweep/internal/schema"
)

// projectCandidates are the columns a hunter needs to judge a hit, in the
// order a query projects them. ipColumns stands for every IP column of the
// table; the time column is taken from the schema and always comes first.
// Only the columns a table has are kept, so one list serves every table.
var projectCandidates = []string{
	"DeviceId", "DeviceName", "ActionType",
	ipColumns,
	"RemotePort", "LocalPort", "Port", "DestinationPort",
	"RemoteUrl", "Url", "Protocol", "LogonType", "Application",
	"AccountName", "AccountUpn", "AccountDisplayName", "AccountObjectId",
	"InitiatingProcessFileName", "InitiatingProcessCommandLine",
	"InitiatingProcessAccountName", "InitiatingProcessAccountUpn",
	"DeliveryAction", "SenderFromAddress", "RecipientEmailAddress", "NetworkMessageId",
	"ErrorCode", "Country", "CountryCode", "City", "Isp", "UserAgent",
	"ReportId",
}

const ipColumns = "\x00ip"

// itemID is Log Analytics' unique record id, in every table: the event id
// of a Sentinel table without ReportId.
const itemID = "_ItemId"

// Project returns the columns a sweep of table keeps, in query order, or nil
// for a table the schema does not know. It includes every IP column of the
// table, so whichever one a target matches is in the result.
func Project(table string) []string {
	t, ok := schema.Lookup(table)
	if !ok {
		return nil
	}
	return project(t)
}

// ProjectIn is Project in the named table catalogue.
func ProjectIn(catalog, table string) []string {
	c, err := schema.Named(catalog)
	if err != nil {
		return nil
	}
	t, ok := c.Lookup(table)
	if !ok {
		return nil
	}
	return project(t)
}

// project lists t's columns a sweep keeps: the time column, the evidence
// columns the catalogue names (Sentinel's), then the candidates.
func project(t *schema.Table) []string {
	cols := []string{t.TimeColumn}
	add := func(c string) {
		if t.Has(c) && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	if r := t.Roles; r != nil {
		for _, c := range []string{r.Device, r.User, r.Process, r.Action} {
			if c != "" {
				add(c)
			}
		}
		for _, ipc := range t.IPColumns {
			add(ipc)
			if p := r.Ports[ipc]; p != "" {
				add(p)
			}
		}
		if !t.Has("ReportId") {
			add(itemID)
		}
	}
	for _, c := range projectCandidates {
		if c == ipColumns {
			for _, ipc := range t.IPColumns {
				add(ipc)
			}
			continue
		}
		add(c)
	}
	return cols
}

// Fields names the column of a table that plays each role of an
// indicator.Hit, so that a row of any supported table becomes a hit. An
// empty name means the table has no such column.
type Fields struct {
	Time     string // event time
	DeviceID string // Defender device id
	Device   string // device name
	Account  string // the account that acted (or received, for mail)
	Port     string // the port on the indicator's side of the connection
	Action   string // what happened (ActionType and the like)
	Process  string // the process or application that acted
	Command  string // its command line
	ReportID string // event id, unique per device and table
}

// accountCandidates are tried in order; the initiating process's account
// comes before AccountName because in DeviceEvents AccountName is the
// account acted upon. DeviceLogonEvents is the exception (see FieldsFor).
var accountCandidates = []string{
	"AccountUpn", "InitiatingProcessAccountName", "AccountName",
	"AccountDisplayName", "RecipientEmailAddress",
}

// FieldsFor returns the roles of table's columns for a sweep of its
// default IP column (DefaultColumn); see FieldsForTarget for the others. It
// returns the zero Fields for a table the schema does not know.
func FieldsFor(table string) Fields {
	return FieldsForTarget(Target{Table: table, Column: DefaultColumn(table)})
}

// DefaultColumn is the IP column a sweep of table matches unless told
// otherwise: its first remote IP column (RemoteIP, IPAddress, SenderIPv4),
// else its first IP column; "" for an unknown table.
func DefaultColumn(table string) string {
	t, ok := schema.Lookup(table)
	switch {
	case !ok:
		return ""
	case len(t.RemoteIPColumns) > 0:
		return t.RemoteIPColumns[0]
	case len(t.IPColumns) > 0:
		return t.IPColumns[0]
	}
	return ""
}

// portOfColumn pairs an IP column with the port column on the same side of
// the connection. Other IP columns (a remote session's IP, a device's
// public IP, a mail sender's IP) have no port beside them.
var portOfColumn = map[string]string{
	"RemoteIP":             "RemotePort",
	"IPAddress":            "Port",
	"LocalIP":              "LocalPort",
	"DestinationIPAddress": "DestinationPort",
}

// FieldsForTarget returns the roles of the target table's columns when the
// target's IP column is matched: the port is the one on that column's side
// of the connection. It returns the zero Fields for an unknown table.
func FieldsForTarget(tg Target) Fields { return FieldsIn("", tg) }

// FieldsIn is FieldsForTarget in the named table catalogue; Sentinel's
// tables name their evidence columns (schema.Roles).
func FieldsIn(catalog string, tg Target) Fields {
	c, err := schema.Named(catalog)
	if err != nil {
		return Fields{}
	}
	t, ok := c.Lookup(tg.Table)
	if !ok {
		return Fields{}
	}
	first := func(names ...string) string {
		for _, n := range names {
			if t.Has(n) {
				return n
			}
		}
		return ""
	}
	f := Fields{
		Time:     t.TimeColumn,
		DeviceID: first("DeviceId"),
		Device:   first("DeviceName"),
		Account:  first(accountCandidates...),
		Port:     first(portOfColumn[tg.Column]),
		Action:   first("ActionType", "DeliveryAction"),
		Process:  first("InitiatingProcessFileName", "Application"),
		Command:  first("InitiatingProcessCommandLine"),
		ReportID: first("ReportId"),
	}
	if r := t.Roles; r != nil {
		// The catalogue names them (Sentinel): a firewall's host, a
		// sign-in's user, an app for a process.
		f.Device, f.Account, f.Process, f.Action, f.Port = r.Device, r.User, r.Process, r.Action, r.Ports[tg.Column]
		if f.ReportID == "" {
			f.ReportID = first(itemID)
		}
		return f
	}
	if tg.Table == "DeviceLogonEvents" {
		// The account that logged on from the address, not the process
		// that handled the logon.
		f.Account = first("AccountName")
	}
	return f
}
