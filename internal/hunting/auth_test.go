package hunting

import "testing"

func TestSummariseSignIn(t *testing.T) {
	// azidentity's report, as it prints an Entra error answer.
	report := "ClientCertificateCredential authentication failed. \nPOST https://login.example/t/oauth2/v2.0/token\n" +
		"--------------------------------------------------------------------------------\nRESPONSE 400: 400 Bad Request\n" +
		"--------------------------------------------------------------------------------\n{\n  \"error\": \"invalid_request\",\n" +
		"  \"error_codes\": [\n    90002\n  ],\n  \"error_description\": \"AADSTS90002: Tenant 't' not found. Trace ID: x Correlation ID: y\"\n}\n" +
		"--------------------------------------------------------------------------------\nTo troubleshoot, visit https://aka.ms/x"
	want := "ClientCertificateCredential authentication failed: AADSTS90002: Tenant 't' not found. (invalid_request)"
	if got, codes := summariseSignIn(report); got != want || len(codes) != 1 || codes[0] != 90002 {
		t.Errorf("got\n%s %v\nwant\n%s [90002]", got, codes, want)
	}
	// Reports without an Entra body (the default chain, network errors)
	// are kept whole: each line says what was tried.
	for _, msg := range []string{
		"DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID\n\tAzureCLICredential: Azure CLI not found on path",
		"ClientSecretCredential authentication failed. \nPOST https://login.example/t/oauth2/v2.0/token\n{\nnot json\n}",
		"dial tcp 127.0.0.1:1: connect: connection refused",
	} {
		if got, _ := summariseSignIn(msg); got != msg {
			t.Errorf("changed %q to %q", msg, got)
		}
	}
}
