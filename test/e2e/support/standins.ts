/**
 * Local stand-ins for the images the stack deploys.
 *
 * No registry can be reached from the test machine, so `registry:2.8.x`,
 * `nginx:*-alpine` and `joxit/docker-registry-ui:2.x` cannot be pulled.
 * Instead we assemble root filesystems from the Debian binaries installed on
 * the host (docker-registry, nginx, busybox-static) and `docker import` them
 * under the very names the stack declares, laid out like the real images
 * (same paths, entrypoints, default configs, volumes), so the containers the
 * stack creates run unchanged against them.
 *
 * Known differences from the real images, all found by running them:
 * - The edge is Debian's nginx 1.22, not 1.28: no `http2 on;` directive
 *   (use `listen ... ssl http2`), and its compiled-in temp paths are
 *   /var/lib/nginx/*, not /var/cache/nginx/* (both directories exist here).
 * - nginx's docker-entrypoint.d scripts (envsubst templates, IPv6 listen
 *   tweaking) are not reproduced; busybox has no envsubst.
 * - `docker import` cannot set STOPSIGNAL, so containers stop with SIGTERM
 *   (nginx's fast shutdown) instead of nginx's SIGQUIT.
 * - The registry binary is Debian's build of Distribution 2.8.
 */
import { randomFill } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import type { PrivateDockerd } from "./dockerd";
import { run } from "../../support/processes";

export interface StandInNames {
    registry: string;
    edge: string;
    ui: string;
}

/** Paths of the host's Debian binaries the stand-ins are made from. */
export const HOST_BINARIES = {
    registry: "/usr/bin/docker-registry",
    nginx: "/usr/sbin/nginx",
    /** From Debian's busybox-static: a static binary needs no libraries of its own. */
    busybox: "/bin/busybox",
    nginxMimeTypes: "/etc/nginx/mime.types",
};

const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Builds and tags the three stand-in images. Each is built in its own
 * directory under workDir, which the caller owns and removes.
 */
export async function buildStandInImages(dockerd: PrivateDockerd, names: StandInNames, workDir: string): Promise<void> {
    for (const binary of Object.values(HOST_BINARIES)) {
        if (!fs.existsSync(binary)) {
            throw new Error(`${binary} is missing: install Debian's docker-registry, nginx and busybox-static`);
        }
    }
    const root = path.join(workDir, "standins");
    fs.rmSync(root, { recursive: true, force: true });
    await Promise.all([
        buildRegistry(dockerd, names.registry, path.join(root, "registry")),
        buildEdge(dockerd, names.edge, path.join(root, "edge")),
        buildUi(dockerd, names.ui, path.join(root, "ui")),
    ]);
}

/** Like registry:2.8.x (an Alpine image): /bin/registry behind /entrypoint.sh, config in /etc/docker/registry. */
async function buildRegistry(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await rootfs.base();
    await rootfs.copyBinary(HOST_BINARIES.registry, "/bin/registry");
    rootfs.mkdir("/var/lib/registry");
    rootfs.file("/etc/docker/registry/config.yml", REGISTRY_CONFIG);
    rootfs.file("/entrypoint.sh", REGISTRY_ENTRYPOINT, 0o755);
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [
        `ENV ${PATH_ENV}`,
        'VOLUME ["/var/lib/registry"]',
        "EXPOSE 5000/tcp",
        'ENTRYPOINT ["/entrypoint.sh"]',
        'CMD ["/etc/docker/registry/config.yml"]',
    ]);
}

/** Like nginx:*-alpine: nginx.conf including conf.d/*.conf, a default site on :80, logs to stdout/stderr. */
async function buildEdge(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await nginxBase(rootfs);
    rootfs.file("/etc/nginx/conf.d/default.conf", NGINX_DEFAULT_SITE);
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [...NGINX_CHANGES, "EXPOSE 80/tcp"]);
}

/**
 * Like joxit/docker-registry-ui 2.x: nginx serving a single-page app on
 * $NGINX_LISTEN_PORT (default 80), optionally proxying /v2 to
 * $NGINX_PROXY_PASS_URL. The page is a tiny stand-in for the real UI that
 * reads the same-origin /v2/_catalog, which is what the browser test checks.
 */
async function buildUi(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await nginxBase(rootfs);
    rootfs.file("/etc/registry-ui/index.html.template", UI_INDEX_HTML);
    rootfs.file("/docker-entrypoint.d/90-docker-registry-ui.sh", UI_ENTRYPOINT_SCRIPT, 0o755);
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [
        ...NGINX_CHANGES,
        'ENV REGISTRY_TITLE="Docker Registry UI"',
        "EXPOSE 80/tcp",
    ]);
}

const NGINX_CHANGES = [`ENV ${PATH_ENV}`, 'ENTRYPOINT ["/docker-entrypoint.sh"]', 'CMD ["nginx","-g","daemon off;"]'];

/** Everything Debian's nginx needs at the paths compiled into it (see `nginx -V`), plus nginx:alpine's layout. */
async function nginxBase(rootfs: RootFs): Promise<void> {
    await rootfs.base();
    await rootfs.copyBinary(HOST_BINARIES.nginx, "/usr/sbin/nginx");
    rootfs.copyFile(HOST_BINARIES.nginxMimeTypes, "/etc/nginx/mime.types");
    rootfs.file("/etc/nginx/nginx.conf", NGINX_CONF);
    rootfs.mkdir("/etc/nginx/conf.d");
    // Debian's compiled-in prefix, modules path and temp paths; nginx creates the leaves itself.
    rootfs.mkdir("/usr/lib/nginx/modules");
    rootfs.symlink("/usr/lib/nginx/modules", "/etc/nginx/modules");
    rootfs.mkdir("/var/lib/nginx");
    rootfs.mkdir("/var/cache/nginx");
    rootfs.mkdir("/var/lock", 0o1777);
    // Like the official image: logs go to the container's output.
    rootfs.mkdir("/var/log/nginx");
    rootfs.symlink("/dev/stdout", "/var/log/nginx/access.log");
    rootfs.symlink("/dev/stderr", "/var/log/nginx/error.log");
    rootfs.file("/usr/share/nginx/html/index.html", NGINX_WELCOME);
    rootfs.file("/usr/share/nginx/html/50x.html", "<!DOCTYPE html><html><body><h1>An error occurred.</h1></body></html>\n");
    rootfs.file("/docker-entrypoint.sh", NGINX_ENTRYPOINT, 0o755);
    rootfs.mkdir("/docker-entrypoint.d");
}

/** A root filesystem being assembled in a host directory. */
class RootFs {
    constructor(readonly root: string) {
        fs.mkdirSync(root, { recursive: true });
    }

    private host(containerPath: string): string {
        return path.join(this.root, containerPath);
    }

    mkdir(containerPath: string, mode = 0o755): void {
        fs.mkdirSync(this.host(containerPath), { recursive: true });
        fs.chmodSync(this.host(containerPath), mode);
    }

    file(containerPath: string, content: string | Buffer, mode = 0o644): void {
        fs.mkdirSync(path.dirname(this.host(containerPath)), { recursive: true });
        fs.writeFileSync(this.host(containerPath), content, { mode });
        fs.chmodSync(this.host(containerPath), mode);
    }

    /** Copies the file's content (following symlinks on the host) to containerPath. */
    copyFile(hostPath: string, containerPath: string, mode?: number): void {
        const target = this.host(containerPath);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        // Never write through an existing symlink (e.g. a busybox applet of the same name).
        fs.rmSync(target, { force: true });
        fs.copyFileSync(fs.realpathSync(hostPath), target);
        fs.chmodSync(target, mode ?? fs.statSync(hostPath).mode & 0o7777);
    }

    symlink(target: string, containerPath: string): void {
        fs.mkdirSync(path.dirname(this.host(containerPath)), { recursive: true });
        fs.rmSync(this.host(containerPath), { force: true });
        fs.symlinkSync(target, this.host(containerPath));
    }

    /**
     * Copies a dynamically linked binary with every library `ldd` resolves,
     * each at the path the loader looks for it, and the loader itself at the
     * path written into the ELF header (/lib64/ld-linux-x86-64.so.2).
     */
    async copyBinary(hostPath: string, containerPath: string): Promise<void> {
        this.copyFile(hostPath, containerPath, 0o755);
        const { code, stdout, stderr } = await run("ldd", [hostPath], { allowFailure: true, timeoutMs: 30_000 });
        if (code !== 0) {
            if (/not a dynamic executable|statically linked/.test(stdout + stderr)) return;
            throw new Error(`ldd ${hostPath} failed: ${stderr || stdout}`);
        }
        for (const line of stdout.split("\n")) {
            if (/not found/.test(line)) throw new Error(`${hostPath}: library missing on the host: ${line.trim()}`);
            const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
            if (match) this.copyFile(match[1], match[1], 0o755);
        }
    }

    /** What every stand-in has: busybox as /bin/sh & co, users, /tmp, name service config. */
    async base(): Promise<void> {
        for (const dir of ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc", "/root", "/run", "/var", "/dev", "/proc", "/sys"]) {
            this.mkdir(dir);
        }
        this.mkdir("/tmp", 0o1777);
        this.mkdir("/var/tmp", 0o1777);
        this.symlink("/run", "/var/run");
        this.copyFile(HOST_BINARIES.busybox, "/bin/busybox", 0o755);
        const { stdout } = await run(HOST_BINARIES.busybox, ["--list"], { timeoutMs: 10_000 });
        for (const applet of stdout.split("\n").map((a) => a.trim())) {
            if (applet && applet !== "busybox" && !fs.existsSync(this.host(`/bin/${applet}`))) {
                fs.symlinkSync("busybox", this.host(`/bin/${applet}`));
            }
        }
        this.file("/etc/passwd", PASSWD);
        this.file("/etc/group", GROUP);
        this.file("/etc/shadow", "root:*::0:::::\n", 0o640);
        // glibc's defaults differ from musl's: without this, lookups could try NIS-style "compat" first.
        this.file("/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n");
        // docker bind-mounts these; they exist in the real images too.
        this.file("/etc/hosts", "127.0.0.1\tlocalhost\n");
        this.file("/etc/hostname", "");
        this.file("/etc/resolv.conf", "");
    }
}

/** Packs the rootfs as root-owned files and imports it as one single-layer image under `name`. */
async function importImage(dockerd: PrivateDockerd, rootfs: RootFs, tarball: string, name: string, changes: string[]): Promise<void> {
    await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", rootfs.root, "-cf", tarball, "."], {
        timeoutMs: 120_000,
    });
    const changeArgs = changes.flatMap((change) => ["--change", change]);
    await dockerd.docker(["import", ...changeArgs, tarball, name], { timeoutMs: 300_000 });
    fs.rmSync(tarball, { force: true });
}

export interface TestImage {
    name: string;
    /** The image ID (sha256:...). */
    id: string;
    /** Size of the random payload in the single layer. */
    layerBytes: number;
    buildMs: number;
}

/**
 * Builds a single-layer image with `layerBytes` of random data (so neither
 * gzip nor registry deduplication can shrink it, and every build is unique)
 * plus a small text file. The tar stream is generated in memory and piped
 * into `docker import`, so a 1 GiB image is written to disk once, by dockerd.
 */
export async function buildTestImage(dockerd: PrivateDockerd, name: string, layerBytes: number, workDir: string): Promise<TestImage> {
    fs.mkdirSync(workDir, { recursive: true });
    const started = Date.now();
    const hello = Buffer.from(`e2e test image ${name}, ${layerBytes} random bytes, built ${new Date().toISOString()}\n`);
    const input = Readable.from(
        tarStream([
            { name: "hello.txt", size: hello.length, chunks: oneChunk(hello) },
            { name: "payload.bin", size: layerBytes, chunks: randomChunks(layerBytes) },
        ]),
    );
    // A big layer is hashed and written by dockerd; allow ~1 minute per GiB on a slow disk, at least 2.
    const timeoutMs = 120_000 + Math.ceil(layerBytes / 2 ** 30) * 120_000;
    const { stdout } = await dockerd.docker(["import", "--change", 'CMD ["/hello.txt"]', "-", name], {
        input,
        timeoutMs,
    });
    return { name, id: stdout.trim(), layerBytes, buildMs: Date.now() - started };
}

interface TarEntry {
    name: string;
    size: number;
    chunks: AsyncIterable<Buffer>;
}

async function* oneChunk(buffer: Buffer): AsyncGenerator<Buffer> {
    yield buffer;
}

function randomFillAsync(buffer: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => randomFill(buffer, (error, filled) => (error ? reject(error) : resolve(filled))));
}

async function* randomChunks(total: number): AsyncGenerator<Buffer> {
    const chunkSize = 4 * 1024 * 1024;
    for (let left = total; left > 0; left -= chunkSize) {
        // A fresh buffer each time: the consumer may still hold the previous one.
        yield await randomFillAsync(Buffer.allocUnsafe(Math.min(chunkSize, left)));
    }
}

/** A POSIX ustar archive of regular files, root-owned, mode 0644. */
async function* tarStream(entries: TarEntry[]): AsyncGenerator<Buffer> {
    for (const entry of entries) {
        yield tarHeader(entry.name, entry.size);
        let written = 0;
        for await (const chunk of entry.chunks) {
            written += chunk.length;
            yield chunk;
        }
        if (written !== entry.size) throw new Error(`tar entry ${entry.name}: wrote ${written} of ${entry.size} bytes`);
        const padding = (512 - (entry.size % 512)) % 512;
        if (padding) yield Buffer.alloc(padding);
    }
    yield Buffer.alloc(1024);
}

function tarHeader(name: string, size: number): Buffer {
    if (size >= 8 ** 11) throw new Error(`tar entry ${name} is too large for a ustar header`);
    const header = Buffer.alloc(512);
    const put = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
    const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0";
    put(0, 100, name);
    put(100, 8, octal(0o644, 8));
    put(108, 8, octal(0, 8));
    put(116, 8, octal(0, 8));
    put(124, 12, octal(size, 12));
    put(136, 12, octal(Math.floor(Date.now() / 1000), 12));
    put(148, 8, "        ");
    put(156, 1, "0");
    put(257, 6, "ustar\0");
    put(263, 2, "00");
    put(265, 32, "root");
    put(297, 32, "root");
    let sum = 0;
    for (const byte of header) sum += byte;
    put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    return header;
}

const PASSWD = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
www-data:x:33:33:www-data:/var/www:/sbin/nologin
nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin
`;

const GROUP = `root:x:0:
www-data:x:33:
nginx:x:101:nginx
nogroup:x:65534:
nobody:x:65534:
`;

/** registry:2.8's /etc/docker/registry/config.yml. */
const REGISTRY_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

/** registry:2.8's /entrypoint.sh: a config file argument means "serve it". */
const REGISTRY_ENTRYPOINT = `#!/bin/sh
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
`;

/** nginx:alpine's /etc/nginx/nginx.conf. */
const NGINX_CONF = `user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
`;

/** nginx:alpine's /etc/nginx/conf.d/default.conf. */
const NGINX_DEFAULT_SITE = `server {
    listen       80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
`;

const NGINX_WELCOME = "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n";

/** Like nginx's /docker-entrypoint.sh: hooks in /docker-entrypoint.d run only when starting nginx itself. */
const NGINX_ENTRYPOINT = `#!/bin/sh
set -e
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    for hook in /docker-entrypoint.d/*.sh; do
        [ -x "$hook" ] || continue
        echo "$0: running $hook"
        "$hook"
    done
fi
exec "$@"
`;

/**
 * The joxit UI's configuration step: listen port, optional /v2 proxy, title.
 * The page is rewritten from a template on each start, so a restart with a
 * changed title shows the new one.
 */
const UI_ENTRYPOINT_SCRIPT = `#!/bin/sh
set -e
port="\${NGINX_LISTEN_PORT:-80}"
{
    echo 'server {'
    # Like joxit's image: one listen line, so NGINX_LISTEN_PORT may also be address:port.
    echo "    listen $port;"
    echo '    server_name localhost;'
    echo '    root /usr/share/nginx/html;'
    echo '    location / { index index.html; }'
    if [ -n "\${NGINX_PROXY_PASS_URL}" ]; then
        echo '    location /v2 {'
        echo "        proxy_pass \${NGINX_PROXY_PASS_URL};"
        echo '        proxy_set_header Host $http_host;'
        echo '        proxy_set_header X-Forwarded-Proto $scheme;'
        echo '        client_max_body_size 0;'
        echo '    }'
    fi
    echo '}'
} > /etc/nginx/conf.d/default.conf
title=$(printf '%s' "\${REGISTRY_TITLE:-Docker Registry UI}" \\
    | sed -e 's/&/\\&amp;/g' -e 's/</\\&lt;/g' -e 's/>/\\&gt;/g' -e 's/"/\\&quot;/g' -e 's/[\\\\|&]/\\\\&/g')
sed "s|__REGISTRY_TITLE__|$title|g" /etc/registry-ui/index.html.template > /usr/share/nginx/html/index.html
`;

/** Stand-in for the joxit single-page app: lists the repositories of the same-origin /v2/_catalog. */
const UI_INDEX_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__REGISTRY_TITLE__</title>
</head>
<body>
<h1 id="title">__REGISTRY_TITLE__</h1>
<p>Catalog status: <span id="status">loading</span></p>
<ul id="repositories"></ul>
<script>
fetch('/v2/_catalog', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  .then(async function (response) {
    document.getElementById('status').textContent = String(response.status);
    if (!response.ok) return;
    var body = await response.json();
    var list = document.getElementById('repositories');
    (body.repositories || []).forEach(function (name) {
      var item = document.createElement('li');
      item.className = 'repository';
      item.textContent = name;
      list.appendChild(item);
    });
    list.setAttribute('data-loaded', 'true');
  })
  .catch(function (error) {
    document.getElementById('status').textContent = 'error: ' + error;
  });
</script>
</body>
</html>
`;
