package labtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
)

// azStub is the `az` the tests put first on PATH. It answers
// `az account get-access-token -o|--output json --resource R [--tenant T]
// [--subscription S]` from answers prepared in its directory, as the real CLI
// does (a JSON object on stdout), and fails like the CLI, on stderr with
// exit status 1, for a tenant nobody logged in to. It never touches the
// network.
const azStub = `#!/bin/sh
# c2sweep lab: a stub Azure CLI (labtest.AzureCLI). No network.
dir='%s'
if [ "$1 $2" != "account get-access-token" ]; then
	echo "ERROR: the lab's az stub only answers 'az account get-access-token'" >&2
	exit 2
fi
shift 2
res= tenant=
while [ $# -gt 0 ]; do
	case "$1" in
	--resource) res=$2; shift 2 ;;
	--tenant|-t) tenant=$2; shift 2 ;;
	-o|--output) [ "$2" = json ] || { echo "ERROR: the lab's az stub writes json only" >&2; exit 2; }; shift 2 ;;
	--subscription|-s) shift 2 ;;
	*) echo "ERROR: unrecognized arguments: $1" >&2; exit 2 ;;
	esac
done
[ -n "$tenant" ] || tenant=$(cat "$dir/default-tenant")
tenant=$(printf '%%s' "$tenant" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-' '_')
if [ ! -d "$dir/tenants/$tenant" ]; then
	echo "ERROR: Please run 'az login' to setup account." >&2
	exit 1
fi
key=$(printf '%%s' "${res%%/}" | tr -c 'A-Za-z0-9.-' '_')
if [ ! -f "$dir/tenants/$tenant/$key.json" ]; then
	echo "ERROR: AADSTS500011: The resource principal named $res was not found in the tenant named $tenant." >&2
	exit 1
fi
cat "$dir/tenants/$tenant/$key.json"
`

// AzureCLI puts a stub `az` first on PATH (t.Setenv, so not in parallel
// tests) that is logged in to the given tenants of l (indices in
// l.Creds.Tenants; none given: every tenant), the first of them its
// default. It answers `az account get-access-token` for every resource
// the lab knows (any cloud) with a lab token of that tenant's app, minted
// now (the lab's clock) and living the lab's TokenLifetime, in the CLI's
// shape (accessToken, expiresOn, expires_on, subscription, tenant,
// tokenType); asked for another tenant it fails as the CLI does: "ERROR:
// Please run 'az login' to setup account.". It returns the stub's
// directory.
func AzureCLI(tb testing.TB, l *lab.Lab, tenants ...int) string {
	tb.Helper()
	e := entralab.Of(l)
	if e == nil {
		tb.Fatal("labtest.AzureCLI: the lab has no Entra ID")
	}
	if len(tenants) == 0 {
		for i := range l.Creds.Tenants {
			tenants = append(tenants, i)
		}
	}
	dir := tb.TempDir()
	must := func(err error) {
		if err != nil {
			tb.Helper()
			tb.Fatalf("labtest.AzureCLI: %v", err)
		}
	}
	for _, ti := range tenants {
		if ti < 0 || ti >= len(l.Creds.Tenants) {
			tb.Fatalf("labtest.AzureCLI: the lab has no tenant %d", ti)
		}
		tn := l.Creds.Tenants[ti]
		tdir := filepath.Join(dir, "tenants", strings.ToLower(tn.TenantID))
		must(os.MkdirAll(tdir, 0o700))
		for _, res := range entralab.Resources() {
			tok, exp, err := e.MintToken(ti, res)
			must(err)
			b, err := json.MarshalIndent(struct {
				AccessToken  string `json:"accessToken"`
				ExpiresOn    string `json:"expiresOn"`
				ExpiresOnInt int64  `json:"expires_on"`
				Subscription string `json:"subscription"`
				Tenant       string `json:"tenant"`
				TokenType    string `json:"tokenType"`
			}{tok, exp.Local().Format("2006-01-02 15:04:05.000000"), exp.Unix(), lab.SeedGUID(int64(ti), 77), tn.TenantID, "Bearer"}, "", "  ")
			must(err)
			must(os.WriteFile(filepath.Join(tdir, cliKey(res)+".json"), append(b, '\n'), 0o600))
		}
	}
	must(os.WriteFile(filepath.Join(dir, "default-tenant"), []byte(l.Creds.Tenants[tenants[0]].TenantID), 0o600))
	must(os.WriteFile(filepath.Join(dir, "az"), []byte(fmt.Sprintf(azStub, dir)), 0o700))
	tb.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// cliKey is the file name the stub looks a resource up by (its tr).
func cliKey(res string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, res)
}
