// Package huntinglab is the lab's advanced hunting: Microsoft Graph
// runHuntingQuery and the Defender for Endpoint / Microsoft 365 Defender
// advanced hunting APIs, with their limits, row cap and error envelopes
// (../../../shared/docs/api-contracts.md). They accept the tokens the lab's
// Entra ID (entralab) issues.
//
// The APIs answer from the world's telemetry through a documented matcher,
// not a KQL engine: the table, the time window, the quoted IP literals and
// a few operators (see hunting_query.go); anything else is a 400 that says
// so.
package huntinglab
