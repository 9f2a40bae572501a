// Package kql builds the advanced hunting queries of a sweep. It is pure:
// no I/O, no clock. Every value in a query is an inlined literal (neither
// hunting API takes parameters), quoted by this package.
package kql

import (
	"net/netip"
	"time"
)

// Target is a table and the IP column of it to match.
type Target struct {
	Table  string `json:"table" yaml:"table"`
	Column string `json:"column" yaml:"column"`
}

// DefaultTarget is the sweep the blog post did: outbound connections.
var DefaultTarget = Target{Table: "DeviceNetworkEvents", Column: "RemoteIP"}

func (t Target) String() string { return t.Table + "." + t.Column }

// Group is a set of IPs that share a time window.
type Group struct {
	IPs        []netip.Addr
	Start, End time.Time
}

// Query is one query to send, with the IPs it covers so that a rejected
// query can be split and hits attributed.
type Query struct {
	Target     Target
	Text       string
	IPs        []netip.Addr
	Start, End time.Time
}
