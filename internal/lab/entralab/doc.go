// Package entralab is the lab's Microsoft Entra ID: the OpenID discovery
// documents and the v1/v2 token endpoints of ../../../shared/docs/api-contracts.md,
// for every tenant of the lab (lab.Credentials.Tenants, each app with its
// own secret) and for the resources of every cloud (public, US Gov, DoD,
// China; APIOf names the API of an audience). It serves every sign-in
// azidentity offers:
//
//   - client secret (each tenant's app) and certificate (CertClientID,
//     tenant 0);
//   - workload identity: the lab is the OIDC issuer (FederatedIssuer,
//     URL + "/oidc") of Kubernetes-style service account tokens
//     (FederatedToken, WriteFederatedToken), which every tenant's app
//     accepts as a client assertion (federated.go);
//   - managed identity: App Service's token endpoint at
//     ManagedIdentityPath, checked against Creds.IdentityHeader
//     (managedidentity.go);
//   - Azure CLI: MintToken makes the tokens labtest.AzureCLI's stub `az`
//     answers with.
//
// The hunting, Log Analytics and Defender emulators check the tokens it
// issues with Verify.
package entralab
