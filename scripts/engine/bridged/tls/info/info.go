// Package info maps the upstream Terraform tls provider onto the Pulumi "tls" package.
package info

import (
	"strings"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"UPSTREAM_MODULE/shim"
)

// Name is the Pulumi package name.
const Name = "tls"

// Version is the plugin version; set with -ldflags -X.
var Version = "0.0.0-dev"

func res(name string) tokens.Type {
	return tokens.Type("tls:index/" + strings.ToLower(name[:1]) + name[1:] + ":" + name)
}

func fn(name string) tokens.ModuleMember {
	return tokens.ModuleMember("tls:index/" + name + ":" + name)
}

// Provider is the bridge mapping; metadata is the embedded bridge-metadata.json.
func Provider(metadata []byte) tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         Name,
		Version:      Version,
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_cert_request":        {Tok: res("CertRequest")},
			"tls_locally_signed_cert": {Tok: res("LocallySignedCert")},
			"tls_private_key":         {Tok: res("PrivateKey")},
			"tls_self_signed_cert":    {Tok: res("SelfSignedCert")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_public_key":  {Tok: fn("getPublicKey")},
			"tls_certificate": {Tok: fn("getCertificate")},
		},
		EnableZeroDefaultSchemaVersion: true,
	}
}
