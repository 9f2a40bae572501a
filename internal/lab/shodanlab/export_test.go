package shodanlab

// PageSize is how many matches a search page holds, for the tests.
const PageSize = shodanPageSize
