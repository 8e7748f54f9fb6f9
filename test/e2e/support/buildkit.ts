/**
 * Real BuildKit for the builders' tests: buildkitd, buildctl and the buildx CLI plugin built from
 * the Go module proxy by scripts/build-tools.sh (cached like the engine), and a stand-in for the image a
 * buildx `docker-container` builder runs (moby/buildkit:buildx-stable-1), which cannot be pulled.
 *
 * The stand-in is laid out like upstream's image as far as buildx relies on it: buildkitd and
 * buildctl on PATH (buildx runs `buildctl debug workers` and `buildctl dial-stdio` in it with
 * `docker exec`), ENTRYPOINT ["buildkitd"] (buildx passes only flags), VOLUME /var/lib/buildkit,
 * and runc (Debian's, with the libraries it links) for the OCI worker, which will not start
 * without one. Upstream's image is Alpine with its own runc, git, fuse-overlayfs and qemu helpers;
 * a COPY-only build needs none of those.
 */
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { run } from "../../../scripts/lib/processes";
import type { PrivateDockerd } from "./dockerd";
import { importImage, RootFs } from "./standins";

const ROOT = resolve(__dirname, "../../..");
/** The image buildx's docker-container driver runs unless `--driver-opt image=` says otherwise. */
export const BUILDX_DEFAULT_IMAGE = "moby/buildkit:buildx-stable-1";
const RUNC = "/usr/sbin/runc";

export interface BuildkitTools {
    buildkitd: string;
    buildctl: string;
    /** The buildx binary: a Docker CLI plugin once linked as `cli-plugins/docker-buildx`. */
    buildx: string;
}

/** scripts/build-tools.sh's cached builds (the first call builds them: minutes, see docs/testing.md). */
export async function buildkitTools(): Promise<BuildkitTools> {
    const built = await run("bash", [join(ROOT, "scripts/build-tools.sh"), "buildkit", "buildx"], { timeoutMs: 3_600_000 });
    const bin = built.stdout.trim().split("\n").pop()!;
    return { buildkitd: join(bin, "buildkitd"), buildctl: join(bin, "buildctl"), buildx: join(bin, "buildx") };
}

/** Imports the stand-in BuildKit image under `name` into the private dockerd. */
export async function buildBuildkitImage(dockerd: PrivateDockerd, tools: BuildkitTools, name: string, dir: string): Promise<void> {
    const rootfs = new RootFs(join(dir, "rootfs"));
    await rootfs.base();
    rootfs.copyFile(tools.buildkitd, "/usr/bin/buildkitd", 0o755);
    rootfs.copyFile(tools.buildctl, "/usr/bin/buildctl", 0o755);
    await rootfs.copyBinary(RUNC, "/usr/bin/runc");
    rootfs.mkdir("/etc/buildkit");
    rootfs.mkdir("/var/lib/buildkit", 0o700);
    await importImage(dockerd, rootfs, join(dir, "buildkit.tar"), name, [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'ENTRYPOINT ["buildkitd"]',
        "VOLUME /var/lib/buildkit",
    ]);
}

/** Linux capabilities by number (linux/capability.h), as runc's config.json names them. */
const CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
].map((name) => `CAP_${name}`);

/**
 * dockerd flags for a dockerd that must run buildx's builder: a `--privileged` container, which
 * asks runc for every capability. This machine's own bounding set lacks some (here
 * CAP_SYS_RESOURCE), and runc then fails with "unable to apply caps: operation not permitted". The
 * runtime these flags name is runc behind a wrapper that drops, from each container's config.json
 * (`create --bundle`) and each `docker exec`'s process.json (`exec --process`, buildx's
 * `buildctl dial-stdio`), only the capabilities this process cannot hold itself. None when
 * nothing is missing.
 */
export function runtimeWithoutMissingCapabilities(dir: string): { missing: string[]; dockerdArgs: string[] } {
    const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]}`);
    const missing = CAPABILITIES.filter((_, bit) => (bounding & (1n << BigInt(bit))) === 0n);
    if (missing.length === 0) return { missing, dockerdArgs: [] };
    // dockerd writes config.json on one line: drop `"CAP_X"` with the comma beside it.
    const edits = missing.map((cap) => `-e 's/,"${cap}"//g' -e 's/"${cap}",\\{0,1\\}//g'`).join(" ");
    const wrapper = join(dir, "runc-without-missing-caps");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
        wrapper,
        [
            "#!/bin/sh",
            `# runc, minus the capabilities this machine's bounding set lacks (${missing.join(", ")}).`,
            'spec=""; previous=""',
            'for argument in "$@"; do',
            '    case "$previous" in --bundle | -b) spec=$argument/config.json ;; --process) spec=$argument ;; esac',
            "    previous=$argument",
            "done",
            `if [ -n "$spec" ] && [ -f "$spec" ]; then sed -i ${edits} "$spec"; fi`,
            `exec ${RUNC} "$@"`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    return { missing, dockerdArgs: ["--add-runtime", `capped-runc=${wrapper}`, "--default-runtime", "capped-runc"] };
}
