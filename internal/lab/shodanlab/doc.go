// Package shodanlab is the lab's Shodan REST API: /api-info,
// /account/profile, /shodan/host/search, /shodan/host/count and
// /shodan/host/{ip}, with Shodan's credits, rate limit and error bodies
// (../../../shared/docs/api-contracts.md). It serves the banners of the
// lab's World; the query matcher and the banners' JSON belong to the world
// (lab.World.Search, lab.SearchResponse) so tests can compute what a hunt
// must return.
package shodanlab
