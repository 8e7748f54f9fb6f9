// Package info maps the upstream Terraform docker provider (SDKv2 part) onto the Pulumi "docker"
// package. Only Terraform-backed resources exist here: the native docker:index/image:Image of
// pulumi-docker is not part of this build.
package info

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"UPSTREAM_MODULE/shim"
)

// Name is the Pulumi package name.
const Name = "docker"

// Version is the plugin version; set with -ldflags -X.
var Version = "0.0.0-dev"

func res(file, name string) tokens.Type { return tokens.Type("docker:index/" + file + ":" + name) }

func fn(name string) tokens.ModuleMember {
	return tokens.ModuleMember("docker:index/" + name + ":" + name)
}

// Provider is the bridge mapping; metadata is the embedded bridge-metadata.json.
func Provider(metadata []byte) tfbridge.ProviderInfo {
	p := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider(Version)),
		Name:         Name,
		Version:      Version,
		GitHubOrg:    "kreuzwerker",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				Value: "unix:///var/run/docker.sock", EnvVars: []string{"DOCKER_HOST"},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: res("serviceConfig", "ServiceConfig")},
			"docker_container": {
				Tok:                 res("container", "Container"),
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok:    res("remoteImage", "RemoteImage"),
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}},
			},
			"docker_network":        {Tok: res("network", "Network")},
			"docker_secret":         {Tok: res("secret", "Secret")},
			"docker_service":        {Tok: res("service", "Service")},
			"docker_volume":         {Tok: res("volume", "Volume")},
			"docker_registry_image": {Tok: res("registryImage", "RegistryImage")},
			"docker_plugin":         {Tok: res("plugin", "Plugin")},
			"docker_tag":            {Tok: res("tag", "Tag")},
			"docker_buildx_builder": {Tok: res("buildxBuilder", "BuildxBuilder")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_network":                  {Tok: fn("getNetwork")},
			"docker_registry_image":           {Tok: fn("getRegistryImage")},
			"docker_registry_image_manifests": {Tok: fn("getRegistryImageManifests")},
			"docker_plugin":                   {Tok: fn("getPlugin")},
			"docker_image":                    {Tok: fn("getRemoteImage")},
			"docker_logs":                     {Tok: fn("getLogs")},
		},
	}
	p.SetAutonaming(255, "-")
	return p
}
