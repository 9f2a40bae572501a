package huntinglab

// Rendering a telemetry Event as a result row: every column of the table
// schema gets a plausible value derived from the event and its device.

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"c2sweep/internal/lab"
)

// DefenderTime formats a DateTime value as the APIs do: 7 fractional
// digits and Z.
func DefenderTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// appendRow appends one JSON object with the given columns.
func (h *Service) appendRow(buf []byte, e *lab.Event, cols, types []string) []byte {
	buf = append(buf, '{')
	for i, c := range cols {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, c)
		buf = append(buf, ':')
		buf = appendValue(buf, h.value(e, c), types[i])
	}
	return append(buf, '}')
}

type rawJSON string

// appendValue writes v as the column type wants it; nil is null.
func appendValue(buf []byte, v any, typ string) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		if typ == "long" || typ == "int" {
			if _, err := strconv.ParseInt(x, 10, 64); err == nil && x != "" {
				return append(buf, x...)
			}
			return append(buf, "null"...)
		}
		return appendJSONString(buf, x)
	case int64:
		if typ == "string" {
			return appendJSONString(buf, strconv.FormatInt(x, 10))
		}
		return strconv.AppendInt(buf, x, 10)
	case int:
		if typ == "string" {
			return appendJSONString(buf, strconv.Itoa(x))
		}
		return strconv.AppendInt(buf, int64(x), 10)
	case bool:
		if typ == "int" || typ == "long" {
			if x {
				return append(buf, '1')
			}
			return append(buf, '0')
		}
		return strconv.AppendBool(buf, x)
	case time.Time:
		return appendJSONString(buf, DefenderTime(x))
	case rawJSON:
		return append(buf, x...)
	}
	return appendJSONString(buf, fmt.Sprint(v))
}

// appendJSONString quotes s as JSON does (control characters, quotes,
// backslashes, and <>& escaped as encoding/json escapes them).
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			buf = append(buf, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			buf = append(buf, s[i:i+n]...)
		}
		i += n
	}
	return append(buf, '"')
}

var cloudApps = []struct {
	name string
	id   int
}{{"Microsoft Exchange Online", 20893}, {"Microsoft SharePoint Online", 20892}, {"Microsoft Teams", 28375}, {"Microsoft OneDrive for Business", 15600}}

var signInApps = []struct{ name, id string }{
	{"Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"},
	{"Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"},
	{"Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c"},
}

// value is the value of column col in the row of e; nil for a null.
func (h *Service) value(e *lab.Event, col string) any {
	d := &h.l.World.Devices[e.Device]
	p := &h.procs[e.Process]
	action := e.ActionType()
	failed := action == "LogonFailed" || action == "ConnectionFailed"
	switch col {
	case "Timestamp", "TimeGenerated":
		return e.Time
	case "DeviceId":
		return d.ID
	case "DeviceName":
		return d.Name
	case "ActionType":
		if e.Table == "AADSignInEventsBeta" {
			return nil
		}
		return action
	case "RemoteIP", "IPAddress":
		return e.Logged()
	case "RemotePort", "Port":
		if e.Port == 0 {
			return nil
		}
		return int(e.Port)
	case "RemoteIPType":
		if e.IP.Is4In6() {
			return "FourToSixMapping"
		}
		return "Public"
	case "RemoteUrl", "RemoteDeviceName", "AppGuardContainerId", "InitiatingProcessRemoteSessionDeviceName", "InitiatingProcessRemoteSessionIP":
		return ""
	case "LocalIP":
		return d.LocalIP.String()
	case "LocalIPType":
		return "Private"
	case "LocalPort":
		return int(49152 + e.ReportID%16000)
	case "Protocol":
		switch e.Table {
		case "DeviceNetworkEvents":
			return "Tcp"
		case "DeviceLogonEvents":
			return "Negotiate"
		case "IdentityLogonEvents":
			return "Kerberos"
		}
		return ""
	case "LogonType":
		switch e.Table {
		case "DeviceLogonEvents":
			return "Network"
		case "IdentityLogonEvents":
			return "Resource access"
		case "AADSignInEventsBeta":
			return `["interactiveUser"]`
		}
		return ""
	case "FailureReason":
		if failed {
			return "InvalidUserNameOrPassword"
		}
		return ""
	case "ErrorCode":
		if e.ReportID%11 == 0 {
			return 50126
		}
		return 0
	case "IsLocalAdmin", "IsAdminOperation", "IsAnonymousProxy", "IsImpersonated", "IsGuestUser", "IsInitiatingProcessRemoteSession", "IsSignInThroughGlobalSecureAccess":
		return false
	case "IsExternalUser":
		if e.Table == "AADSignInEventsBeta" {
			return 0
		}
		return false
	case "IsManaged", "IsCompliant":
		return 1
	case "LogonId", "LogonID":
		return e.ReportID * 7 % 9999991
	case "AccountName", "InitiatingProcessAccountName":
		return d.Account
	case "AccountDomain", "InitiatingProcessAccountDomain":
		return d.Domain
	case "AccountSid", "InitiatingProcessAccountSid":
		return d.AccountSID
	case "AccountUpn", "InitiatingProcessAccountUpn", "AlternateSignInName":
		return d.UPN
	case "AccountObjectId", "InitiatingProcessAccountObjectId", "AccountId":
		return d.AccountOID
	case "AccountDisplayName":
		return d.DisplayName
	case "AccountType":
		return "Regular"
	case "InitiatingProcessFileName":
		return p.File
	case "InitiatingProcessFolderPath":
		return p.Folder
	case "InitiatingProcessCommandLine":
		return p.CmdLine
	case "InitiatingProcessSHA1":
		return p.SHA1
	case "InitiatingProcessSHA256":
		return p.SHA1 + p.SHA1[:24]
	case "InitiatingProcessMD5":
		return p.SHA1[:32]
	case "InitiatingProcessFileSize":
		return int64(len(p.Folder)) * 40960
	case "InitiatingProcessVersionInfoCompanyName":
		return p.Company
	case "InitiatingProcessVersionInfoProductName":
		return p.Product
	case "InitiatingProcessVersionInfoProductVersion":
		return "10.0.22621.1"
	case "InitiatingProcessVersionInfoInternalFileName", "InitiatingProcessVersionInfoOriginalFileName":
		return p.File
	case "InitiatingProcessVersionInfoFileDescription":
		return p.Product
	case "InitiatingProcessId":
		return 1000 + e.ReportID%30000
	case "InitiatingProcessParentId":
		return 500 + e.ReportID%900
	case "InitiatingProcessSessionId":
		return 1
	case "InitiatingProcessCreationTime":
		return e.Time.Add(-time.Duration(e.ReportID%3600) * time.Second)
	case "InitiatingProcessParentCreationTime":
		return e.Time.Add(-26 * time.Hour)
	case "InitiatingProcessParentFileName":
		return "explorer.exe"
	case "InitiatingProcessIntegrityLevel":
		return "Medium"
	case "InitiatingProcessTokenElevation":
		return "TokenElevationTypeLimited"
	case "InitiatingProcessUniqueId":
		return strconv.FormatInt(e.ReportID*131, 10)
	case "ReportId":
		return e.ReportID
	case "AdditionalFields":
		if e.Table == "IdentityLogonEvents" || e.Table == "CloudAppEvents" {
			return rawJSON("{}")
		}
		return ""
	case "Application":
		switch e.Table {
		case "IdentityLogonEvents":
			return "Active Directory"
		case "CloudAppEvents":
			return cloudApps[e.ReportID%int64(len(cloudApps))].name
		}
		return signInApps[e.ReportID%int64(len(signInApps))].name
	case "ApplicationId":
		if e.Table == "CloudAppEvents" {
			return cloudApps[e.ReportID%int64(len(cloudApps))].id
		}
		return signInApps[e.ReportID%int64(len(signInApps))].id
	case "DeviceType":
		return "Desktop"
	case "OSPlatform":
		return d.OS
	case "AadDeviceId", "EntraIdDeviceId":
		return d.AadDeviceID
	case "DeviceTrustType":
		return "Hybrid Azure AD joined"
	case "CountryCode", "Country":
		return "NL"
	case "City":
		return "Amsterdam"
	case "Location":
		return "NL"
	case "Isp":
		return "lab-isp"
	case "UserAgent":
		return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"
	case "ClientAppUsed":
		return "Browser"
	case "Browser":
		return "Edge 130.0.0"
	case "ActivityType":
		return "Read"
	case "ObjectName", "ObjectType", "ObjectId":
		return ""
	case "CorrelationId", "SessionId", "RequestId":
		return fmt.Sprintf("%08x-0000-4000-8000-%012x", e.ReportID, uint64(e.ReportID)*2654435761%(1<<48))
	case "ResourceDisplayName":
		return "Office 365 Exchange Online"
	case "ResourceId":
		return "00000002-0000-0ff1-ce00-000000000000"
	case "ResourceTenantId", "TenantId":
		return h.l.Creds.Tenants[h.l.World.TenantOf(e.Device)].TenantID
	case "AuthenticationRequirement":
		return "singleFactorAuthentication"
	case "ConditionalAccessStatus", "TokenIssuerType", "RiskLevelAggregated", "RiskDetails", "RiskState", "RiskLevelDuringSignIn":
		return 0
	case "EndpointCall":
		return "Login:login"
	case "AuditSource":
		return "Defender for Cloud Apps access control"
	}
	return nil
}
