package hunting

import (
	"fmt"
	"slices"
	"strings"
)

// Cloud is one Microsoft cloud: the https roots of Entra ID sign-in and of
// each hunting API there. An empty root means the API has no host in that
// cloud.
type Cloud struct {
	Name         string
	Login        string // Entra ID authority host, e.g. https://login.microsoftonline.us/
	Graph        string // Microsoft Graph
	MDE          string // Defender for Endpoint API ("" where there is none)
	LogAnalytics string // Log Analytics query API (Microsoft Sentinel)
}

// PublicCloud is the name of the global Azure cloud, the default.
const PublicCloud = "public"

// clouds is the one table of cloud endpoints. Sources: Microsoft Graph
// national cloud deployments, Defender for Endpoint for US Government
// customers, Azure Monitor Log Analytics query API endpoints.
var clouds = []Cloud{
	{Name: PublicCloud, Login: "https://login.microsoftonline.com/", Graph: GraphBaseURL, MDE: MDEBaseURL, LogAnalytics: SentinelBaseURL},
	{Name: "usgov", Login: "https://login.microsoftonline.us/", Graph: "https://graph.microsoft.us", MDE: "https://api-gov.securitycenter.microsoft.us", LogAnalytics: "https://api.loganalytics.us"},
	{Name: "usgov-dod", Login: "https://login.microsoftonline.us/", Graph: "https://dod-graph.microsoft.us", MDE: "https://api-gov.securitycenter.microsoft.us", LogAnalytics: "https://api.loganalytics.us"},
	{Name: "china", Login: "https://login.chinacloudapi.cn/", Graph: "https://microsoftgraph.chinacloudapi.cn", MDE: "", LogAnalytics: "https://api.loganalytics.azure.cn"},
}

// Clouds lists the known clouds, the default (public) first.
func Clouds() []Cloud { return slices.Clone(clouds) }

// CloudNames are the clouds' names, in table order.
func CloudNames() []string {
	out := make([]string, len(clouds))
	for i, c := range clouds {
		out[i] = c.Name
	}
	return out
}

// LookupCloud returns the named cloud ("" is public); the error lists the
// known ones.
func LookupCloud(name string) (Cloud, error) {
	if name == "" {
		name = PublicCloud
	}
	for _, c := range clouds {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Cloud{}, fmt.Errorf("unknown cloud %q (known: %s)", name, strings.Join(CloudNames(), ", "))
}

// BackendNames are the backends' names, the default first.
func BackendNames() []string {
	out := make([]string, len(backends))
	for i, b := range backends {
		out[i] = b.Name
	}
	return out
}

// Endpoint is the backend's API root in cloud c and the token scope for
// it (the root + /.default). It fails when the backend has no host in
// that cloud (Defender for Endpoint in China).
func (b Backend) Endpoint(c Cloud) (baseURL, scope string, err error) {
	var root string
	switch b.Name {
	case "graph":
		root = c.Graph
	case "mde":
		root = c.MDE
	case "sentinel":
		root = c.LogAnalytics
	default:
		return "", "", fmt.Errorf("hunting backend %q has no endpoint table", b.Name)
	}
	if root == "" {
		return "", "", fmt.Errorf("the %s backend has no host in the %s cloud", b.Name, c.Name)
	}
	root = strings.TrimRight(root, "/")
	return root, root + "/.default", nil
}
