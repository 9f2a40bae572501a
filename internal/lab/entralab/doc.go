// Package entralab is the lab's Microsoft Entra ID: the OpenID discovery
// documents and the v1/v2 token endpoints of ../../../shared/docs/api-contracts.md,
// enough for azidentity client credentials with a secret or a certificate.
// The hunting emulator (huntinglab) checks the tokens it issues with Verify.
package entralab
