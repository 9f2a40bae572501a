package lab

import "net/netip"

// What the hunting emulator (huntinglab) needs of the world's telemetry to
// serve its rows.

// Process is the initiating process an event's row names.
type Process struct {
	File, Folder, CmdLine, Company, Product string
	SHA1                                    string
}

// Processes are the processes Event.Process indexes, in order.
func Processes() []Process {
	out := make([]Process, len(processes))
	for i, p := range processes {
		out[i] = Process{File: p.file, Folder: p.folder, CmdLine: p.cmd, Company: p.company, Product: p.product, SHA1: p.sha1}
	}
	return out
}

// ActionType is the event's ActionType column.
func (e *Event) ActionType() string { return tableActions[e.Table][e.Action] }

// IPColumn is the column an Event's IP fills in its table.
func IPColumn(table string) string { return ipColumnOf(table) }

// IPValue is the address an IP column of an event holds.
func (w *World) IPValue(e *Event, column string) (netip.Addr, bool) { return w.ipValue(e, column) }
