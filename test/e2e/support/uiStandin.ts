/**
 * The joxit registry UI stand-in, built from the real thing: joxit/docker-registry-ui 2.5.7's
 * built single-page app (`dist/`), its nginx `default.conf` and its entrypoint hook
 * `90-docker-registry-ui.sh`, from its upstream source at the pinned commit (scripts/upstream.sh,
 * unpacked at test time, never copied into this repository), on Debian's nginx laid out like
 * nginx:alpine-slim.
 *
 * The image's Dockerfile is reproduced by hand: WORKDIR /usr/share/nginx/html (the hook edits
 * `index.html` by a relative path), its three ENV defaults, `default.conf` in conf.d, the hook in
 * /docker-entrypoint.d, `dist/` as the document root. The hook then runs with the env the stack
 * sets (components/services/registryUi.ts) exactly as in the real image: it fills index.html's
 * `${...}` placeholders, turns the /v2 proxy on or off, and rewrites `listen 80;` to
 * NGINX_LISTEN_PORT. Not reproduced: the favicon (not in the snapshot) and nginx:alpine-slim's own
 * entrypoint hooks (IPv6 listen tweak, envsubst templates), which do nothing to joxit's
 * `default.conf` (the IPv6 hook skips a default.conf it did not ship).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PrivateDockerd } from "./dockerd";
import { importImage, nginxBase, NGINX_CHANGES, RootFs } from "./standins";
import { run } from "../../../scripts/lib/processes";

/** The UI's upstream source (its built `dist/` included), from scripts/upstream.sh: a local snapshot or a git fetch at the pinned commit. */
async function uiSource(): Promise<string> {
    const { stdout } = await run("bash", [path.resolve(__dirname, "../../../scripts/upstream.sh"), "ui"], { timeoutMs: 600_000 });
    return stdout.trim().split("\n").pop() ?? "";
}

/** Builds the UI stand-in under `name`, working in `dir` (the caller removes it). */
export async function buildUiStandIn(dockerd: PrivateDockerd, name: string, dir: string): Promise<void> {
    const unpacked = path.join(dir, "vendor");
    fs.mkdirSync(unpacked, { recursive: true });
    await run("tar", ["-xzf", await uiSource(), "-C", unpacked], { timeoutMs: 60_000 });
    const upstream = path.join(unpacked, "docker-registry-ui");

    const rootfs = new RootFs(path.join(dir, "rootfs"));
    await nginxBase(rootfs);
    // nginx:alpine-slim's placeholder pages go: the UI's dist/ is the whole document root.
    fs.rmSync(path.join(rootfs.root, "usr/share/nginx/html/index.html"));
    rootfs.copyTree(path.join(upstream, "dist"), "/usr/share/nginx/html");
    rootfs.copyFile(path.join(upstream, "nginx/default.conf"), "/etc/nginx/conf.d/default.conf", 0o644);
    rootfs.copyFile(path.join(upstream, "bin/90-docker-registry-ui.sh"), "/docker-entrypoint.d/90-docker-registry-ui.sh", 0o755);
    await importImage(dockerd, rootfs, path.join(dir, "rootfs.tar"), name, [
        ...NGINX_CHANGES,
        // From joxit's Dockerfile.
        "WORKDIR /usr/share/nginx/html/",
        "ENV NGINX_PROXY_HEADER_Host=$http_host",
        "ENV NGINX_LISTEN_PORT=80",
        "ENV SHOW_CATALOG_NB_TAGS=false",
        "EXPOSE 80/tcp",
    ]);
}
