// Package shim exposes the upstream provider constructor, which lives under internal/.
// Its module path is UPSTREAM_MODULE/shim, inside the upstream's, so it may import it.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "UPSTREAM_MODULE/internal/provider"
)

// NewProvider returns the upstream Terraform Plugin Framework provider.
func NewProvider() provider.Provider { return upstream.New() }
