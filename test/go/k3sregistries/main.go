// Command k3sregistries reads a k3s registries.yaml the way k3s does, with k3s's own loader and
// types (github.com/rancher/wharfie/pkg/registries), and prints what it understood as JSON, so a
// test can check a merged file without trusting a YAML parser of its own.
//
//	k3sregistries [-root DIR] [-image REF] FILE [HOST...]
//
// Output: {"registry": the parsed Registry (mirrors, configs, auths), "resolved": for each HOST,
// the endpoints, credentials and TLS files k3s picks for it, following wharfie's own key order
// (HOST, then "*"), "digest": with -image, the manifest digest wharfie fetched for REF}.
//
// -root chroots into DIR first (a node's files baked under a scratch root: FILE, the CA file the
// configs name and /etc/hosts are all read inside it). -image fetches REF's manifest through
// wharfie's Image, the path k3s takes for airgap and private-registry pulls: endpoint rewrite,
// credentials and the CA from the file, nothing from this program.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/rancher/wharfie/pkg/registries"
)

type resolved struct {
	MirrorKey string                 `json:"mirrorKey,omitempty"`
	Endpoints []string               `json:"endpoints"`
	Rewrites  map[string]string      `json:"rewrites,omitempty"`
	ConfigKey string                 `json:"configKey,omitempty"`
	Auth      *registries.AuthConfig `json:"auth,omitempty"`
	TLS       *registries.TLSConfig  `json:"tls,omitempty"`
}

type output struct {
	Registry *registries.Registry `json:"registry"`
	Resolved map[string]resolved  `json:"resolved"`
	Digest   string               `json:"digest,omitempty"`
}

func main() {
	root := flag.String("root", "", "chroot into this directory before reading anything")
	image := flag.String("image", "", "fetch this image's manifest through wharfie and print its digest")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: k3sregistries [-root DIR] [-image REF] FILE [HOST...]")
		os.Exit(2)
	}
	if *root != "" {
		if err := syscall.Chroot(*root); err != nil {
			fail("chroot %s: %v", *root, err)
		}
		if err := os.Chdir("/"); err != nil {
			fail("chdir /: %v", err)
		}
	}
	file := flag.Arg(0)
	if _, err := os.Stat(file); err != nil {
		// GetPrivateRegistries treats a missing file as "no registries"; a test never means that.
		fail("%s: %v", file, err)
	}
	reg, err := registries.GetPrivateRegistries(file)
	if err != nil {
		fail("k3s would not load %s: %v", file, err)
	}
	out := output{Registry: reg.Registry, Resolved: map[string]resolved{}}
	for _, host := range flag.Args()[1:] {
		out.Resolved[host] = resolve(reg.Registry, host)
	}
	if *image != "" {
		ref, err := name.ParseReference(*image)
		if err != nil {
			fail("%s: %v", *image, err)
		}
		img, err := reg.Image(ref)
		if err != nil {
			fail("pull %s: %v", *image, err)
		}
		digest, err := img.Digest()
		if err != nil {
			fail("digest of %s: %v", *image, err)
		}
		out.Digest = digest.String()
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(out); err != nil {
		fail("%v", err)
	}
}

// resolve follows wharfie's lookup (registries.go getEndpoints, getAuthenticator, getTLSConfig):
// the first of HOST, "*" present in mirrors (for endpoints and rewrites) and in configs.
func resolve(r *registries.Registry, host string) resolved {
	res := resolved{Endpoints: []string{}}
	for _, key := range []string{host, "*"} {
		if mirror, ok := r.Mirrors[key]; ok {
			res.MirrorKey, res.Endpoints, res.Rewrites = key, mirror.Endpoints, mirror.Rewrites
			break
		}
	}
	for _, key := range []string{host, "*"} {
		if config, ok := r.Configs[key]; ok {
			res.ConfigKey, res.Auth, res.TLS = key, config.Auth, config.TLS
			break
		}
	}
	return res
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "k3sregistries: "+format+"\n", args...)
	os.Exit(1)
}
