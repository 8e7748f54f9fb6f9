// pulumi-resource-<name> for a Terraform SDKv2 provider, with the schema and bridge metadata that
// pulumi-tfgen-<name> wrote embedded.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"pulumi-engine-build.local/provider/info"
)

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() { tfbridge.Main(info.Name, info.Version, info.Provider(metadata), schema) }
