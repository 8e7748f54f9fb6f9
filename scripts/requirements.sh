# shellcheck shell=bash
# What `npm test` needs, per phase: sourced by scripts/test.sh, whose preflight stops before the
# first phase when something is missing (missing_requirements), and by .ci/run, which installs the
# Debian packages on a clean machine (requirement_packages).
#
# Every phase: Node.js and `npm ci` done. unit and later: Linux. integration, e2e and engine: root
# (private dockerd, nginx and registry daemons, network namespaces, mounts, /etc/hosts) and Go
# (scripts/build-tools.sh builds test tools from source; the engine phase also builds the Pulumi
# engine with it when no supported Pulumi CLI is on PATH, scripts/select-engine.sh).

# phases|command (a name on PATH, or a shell test when it holds a space)|Debian package|what for
REQUIREMENTS=(
  "unit integration e2e engine|busybox|busybox-static|the stand-in images' userland; shell snippets run by busybox sh"
  "integration e2e engine|dockerd|docker.io|private Docker daemons"
  "integration e2e engine|containerd|containerd|dockerd's runtime; ctr as a client"
  "integration e2e engine|runc|runc|containers of dockerd and BuildKit"
  "integration e2e engine|nginx|nginx|the edge, and the stand-in images' nginx"
  "integration e2e engine|docker-registry|docker-registry|Distribution 2.8, and the registry stand-in"
  "integration e2e engine|skopeo|skopeo|a registry client"
  "integration e2e engine|htpasswd|apache2-utils|bcrypt htpasswd files to compare with the stack's"
  "integration e2e engine|curl|curl|HTTP checks"
  "unit integration e2e engine|openssl|openssl|certificates (the unit tests' stand-in tls provider, Pebble)"
  "integration e2e engine|ip|iproute2|network namespaces"
  "e2e engine|iptables|iptables|the bridge runs' dockerd"
  "integration engine|ssh-keygen|openssh-client|ssh keys; ssh to the ssh-mode server"
  "integration|cloud-init|cloud-init|schema check of the alicloud user data"
  "integration|python3|python3|nginx on a kernel without IPv6"
  "integration|python3 -m ensurepip --version|python3-venv|the TLS scanner sslyze's virtualenv (scripts/build-tools.sh sslyze)"
  "integration|lego|lego|the ACME client of the edge's TLS test"
  "e2e|chromium|chromium|the UI in a real browser"
  "e2e|certutil|libnss3-tools|the browser's trust store"
  "e2e|buildah|buildah|the multi-platform image of the builders run"
  "engine|debootstrap|debootstrap|the ssh-mode server's Debian 12 rootfs"
)
ROOT_PHASES="integration e2e engine"
GO_PHASES="integration e2e engine"

# requirement_packages: every Debian package of REQUIREMENTS, one per line.
requirement_packages() { printf '%s\n' "${REQUIREMENTS[@]}" | cut -d'|' -f3 | sort -u; }

# missing_requirements REPO PHASE...: prints what the phases need and this machine lacks, one line
# each, with the Debian packages to install; prints nothing when all is there.
missing_requirements() {
  local repo=$1 phase entry phases command package why missing=() packages=() need_root=0 need_go=0 need_linux=0
  shift
  for phase in "$@"; do
    case " $ROOT_PHASES " in *" $phase "*) need_root=1 ;; esac
    case " $GO_PHASES " in *" $phase "*) need_go=1 ;; esac
    [ "$phase" = types ] || need_linux=1
  done
  command -v node >/dev/null || missing+=("Node.js (node on PATH)")
  [ -f "$repo/node_modules/@pulumi/pulumi/package.json" ] || missing+=("the npm dependencies: run npm ci")
  [ "$need_linux" = 0 ] || [ "$(uname -s)" = Linux ] || missing+=("Linux (this is $(uname -s))")
  [ "$need_root" = 0 ] || [ "$(id -u)" = 0 ] || missing+=("root (the $ROOT_PHASES phases start daemons and network namespaces)")
  if [ "$need_go" = 1 ] && ! command -v "${GO:-go}" >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
    missing+=("Go (go on PATH, /usr/local/go/bin/go or GO=...): test tools and the engine are built from source")
  fi
  for entry in "${REQUIREMENTS[@]}"; do
    IFS='|' read -r phases command package why <<<"$entry"
    for phase in "$@"; do
      case " $phases " in *" $phase "*) ;; *) continue ;; esac
      if { [[ "$command" == *" "* ]] && ! sh -c "$command" >/dev/null 2>&1; } ||
        { [[ "$command" != *" "* ]] && ! PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null; }; then
        missing+=("$command (Debian package $package: $why)")
        packages+=("$package")
      fi
      break
    done
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  printf '%s\n' "${missing[@]}"
  [ ${#packages[@]} -eq 0 ] || echo "on Debian: apt-get install ${packages[*]}"
}
