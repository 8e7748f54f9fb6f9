// pulumi-resource-<name> for a Terraform Plugin Framework provider, with the schema and bridge
// metadata that pulumi-tfgen-<name> wrote embedded.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"pulumi-engine-build.local/provider/info"
)

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	pftfbridge.Main(context.Background(), info.Name, info.Provider(metadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema, BridgeMetadata: metadata})
}
