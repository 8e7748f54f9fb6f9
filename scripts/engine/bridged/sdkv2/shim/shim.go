// Package shim exposes the upstream SDKv2 provider constructor, which lives under internal/.
// Its module path is UPSTREAM_MODULE/shim, inside the upstream's, so it may import it.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	upstream "UPSTREAM_MODULE/internal/provider"
)

// NewProvider returns the upstream Terraform SDKv2 provider.
func NewProvider(version string) *schema.Provider { return upstream.New(version)() }
