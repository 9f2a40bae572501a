#!/usr/bin/env node
// check.js runs Microsoft's own KQL parser and semantic analyser
// (@kusto/language-service-next, pinned in package-lock.json) over a batch of
// queries, against the Defender tables declared in
// internal/schema/defender-tables.json, so that c2sweep's tests can prove
// every query shape it emits is valid KQL with the columns the tables have.
//
// One process checks a whole batch: loading the service takes about a second.
//
// Usage: node check.js [--schema FILE] < request.json > response.json
//
// Request (every part optional):
//   {"queries":  [{"id": "name", "text": "KQL"}],   parse and analyse each query
//    "literals": ["\"a\\\"b\""],                     read each string literal as the engine does
//    "names":    ["where"],                          how the service writes each name as an identifier
//    "keywords": true}                               list the language's keywords
// Response:
//   {"queries":  [{"id", "errors": n, "diagnostics": [{"severity","code","message","start","length","line","column"}]}],
//    "literals": [{"text", "whole": bool, "value": string|null}],
//    "names":    [{"name", "ident"}],
//    "keywords": [{"text", "ident"}]}   (ident: how the service writes the keyword as a name)
// Exit status: 0 when the batch was checked (whatever the diagnostics say),
// 2 for a bad request, schema or package.
"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");

function fail(msg) {
  process.stderr.write("kqlcheck: " + msg + "\n");
  process.exit(2);
}

function loadKusto() {
  let dir;
  try {
    dir = path.dirname(require.resolve("@kusto/language-service-next/package.json", { paths: [__dirname] }));
  } catch (e) {
    fail("@kusto/language-service-next is not installed: run `npm ci --prefix tools/kqlcheck` (" + e.message + ")");
  }
  // The two scripts are browser-style: they define the globals Bridge and
  // Kusto, so they run in this context rather than as modules.
  for (const f of ["bridge.min.js", "Kusto.Language.Bridge.min.js"]) {
    const file = path.join(dir, f);
    vm.runInThisContext(fs.readFileSync(file, "utf8"), { filename: file });
  }
  if (typeof globalThis.Kusto === "undefined" || !globalThis.Kusto.Language) {
    fail("the Kusto language service did not define the Kusto global");
  }
  return globalThis.Kusto;
}

// Kusto's scalar types, by the names the schema document uses.
function scalarTypes(Kusto) {
  const S = Kusto.Language.Symbols.ScalarTypes;
  return {
    string: S.String, datetime: S.DateTime, long: S.Long, int: S.Int, bool: S.Bool,
    boolean: S.Bool, dynamic: S.Dynamic, real: S.Real, double: S.Real, timespan: S.TimeSpan,
    guid: S.Guid, decimal: S.Decimal,
  };
}

function buildGlobals(Kusto, schemaFile) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  } catch (e) {
    fail("reading schema " + schemaFile + ": " + e.message);
  }
  if (!doc || typeof doc.tables !== "object") fail(schemaFile + " has no tables");
  const Sym = Kusto.Language.Symbols;
  const types = scalarTypes(Kusto);
  const tables = [];
  for (const [name, t] of Object.entries(doc.tables)) {
    const cols = t.columns.map((c) => {
      const ty = types[c.type];
      if (!ty) fail(`table ${name} column ${c.name}: unknown type ${c.type}`);
      return new Sym.ColumnSymbol(c.name, ty, null, null, null, null);
    });
    tables.push(new Sym.TableSymbol.$ctor4(name, cols));
  }
  const db = new Sym.DatabaseSymbol.ctor("Defender", tables);
  return { globals: Kusto.Language.GlobalState.Default.WithDatabase(db), tables: tables.length };
}

function lineColumn(text, pos) {
  let line = 1, col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; col = 1; } else { col++; }
  }
  return { line, column: col };
}

function checkQuery(Kusto, globals, q) {
  if (!q || typeof q.text !== "string") fail("a query needs a text string");
  const code = Kusto.Language.KustoCode.ParseAndAnalyze(q.text, globals);
  const diags = code.GetDiagnostics();
  const out = [];
  let errors = 0;
  for (let i = 0; i < diags.Count; i++) {
    const d = diags.getItem(i);
    if (d.Severity === "Error") errors++;
    out.push({
      severity: d.Severity, code: d.Code, message: d.Message,
      start: d.Start, length: d.Length, ...lineColumn(q.text, d.Start),
    });
  }
  return { id: q.id, errors, diagnostics: out };
}

function checkLiteral(Kusto, text) {
  const TP = Kusto.Language.Parsing.TokenParser;
  // whole: the lexer reads the entire text as one string literal, so it
  // cannot end early or run on.
  const n = TP.ScanStringLiteral(text, 0);
  const whole = n === text.length;
  return { text, whole, value: whole ? Kusto.Language.KustoFacts.GetStringLiteralValue(text) : null };
}

function keywords(Kusto) {
  const SF = Kusto.Language.Syntax.SyntaxFacts;
  const kw = Kusto.Language.Syntax.SyntaxCategory.Keyword;
  const out = [];
  for (const d of SF.kindToDataMap) {
    if (d && d.Category === kw && d.Text) {
      out.push({ text: d.Text, ident: Kusto.Language.KustoFacts.BracketNameIfNecessary(d.Text) });
    }
  }
  return out;
}

function main() {
  let schemaFile = path.join(__dirname, "..", "..", "internal", "schema", "defender-tables.json");
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--schema" && i + 1 < args.length) schemaFile = args[++i];
    else fail("usage: node check.js [--schema FILE] < request.json");
  }
  let req;
  try {
    req = JSON.parse(fs.readFileSync(0, "utf8"));
  } catch (e) {
    fail("reading the request from stdin: " + e.message);
  }
  const Kusto = loadKusto();
  const { globals, tables } = buildGlobals(Kusto, schemaFile);
  const res = { tables };
  if (req.queries) res.queries = req.queries.map((q) => checkQuery(Kusto, globals, q));
  if (req.literals) res.literals = req.literals.map((l) => checkLiteral(Kusto, l));
  if (req.names) res.names = req.names.map((n) => ({ name: n, ident: Kusto.Language.KustoFacts.BracketNameIfNecessary(n) }));
  if (req.keywords) res.keywords = keywords(Kusto);
  process.stdout.write(JSON.stringify(res) + "\n");
}

main();
