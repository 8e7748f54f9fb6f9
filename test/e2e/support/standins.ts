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
 * The UI is joxit's own single-page app, nginx config and entrypoint hook (uiStandin.ts).
 *
 * Known differences from the real images, all found by running them:
 * - The edge is Debian's nginx 1.22, not 1.28: no `http2 on;` directive
 *   (use `listen ... ssl http2`), and its compiled-in temp paths are
 *   /var/lib/nginx/*, not /var/cache/nginx/* (both directories exist here).
 * - nginx's docker-entrypoint.d scripts (envsubst templates, IPv6 listen
 *   tweaking) are not reproduced; busybox has no envsubst.
 * - `docker import` cannot set STOPSIGNAL, so containers stop with SIGTERM
 *   (nginx's fast shutdown) instead of nginx's SIGQUIT.
 * - The registry binary is Debian's build of Distribution 2.8 (2.8.2) for a `registry:2.*` name,
 *   and Distribution v3.1.2 built from the Go module proxy (scripts/build-tools.sh registry3) for
 *   a `registry:3.*` name: the major version the declared tag names, as the stack renders for.
 */
import { randomFill } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import type { PrivateDockerd } from "./dockerd";
import { run } from "../../../scripts/lib/processes";
import { regctlBinary, registry3Binary } from "../../../scripts/lib/builtTools";
import { distributionMajor } from "../../../components/config/distribution";
import { buildUiStandIn } from "./uiStandin";

export interface StandInNames {
    registry: string;
    edge: string;
    ui: string;
    /** With `retention`: regclient's regctl image. */
    retention?: string;
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
 * The stand-ins' own files (configs, entrypoints, pages), kept as files under test/e2e/standins/
 * so they read, diff and lint as what they are: base/ for every image, registry/ like
 * registry:2.8's, nginx/ like nginx:alpine's. The UI is joxit's own (uiStandin.ts).
 */
const STAND_IN_FILES = path.resolve(__dirname, "../standins");

function standInFile(name: string): string {
    return fs.readFileSync(path.join(STAND_IN_FILES, name), "utf8");
}

/**
 * Builds and tags the three stand-in images. Each is built in its own
 * directory under workDir, which the caller owns and removes.
 */
export async function buildStandInImages(
    dockerd: PrivateDockerd,
    names: StandInNames,
    workDir: string,
    options: StandInOptions = {},
): Promise<void> {
    for (const binary of Object.values(HOST_BINARIES)) {
        if (!fs.existsSync(binary)) {
            throw new Error(`${binary} is missing: install Debian's docker-registry, nginx and busybox-static`);
        }
    }
    const root = path.join(workDir, "standins");
    fs.rmSync(root, { recursive: true, force: true });
    await Promise.all([
        buildRegistry(dockerd, names.registry, path.join(root, "registry"), options.extraRootsPem),
        buildEdge(dockerd, names.edge, path.join(root, "edge")),
        buildUiStandIn(dockerd, names.ui, path.join(root, "ui")),
        ...(names.retention === undefined ? [] : [buildRetention(dockerd, names.retention, path.join(root, "retention"))]),
    ]);
}

/**
 * What differs between the official registry images by major: 2.8.x runs Debian's Distribution
 * with its config in /etc/docker/registry; 3.x (v3.1.2 built by scripts/build-tools.sh) has it in
 * /etc/distribution and turns OpenTelemetry traces off (its Dockerfile's ENV).
 */
const REGISTRY_STAND_INS: Record<2 | 3, { binary: () => Promise<string>; configDir: string; configFile: string; env: string[] }> = {
    2: { binary: async () => HOST_BINARIES.registry, configDir: "/etc/docker/registry", configFile: "registry/config.yml", env: [] },
    3: { binary: registry3Binary, configDir: "/etc/distribution", configFile: "registry3/config.yml", env: ["OTEL_TRACES_EXPORTER=none"] },
};

export interface StandInOptions {
    /**
     * More CA certificates (PEM) the registry image trusts beside the system's roots, as an
     * operator's image would trust its mirror's upstream: a test's own upstream registry.
     */
    extraRootsPem?: string;
}

/**
 * Like the official registry image of `name`'s major (Alpine): /bin/registry behind
 * /entrypoint.sh, the default config where that major keeps it, the system's CA roots (and
 * `extraRootsPem`).
 */
export async function buildRegistry(dockerd: PrivateDockerd, name: string, dir: string, extraRootsPem = ""): Promise<void> {
    // A tag that names no major (the stack refuses those) gets today's default, 3.x.
    const standIn = REGISTRY_STAND_INS[distributionMajor(name) === 2 ? 2 : 3];
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await rootfs.base();
    await rootfs.copyBinary(await standIn.binary(), "/bin/registry");
    rootfs.mkdir("/var/lib/registry");
    rootfs.file(`${standIn.configDir}/config.yml`, standInFile(standIn.configFile));
    rootfs.file("/entrypoint.sh", standInFile("registry/entrypoint.sh"), 0o755);
    rootfs.file("/etc/ssl/certs/ca-certificates.crt", `${fs.readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8")}${extraRootsPem}`);
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [
        `ENV ${PATH_ENV}`,
        ...standIn.env.map((variable) => `ENV ${variable}`),
        'VOLUME ["/var/lib/registry"]',
        "EXPOSE 5000/tcp",
        'ENTRYPOINT ["/entrypoint.sh"]',
        `CMD ["${standIn.configDir}/config.yml"]`,
    ]);
}

/**
 * Like regclient/regctl:*-alpine: regctl (v0.11.7, static, built by scripts/build-tools.sh
 * regclient) in /usr/local/bin with busybox as the shell, the system's CA roots, run as appuser
 * (1000) from its home, `regctl --help` by default. Unlike upstream's, the home is root's (`docker
 * import` packs every file as root's); the retention script keeps regctl's settings under /tmp.
 */
export async function buildRetention(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await rootfs.base();
    await rootfs.copyBinary(await regctlBinary(), "/usr/local/bin/regctl");
    rootfs.file("/etc/passwd", standInFile("regctl/passwd"));
    rootfs.file("/etc/group", standInFile("regctl/group"));
    rootfs.copyFile("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt", 0o644);
    rootfs.mkdir("/home/appuser/.regctl");
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [
        `ENV ${PATH_ENV}`,
        "USER appuser",
        "WORKDIR /home/appuser",
        'CMD ["regctl", "--help"]',
    ]);
}

/**
 * A webhook receiver for the tests (not a stack image): busybox's httpd on port 8080 whose CGI
 * `/cgi-bin/events` keeps each POST's body and Authorization header in /events.
 */
export async function buildWebhookReceiver(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await rootfs.base();
    rootfs.file("/www/cgi-bin/events", standInFile("receiver/events"), 0o755);
    rootfs.mkdir("/events", 0o777);
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [
        `ENV ${PATH_ENV}`,
        'CMD ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]',
    ]);
}

/** Like nginx:*-alpine: nginx.conf including conf.d/*.conf, a default site on :80, logs to stdout/stderr. */
async function buildEdge(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await nginxBase(rootfs);
    rootfs.file("/etc/nginx/conf.d/default.conf", standInFile("nginx/default.conf"));
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [...NGINX_CHANGES, "EXPOSE 80/tcp"]);
}

export const NGINX_CHANGES = [`ENV ${PATH_ENV}`, 'ENTRYPOINT ["/docker-entrypoint.sh"]', 'CMD ["nginx","-g","daemon off;"]'];

/** Everything Debian's nginx needs at the paths compiled into it (see `nginx -V`), plus nginx:alpine's layout. */
export async function nginxBase(rootfs: RootFs): Promise<void> {
    await rootfs.base();
    await rootfs.copyBinary(HOST_BINARIES.nginx, "/usr/sbin/nginx");
    rootfs.copyFile(HOST_BINARIES.nginxMimeTypes, "/etc/nginx/mime.types");
    rootfs.file("/etc/nginx/nginx.conf", standInFile("nginx/nginx.conf"));
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
    rootfs.file("/usr/share/nginx/html/index.html", standInFile("nginx/index.html"));
    rootfs.file("/usr/share/nginx/html/50x.html", standInFile("nginx/50x.html"));
    rootfs.file("/docker-entrypoint.sh", standInFile("nginx/docker-entrypoint.sh"), 0o755);
    rootfs.mkdir("/docker-entrypoint.d");
}

/** A root filesystem being assembled in a host directory. */
export class RootFs {
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

    /** Copies a host directory's files and subdirectories (no symlinks) to containerPath. */
    copyTree(hostDir: string, containerPath: string): void {
        this.mkdir(containerPath);
        for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
            const inContainer = path.posix.join(containerPath, entry.name);
            if (entry.isDirectory()) this.copyTree(path.join(hostDir, entry.name), inContainer);
            else if (entry.isFile()) this.copyFile(path.join(hostDir, entry.name), inContainer, 0o644);
        }
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
        this.file("/etc/passwd", standInFile("base/passwd"));
        this.file("/etc/group", standInFile("base/group"));
        this.file("/etc/shadow", standInFile("base/shadow"), 0o640);
        // glibc's defaults differ from musl's: without this, lookups could try NIS-style "compat" first.
        this.file("/etc/nsswitch.conf", standInFile("base/nsswitch.conf"));
        // docker bind-mounts these; they exist in the real images too.
        this.file("/etc/hosts", standInFile("base/hosts"));
        this.file("/etc/hostname", "");
        this.file("/etc/resolv.conf", "");
    }
}

/** Packs the rootfs as root-owned files and imports it as one single-layer image under `name`. */
export async function importImage(
    dockerd: PrivateDockerd,
    rootfs: RootFs,
    tarball: string,
    name: string,
    changes: string[],
): Promise<void> {
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
