// pulumi-tfgen-<name> for a Terraform Plugin Framework provider: writes the Pulumi schema and the
// bridge metadata (`schema --out DIR`).
package main

import (
	_ "embed"
	"os"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"pulumi-engine-build.local/provider/info"
)

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	p := info.Provider(metadata)
	p.UpstreamRepoPath = os.Getenv("UPSTREAM_REPO_PATH") // upstream docs, for schema descriptions
	pftfgen.Main(info.Name, p)
}
