// pulumi-tfgen-<name> for a Terraform SDKv2 provider: writes the Pulumi schema and the bridge
// metadata (`schema --out DIR`).
package main

import (
	_ "embed"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"pulumi-engine-build.local/provider/info"
)

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	p := info.Provider(metadata)
	p.UpstreamRepoPath = os.Getenv("UPSTREAM_REPO_PATH") // upstream docs, for schema descriptions
	tfgen.Main(info.Name, info.Version, p)
}
